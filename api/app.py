"""The app factory: builds the services in a lifespan and mounts the routers."""

from __future__ import annotations

import gc
import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.routing import APIRoute

import suppressor
from suppressor.customers.erasure import Compactor
from suppressor.decisions.decide import Decider
from suppressor.decisions.log import DecisionLog
from suppressor.model.freshness import Refresher
from suppressor.settings import Settings, get_settings
from suppressor.storage.store import Store, aclose_clients
from suppressor.tenants.admin import TenantAdmin
from suppressor.tenants.apikeys import KeyResolver
from suppressor.tenants.state import TenantStateCache

from . import errors, examples
from .deps import Services
from .gate import Gate
from .metrics import Metrics
from .routes import (
    content,
    customers,
    decisions,
    deferred,
    docs,
    events,
    health,
    hooks,
    models,
    policy,
    simulation,
    studio,
    webhooks,
)


def operation_id(route: APIRoute) -> str:
    """A stable operation id: the route function's name in camelCase (decide, decideBatch, ingestEvents)."""
    head, *rest = route.name.split("_")
    return head + "".join(w.title() for w in rest)


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
            settings=settings,
            store=st,
            ahot=ahot,
            abulk=abulk,
            states=states,
            admin=TenantAdmin(st, states),
            decision_log=log,
            decider=Decider(st, states, log),
            refresher=Refresher(st, lambda t: states.get(t).model),
            keys=KeyResolver(st),
            metrics=Metrics(),
            compactor=Compactor(st, settings.erasure_rewrite_seconds),
            fetch=hooks.fetch,
        )
        app.state.services.metrics.watch(log, st)
        app.state.services.decider.on_lapsed = app.state.services.metrics.deferred_lapsed.inc
        # what startup built lives as long as the app: out of the collector's way, so a full collection
        # during a 10,000-event batch does not walk every module and model again (1.7x on validation,
        # bench/ingest.py); given back at shutdown, so apps made and dropped (tests) leak nothing
        gc.collect()
        gc.freeze()
        logging.getLogger("suppressor").info("serving on %s", st.location)
        try:
            yield
        finally:
            gc.unfreeze()
            app.state.services.refresher.close()
            app.state.services.keys.close()
            app.state.services.compactor.close()
            await aclose_clients(ahot, abulk)
            log.close()
            if own:
                st.close()

    app = FastAPI(
        title="suppressor",
        version=suppressor.__version__,
        description="Decides, before any marketing message goes out, whether it should be sent at all.",
        lifespan=lifespan,
        docs_url=None,  # served by routes.docs from a package, not a CDN
        redoc_url=None,
        generate_unique_id_function=operation_id,
        # one schema per model: a policy read back is the policy written (durations as text or seconds),
        # and generated clients get one class per name
        separate_input_output_schemas=False,
    )
    errors.install(app)
    examples.install(app)
    app.add_middleware(Gate)
    for module in (
        health,
        events,
        hooks,
        webhooks,
        customers,
        decisions,
        deferred,
        policy,
        simulation,
        content,
        models,
        studio,
        docs,
    ):
        app.include_router(module.router)
    app.include_router(customers.agent)
    app.mount(docs.ASSETS, docs.assets, name="docs-assets")
    return app
