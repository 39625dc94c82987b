# The API on the embedded Redis (data in /data) or on REDIS_URL.
# BASE: any Debian-based image with Python 3.11, venv and pip (python:3.11-slim, a mirror's, or one
# built with debootstrap: tests/test_docker.py makes one and builds this file on it).
ARG BASE=python:3.11-slim
FROM ${BASE} AS build
# a compiler for LightFM, and Python's headers where the base image has none (Debian's own python3)
RUN apt-get update && apt-get install -y --no-install-recommends build-essential \
    && (python3 -c 'import sysconfig, os, sys; sys.exit(not os.path.exists(sysconfig.get_paths()["include"] + "/Python.h"))' \
        || apt-get install -y --no-install-recommends python3-dev) \
    && rm -rf /var/lib/apt/lists/*
# a venv: Debian's Python refuses pip installs into the system (PEP 668)
RUN python3 -m venv /opt/suppressor
ENV PATH=/opt/suppressor/bin:$PATH
WORKDIR /src
COPY pyproject.toml README.md ./
COPY suppressor suppressor
COPY api api
COPY training training
RUN pip install --no-cache-dir --upgrade pip && pip wheel --no-cache-dir --wheel-dir /wheels '.[train]'

FROM ${BASE}
COPY --from=build /wheels /wheels
RUN python3 -m venv /opt/suppressor && /opt/suppressor/bin/pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
ENV PATH=/opt/suppressor/bin:$PATH SUPPRESSOR_DATA_DIR=/data
VOLUME /data
EXPOSE 8080
HEALTHCHECK CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz')"
CMD ["suppressor", "serve", "--host", "0.0.0.0", "--port", "8080"]
