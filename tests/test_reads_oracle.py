"""The `claims` pages, the `changes` audit feed and the consistency labels (flips) checked against oracles
written from their documentation, on generated ledgers (both stores).

Ledgers come from the positions oracle's generator and builder (``tests/test_positions_oracle.py``: ties of dates,
revisions of stance, stated date, actor, topic and source, retractions, sources' publications revised),
with more: each claim's attribution, summary and quote (mixed case, ``ß``, ``%`` and ``_`` in them),
revisions of those three, links (a Claim.Linked event after a correction: no command issues one yet, the
projector follows it) and each command's principal and reason drawn from a few. The oracles read only the
history of commands applied (record times read back from the log) and these documented rules:

* ``claims`` (README "Claims are ordered by ...", api/README.md, the schema's ``ClaimFilter`` and
  ``ClaimConnection``, ``projections/queries.py``): the claims known at K, each in its version current at
  K, retracted ones only with ``includeRetracted`` (in the content they were retracted in); all filter
  conditions hold (actor, topic, source, stance, attribution, ``statedFrom <= countsFrom <= statedTo``,
  ``text`` a substring of the summary or quote in any case); ordered by (countsFrom at K, stated.earliest,
  log position of the first recording); ``totalCount`` counts every page's claims; ``hasNextPage`` says a
  claim follows; a page read after any cursor of an earlier page continues right after that claim.
* ``changes`` (README "What changed", the schema's ``changes``, ``projections/changes.py``): every claim
  recorded, revised, retracted or linked in the record-time window [from, to), in log order, with the
  principal who recorded it, the reason (none for a recording or a link), each field a revision or link
  changed with its value before and after (a change of passage, which follows one of source, aside), and
  the claim as the event left it; ``actor``/``topic``/``source`` (id or key) filter on that claim (the
  docs do not say which version: the one the event left is the reading taken). A source's publication
  revision (``SOURCE_REVISED``) is not among them (the docs list recorded, revised, retracted, linked).
* flips (``projections/flips.py``, README "Consistency labels", the schema's ``flips``/``FlipSummary``):
  consecutive claims of one actor on one topic in stance order as known at K, retracted left out, each
  labelled NO_FLIP / FULL_FLOP (SUPPORTS <-> OPPOSES) / HALF_FLIP, the label's day the later claim's
  countsFrom, ``from``/``to`` inclusive on it; listed in the later claim's order; summaries per pair with
  its claims and each label's count, ``strongest`` null for a single claim.

Every read is scoped to the example's own ledger (one database serves every example and the app's seed):
``claims`` and flips always name one of its actors, topics or sources (or, for ``claims``, its marker in
the summary), ``changes`` windows start at its first claim. Read through ``ReadModel`` (every record time
of the ledger sampled, and the instants just before) and through GraphQL (a few per ledger); pages of
random sizes 1..4, each cursor good for the rest, some ``claims`` cursors read again after the next
ledger was written. Floors at the end: multi-page answers, ties at a page's edge, retracted claims listed,
text and quote matches, every kind of change and label.
More examples: ``CLAIMS_ORACLE_EXAMPLES=500 pytest tests/test_reads_oracle.py``.
"""

from __future__ import annotations

import itertools
import os
import random
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID

import pytest
import test_positions_oracle as po
from api_support import ApiEnv, api_env
from factories import actor_data, claim_data, passage, source_data, topic_data
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_positions_oracle import Partial, Record, Republish, Revise, Script, republish

from ledger import commands as c
from projections.changes import ChangeFilter
from projections.flips import FlipFilter
from projections.views import ClaimFilter, ClaimView

EXAMPLES = int(os.environ.get("CLAIMS_ORACLE_EXAMPLES", "25"))
ATTRIBUTIONS = ("DIRECT_QUOTE", "INDIRECT_SPEECH", "REPORTED")
# "Ka\u0308se": decomposed (NFD: text copied from a PDF), found by "Käse" typed composed, and the other way
# round; "ﬁnal" (a ligature) and "ＡＢＣ" (full-width): found by their plain letters (NFKC).
WORDS = ("Taurus delivery", "TAURUS jets", "Straße closed", "50% off", "a_b test", "ceasefire now",
         "Line one\nline two", "Ka\u0308se ﬁnal")  # fmt: skip
QUOTES = (None, None, "Wir liefern keine Taurus", "STRASSE frei_ 10%", "Zeile eins\nZeile zwei", "Käse ＡＢＣ")
# With line breaks: within a summary ("one\nLINE") or a quote ("s\nz") of two lines; "]\nZ" only across a
# summary (its marker last) and a quote, which must not match (the filter is a substring of one of the two);
# "\n" both. claim_filters also asks "<marker>\nwir", only across.
SEARCHES = ("taurus", "STRASSE", "straße", "50%", "0%", "a_b", "%", "_", "e", "DELIVERY", "xyz", "",
            "\n", "one\nLINE", "s\nz", "]\nZ", "KÄSE", "ka\u0308se", "final", "abc", "ＦＩＮＡＬ")  # fmt: skip
PRINCIPALS = ("desk-a", "desk-b")
REASONS = ("typo", "Source checked again", "misattributed")
LABELS = ("NO_FLIP", "HALF_FLIP", "FULL_FLOP")
TIMES_ASKED = 10  # record times sampled per ledger (and None)
GRAPHQL_ASKS = 3  # per read and ledger
CLAIM_FILTERS = 4  # claims filters per record time asked
T = TypeVar("T")


# ----------------------------------------------------------------------------- generated scripts


@dataclass(frozen=True)
class Extra:
    """What the positions oracle's step does not say: who issues it, why, and (a recording) the claim's
    attribution and words, (a revision) a change of summary or attribution besides."""

    principal: str
    reason: str
    attribution: str
    words: str
    quote: str | None
    more: tuple[tuple[str, Any], ...]
    link: tuple[str, int] | None  # after a revision or retraction: its claim SUPERSEDES or DISPUTES another


@dataclass(frozen=True)
class ReadScript:
    script: Script
    extras: tuple[Extra, ...]


@st.composite
def read_scripts(draw: st.DrawFn) -> ReadScript:
    script = draw(po.scripts())
    # Often a publication revised last, after the claims it bounds (their bound moves after their events).
    late = draw(st.lists(st.builds(Republish, st.integers(0, len(script.sources) - 1), po.partials()), max_size=2))
    script = Script(script.actors, script.topics, script.sources, (*script.steps, *late), script.seed)
    more = st.one_of(
        st.tuples(st.just("summary"), st.sampled_from(WORDS)),
        st.tuples(st.just("attribution"), st.sampled_from(ATTRIBUTIONS)),
        st.tuples(st.just("quote"), st.sampled_from(QUOTES)),
    )
    links = st.one_of(st.none(), st.none(), st.tuples(st.sampled_from(("SUPERSEDES", "DISPUTES")), st.integers(0, 9)))
    extras = tuple(
        Extra(
            draw(st.sampled_from(PRINCIPALS)),
            draw(st.sampled_from(REASONS)),
            draw(st.sampled_from(ATTRIBUTIONS)),
            draw(st.sampled_from(WORDS)),
            draw(st.sampled_from(QUOTES)),
            tuple(draw(st.lists(more, max_size=1))),
            draw(links),
        )
        for _ in script.steps
    )
    return ReadScript(script, extras)


# ----------------------------------------------------------------------------- the history applied


@dataclass
class Event(po.Version):
    """A claim event: the positions oracle's version, and what the audit feed says of it."""

    kind: str = "RECORDED"  # RECORDED | REVISED | RETRACTED | LINKED
    by: str = ""
    reason: str | None = None
    summary: str = ""
    attribution: str = ""
    quote: str | None = None
    links: tuple[tuple[str, str], ...] = ()  # (relation, target id)
    changed: dict[str, tuple[Any, Any]] = field(default_factory=dict)  # revised fields: (before, after)


@dataclass
class World(po.Ledger):
    source_ids: list[UUID] = field(default_factory=list)
    marker: str = ""  # in every summary of this ledger's claims


def summary_of(marker: str, words: str) -> str:
    return f"{words} {marker}"


class ReadBuilder(po.Builder["World"]):
    """The positions oracle's ledger builder, with each step's principal and reason, each claim's attribution,
    summary and quote (recorded and revised) and links (:meth:`corrected`) from the script's extras."""

    FIELDS = (*po.Builder.FIELDS, "summary", "attribution", "quote")

    def __init__(self, env: ApiEnv, rs: ReadScript, n: int) -> None:
        prefix = f"r{n}"
        super().__init__(env, rs.script, po.new_ledger(World, prefix, rs.script, marker=f"[{prefix}]"))
        self.extras = rs.extras

    def registered(self) -> None:
        with self.ledger.batch(po.PRINCIPAL) as reading:
            self.world.source_ids = [reading.source_for(key).id for key in self.world.sources]

    def source_id(self, source: int) -> UUID:
        return self.world.source_ids[source]

    def principal(self, i: int) -> str:
        return self.extras[i].principal

    def reason(self, i: int, kind: str) -> str:
        return self.extras[i].reason

    def claim_data(self, i: int, data: dict[str, Any]) -> dict[str, Any]:
        extra = self.extras[i]
        data = {**data, "summary": summary_of(self.world.marker, extra.words), "attribution": extra.attribution}
        if extra.quote is not None:
            data["quote"] = {"text": extra.quote, "language": "de"}
        return data

    def recorded(self, i: int, step: Record, data: dict[str, Any], at: datetime, version: int, position: int) -> Event:
        extra = self.extras[i]
        return Event(
            at, version, position, data["actor"], data["topic"], step.stance, step.stated, step.source,
            kind="RECORDED", by=extra.principal, summary=data["summary"], attribution=extra.attribution,
            quote=extra.quote,
        )  # fmt: skip

    def retracted(self, i: int, now: po.Version, at: datetime, version: int, position: int) -> Event:
        assert isinstance(now, Event)
        extra = self.extras[i]
        return replace(now, at=at, version=version, position=position, retracted=True, kind="RETRACTED",
                       by=extra.principal, reason=extra.reason, changed={})  # fmt: skip

    def revising(self, i: int, now: po.Version) -> Event:
        assert isinstance(now, Event)
        extra = self.extras[i]
        return replace(now, kind="REVISED", by=extra.principal, reason=extra.reason, changed={})

    def changes(self, i: int, step: Revise) -> tuple[tuple[str, Any], ...]:
        return (*step.changes, *self.extras[i].more)

    def change(self, after: po.Version, changes: dict[str, Any], name: str, value: Any) -> None:
        assert isinstance(after, Event)
        if name == "summary":
            after.summary = changes["summary"] = summary_of(self.world.marker, value)
        elif name == "quote":
            after.quote = value
            changes["quote"] = value and {"text": value, "language": "de"}
        else:
            assert name == "attribution", name
            after.attribution = changes["attribution"] = value

    def unchanged(self, now: po.Version, after: po.Version) -> bool:
        assert isinstance(after, Event)
        after.changed = {
            name: (getattr(now, name), getattr(after, name))
            for name in self.FIELDS
            if getattr(now, name) != getattr(after, name)
        }
        return not after.changed

    def corrected(self, i: int, claim: po.ClaimLog) -> None:
        """After a correction, maybe: its claim SUPERSEDES or DISPUTES another (a Claim.Linked event; no
        command issues one yet, the projector follows it), unless it is retracted."""
        extra, world, ledger = self.extras[i], self.world, self.ledger
        now = claim.versions[-1]
        assert isinstance(now, Event)
        if extra.link is None or now.retracted:
            return
        relation, target = extra.link[0], world.claims[extra.link[1] % len(world.claims)].id
        size = ledger.ledger_recorder.tree_head().size
        with ledger.batch(extra.principal) as batch:
            aggregate = batch.claim(claim.key)
            aggregate.link(relation=relation, target=str(target), recorded_by=extra.principal)
            batch.stage(aggregate)
        assert batch.last_position == size + 1
        at, version = self.logged(size + 1, claim.id)
        links = (*now.links, (relation, str(target)))
        claim.versions.append(
            replace(now, at=at, version=version, position=size + 1, kind="LINKED", by=extra.principal, reason=None,
                    links=links, changed={"links": (now.links, links)})
        )  # fmt: skip


def _build(env: ApiEnv, rs: ReadScript, n: int) -> World:
    # (Called as before ReadBuilder: hypothesis derives a derandomized test's examples from its source.)
    return ReadBuilder(env, rs, n).build()


# ----------------------------------------------------------------------------- the oracles


@dataclass(frozen=True)
class Listed:
    """A claim as a list shows it: which, in which version, counting from when, retracted or not."""

    id: UUID
    version: int
    counts_from: date
    retracted: bool


def current(claim: po.ClaimLog, k: datetime | None) -> Event | None:
    """The claim's version that was the record at K (None: not yet recorded)."""
    versions = [v for v in claim.versions if k is None or v.at <= k]
    if not versions:
        return None
    assert isinstance(versions[-1], Event)
    return versions[-1]


def oracle_claims(world: World, f: ClaimFilter, k: datetime | None, *, joined: bool = False) -> list[Listed]:
    """``joined``: the text filter as it was read wrongly, a substring of summary + "\\n" + quote (the checks
    count the filters whose answer that reading changes: they tell the two apart)."""
    found: list[tuple[tuple[date, date, int], Listed]] = []
    for claim in world.claims:
        v = current(claim, k)
        if v is None or (v.retracted and not f.include_retracted):
            continue
        counts_from = world.counts_from(v, k)
        conditions = (
            f.actor is None or v.actor == f.actor,
            f.topic is None or v.topic == f.topic,
            f.source_id is None or world.source_ids[v.source] == f.source_id,
            f.stance is None or v.stance == f.stance,
            f.attribution is None or v.attribution == f.attribution,
            f.stated_from is None or f.stated_from <= counts_from,
            f.stated_to is None or counts_from <= f.stated_to,
            f.text is None or any(folded(f.text) in folded(part) for part in texts(v, joined)),
        )
        if all(conditions):
            key = (counts_from, v.stated.earliest, claim.first_position)
            found.append((key, Listed(claim.id, v.version, counts_from, v.retracted)))
    return [listed for _, listed in sorted(found, key=lambda x: x[0])]


def folded(text: str) -> str:
    """The text filter's comparison, as the schema states it: any case, any Unicode normal form, compatibility
    characters (ligatures, full-width letters) as their plain letters: NFKC_Casefold."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())


def texts(v: Event, joined: bool) -> tuple[str, ...]:
    """What ``claims(filter: {text})`` finds a substring of: the summary or the quote (``joined``: see above)."""
    if joined:
        return (f"{v.summary}\n{v.quote}" if v.quote else v.summary,)
    return (v.summary, v.quote) if v.quote else (v.summary,)


def listed(view: ClaimView) -> Listed:
    return Listed(view.id, view.version, view.counts_from, view.retracted)


@dataclass(frozen=True)
class Changed:
    """One entry of the audit feed."""

    position: int
    kind: str
    version: int
    at: datetime
    by: str
    reason: str | None
    fields: tuple[tuple[str, Any, Any], ...]  # sorted by name
    claim: UUID
    actor: str
    topic: str
    stance: str
    retracted: bool
    counts_from: date  # as the event left it (a later source revision does not move it here)


def _shown(world: World, name: str, value: Any) -> Any:
    """A field's before/after as the oracle compares it: the stated date's text, the source's id."""
    if name == "stated":
        return value.text
    if name == "source":
        return str(world.source_ids[value])
    if name == "links":
        return [{"relation": relation, "target": target} for relation, target in value]
    return value


def oracle_changes(world: World, f: ChangeFilter) -> list[Changed]:
    out = []
    for claim in world.claims:
        for v in claim.versions:
            assert isinstance(v, Event)
            if v.at < f.start or (f.end is not None and v.at >= f.end):
                continue
            if (f.actor is not None and v.actor != f.actor) or (f.topic is not None and v.topic != f.topic):
                continue
            if f.source is not None and f.source not in (world.sources[v.source], str(world.source_ids[v.source])):
                continue
            fields = tuple(
                sorted((name, _shown(world, name, b), _shown(world, name, a)) for name, (b, a) in v.changed.items())
            )
            out.append(
                Changed(
                    v.position, v.kind, v.version, v.at, v.by, v.reason, fields, claim.id, v.actor, v.topic,
                    v.stance, v.retracted, world.counts_from(v, v.at),
                )
            )  # fmt: skip
    return sorted(out, key=lambda x: x.position)


def stored(name: str, value: Any) -> Any:
    """A field's before/after as recorded, as the oracle states it: a date's text, a quote's."""
    if name == "quote":
        return value and value["text"]
    return value["date"] if name == "stated" else value


def seen_change(found: Any) -> Changed:
    """A ChangeView as the oracle states it (a change of passage, which follows a change of source, aside)."""
    event, claim = found.event, found.claim

    fields = tuple(
        sorted(
            (x.field, stored(x.field, x.before), stored(x.field, x.after))
            for x in event.changes
            if x.field != "passage"
        )
    )
    assert event.claim_id == claim.id and event.version == claim.version and event.position == claim.position
    return Changed(
        event.position, event.type, event.version, event.recorded_at, event.recorded_by, event.reason, fields,
        claim.id, claim.actor, claim.topic, claim.stance, claim.retracted, claim.counts_from,
    )  # fmt: skip


def flip_rule(before: str, after: str) -> str:
    if before == after:
        return "NO_FLIP"
    if {before, after} == {"SUPPORTS", "OPPOSES"}:
        return "FULL_FLOP"
    return "HALF_FLIP"


@dataclass(frozen=True)
class Flip:
    label: str
    before: tuple[UUID, int]
    after: tuple[UUID, int]
    day: date  # the later claim's countsFrom


def _sequences(
    world: World, k: datetime | None, actor: str | None, topic: str | None
) -> dict[tuple[str, str], list[po.Known]]:
    pairs: dict[tuple[str, str], list[po.Known]] = {}
    for x in po.known_at(world, k):  # (in stance order, retracted left out)
        if (actor is None or x.v.actor == actor) and (topic is None or x.v.topic == topic):
            pairs.setdefault((x.v.actor, x.v.topic), []).append(x)
    return pairs


def oracle_flips(world: World, f: FlipFilter, k: datetime | None) -> list[Flip]:
    order = {x.claim.id: i for i, x in enumerate(po.known_at(world, k))}
    out: list[tuple[int, Flip]] = []
    for claims in _sequences(world, k, f.actor, f.topic).values():
        for before, after in itertools.pairwise(claims):
            day = world.counts_from(after.v, k)
            flip = Flip(flip_rule(before.v.stance, after.v.stance), (before.claim.id, before.v.version),
                        (after.claim.id, after.v.version), day)  # fmt: skip
            if f.label not in (None, flip.label):
                continue
            if (f.start is not None and day < f.start) or (f.end is not None and day > f.end):
                continue
            out.append((order[after.claim.id], flip))
    return [flip for _, flip in sorted(out, key=lambda x: x[0])]


def oracle_summaries(world: World, actor: str | None, topic: str | None, k: datetime | None) -> list[tuple[Any, ...]]:
    out = []
    for (a, t), claims in sorted(_sequences(world, k, actor, topic).items()):
        labels = [flip_rule(x.v.stance, y.v.stance) for x, y in itertools.pairwise(claims)]
        out.append((a, t, len(claims), *(labels.count(label) for label in LABELS)))
    return out


def strongest(summary: tuple[Any, ...]) -> str | None:
    """FULL_FLOP > HALF_FLIP > NO_FLIP; null with one claim."""
    no, half, full = summary[3:6]
    return "FULL_FLOP" if full else "HALF_FLIP" if half else "NO_FLIP" if no else None


# ----------------------------------------------------------------------------- reading pages


def gql_pages(
    env: Any,
    query: str,
    field: str,
    variables: dict[str, Any],
    check: Callable[[dict[str, Any], str | None], None] | None = None,
) -> Callable[[int, str | None], Any]:
    """A reader of the connection ``field`` for :func:`page_through`: (nodes, cursors, hasNextPage) of the page of
    ``size`` after ``after``; ``endCursor`` is the last edge's; ``check`` sees each whole answer."""

    def read(size: int, after: str | None) -> Any:
        answer = env.gql.data(query, {**variables, "n": size, "a": after})[field]
        if check is not None:
            check(answer, after)
        edges = answer["edges"]
        assert answer["pageInfo"]["endCursor"] == (edges[-1]["cursor"] if edges else None)
        return [e["node"] for e in edges], [e["cursor"] for e in edges], answer["pageInfo"]["hasNextPage"]

    return read


def page_through(
    read: Callable[[int, str | None], tuple[list[T], list[str], bool]], want: list[Any], seen: Callable[[T], Any],
    rng: random.Random, what: Any,
) -> tuple[list[int], list[str]]:  # fmt: skip
    """Every page of sizes 1..4 after the previous page's last cursor: their concatenation is ``want``, each
    page says rightly whether more follow, a page read again after any earlier cursor continues right there.
    Where pages split (the count of items before each later page) and each item's cursor."""
    got: list[Any] = []
    cursors: list[str] = []
    after: str | None = None
    pages = 0
    splits: list[int] = []
    while True:
        size = rng.randint(1, 4)
        items, page_cursors, has_next = read(size, after)
        pages += 1
        assert len(items) == len(page_cursors) <= size, what
        got.extend(seen(i) for i in items)
        cursors.extend(page_cursors)
        assert got == want[: len(got)], ("pages", what, got, want)
        assert has_next == (len(got) < len(want)), ("has_next", what, len(got), len(want))
        if not has_next:
            break
        assert len(items) == size, what  # a page is full when more follow
        after = page_cursors[-1]
        splits.append(len(got))
        assert pages <= len(want) + 1, what
    assert got == want, what
    if cursors:  # a cursor from any page keeps working: the rest follows it
        i = rng.randrange(len(cursors))
        size = rng.randint(1, 4)
        items, _, has_next = read(size, cursors[i])
        assert [seen(x) for x in items] == want[i + 1 : i + 1 + size], ("after cursor", what, i)
        assert has_next == (i + 1 + size < len(want)), ("after cursor", what, i)
    return splits, cursors


def claim_filters(world: World, rng: random.Random) -> Iterator[ClaimFilter]:
    """Filters that always keep to this ledger (an actor, topic, source or its marker), with others on top."""
    days = sorted({world.counts_from(v, None) for claim in world.claims for v in claim.versions} | set(po.DAYS))
    while True:
        scope = rng.randrange(4)
        values: dict[str, Any] = {
            "actor": rng.choice(world.actors) if scope == 0 or rng.random() < 0.1 else None,
            "topic": rng.choice(world.topics) if scope == 1 or rng.random() < 0.1 else None,
            "source_id": rng.choice(world.source_ids) if scope == 2 or rng.random() < 0.1 else None,
            "text": world.marker.upper() if scope == 3 else rng.choice(SEARCHES) if rng.random() < 0.3 else None,
            "stance": rng.choice(po.STANCES) if rng.random() < 0.15 else None,
            "attribution": rng.choice(ATTRIBUTIONS) if rng.random() < 0.15 else None,
            "include_retracted": rng.random() < 0.5,
        }
        if rng.random() < 0.25:
            low = rng.choice(days) + timedelta(days=rng.choice((-1, 0, 0, 1)))
            values["stated_from"] = low if rng.random() < 0.7 else None
            values["stated_to"] = (low + timedelta(days=rng.choice((0, 0, 1, 60, 400)))) if rng.random() < 0.7 else None
        if scope == 3 and values["text"] is None:
            values["text"] = world.marker if rng.random() < 0.8 else f"{world.marker}\nwir"  # (only across: none)
        yield ClaimFilter(**values)


def asked_times(world: World, rng: random.Random) -> list[datetime | None]:
    times = po.record_times(world)
    instants = [t for t in times if t is not None]
    return [None, *sorted(rng.sample(instants, min(TIMES_ASKED, len(instants))))]


# ----------------------------------------------------------------------------- the checks


def check_kept_cursors(env: ApiEnv, kept: list[Kept], made: dict[str, int]) -> None:
    """Cursors of earlier ledgers' pages, read again after later ledgers were written: at the same knownAt
    (and now, for the ledger they list has not changed since) the claims after them are still the oracle's."""
    for world, f, k, i, cursor in kept:
        want = oracle_claims(world, f, k)
        page = env.services.read_model.claims(f, 4, cursor, k)
        assert [listed(x) for x in page.items] == want[i + 1 : i + 5], ("kept cursor", f, k, i)
        assert page.has_next_page == (i + 5 < len(want)) and page.total_count == len(want), ("kept cursor", f, k, i)
        made["kept_cursors"] += 1


Kept = tuple[World, ClaimFilter, datetime | None, int, str]


def check_claims(env: ApiEnv, world: World, rng: random.Random, made: dict[str, int], kept: list[Kept]) -> None:
    """Pages of ``claims`` at sampled record times; some cursors kept (``kept``) to try again later."""
    model = env.services.read_model
    filters = claim_filters(world, rng)
    for k in asked_times(world, rng):
        for _ in range(CLAIM_FILTERS):
            f = next(filters)
            want = oracle_claims(world, f, k)
            totals: set[int] = set()  # every page's total_count

            def read(
                size: int, after: str | None, f: ClaimFilter = f, k: datetime | None = k, totals: set[int] = totals
            ) -> Any:
                page = model.claims(f, size, after, k)
                totals.add(page.total_count)
                return page.items, page.cursors, page.has_next_page

            splits, cursors = page_through(read, want, listed, rng, ("claims", f, k))
            assert totals == {len(want)}, ("total_count", f, k, totals, len(want))
            made["claim_pages"] += len(splits) + 1
            made["multi_page"] += bool(splits)
            made["split_ties"] += any(want[i - 1].counts_from == want[i].counts_from for i in splits)
            if cursors:
                i = rng.randrange(len(cursors))
                kept.append((world, f, k, i, cursors[i]))
            made["retracted_listed"] += any(x.retracted for x in want)
            made["listed_ties"] += any(a.counts_from == b.counts_from for a, b in itertools.pairwise(want))
            made["empty"] += not want
            made["text_search"] += f.text is not None and f.text != world.marker.upper() and bool(want)
            made["text_across"] += f.text is not None and oracle_claims(world, f, k, joined=True) != want
            made["claims_listed"] += len(want)
            exported = model.iter_claims(f, k, batch=rng.randint(1, 3))  # (exports: every claim, keyset batches)
            assert [listed(x) for x in exported] == want, ("iter_claims", f, k)
            made["quoted_found"] += f.text is not None and any(
                not any(folded(f.text) in folded(v.summary) for v in claim.versions if isinstance(v, Event))
                for claim in world.claims if any(x.id == claim.id for x in want)
            )  # a claim found by its quote alone  # fmt: skip

    # GraphQL: a few, the same rules.
    query = """query ($f: ClaimFilter, $n: Int, $a: String, $k: DateTime, $size: Int) {
      claims(filter: $f, first: $n, after: $a, knownAt: $k, atTreeSize: $size) {
        totalCount pageInfo { hasNextPage hasPreviousPage endCursor } edges { cursor node { id version countsFrom retracted } } } }"""
    times = asked_times(world, rng)
    made_at = {v.at: v.position for claim in world.claims for v in claim.versions}  # a claim event's, by its time
    for _ in range(GRAPHQL_ASKS):
        f, k = next(filters), rng.choice(times)
        want = oracle_claims(world, f, k)
        variables: dict[str, Any] = {"k": k and k.isoformat()}
        if k in made_at and rng.random() < 0.5:  # the same instant as a pin: "as the ledger stood at N events"
            variables = {"size": made_at[k]}
            made["pinned"] += 1
        variables["f"] = {
            "actor": f.actor, "topic": f.topic, "source": f.source_id and str(f.source_id), "stance": f.stance,
            "attribution": f.attribution, "statedFrom": f.stated_from and f.stated_from.isoformat(),
            "statedTo": f.stated_to and f.stated_to.isoformat(), "text": f.text, "includeRetracted": f.include_retracted,
        }  # fmt: skip

        def counted(answer: dict[str, Any], after: str | None, n: int = len(want)) -> None:
            assert answer["totalCount"] == n and answer["pageInfo"]["hasPreviousPage"] == (after is not None)

        gql_read = gql_pages(env, query, "claims", variables, counted)

        def gql_seen(node: dict[str, Any]) -> Listed:
            return Listed(UUID(node["id"]), node["version"], date.fromisoformat(node["countsFrom"]), node["retracted"])

        page_through(gql_read, want, gql_seen, rng, ("graphql claims", variables))
        made["graphql"] += 1


def change_filters(world: World, rng: random.Random) -> Iterator[ChangeFilter]:
    """Windows from this ledger's first claim on (earlier ones would meet other examples' events)."""
    times = sorted({v.at for claim in world.claims for v in claim.versions})
    starts = [times[0] - po.US, *times, *(t + po.US for t in times)]
    while True:
        start = rng.choice(starts) if rng.random() < 0.7 else times[0] - po.US
        ends = [t for t in (*times, *(t - po.US for t in times), *(t + po.US for t in times)) if t >= start]
        end = rng.choice(ends) if ends and rng.random() < 0.6 else None
        source: str | None = None
        if rng.random() < 0.25:
            i = rng.randrange(len(world.sources))
            source = world.sources[i] if rng.random() < 0.5 else str(world.source_ids[i])
        yield ChangeFilter(
            start,
            end,
            rng.choice(world.actors) if rng.random() < 0.25 else None,
            rng.choice(world.topics) if rng.random() < 0.25 else None,
            source,
        )


def check_changes(env: ApiEnv, world: World, rng: random.Random, made: dict[str, int]) -> None:
    model = env.services.read_model
    filters = change_filters(world, rng)
    everything = oracle_changes(world, ChangeFilter(min(v.at for cl in world.claims for v in cl.versions)))
    assert len(everything) == sum(len(claim.versions) for claim in world.claims)
    for _ in range(12):
        f = next(filters)
        want = oracle_changes(world, f)

        def read(size: int, after: str | None, f: ChangeFilter = f) -> Any:
            found, more = model.changes(f, int(after) if after else 0, size)
            return found, [str(x.event.position) for x in found], more

        page_through(read, want, seen_change, rng, ("changes", f))
        made["change_windows"] += 1
        made["changes_listed"] += len(want)
        for x in want:
            made[f"change_{x.kind}"] += 1
            made["change_bound_moved_since"] += x.counts_from != next(
                world.counts_from(v, None) for claim in world.claims for v in claim.versions if v.position == x.position
            )
        made["changes_filtered"] += (f.actor or f.topic or f.source) is not None and bool(want)

    query = """query ($from: DateTime!, $to: DateTime, $actor: String, $topic: String, $source: String, $n: Int, $a: String) {
      changes(from: $from, to: $to, actor: $actor, topic: $topic, source: $source, first: $n, after: $a) {
        pageInfo { hasNextPage endCursor }
        edges { cursor node { event { type version logPosition recordedAt recordedBy reason changes { field before after } }
                claim { id version actor { key } topic { key } stance retracted countsFrom } } } } }"""
    for _ in range(GRAPHQL_ASKS):
        f = next(filters)
        want = oracle_changes(world, f)
        variables = {
            "from": f.start.isoformat(), "to": f.end and f.end.isoformat(), "actor": f.actor, "topic": f.topic,
            "source": f.source,
        }  # fmt: skip

        gql_read = gql_pages(env, query, "changes", variables)

        def gql_seen(node: dict[str, Any]) -> Changed:
            event, claim = node["event"], node["claim"]
            fields = tuple(
                sorted(
                    (x["field"], stored(x["field"], x["before"]), stored(x["field"], x["after"]))
                    for x in event["changes"] if x["field"] != "passage"
                )
            )  # fmt: skip
            assert claim["version"] == event["version"]
            return Changed(
                event["logPosition"], event["type"], event["version"], datetime.fromisoformat(event["recordedAt"]),
                event["recordedBy"], event["reason"], fields, UUID(claim["id"]), claim["actor"]["key"],
                claim["topic"]["key"], claim["stance"], claim["retracted"], date.fromisoformat(claim["countsFrom"]),
            )  # fmt: skip

        page_through(gql_read, want, gql_seen, rng, ("graphql changes", variables))
        made["graphql"] += 1


def check_flips(env: ApiEnv, world: World, rng: random.Random, made: dict[str, int]) -> None:
    model = env.services.read_model
    days = sorted({world.counts_from(v, None) for claim in world.claims for v in claim.versions})
    for k in asked_times(world, rng):
        for _ in range(2):
            actor = rng.choice(world.actors) if rng.random() < 0.6 else None
            topic = rng.choice(world.topics) if actor is None or rng.random() < 0.4 else None
            start = rng.choice(days) + timedelta(days=rng.choice((-1, 0, 1))) if rng.random() < 0.3 else None
            end = rng.choice(days) + timedelta(days=rng.choice((-1, 0, 1))) if rng.random() < 0.3 else None
            f = FlipFilter(rng.choice((None, None, *LABELS)), actor, topic, start, end)
            want = oracle_flips(world, f, k)

            def read(size: int, after: str | None, f: FlipFilter = f, k: datetime | None = k) -> Any:
                page = model.flips(f, size, after, k)
                return page.items, page.cursors, page.has_next_page

            def seen(x: Any, k: datetime | None = k) -> Flip:
                return Flip(
                    x.label, (x.before.id, x.before.version), (x.after.id, x.after.version), x.after.counts_from
                )

            page_through(read, want, seen, rng, ("flips", f, k))
            for flip in want:
                made[f"flip_{flip.label}"] += 1
            summaries = model.flip_summaries(FlipFilter(None, actor, topic), k)
            got = [(s.actor, s.topic, s.claims, s.no_flips, s.half_flips, s.full_flops) for s in summaries]
            assert got == oracle_summaries(world, actor, topic, k), ("flip_summaries", actor, topic, k)
            made["summaries"] += len(got)

    flips_query = """query ($label: FlipLabel, $actor: String, $topic: String, $from: Date, $to: Date, $k: DateTime,
        $n: Int, $a: String) {
      flips(label: $label, actor: $actor, topic: $topic, from: $from, to: $to, knownAt: $k, first: $n, after: $a) {
        pageInfo { hasNextPage endCursor } edges { cursor node { label before { id version } after { id version countsFrom } } } } }"""
    times = asked_times(world, rng)
    for _ in range(GRAPHQL_ASKS):
        k = rng.choice(times)
        f = FlipFilter(rng.choice((None, *LABELS)), rng.choice(world.actors), None, rng.choice((None, *days)), None)
        want = oracle_flips(world, f, k)
        variables = {
            "label": f.label, "actor": f.actor, "topic": None, "from": f.start and f.start.isoformat(), "to": None,
            "k": k and k.isoformat(),
        }  # fmt: skip

        gql_read = gql_pages(env, flips_query, "flips", variables)

        def gql_seen(node: dict[str, Any]) -> Flip:
            before, after = node["before"], node["after"]
            day = date.fromisoformat(after["countsFrom"])
            return Flip(
                node["label"], (UUID(before["id"]), before["version"]), (UUID(after["id"]), after["version"]), day
            )

        page_through(gql_read, want, gql_seen, rng, ("graphql flips", variables))
        made["graphql"] += 1

    timeline = """query ($actor: String!, $topic: String!, $k: DateTime) {
      timeline(actor: $actor, topic: $topic, knownAt: $k) { stance previousStance label claim { id } } }"""
    for _ in range(GRAPHQL_ASKS):  # timeline entries' labels: the rule's, null for the first stance
        actor, topic, k = rng.choice(world.actors), rng.choice(world.topics), rng.choice(times)
        entries = env.gql.data(timeline, {"actor": actor, "topic": topic, "k": k and k.isoformat()})["timeline"]
        assert entries == [
            {"stance": stance, "previousStance": before, "label": before and flip_rule(before, stance),
             "claim": {"id": str(claim)}}
            for stance, before, _, _, claim, _ in po.oracle_timeline(world, actor, topic, k)
        ], ("graphql timeline labels", actor, topic, k)  # fmt: skip
        changed = [(f.after[0], f.label) for f in oracle_flips(world, FlipFilter(None, actor, topic), k)]
        assert [(UUID(e["claim"]["id"]), e["label"]) for e in entries[1:]] == [x for x in changed if x[1] != "NO_FLIP"]
        made["graphql"] += 1
        made["timeline_labels"] += len(entries) > 1

    query = """query ($actor: String, $topic: String, $k: DateTime) {
      flipSummaries(actor: $actor, topic: $topic, knownAt: $k) { actorKey topicKey claims noFlips halfFlips fullFlops strongest } }"""
    for _ in range(GRAPHQL_ASKS):
        actor, k = rng.choice(world.actors), rng.choice(times)
        found = env.gql.data(query, {"actor": actor, "topic": None, "k": k and k.isoformat()})["flipSummaries"]
        summaries = oracle_summaries(world, actor, None, k)
        assert found == [
            {"actorKey": s[0], "topicKey": s[1], "claims": s[2], "noFlips": s[3], "halfFlips": s[4], "fullFlops": s[5],
             "strongest": strongest(s)}
            for s in summaries
        ], ("graphql flipSummaries", actor, k)  # fmt: skip
        made["graphql"] += 1
        made["strongest_null"] += any(strongest(s) is None for s in summaries)


# ----------------------------------------------------------------------------- the test


@pytest.fixture
def env(database_url: str) -> Iterator[ApiEnv]:
    with api_env(database_url, rate_reads=0, rate_writes=0) as served:
        yield served


def test_reads_agree_with_the_documented_rules(env: ApiEnv) -> None:
    made: dict[str, int] = {}
    kept: list[Kept] = []  # cursors of the previous ledger's pages

    @settings(
        max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large],
    )  # fmt: skip
    @given(rs=read_scripts())
    def run(rs: ReadScript) -> None:
        made["ledgers"] = made.get("ledgers", 0) + 1
        world = _build(env, rs, made["ledgers"])
        env.caught_up()
        counts: dict[str, int] = dict.fromkeys(COUNTED, 0)
        rng = random.Random(rs.script.seed)
        check_kept_cursors(env, kept, counts)
        kept.clear()
        check_claims(env, world, rng, counts, kept)
        if world.claims:  # (the ledger can refuse every recording: each is stated after its source)
            check_changes(env, world, rng, counts)
            check_flips(env, world, rng, counts)
        for name, value in counts.items():
            made[name] = made.get(name, 0) + value

    run()
    # The generated ledgers did exercise the rules.
    assert made["ledgers"] >= min(EXAMPLES, 10), made
    assert made["multi_page"] > 0 and made["retracted_listed"] > 0 and made["listed_ties"] > 0, made
    assert made["split_ties"] > 0 and made["kept_cursors"] > 0, made
    assert made["empty"] > 0 and made["text_search"] > 0 and made["graphql"] > 0 and made["pinned"] > 0, made
    assert made["change_RECORDED"] > 0 and made["change_REVISED"] > 0 and made["change_RETRACTED"] > 0, made
    assert made["change_LINKED"] > 0 and made["quoted_found"] > 0 and made["change_bound_moved_since"] > 0, made
    assert made["changes_filtered"] > 0 and made["text_across"] > 0, made
    assert made["flip_NO_FLIP"] > 0 and made["flip_HALF_FLIP"] > 0 and made["flip_FULL_FLOP"] > 0, made
    assert made["summaries"] > 0 and made["strongest_null"] > 0 and made["timeline_labels"] > 0, made


COUNTED = (
    "claim_pages", "claims_listed", "multi_page", "split_ties", "kept_cursors", "retracted_listed", "listed_ties", "empty", "text_search", "text_across", "graphql",
    "change_windows", "changes_listed", "change_RECORDED", "change_REVISED", "change_RETRACTED", "change_LINKED", "change_bound_moved_since", "changes_filtered", "quoted_found",
    "flip_NO_FLIP", "flip_HALF_FLIP", "flip_FULL_FLOP", "summaries", "strongest_null", "timeline_labels", "pinned",
)  # fmt: skip


# ----------------------------------------------------------------------------- found on the way


def one_of_each(env: ApiEnv, prefix: str, published: str) -> str:
    """A source ``{prefix}-source`` published on that day, an actor and a topic of the same prefix; the
    source's text (five passages: ``passage(0, text)``...)."""
    text = " ".join(f"Passage number {j} says something quotable." for j in range(5))
    with env.ledger.batch(po.PRINCIPAL) as batch:
        batch.register_source(c.parse_source(source_data(f"{prefix}-source", text, published)))
        batch.register_actor(c.parse_actor(actor_data(f"{prefix}-actor")))
        batch.define_topic(c.parse_topic(topic_data(f"{prefix}-topic")))
    return text


def test_flips_of_a_claim_whose_bound_a_source_revision_moved(env: ApiEnv) -> None:
    """A flip whose claim's record is a SOURCE_REVISED row (its read-model row is negative): ``flips`` looked
    both claims up by log position instead of by row and failed (KeyError; GraphQL: an internal error)."""
    ledger = env.ledger
    text = one_of_each(env, "x", "2024-02-01")
    first = claim_data("x-1", actor="x-actor", topic="x-topic", stance="SUPPORTS", stated="2024-02", source="x-source",
                       passage=passage(0, text))  # fmt: skip
    with ledger.batch(po.PRINCIPAL) as batch:
        batch.record_claim(c.parse_claim(first))
    with ledger.batch(po.PRINCIPAL) as batch:
        republish(batch, "x-source", Partial("2024-02"))  # now from 2024-02-29: a SOURCE_REVISED row
    second = claim_data("x-2", actor="x-actor", topic="x-topic", stance="OPPOSES", stated="2024-02", source="x-source",
                        passage=passage(1, text))  # fmt: skip
    with ledger.batch(po.PRINCIPAL) as batch:
        batch.record_claim(c.parse_claim(second))
    env.caught_up()
    page = env.services.read_model.flips(FlipFilter(actor="x-actor"), 10, None, None)
    assert [(f.label, f.before.key, f.after.key) for f in page.items] == [("FULL_FLOP", "x-1", "x-2")]
    assert page.items[0].before.row < 0 and page.items[0].before.counts_from == date(2024, 2, 29)
    found = env.gql.data('{ flips(actor: "x-actor") { nodes { label before { key countsFrom } after { key } } } }')
    assert found["flips"]["nodes"] == [
        {"label": "FULL_FLOP", "before": {"key": "x-1", "countsFrom": "2024-02-29"}, "after": {"key": "x-2"}}
    ]


def test_the_cost_estimate_counts_a_claims_source_revised_rows_in_its_history(env: ApiEnv) -> None:
    """``CollectionSizes.versions_per_claim`` bounds the length of a claim's history, whose SOURCE_REVISED rows
    share its version number (it was the largest version alone: 1 here, against a history of 4)."""
    ledger = env.ledger
    text = one_of_each(env, "z", "2024-02-01")
    data = claim_data("z-1", actor="z-actor", topic="z-topic", stated="2024-02", source="z-source",
                      passage=passage(0, text))  # fmt: skip
    with ledger.batch(po.PRINCIPAL) as batch:
        batch.record_claim(c.parse_claim(data))
    for day in ("2024-02", "2024-02-10", "2024-02-05"):
        with ledger.batch(po.PRINCIPAL) as batch:
            republish(batch, "z-source", Partial(day))
    env.caught_up()
    history = env.gql.data('{ claim(id: "z-1") { history { version } } }')["claim"]["history"]
    assert len(history) == 4 and {h["version"] for h in history} == {1}
    assert env.services.read_model.collection_sizes().versions_per_claim >= 4


def test_a_text_filter_matches_within_the_summary_or_the_quote_not_across_them(env: ApiEnv) -> None:
    """``ClaimFilter.text``: "Substring of summary or quote, any case" (the schema); not of the two joined.
    The read model kept one casefolded column, summary + "\\n" + quote, so a needle with a line break matched
    across the two; summaries and quotes may hold line breaks (any control character but NUL), so no separator
    is safe: each has its column. Through the read model and GraphQL, after a revision of the quote, and in the
    rows a source's publication revision adds (SOURCE_REVISED: the content copied from the claim's last row)."""
    ledger = env.ledger
    text = one_of_each(env, "y", "2025-02-01")
    claims = {
        "y-1": ("Summary ends here", "Quote starts"),
        "y-2": ("Line one\nline two", "Zeile eins\nZeile zwei"),
        "y-3": ("Plain words, no quote", None),
    }
    with ledger.batch(po.PRINCIPAL) as batch:
        for i, (key, (summary, quote)) in enumerate(claims.items()):
            data = claim_data(key, actor="y-actor", topic="y-topic", stated="2025-02", source="y-source",
                              passage=passage(i, text), summary=summary)  # fmt: skip
            if quote is not None:
                data["quote"] = {"text": quote, "language": "de"}
            batch.record_claim(c.parse_claim(data))
    env.caught_up()
    model = env.services.read_model
    query = 'query ($t: String) { claims(filter: {actor: "y-actor", text: $t}) { totalCount nodes { key } } }'

    def found(needle: str) -> list[str]:
        keys = sorted(x.key for x in model.claims(ClaimFilter(actor="y-actor", text=needle), 5, None, None).items)
        answer = env.gql.data(query, {"t": needle})["claims"]
        assert sorted(n["key"] for n in answer["nodes"]) == keys and answer["totalCount"] == len(keys), needle
        return keys

    def check(within: dict[str, list[str]], across: tuple[str, ...]) -> None:
        for needle, keys in within.items():
            assert found(needle) == keys, needle
        for needle in across:
            assert found(needle) == [], needle

    within = {"ENDS HERE": ["y-1"], "quote start": ["y-1"], "one\nLINE": ["y-2"], "s\nzeile": ["y-2"],
              "\n": ["y-2"], "no quote": ["y-3"], "e": ["y-1", "y-2", "y-3"]}  # fmt: skip
    across = ("here\nquote", "here\n", "\nquote", "two\nzeile", "two\nZEILE eins")
    check(within, across)

    with ledger.batch(po.PRINCIPAL) as batch:  # a revision of the quote: the new one searched, apart
        changes = c.parse_changes({"quote": {"text": "Neu", "language": "de"}})
        batch.revise_claim(c.ReviseClaim("y-1", None, changes, "typo"))
    env.caught_up()
    check({**within, "quote start": [], "neu": ["y-1"]}, (*across, "here\nneu"))

    with ledger.batch(po.PRINCIPAL) as batch:  # the source published later: SOURCE_REVISED rows, same content
        republish(batch, "y-source", Partial("2025-02"))  # (from 2025-02-28)
    env.caught_up()
    assert all(x.row < 0 for x in model.claims(ClaimFilter(actor="y-actor"), 5, None, None).items)
    check({**within, "quote start": [], "neu": ["y-1"]}, (*across, "here\nneu"))


def test_text_filters_match_across_unicode_normal_forms(env: ApiEnv) -> None:
    """A summary stored decomposed (NFD, as text copied from a PDF often is) was not found by its words typed
    composed, nor a name by its composed spelling: the filters casefolded but did not normalise. Now both sides
    are NFKC-casefolded (``values.searchable``): any normal form, ligatures and full-width letters as plain."""
    ledger = env.ledger
    text = one_of_each(env, "u", "2025-03-01")
    with ledger.batch(po.PRINCIPAL) as batch:
        batch.register_actor(c.parse_actor(actor_data("u-mayor", name="Jo\u0308rg Ma\u0308rz", aliases=[])))
        data = claim_data("u-1", actor="u-actor", topic="u-topic", stated="2025-03", source="u-source",
                          passage=passage(0, text), summary="Gespra\u0308che u\u0308ber die ﬁnale Fas\u00adsung")  # fmt: skip
        data["quote"] = {"text": "ＦＲＩＥＤＥＮ jetzt", "language": "de"}
        batch.record_claim(c.parse_claim(data))
    env.caught_up()
    query = "query ($t: String) { claims(filter: {text: $t}) { nodes { key } } }"
    for needle in ("Gespräche über", "GESPRA\u0308CHE", "finale", "frieden JETZT", "ＦＩＮＡＬＥ", "Fas\u00adsung"):
        assert [n["key"] for n in env.gql.data(query, {"t": needle})["claims"]["nodes"]] == ["u-1"], needle
    assert env.gql.data(query, {"t": "Gesprache"})["claims"]["nodes"] == []  # (accents still count)
    # The search limit counts the needle as compared: U+FDFA is one character, 18 once normalised.
    answer = env.gql(query, {"t": "\ufdfa" * 20})
    assert answer["data"] is None and "once normalised" in answer["errors"][0]["message"]
    names = "query ($s: String) { actors(search: $s) { key } }"
    for needle in ("Jörg", "MÄRZ", "jo\u0308rg ma\u0308rz"):
        assert [a["key"] for a in env.gql.data(names, {"s": needle})["actors"]] == ["u-mayor"], needle
    pinned = 'query ($s: String) { actors(search: $s, knownAt: "2100-01-01T00:00:00Z") { key } }'
    assert [a["key"] for a in env.gql.data(pinned, {"s": "Jörg"})["actors"]] == ["u-mayor"]
