"""The ASGI application: ``create_app()`` (uvicorn: ``api.web.app:create_app --factory``).

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

import gc
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

from api.auth import AccessEvent, KeyStore
from api.errors import UNAVAILABLE_ERRORS, ShuttingDown, unavailable
from api.graphql.context import Services
from api.graphql.cost import SizesCache
from api.graphql.limits import BodyLimit
from api.graphql.loaders import blocking, closing_stores
from api.graphql.prepared import PreparedOperations
from api.graphql.ratelimit import RateLimiter
from api.graphql.schema import build_schema
from api.graphql.subscriptions import Broadcaster
from api.graphql.view import LedgerGraphQL
from api.settings import PROJECTOR_EMBEDDED, Settings
from api.web.assets import STATIC_DIR
from api.web.checkpoints import Checkpointer, checkpoint_route
from api.web.export_route import export_route
from api.web.feed import feed_route
from api.web.frontend import routes as web_routes
from api.web.http_cache import CachedGraphQL, ResponseCache, WarmFront
from api.witness import Witness, add_checkpoint_route
from ledger.application import ClaimsLedger
from ledger.errors import DatabaseUnavailable
from projections.db import ReadModelUpgrading
from projections.queries import ReadModel
from projections.replica import ReplicaReadModel, is_standby
from projections.runner import BackgroundProjector, start_in_process

log = logging.getLogger("claims.api")


def access_events(read_model: ReadModel) -> Callable[[int], tuple[int, list[AccessEvent]]]:
    """What the key store reads: the ledger's ApiKey events after a position, up to the log's size."""

    def read(after: int) -> tuple[int, list[AccessEvent]]:
        upto = read_model.tree_size()  # every event up to the head has committed
        events = read_model.access_events(after, upto)
        return upto, [(e.position, e.topic, e.originator_id, state) for e, state in events]

    return read


def open_services(settings: Settings, read_model: ReadModel | None = None) -> Services:
    if settings.projector == PROJECTOR_EMBEDDED and is_standby(settings.database_url):
        raise ValueError(
            "CLAIMS_DATABASE_URL names a read-only standby, where the projector cannot run: point it at the "
            "primary (and the standby's URL in CLAIMS_READ_DATABASE_URL), or set CLAIMS_PROJECTOR=external "
            "for an API process that only reads the standby (its mutations answer READ_ONLY)"
        )
    ledger = ClaimsLedger.open(settings.database_url)
    if read_model is None and settings.read_database_url:
        read_model = ReplicaReadModel(
            settings.read_database_url,
            settings.database_url,
            statement_timeout=settings.statement_timeout_seconds,
            ledger=ledger,
        )
    read_model = read_model or ReadModel(
        settings.database_url, statement_timeout=settings.statement_timeout_seconds, ledger=ledger
    )
    keys = KeyStore(access_events(read_model), settings.key_cache_seconds)
    sizes = SizesCache(read_model.collection_sizes)
    broadcaster = Broadcaster(read_model, settings.poll_seconds)
    reads, writes = RateLimiter(settings.rate_reads), RateLimiter(settings.rate_writes)
    return Services(settings, ledger, read_model, keys, broadcaster, sizes, reads, writes)


_frozen = False


def freeze_start_up() -> None:
    """Move what start-up made (modules, the schema, services) out of the garbage collector's generations,
    once per process: a full collection then walks only what requests made since. Without it one
    full collection under load took up to 160 ms with every request waiting (bench/RESULTS.md)."""
    global _frozen
    if not _frozen:
        _frozen = True
        gc.collect()
        gc.freeze()


def create_app(settings: Settings | None = None, *, read_model: ReadModel | None = None) -> Starlette:
    """The app; ``read_model`` replaces the read side (tests count its queries)."""
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        services = await blocking(open_services, settings, read_model)
        await blocking(services.sizes.refresh)  # (what the first query's cost estimate reads)
        projector: BackgroundProjector | None = None
        if settings.projector == PROJECTOR_EMBEDDED:
            projector = await blocking(start_in_process, settings.database_url)
        app.state.services = services
        if settings.witness_key:
            app.state.witness = Witness.from_files(
                settings.witness_key, list(settings.witness_logs), settings.witness_state
            )
        services.broadcaster.start()
        freeze_start_up()
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
            # calls in flight finish first (a statement timeout bounds them; with none, a minute at most)
            async with closing_stores(settings.statement_timeout_seconds or 60.0):
                if services.read_model.async_readers is not None:
                    await services.read_model.async_readers.settle()  # (connects under way: none outlives the loop)
                services.read_model.close()
                services.ledger.close()

    schema = build_schema(settings)
    graphql = LedgerGraphQL(schema, settings)
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
    prepared = PreparedOperations(schema, settings) if settings.prepared_http else None
    cached = CachedGraphQL(graphql, cache, settings.cache_pinned_max_age, prepared)
    middleware.append(Middleware(WarmFront, graphql=cached))  # reused answers skip routing (api/web/http_cache.py)
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
        exception_handlers={kind: refused_for_now for kind in UNAVAILABLE_ERRORS},
        lifespan=lifespan,
    )
    app.state.response_cache = cache
    app.state.prepared = prepared
    return app


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def refused_for_now(request: Request, error: Exception) -> Response:
    """Any route's database call refused while the app closes its stores, or its read of a model of another
    schema (an upgrade): 503, coded, with the Retry-After of ``api.errors.unavailable``."""
    assert isinstance(error, UNAVAILABLE_ERRORS)
    body, retry_after = unavailable(error)
    return JSONResponse(body, status_code=503, headers={"Retry-After": str(retry_after)})


async def readyz(request: Request) -> Response:
    services: Services = request.app.state.services

    def probe() -> tuple[int, int]:
        return services.read_model.tree_size(), services.read_model.projected_position()

    try:
        size, projected = await blocking(probe)
    except ShuttingDown:
        return JSONResponse({"status": "unavailable", "reason": "shutting down"}, status_code=503)
    except ReadModelUpgrading:
        return JSONResponse({"status": "unavailable", "reason": "read model upgrading"}, status_code=503)
    except DatabaseUnavailable as error:  # (said without a traceback: a probe every few seconds of an outage)
        log.warning("readiness probe: %s (%s)", error, error.reason)
        return JSONResponse({"status": "unavailable", "reason": "database unreachable"}, status_code=503)
    except Exception:
        log.exception("readiness probe: the database did not answer")
        return JSONResponse({"status": "unavailable", "reason": "database unreachable"}, status_code=503)
    lag = max(0, size - projected)
    ready = lag <= services.settings.ready_max_lag
    body = {"status": "ready" if ready else "lagging", "treeSize": size, "projected": projected, "lag": lag}
    return JSONResponse(body, status_code=200 if ready else 503)
