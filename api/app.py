"""The ASGI application: ``create_app()`` (uvicorn: ``api.app:create_app --factory``).

Routes
  /graphql   GraphQL over HTTP (GET, POST), graphql-transport-ws, GraphiQL (browsers)
  /checkpoint the latest signed checkpoint (C2SP tlog-checkpoint, text/plain)
  /feed      the log as Server-Sent Events or NDJSON, resumable (Last-Event-ID / ?after=N)
  /export/F  claims or positions in an interchange format (api/exports.py), streamed
  /witness/add-checkpoint  cosign another log's checkpoint (c2sp.org/tlog-witness), when configured
  /healthz   the process is up
  /readyz    the database answers and the read model is caught up (lag threshold)
  /static    GraphiQL's local assets
  /, /assets the reader's web frontend (api/web), one URL per view
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles

from api.assets import STATIC_DIR
from api.auth import AccessEvent, KeyStore
from api.checkpoints import Checkpointer, checkpoint_route
from api.context import Services
from api.cost import SizesCache
from api.export_route import export_route
from api.feed import feed_route
from api.http_cache import CachedGraphQL, ResponseCache, WarmFront
from api.limits import BodyLimit
from api.loaders import blocking
from api.ratelimit import RateLimiter
from api.readside import Projector, ReadSide
from api.schema import build_schema
from api.settings import PROJECTOR_EMBEDDED, Settings
from api.subscriptions import Broadcaster
from api.view import LedgerGraphQL
from api.web import routes as web_routes
from api.witness import Witness, add_checkpoint_route
from ledger.application import ClaimsLedger

log = logging.getLogger("claims.api")


def access_events(ledger: ClaimsLedger) -> Callable[[int], tuple[int, list[AccessEvent]]]:
    """What the key store reads: the ledger's ApiKey events after a position, up to the log's size."""
    recorder = ledger.ledger_recorder
    decode = ledger.mapper.transcoder.decode

    def read(after: int) -> tuple[int, list[AccessEvent]]:
        upto = recorder.tree_head().size  # every event up to the head has committed
        events = recorder.read_access_events(after, upto)
        return upto, [(e.position, e.topic, e.originator_id, decode(e.state)) for e in events]

    return read


def open_services(settings: Settings, read: ReadSide | None = None) -> Services:
    ledger = ClaimsLedger.open(settings.database_url)
    read = read or ReadSide.open(settings.database_url, settings.statement_timeout_seconds)
    keys = KeyStore(access_events(ledger), settings.key_cache_seconds)
    sizes = SizesCache(read.collection_sizes)
    broadcaster = Broadcaster(ledger, settings.poll_seconds)
    reads, writes = RateLimiter(settings.rate_reads), RateLimiter(settings.rate_writes)
    return Services(settings, ledger, read, keys, broadcaster, sizes, reads, writes)


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
        if settings.witness_key:
            app.state.witness = Witness.from_files(
                settings.witness_key, list(settings.witness_logs), settings.witness_state
            )
        services.broadcaster.start()
        checkpointer = None
        if settings.checkpoint_key:
            checkpointer = Checkpointer(
                services.ledger, settings.checkpoint_key, settings.checkpoint_seconds, settings.checkpoint_events
            )
            checkpointer.start()
        try:
            yield
        finally:
            if checkpointer is not None:
                await checkpointer.stop()
            await services.broadcaster.stop()
            if projector is not None:
                await blocking(projector.stop)
            services.read.close()
            services.ledger.close()

    graphql = LedgerGraphQL(build_schema(settings), settings)
    cache = ResponseCache(settings.response_cache_bytes) if settings.response_cache_bytes > 0 else None
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
    cached = CachedGraphQL(graphql, cache, settings.cache_pinned_max_age)
    middleware.append(Middleware(WarmFront, graphql=cached))  # reused answers skip routing (api/http_cache.py)
    middleware.append(Middleware(BodyLimit, max_bytes=settings.max_body_bytes))
    app = Starlette(
        routes=[
            Route("/graphql", cached, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            Route("/checkpoint", checkpoint_route),
            Route("/feed", feed_route),
            Route("/export/{format}", export_route),
            Route("/witness/add-checkpoint", add_checkpoint_route, methods=["POST"]),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Mount("/static", StaticFiles(directory=STATIC_DIR, check_dir=False), name="static"),
            *web_routes(),
        ],
        middleware=middleware,
        lifespan=lifespan,
    )
    app.state.response_cache = cache
    return app


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
