"""Resolvers of the read queries: each asks the read model once and wraps the views."""

from __future__ import annotations

import weakref
from collections.abc import Coroutine, Sequence
from datetime import date, datetime
from typing import Any, NamedTuple
from uuid import UUID

import strawberry
from graphql import FieldNode, FragmentSpreadNode, GraphQLResolveInfo, InlineFragmentNode, SelectionNode

from api.errors import ApiError, bad_input
from api.graphql.basis import record_time
from api.graphql.context import Info, instant
from api.graphql.loaders import AskAlone, CrossRequestLoader, blocking, grouped_by_basis, own_copy
from api.graphql.types.connections import ClaimConnection, ClaimEdge, PageInfo, page_size, read_page
from api.graphql.types.enums import Attribution, Stance
from api.graphql.types.inputs import ClaimFilter
from api.graphql.types.objects import Actor, Claim, Position, PositionChange, Source, Topic
from api.names import keys_of, resolve_keys
from ledger.application import claim_ref
from projections import views
from projections.db import QueryTimeout
from projections.names import Resolution
from projections.queries import ReadModel
from projections.values import searchable


async def position(
    info: Info,
    actor: str,
    topic: str,
    as_of: date | None = None,
    known_at: datetime | None = None,
    at_tree_size: int | None = None,
) -> Position | None:
    # The position, its claim and, when asked for, the claim's source: with the questions of every
    # other request in flight, one trip to a worker thread, names resolved (kept in process) and
    # one statement per record time (POSITIONS). The source is primed into the source loader for
    # Claim.source. At a record time the source's details are those in force then: the loader reads them.
    # (no atTreeSize: record_time's answer without its coroutine and import, ~2 us of a cold request)
    at = instant(known_at, info) if at_tree_size is None else await record_time(info, known_at, at_tree_size)
    with_source = at is None and selects(info, "claim", "source")
    question = PositionQuestion(actor, topic, as_of, at, with_source)
    view, source = await POSITIONS.load(info.context.read_model, question)
    if source is not None:
        info.context.loaders.prime_source((source.id, None), source)
    return Position(view, at) if view else None


class PositionQuestion(NamedTuple):
    actor: str  # as the caller typed it
    topic: str
    as_of: date | None
    known_at: datetime | None
    with_source: bool


PositionAnswer = tuple[views.PositionView | None, views.SourceView | None]


def answer_positions(read_model: ReadModel, questions: list[PositionQuestion]) -> list[PositionAnswer | Exception]:
    """Each question's position and source, or the error of a name that names no record (or several),
    as :func:`position` alone would raise it: names resolved in one call and positions read in one
    statement per distinct record time."""
    alone = len(questions) == 1
    return grouped_by_basis(
        [(q, q.known_at) for q in questions], lambda asked, known_at: _answer_at(read_model, asked, known_at, alone)
    )


def _answer_at(
    read_model: ReadModel, questions: list[PositionQuestion], known_at: datetime | None, alone: bool
) -> list[PositionAnswer | Exception]:
    """:func:`answer_positions` for the questions asked at record time ``known_at``.

    A statement timeout is the batch's, not a question's: each question of a batch that timed out is
    asked again alone (``AskAlone``, all at once), so each ends as it would alone. Any other failure
    (the database is unreachable) fails this record time's questions, each with its own copy of the
    error, and not the other times'. A question whose names failed keeps its own error."""
    out: list[PositionAnswer | Exception] = [(None, None)] * len(questions)
    try:
        found = read_model.resolve_names(_name_refs(questions), known_at, reuse=True)
        asked, keys = _keys(questions, found, out)
        if asked:
            answers = read_model.positions_and_sources(keys, known_at, with_source=_with_source(questions, asked))
            _fill(questions, asked, answers, out)
    except QueryTimeout as error:
        return _timed_out(out, error, alone)
    except Exception as error:
        return _failed(out, error)
    return out


def answer_positions_on_loop(
    read_model: ReadModel, questions: list[PositionQuestion]
) -> Coroutine[Any, Any, list[PositionAnswer | Exception]] | None:
    """:func:`answer_positions` on the event loop, when it can answer without blocking: on PostgreSQL
    (``ReadModel.async_readers``) with every name's resolution kept in process. Otherwise None: the
    batch goes to a thread, where names are read. Same statements, same errors, same ``AskAlone``."""
    if read_model.async_readers is None:
        return None
    groups: dict[datetime | None, list[int]] = {}
    for i, q in enumerate(questions):
        groups.setdefault(q.known_at, []).append(i)
    found: list[tuple[datetime | None, list[int], list[Resolution]]] = []
    for known_at, indexes in groups.items():
        resolutions = read_model.kept_names(_name_refs([questions[i] for i in indexes]), known_at)
        if resolutions is None:
            return None  # (the thread's read counts every name of the batch)
        found.append((known_at, indexes, resolutions))
    read_model.resolved_names.count_hits(sum(len(r) for _, _, r in found))
    return _answer_on_loop(read_model, questions, found)


async def _answer_on_loop(
    read_model: ReadModel,
    questions: list[PositionQuestion],
    found: list[tuple[datetime | None, list[int], list[Resolution]]],
) -> list[PositionAnswer | Exception]:
    alone = len(questions) == 1
    out: list[PositionAnswer | Exception] = [(None, None)] * len(questions)
    for known_at, indexes, resolutions in found:  # (as grouped_by_basis: one statement per record time)
        group = [questions[i] for i in indexes]
        group_out: list[PositionAnswer | Exception] = [(None, None)] * len(group)
        try:
            asked, keys = _keys(group, resolutions, group_out)
            if asked:
                answers = await read_model.positions_and_sources_async(
                    keys, known_at, with_source=_with_source(group, asked)
                )
                _fill(group, asked, answers, group_out)
        except QueryTimeout as error:
            group_out = _timed_out(group_out, error, alone)
        except Exception as error:
            group_out = _failed(group_out, error)
        for i, answer in zip(indexes, group_out, strict=True):
            out[i] = answer
    return out


def _name_refs(questions: list[PositionQuestion]) -> list[tuple[str, str]]:
    return [ref for q in questions for ref in (("actor", q.actor), ("topic", q.topic))]


def _keys(
    questions: list[PositionQuestion], found: Sequence[Resolution], out: list[PositionAnswer | Exception]
) -> tuple[list[int], list[tuple[str, str, date | None]]]:
    """The questions whose names name one record each, with their keys; the others' errors put in ``out``."""
    asked: list[int] = []
    keys: list[tuple[str, str, date | None]] = []
    for i, q in enumerate(questions):
        try:
            actor_key, topic_key = keys_of(
                (("actor", "actor", q.actor), ("topic", "topic", q.topic)), found[2 * i : 2 * i + 2]
            )
        except ApiError as error:
            out[i] = error
            continue
        assert actor_key is not None and topic_key is not None
        asked.append(i)
        keys.append((actor_key, topic_key, q.as_of))
    return asked, keys


def _with_source(questions: list[PositionQuestion], asked: list[int]) -> bool:
    return any(questions[i].with_source for i in asked)


def _fill(
    questions: list[PositionQuestion],
    asked: list[int],
    answers: Sequence[PositionAnswer],
    out: list[PositionAnswer | Exception],
) -> None:
    for i, (view, source) in zip(asked, answers, strict=True):
        out[i] = (view, source if questions[i].with_source else None)


def _failed(out: list[PositionAnswer | Exception], error: Exception) -> list[PositionAnswer | Exception]:
    """Every question not failed already gets its own copy of the batch's error."""
    return [a if isinstance(a, Exception) else own_copy(error) for a in out]


def _timed_out(
    out: list[PositionAnswer | Exception], error: QueryTimeout, alone: bool
) -> list[PositionAnswer | Exception]:
    return [a if isinstance(a, Exception) else error if alone else AskAlone() for a in out]


POSITIONS = CrossRequestLoader(answer_positions, answer_positions_on_loop)


# selects' answers by the field's nodes (their ids) and the path: a cold request of a known document asks the
# same nodes again (the walk cost ~2.8 us a request). An entry holds weak references to its nodes, so it keeps
# no document alive (a strawberry or plan cache may drop it: 1,024 long documents held ~130 MB), and an answer
# counts only while they are the very nodes asked (an id is reused only once its node is gone).
SELECTS_KEPT = 1024
_selected: dict[tuple[tuple[int, ...], tuple[str, ...]], tuple[tuple[weakref.ref[FieldNode], ...], bool]] = {}


def selects(info: Info, *path: str) -> bool:
    """Does the query select this path of fields below the current one (fragments included)?

    Walks graphql-core's AST of the current field (once per field's nodes and path); ``info.selected_fields``
    would convert the whole selection tree into strawberry nodes first.
    """
    raw = info._raw_info
    nodes = tuple(raw.field_nodes)
    key = (tuple(map(id, nodes)), path)
    kept = _selected.get(key)
    if kept is not None and all(ref() is node for ref, node in zip(kept[0], nodes, strict=True)):
        return kept[1]
    found = _selects(raw, path)
    if len(_selected) >= SELECTS_KEPT:
        _selected.clear()
    _selected[key] = (tuple(map(weakref.ref, nodes)), found)
    return found


def _selects(raw: GraphQLResolveInfo[Any], path: tuple[str, ...]) -> bool:
    """:func:`selects`, walking the nodes (fragments spread in the field's document)."""
    level = [node for field in raw.field_nodes if field.selection_set for node in field.selection_set.selections]
    for depth, name in enumerate(path):
        found = [node for node in _flatten(raw, level) if node.name.value == name]
        if not found:
            return False
        if depth + 1 < len(path):
            level = [node for field in found if field.selection_set for node in field.selection_set.selections]
    return True


def _flatten(raw: GraphQLResolveInfo[Any], selections: Sequence[SelectionNode]) -> list[FieldNode]:
    out: list[FieldNode] = []
    for selection in selections:
        if isinstance(selection, FieldNode):
            out.append(selection)
        elif isinstance(selection, InlineFragmentNode):
            out.extend(_flatten(raw, selection.selection_set.selections))
        elif isinstance(selection, FragmentSpreadNode):
            fragment = raw.fragments.get(selection.name.value)
            if fragment is not None:
                out.extend(_flatten(raw, fragment.selection_set.selections))
    return out


async def positions(
    info: Info,
    actor: str | None = None,
    topic: str | None = None,
    as_of: date | None = None,
    known_at: datetime | None = None,
    at_tree_size: int | None = None,
) -> list[Position]:
    at = await record_time(info, known_at, at_tree_size)
    actor_key, topic_key = await resolve_keys(info, ("actor", "actor", actor), ("topic", "topic", topic), at=at)
    found = await blocking(info.context.read_model.positions, actor_key, topic_key, as_of, at)
    # One batch per relation asked for, before the list is completed: each position's actor,
    # topic and claim source then answer without an await (types/objects.py `related`).
    loaders = info.context.loaders
    if selects(info, "actor"):
        await loaders.actor.load_many({(v.actor, at) for v in found})
    if selects(info, "topic"):
        await loaders.topic.load_many({(v.topic, at) for v in found})
    if selects(info, "claim", "source"):
        await loaders.source.load_many({(v.claim.source_id, at) for v in found})
    return [Position(v, at) for v in found]


async def timeline(
    info: Info, actor: str, topic: str, known_at: datetime | None = None, at_tree_size: int | None = None
) -> list[PositionChange]:
    at = await record_time(info, known_at, at_tree_size)
    actor_key, topic_key = await resolve_keys(info, ("actor", "actor", actor), ("topic", "topic", topic), at=at)
    changes = await blocking(info.context.read_model.timeline, actor_key, topic_key, at)
    return [PositionChange(c, at) for c in changes]


async def claim(
    info: Info, id: strawberry.ID, known_at: datetime | None = None, at_tree_size: int | None = None
) -> Claim | None:
    at = await record_time(info, known_at, at_tree_size)
    if not str(id).strip():
        return None
    view = await info.context.loaders.claim.load((claim_ref(str(id)), at))
    return Claim(view, at) if view else None


async def claims(
    info: Info,
    filter: ClaimFilter | None = None,
    first: int | None = None,
    after: str | None = None,
    known_at: datetime | None = None,
    at_tree_size: int | None = None,
) -> ClaimConnection:
    settings = info.context.settings
    size = page_size(first, settings.default_page_size, settings.max_page_size)
    given = filter or ClaimFilter()
    at = await record_time(info, known_at, at_tree_size)
    actor, topic = await resolve_keys(
        info, ("filter.actor", "actor", given.actor), ("filter.topic", "topic", given.topic), at=at
    )
    wanted = _filter(given, actor, topic)
    searched(info, "filter.text", wanted.text)
    page = await read_page(info.context.read_model.claims, wanted, size, after, at)
    nodes = [Claim(v, at) for v in page.items]
    return ClaimConnection(
        edges=[ClaimEdge(cursor=c, node=n) for c, n in zip(page.cursors, nodes, strict=True)],
        nodes=nodes,
        page_info=PageInfo.of(page.cursors, page.has_next_page, after),
        total_count=page.total_count,
    )


def _filter(given: ClaimFilter, actor: str | None, topic: str | None) -> views.ClaimFilter:
    source_id = None
    if given.source is not None:
        try:
            source_id = UUID(str(given.source))
        except ValueError:
            raise bad_input("filter.source", "is not a source id") from None
    return views.ClaimFilter(
        actor=actor,
        topic=topic,
        source_id=source_id,
        stance=_value(given.stance),
        attribution=_value(given.attribution),
        stated_from=given.stated_from,
        stated_to=given.stated_to,
        text=given.text,
        include_retracted=given.include_retracted,
    )


def _value(member: Stance | Attribution | None) -> str | None:
    return member.value if member is not None else None


def searched(info: Info, field: str, value: str | None) -> None:
    """A search string within the API's limit (a long LIKE pattern is work, and SQLite refuses it), as given
    and as compared (``searchable``: NFKC can make one character up to 18)."""
    if value is None:
        return
    limit = info.context.settings.max_search_length
    for length, how in ((len(value), ""), (len(searchable(value)), " once normalised (NFKC)")):
        if length > limit:
            raise bad_input(field, f"is {length} characters long{how}; the limit is {limit} (CLAIMS_MAX_SEARCH_LENGTH)")


# Actors, topics and sources at a record time (knownAt, atTreeSize, or the operation's pin): those
# registered then, with the details they had then; without one, the current details.


async def actors(
    info: Info, search: str | None = None, known_at: datetime | None = None, at_tree_size: int | None = None
) -> list[Actor]:
    searched(info, "search", search)
    at = await record_time(info, known_at, at_tree_size)
    found = await blocking(info.context.read_model.actors, search, at)
    return [Actor(v) for v in found[: info.context.settings.max_list_size]]


async def topics(info: Info, known_at: datetime | None = None, at_tree_size: int | None = None) -> list[Topic]:
    at = await record_time(info, known_at, at_tree_size)
    found = await blocking(info.context.read_model.topics, at)
    return [Topic(v) for v in found[: info.context.settings.max_list_size]]


async def sources(info: Info, known_at: datetime | None = None, at_tree_size: int | None = None) -> list[Source]:
    at = await record_time(info, known_at, at_tree_size)
    found = await blocking(info.context.read_model.sources, at)
    return [Source(v) for v in found[: info.context.settings.max_list_size]]


async def source(
    info: Info, id: strawberry.ID, known_at: datetime | None = None, at_tree_size: int | None = None
) -> Source | None:
    at = await record_time(info, known_at, at_tree_size)
    try:
        uuid = UUID(str(id))
    except ValueError:
        by_key = await blocking(info.context.read_model.source_by_ref, str(id))  # a key
        if by_key is None:
            return None
        uuid = by_key.id
    view = await info.context.loaders.source.load((uuid, at))
    return Source(view) if view else None
