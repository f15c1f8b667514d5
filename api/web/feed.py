"""``GET /feed``: the ledger log as Server-Sent Events or newline-delimited JSON, resumable.

For consumers that do not speak GraphQL: the same events as the ``ledgerEvents``
subscription (same JSON fields as ``LedgerEvent``). Each SSE message's ``id`` is
the event's log position, so a client that reconnects with ``Last-Event-ID``
(browsers' EventSource do it by themselves) resumes right after the last event
it received. ``?after=N`` does the same explicitly; ``?types=Claim,Claim.Revised``
filters. ``Accept: application/x-ndjson`` (or ``?format=ndjson``) gives one JSON
object per line instead. The stream replays, then stays open for new events.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from api.auth import bearer
from api.errors import ApiError
from api.graphql.context import Services
from api.graphql.loaders import blocking
from api.graphql.subscriptions import Subscriber, check_types, ledger_events
from api.graphql.types.audit import LedgerEvent, _plain

NDJSON = "application/x-ndjson"
SSE = "text/event-stream"


def event_json(event: LedgerEvent) -> dict[str, Any]:
    out: dict[str, Any] = _plain(
        {
            "id": str(event.id),
            "position": event.position,
            "type": event.type,
            "aggregateId": str(event.aggregate_id),
            "aggregateType": event.aggregate_type,
            "version": event.version,
            "recordedAt": event.recorded_at,
            "recordedBy": event.recorded_by,
            "payload": event.payload,
            "leafHash": event.leaf_hash,
        }
    )
    return out


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _problem(status: int, code: str, message: str) -> Response:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


async def feed_route(request: Request) -> Response:
    services: Services = request.app.state.services
    secret = bearer(request.headers.get("authorization"))
    caller = None
    if secret is not None or services.settings.require_key_for_reads:
        caller = await blocking(services.keys.identify, secret) if secret is not None else None
        if caller is None or caller.rejected or caller.principal is None:
            return _problem(401, "UNAUTHENTICATED", "this feed needs a valid API key: Authorization: Bearer KEY")
    principal = caller.principal if caller is not None else None
    # The same limits and view as the ledgerEvents subscription: a key's name or the address is the client.
    who = Subscriber(
        anonymous=principal is None,
        client=f"key {principal.key_name!r}" if principal is not None else f"address {_address(request)}",
        per_client=services.settings.max_subscriptions_per_client,
        total=services.settings.max_subscriptions_total,
    )
    raw_after = request.query_params.get("after") or request.headers.get("last-event-id")
    try:
        after = int(raw_after) if raw_after else None
        if after is not None and after < 0:
            raise ValueError
    except ValueError:
        return _problem(400, "BAD_USER_INPUT", f"after: {raw_after!r} is not a log position (0 or more)")
    types = [t for t in request.query_params.get("types", "").split(",") if t.strip()] or None
    ndjson = request.query_params.get("format") == "ndjson" or NDJSON in request.headers.get("accept", "")
    try:
        check_types(types)  # a bad filter is a 400 now, not a broken stream later
    except ApiError as error:
        return _problem(400, error.code, error.message)
    head = await blocking(services.read_model.tree_size)
    if after is not None and after > head:
        return _problem(400, "BAD_USER_INPUT", f"after: {after} is beyond the log's {head} events")
    try:
        services.broadcaster.admit(who.client, who.per_client, who.total)  # refuse now, with a status, not mid-stream
    except ApiError as error:
        return _problem(429, error.code, error.message)
    stream = ledger_events(services.broadcaster, types, 0 if after is None else after, who)

    async def body() -> AsyncIterator[str]:
        try:
            async for event in stream:
                data = json.dumps(event_json(event), ensure_ascii=False, separators=(",", ":"))
                if ndjson:
                    yield data + "\n"
                else:
                    yield f"id: {event.position}\nevent: {event.type}\ndata: {data}\n\n"
        except ApiError as error:  # a subscriber too slow for the live queue: say so, then end
            if not ndjson:
                yield f"event: error\ndata: {json.dumps({'code': error.code, 'message': error.message})}\n\n"
        finally:
            await stream.aclose()

    return StreamingResponse(
        body(), media_type=NDJSON if ndjson else SSE, headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )
