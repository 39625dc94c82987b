"""The app factory: builds the services in a lifespan and mounts the routers."""

from __future__ import annotations

import logging
import time
from contextlib import asynccontextmanager

from fastapi import FastAPI

import suppressor
from suppressor.decision_log import DecisionLog
from suppressor.decisions import Decider
from suppressor.freshness import Refresher
from suppressor.settings import Settings, get_settings
from suppressor.store import Store
from suppressor.tenant_state import TenantStateCache
from suppressor.tenants import KeyResolver

from . import errors
from .deps import Services
from .metrics import Metrics
from .routes import content, customers, decisions, events, health, models, policy, simulation, studio


class Arrival:
    """Stamps when a request reached the app (``scope["arrived"]``, a ``time.monotonic()``): a decision's
    deadline counts from there, body parsing and validation included. Pure ASGI: a few microseconds."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        scope["arrived"] = time.monotonic()
        await self.app(scope, receive, send)


def create_app(settings: Settings | None = None, store: Store | None = None) -> FastAPI:
    """A ready-to-serve app; pass ``store`` to share one (tests, quickstart), else it opens its own."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        own = store is None
        st = store or Store(settings)
        st.watch()  # keeps store.up current; revives a dead embedded server
        states = TenantStateCache(st, settings.model_refresh_seconds)
        log = DecisionLog(st)
        ahot, abulk = st.async_clients()
        app.state.services = Services(
            settings=settings, store=st, ahot=ahot, abulk=abulk, states=states, decision_log=log,
            decider=Decider(st, states, log), refresher=Refresher(st, states), keys=KeyResolver(st),
            metrics=Metrics(),
        )
        app.state.services.metrics.watch(log, st)
        logging.getLogger("suppressor").info("serving on %s", st.location)
        try:
            yield
        finally:
            app.state.services.refresher.close()
            await ahot.aclose()
            await abulk.aclose()
            log.close()
            if own:
                st.close()

    app = FastAPI(
        title="suppressor",
        version=suppressor.__version__,
        description="Decides, before any marketing message goes out, whether it should be sent at all.",
        lifespan=lifespan,
    )
    errors.install(app)
    app.add_middleware(Arrival)
    for module in (health, events, customers, decisions, policy, simulation, content, models, studio):
        app.include_router(module.router)
    return app
