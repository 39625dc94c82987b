# The API on the embedded Redis (data in /data) or on REDIS_URL.
# BASE: any Debian-based image with Python 3.11 and pip (a mirror's, or one built with debootstrap).
ARG BASE=python:3.11-slim
FROM ${BASE} AS build
RUN apt-get update && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md ./
COPY suppressor suppressor
COPY api api
COPY training training
RUN pip wheel --no-cache-dir --wheel-dir /wheels '.[train]'

FROM ${BASE}
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
ENV SUPPRESSOR_DATA_DIR=/data
VOLUME /data
EXPOSE 8080
HEALTHCHECK CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz')"
CMD ["suppressor", "serve", "--host", "0.0.0.0", "--port", "8080"]
