"""The GraphQL schema: root types, extensions (limits, caches, error codes).

``python -m api.graphql.schema`` rewrites the committed SDL file ``api/graphql/schema.graphql``;
``python -m api.graphql.schema --check`` exits 1 when it is out of date.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import AsyncGenerator, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import strawberry
from graphql import ASTValidationRule, DocumentNode
from graphql import execute as graphql_execute
from graphql.error import GraphQLError
from strawberry.extensions import (
    MaxAliasesLimiter,
    ParserCache,
    QueryDepthLimiter,
    SchemaExtension,
)
from strawberry.extensions.field_extension import FieldExtension
from strawberry.permission import PermissionExtension
from strawberry.types.execution import ExecutionContext, PreExecutionError

from api.auth import IsEditor
from api.errors import CodedErrors, log_errors
from api.graphql.basis import Basis, unpinnable
from api.graphql.caching import QueryValidationCache
from api.graphql.compiled import CompiledExecution
from api.graphql.context import Info
from api.graphql.limits import ReadAccess, too_long
from api.graphql.resolvers import audit, extraction, reading, writing
from api.graphql.resolvers import checkpoint as checkpoints
from api.graphql.resolvers import flips as flip_resolvers
from api.graphql.resolvers.changes import changes as changes_resolver
from api.graphql.subscriptions import Subscriber, ledger_events
from api.graphql.types.audit import ConsistencyProof, InclusionProof, LedgerDigest, LedgerEvent, LedgerEventConnection
from api.graphql.types.changes import ChangeConnection
from api.graphql.types.checkpoint import SignedCheckpoint
from api.graphql.types.connections import ClaimConnection
from api.graphql.types.enums import FLIP_RULE
from api.graphql.types.extraction import ExtractionResult
from api.graphql.types.flips import FlipConnection, FlipSummary
from api.graphql.types.objects import Actor, Claim, Position, PositionChange, Source, Topic
from api.graphql.types.payloads import (
    DefineTopicPayload,
    RecordClaimPayload,
    RegisterActorPayload,
    RegisterSourcePayload,
    RetractClaimPayload,
    ReviseClaimPayload,
)
from api.settings import Settings

SDL_PATH = Path(__file__).with_name("schema.graphql")
PARSER_CACHE_SIZE = 512
VALIDATION_CACHE_SIZE = 512

AS_OF = (
    "The date in the world the answer is for (default: today). A claim counts from its `countsFrom`: the end of its "
    "stated period or the last day of its source's publication, whichever is earlier."
)
NAMES = " `actor` and `topic` take a key, a name, an alias or a title (any case, accents optional)."
KNOWN_AT = "The ledger record time to answer at (default: now): what the ledger said then, before later corrections."


@strawberry.type(description="Read the ledger: positions as of a date, as known at an instant, and the audit trail.")
class Query:
    position: Position | None = strawberry.field(
        resolver=reading.position,
        description="Where `actor` stands on `topic` as of `asOf`, and since when; null when no claim qualifies. "
        + AS_OF
        + NAMES,
    )
    positions: list[Position] = strawberry.field(
        resolver=reading.positions,
        description="The current stance of every actor on every topic (filter by actor or topic)." + NAMES,
    )
    timeline: list[PositionChange] = strawberry.field(
        resolver=reading.timeline,
        description="Each change of `actor`'s stance on `topic`, oldest first. " + KNOWN_AT + NAMES,
    )
    claim: Claim | None = strawberry.field(
        resolver=reading.claim, description="A claim by UUID or key, in the version current at `knownAt`."
    )
    claims: ClaimConnection = strawberry.field(
        resolver=reading.claims,
        description="Claims matching a filter, ordered by countsFrom, then the start of the stated period, then "
        "log order (keyset pages).",
    )
    actors: list[Actor] = strawberry.field(
        resolver=reading.actors,
        description="Actors whose key, name or alias contains `search` (any case, any Unicode normal form).",
    )
    topics: list[Topic] = strawberry.field(resolver=reading.topics)
    sources: list[Source] = strawberry.field(resolver=reading.sources)
    source: Source | None = strawberry.field(resolver=reading.source, description="A source by id or key.")
    extraction_candidates: ExtractionResult = strawberry.field(
        resolver=extraction.extraction_candidates,
        description="Candidate claims the extraction assistant proposes for a source (by id or key), for a curator "
        "to review; accept one with recordClaim(input, assistant). NOT_FOUND for an unknown source.",
    )
    events: LedgerEventConnection = strawberry.field(
        resolver=audit.events,
        description="The raw ledger log in order, for auditors (under a request's `atTreeSize` pin: its first "
        "`atTreeSize` events).",
    )
    event: LedgerEvent | None = strawberry.field(
        resolver=audit.event,
        description="One event of the log by its id (log position); null beyond the log's end (under a "
        "request's `atTreeSize` pin: beyond the pin).",
    )
    ledger_digest: LedgerDigest = strawberry.field(
        resolver=audit.ledger_digest,
        description="The log's size and Merkle root hash (RFC 6962); under a request's `atTreeSize` pin, the "
        "log's as it stood at that size.",
    )
    inclusion_proof: InclusionProof = strawberry.field(
        resolver=audit.inclusion_proof,
        description="Audit path proving event `eventId` is in the log (of `treeSize` events, default: all, or "
        "a request's `atTreeSize` pin).",
    )
    consistency_proof: ConsistencyProof = strawberry.field(
        resolver=audit.consistency_proof,
        description="Proof that the log of `fromSize` events is a prefix of the log of `toSize` (default: all, or a "
        "request's `atTreeSize` pin): "
        "history was appended to, not rewritten.",
    )
    flips: FlipConnection = strawberry.field(
        resolver=flip_resolvers.flips,
        description="Consistency labels between consecutive claims, e.g. every FULL_FLOP from 2025-01-01 to "
        "2025-12-31 (dates filter the later claim's countsFrom). " + FLIP_RULE + NAMES,
    )
    flip_summaries: list[FlipSummary] = strawberry.field(
        resolver=flip_resolvers.flip_summaries,
        description="Per actor and topic: how many of each label their consecutive claims earned." + NAMES,
    )
    changes: ChangeConnection = strawberry.field(
        resolver=changes_resolver,
        description="Every claim recorded, revised, retracted or linked in the record-time window [from, to), in "
        "log order, with who, why and the field-level before/after; filter by actor, topic or source (a change "
        "matches by the claim as that change left it: a revision that moved a claim to another actor is listed "
        "under the new one). A source's revised publication date is not listed here, though it can move its "
        "claims' countsFrom (the log's `events` hold it)." + NAMES,
    )
    checkpoint: SignedCheckpoint = strawberry.field(
        resolver=checkpoints.checkpoint,
        description="A signed checkpoint of the log: the latest, or the one kept for `treeSize` (NOT_FOUND if none).",
    )


def _editor() -> list[FieldExtension]:
    return [PermissionExtension(permissions=[IsEditor()], use_directives=False)]


@strawberry.type(description="Write to the ledger (API key with the editor role). Rejected input writes nothing.")
class Mutation:
    register_source: RegisterSourcePayload = strawberry.mutation(
        resolver=writing.register_source, extensions=_editor(), description="Register a source text (idempotent)."
    )
    register_actor: RegisterActorPayload = strawberry.mutation(
        resolver=writing.register_actor,
        extensions=_editor(),
        description="Register an actor, or revise one's details (then give a reason).",
    )
    define_topic: DefineTopicPayload = strawberry.mutation(
        resolver=writing.define_topic, extensions=_editor(), description="Define a topic, or revise one (with reason)."
    )
    record_claim: RecordClaimPayload = strawberry.mutation(
        resolver=writing.record_claim, extensions=_editor(), description="Record a claim (idempotent by key)."
    )
    revise_claim: ReviseClaimPayload = strawberry.mutation(
        resolver=writing.revise_claim,
        extensions=_editor(),
        description="Correct the ledger's record of a claim; fails with CONFLICT unless `expectedVersion` is current.",
    )
    retract_claim: RetractClaimPayload = strawberry.mutation(
        resolver=writing.retract_claim,
        extensions=_editor(),
        description="Withdraw a record that should never have been made; it stays in the history.",
    )


@strawberry.type(description="Live ledger events (WebSocket, graphql-transport-ws protocol only).")
class Subscription:
    @strawberry.subscription(
        description="Every ledger event committed from now on, filtered by type: an aggregate type (`Claim`) "
        "or an event type (`Claim.Revised`). With `after` (a log position: the last one a client saw), first "
        "every event after it, then the live ones, with no gap and nothing twice."
    )
    async def ledger_events(
        self, info: Info, types: list[str] | None = None, after: int | None = None
    ) -> AsyncGenerator[LedgerEvent, None]:
        unpinnable("a subscription")
        context = info.context
        who = Subscriber(
            anonymous=context.caller.principal is None,
            client=context.client,
            per_client=context.settings.max_subscriptions_per_client,
            total=context.settings.max_subscriptions_total,
        )
        async for event in ledger_events(context.services.broadcaster, types, after, who):
            yield event


class LedgerSchema(strawberry.Schema):
    """Logs only unexpected errors (user errors are answers, not incidents); runs query operations
    through plans compiled once per document (``api/graphql/compiled.py``) unless turned off."""

    compiled: CompiledExecution | None = None

    async def _execute_operation(
        self,
        execution_context: ExecutionContext,
        extensions_runner: Any,
        middleware_manager: Any,
        execute_function: Callable[..., Any],
        custom_context_kwargs: dict[str, Any],
    ) -> Any:
        if self.compiled is not None and execute_function is graphql_execute:
            execute_function = self.compiled
        return await super()._execute_operation(
            execution_context, extensions_runner, middleware_manager, execute_function, custom_context_kwargs
        )

    async def _prepare_operation_async(self, context: ExecutionContext, extensions_runner: Any) -> Any:
        # Our pipeline parses in its parsing hook (the parser cache, the length limit: RequestPipeline), where a
        # syntax or limit error is raised outside strawberry's own handling of parse errors: queries were
        # answered anyway, but a subscription over WebSocket got a bare "complete" and a logged traceback.
        try:
            return await super()._prepare_operation_async(context, extensions_runner)
        except GraphQLError as error:
            if context.graphql_document is not None:  # (not a parse error: not ours to answer)
                raise
            context.pre_execution_errors = [error]
            return PreExecutionError(data=None, errors=[error])

    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        log_errors(errors)


class RequestPipeline(CodedErrors, QueryValidationCache, ReadAccess):
    """All our per-operation extensions as one: limits, caches, read access and error codes.

    Behaves as the list ``MaxTokensLimiter, AddValidationRules, ParserCache,
    QueryValidationCache, ReadAccess, CodedErrors`` did, but strawberry wraps one
    extension's hooks per operation instead of six (measurably cheaper per request).
    """

    def __init__(
        self,
        max_tokens: int,
        rules: tuple[type[ASTValidationRule], ...],
        parse: Callable[..., DocumentNode],
        max_length: int,
    ) -> None:
        CodedErrors.__init__(self)
        self.maxsize = VALIDATION_CACHE_SIZE
        self.max_tokens = max_tokens
        self.max_length = max_length
        self.rules = rules
        self.parse = parse

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        context.parse_options["max_tokens"] = self.max_tokens  # MaxTokensLimiter
        context.validation_rules = context.validation_rules + self.rules  # AddValidationRules
        yield from CodedErrors.on_operation(self)

    def on_parse(self) -> Iterator[None]:  # ParserCache
        context = self.execution_context
        error = too_long(context.query or "", self.max_length)  # (before the parser's cache keeps the text)
        if error is not None:
            raise error
        context.graphql_document = self.parse(context.query, **context.parse_options)
        yield

    def _process_result(self, result: object) -> None:
        # MaskErrors tests ``isinstance(result, <runtime Protocol>)``: slow, and only ``errors`` matters.
        if getattr(result, "errors", None):
            CodedErrors._process_result(self, result)


_LIMIT_RULES: dict[tuple[int, int], tuple[type[ASTValidationRule], ...]] = {}


def limit_rules(settings: Settings) -> tuple[type[ASTValidationRule], ...]:
    """The depth and alias validation rules, one set per limits: the validation caches key on the
    rule classes, so a class made per request (or per path) would never hit them."""
    key = (settings.max_depth, settings.max_aliases)
    rules = _LIMIT_RULES.get(key)
    if rules is None:
        rules = _LIMIT_RULES[key] = (
            *QueryDepthLimiter(max_depth=settings.max_depth).validation_rules,
            *MaxAliasesLimiter(max_alias_count=settings.max_aliases).validation_rules,
        )
    return rules


def extensions(settings: Settings) -> Sequence[Callable[[], SchemaExtension] | type[SchemaExtension]]:
    """Limits, caches, access and error codes: a fresh :class:`RequestPipeline` per operation.

    The depth and alias rules are created once and shared, because the validation
    cache keys its entries on the validation rule classes: a rule class made per
    request would never hit the cache.
    """
    rules = limit_rules(settings)
    tokens, length = settings.max_tokens, settings.max_query_length
    parse = ParserCache(maxsize=PARSER_CACHE_SIZE).cached_parse_document
    return [lambda: RequestPipeline(tokens, rules, parse, length), Basis]


def build_schema(settings: Settings | None = None) -> LedgerSchema:
    settings = settings or Settings()
    schema = LedgerSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=extensions(settings),
    )
    if settings.compiled_execution:
        schema.compiled = CompiledExecution(schema)
    return schema


def sdl() -> str:
    return build_schema().as_str() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m api.graphql.schema", description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 if api/graphql/schema.graphql is out of date")
    args = parser.parse_args(argv)
    text = sdl()
    if args.check:
        current = SDL_PATH.read_text(encoding="utf-8") if SDL_PATH.exists() else ""
        if current != text:
            print(f"{SDL_PATH} is out of date: run python -m api.graphql.schema", file=sys.stderr)
            return 1
        return 0
    SDL_PATH.write_text(text, encoding="utf-8")
    print(f"wrote {SDL_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
