"""``GET /export/{format}``: the interchange formats of ``api/exports.py`` over HTTP, streamed.

Query parameters: ``asOf`` (YYYY-MM-DD), ``knownAt`` (ISO instant), ``actor``, ``topic``
(key, name or alias), ``includeRetracted=1``. The basis is also sent as headers
(``Claims-Tree-Size``, ``Claims-Root-Hash``, ``Claims-Known-At``).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from api.auth import bearer
from api.errors import ApiError, ShuttingDown, bad_input, unresolved
from api.exports import FORMATS, MEDIA_TYPES, stream
from api.exports import Request as ExportRequest
from api.graphql.context import Services, instant
from api.graphql.loaders import blocking, blocking_chunks
from projections.names import FOUND
from projections.views import ClaimFilter


def _problem(error: ApiError, status: int) -> Response:
    return JSONResponse({"error": {"code": error.code, "message": error.message}}, status_code=status)


def _parse(params: Any) -> tuple[str | None, str | None, date | None, datetime | None, bool]:
    def parsed(name: str, parse: Any) -> Any:
        raw = params.get(name)
        try:
            return parse(raw) if raw else None
        except ValueError:
            raise bad_input(name, f"{raw!r} is not a valid {parse.__name__} value") from None

    as_of = parsed("asOf", date.fromisoformat)
    known_at = instant(parsed("knownAt", datetime.fromisoformat), None)  # (no GraphQL operation)
    retracted = params.get("includeRetracted", "") in ("1", "true")
    return params.get("actor"), params.get("topic"), as_of, known_at, retracted


async def export_route(request: Request) -> Response:
    services: Services = request.app.state.services
    name = request.path_params["format"]
    if name not in FORMATS:
        return _problem(ApiError("NOT_FOUND", f"no export format {name!r}; formats: {', '.join(FORMATS)}"), 404)
    secret = bearer(request.headers.get("authorization"))
    if secret is not None or services.settings.require_key_for_reads:
        caller = await blocking(services.keys.identify, secret) if secret is not None else None
        if caller is None or caller.rejected or caller.principal is None:
            return _problem(ApiError("UNAUTHENTICATED", "exports need a valid API key: Authorization: Bearer KEY"), 401)
    try:
        actor, topic, as_of, known_at, retracted = _parse(request.query_params)
    except ApiError as error:
        return _problem(error, 400)

    def open_stream() -> tuple[Any, Any]:
        keys: dict[str, str | None] = {"actor": None, "topic": None}
        asked = [(kind, ref) for kind, ref in (("actor", actor), ("topic", topic)) if ref]
        for (kind, _), resolution in zip(asked, services.read_model.resolve_names(asked), strict=True):
            if resolution.status != FOUND:
                raise unresolved(kind, resolution)
            keys[kind] = resolution.key
        wanted = ClaimFilter(actor=keys["actor"], topic=keys["topic"], include_retracted=retracted)
        return stream(services.read_model, ExportRequest(name, wanted, as_of, known_at))

    try:
        basis, chunks = await blocking(open_stream)
    except ShuttingDown:
        raise  # the app's 503 (api/web/app.py), not a bad request
    except ApiError as error:
        return _problem(error, 404 if error.code == "NOT_FOUND" else 400)
    headers = {
        "Claims-Tree-Size": str(basis.tree_size),
        "Claims-Root-Hash": basis.root_hash,
        "Claims-Known-At": basis.as_dict()["knownAt"] or "",
        "Content-Disposition": f'inline; filename="claims-{name}-{basis.tree_size}"',
    }
    # A sync iterator whose chunks read the database: read on the database threads, so an app shutting
    # down waits for a chunk being read before it closes the stores (api.graphql.loaders.closing_stores).
    return StreamingResponse(blocking_chunks(chunks), media_type=MEDIA_TYPES[name], headers=headers)
