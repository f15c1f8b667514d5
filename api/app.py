"""The ASGI application: ``create_app()`` (uvicorn: ``api.app:create_app --factory``).

Routes
  /graphql   GraphQL over HTTP (GET, POST), graphql-transport-ws, GraphiQL (browsers)
  /healthz   the process is up
  /readyz    the database answers and the read model is caught up (lag threshold)
  /static    GraphiQL's local assets
  /, /assets the reader's web frontend (api/web), one URL per view
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles

from api.assets import STATIC_DIR
from api.auth import KeyStore
from api.context import Services
from api.limits import BodyLimit
from api.loaders import blocking
from api.readside import Projector, ReadSide
from api.schema import build_schema
from api.settings import PROJECTOR_EMBEDDED, Settings
from api.subscriptions import Broadcaster
from api.view import LedgerGraphQL
from api.web import routes as web_routes
from ledger.application import ClaimsLedger

log = logging.getLogger("claims.api")
KEY_CATCH_UP_SECONDS = 2.0  # an unknown key is looked up again once the read model has caught up


def open_services(settings: Settings, read: ReadSide | None = None) -> Services:
    ledger = ClaimsLedger.open(settings.database_url)
    read = read or ReadSide.open(settings.database_url)
    reader = read

    def catch_up() -> None:
        reader.wait_for(ledger.ledger_recorder.tree_head().size, KEY_CATCH_UP_SECONDS)

    keys = KeyStore(read.model.api_key, settings.key_cache_seconds, catch_up)
    return Services(settings, ledger, read, keys, Broadcaster(ledger, settings.poll_seconds))


def create_app(settings: Settings | None = None, *, read: ReadSide | None = None) -> Starlette:
    """The app; ``read`` replaces the read side (tests count its queries)."""
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        services = await blocking(open_services, settings, read)
        projector: Projector | None = None
        if settings.projector == PROJECTOR_EMBEDDED:
            projector = await blocking(services.read.start_projector, settings.database_url)
        app.state.services = services
        services.broadcaster.start()
        try:
            yield
        finally:
            await services.broadcaster.stop()
            if projector is not None:
                await blocking(projector.stop)
            services.read.close()
            services.ledger.close()

    graphql = LedgerGraphQL(build_schema(settings), settings)
    middleware = []
    if settings.cors_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=list(settings.cors_origins),
                allow_methods=["GET", "POST", "OPTIONS"],
                allow_headers=["Authorization", "Content-Type", "Accept"],
                max_age=600,
            )
        )
    middleware.append(Middleware(BodyLimit, max_bytes=settings.max_body_bytes))
    return Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Mount("/static", StaticFiles(directory=STATIC_DIR, check_dir=False), name="static"),
            *web_routes(),
        ],
        middleware=middleware,
        lifespan=lifespan,
    )


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    services: Services = request.app.state.services

    def probe() -> tuple[int, int]:
        return services.ledger.ledger_recorder.tree_head().size, services.read.projected_position()

    try:
        size, projected = await blocking(probe)
    except Exception:
        log.exception("readiness probe: the database did not answer")
        return JSONResponse({"status": "unavailable", "reason": "database unreachable"}, status_code=503)
    lag = max(0, size - projected)
    ready = lag <= services.settings.ready_max_lag
    body = {"status": "ready" if ready else "lagging", "treeSize": size, "projected": projected, "lag": lag}
    return JSONResponse(body, status_code=200 if ready else 503)
