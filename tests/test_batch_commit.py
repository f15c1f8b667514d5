"""Batch's bulk paths against eventsourcing's own: ``Batch.commit`` stores what
``Application.save`` would (and ``ClaimsLedger.save_collected`` takes ``save``'s steps), and
``Batch.prefetch`` loads what ``repository.get`` would. ``Batch.create`` builds created events
as the aggregates' constructors do: these tests fail when the library changes under them."""

from __future__ import annotations

import copy
import gc
import inspect
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import EventStore, Notification, Recording
from ledger_support import ZELENSKY_PASSAGE, actor, claim, passage, seed_world, source, topic

from ledger import commands as c
from ledger.application import Batch, ClaimsLedger, LedgerEventStore, _FewerCollections
from ledger.domain import Actor, Claim, Source, SourceKey, Topic, actor_id, claim_id, topic_id
from ledger.errors import BadInput


@pytest.fixture
def ledger(database_url: str) -> Iterator[ClaimsLedger]:
    with ClaimsLedger.open(database_url) as app:
        yield app


def rows(ledger: ClaimsLedger) -> list[tuple[UUID, int, str, bytes]]:
    return [(e.originator_id, e.originator_version, e.topic, e.state) for e in ledger.ledger_recorder.iter_log()]


def state(aggregate: object) -> dict[str, object]:
    return {k: v for k, v in vars(aggregate).items() if k != "_pending_events"}


def test_commit_stores_exactly_what_application_save_stores(ledger: ClaimsLedger, tmp_path: Path) -> None:
    seed_world(ledger)
    with ClaimsLedger.open(f"sqlite:///{tmp_path / 'reference.db'}") as reference:
        batch = ledger.batch("tester")
        batch.record_claim(c.parse_claim(claim()))
        batch.record_claim(
            c.parse_claim(
                claim(key="zelensky-nato-1", actor="volodymyr-zelensky", passage=passage(ZELENSKY_PASSAGE),
                      disputes=["hegseth-nato-1"])
            )
        )  # fmt: skip
        batch.revise_claim(c.ReviseClaim("hegseth-nato-1", None, c.parse_changes({"stance": "CONDITIONAL"}), "why"))
        batch.register_actor(c.parse_actor(actor(aliases=["Hegseth", "Pete"])), reason="more spellings")
        # Build every staged aggregate (a new one is staged as its created event until then).
        staged = copy.deepcopy([batch.find(Aggregate, UUID(int=i)) for i in list(batch.staged)])  # timestamps included
        before = len(rows(ledger))
        batch.commit()

        ours = rows(ledger)[before:]
        assert len(ours) == 4
        recordings = reference.save(*staged)
        theirs = [(r.domain_event.originator_id, r.domain_event.originator_version) for r in recordings]
        saved = {
            (i, v): reference.mapper.to_stored_event(r.domain_event)
            for (i, v), r in zip(theirs, recordings, strict=True)
        }
        assert [(o, v) for o, v, _, _ in ours] == theirs
        for originator_id, version, topic_name, stored_state in ours:
            expected = saved[(originator_id, version)]
            assert topic_name == expected.topic  # e.g. ledger.domain:Claim.Recorded
            assert stored_state == expected.state  # byte for byte
        assert rows(reference) == ours  # what Application.save stored (an empty log before)

    loaded: dict[UUID, Claim] = {
        i: ledger.repository.get(i) for i in (claim_id("hegseth-nato-1"), claim_id("zelensky-nato-1"))
    }
    assert isinstance(loaded[claim_id("hegseth-nato-1")], Claim)
    assert loaded[claim_id("hegseth-nato-1")].content["stance"] == "CONDITIONAL"
    assert loaded[claim_id("hegseth-nato-1")].version == 2


def test_prefetch_loads_what_the_repository_loads(ledger: ClaimsLedger) -> None:
    seed_world(ledger)
    with ledger.batch("tester") as batch:
        batch.record_claim(c.parse_claim(claim()))
    ledger.revise_claim(
        c.ReviseClaim("hegseth-nato-1", None, c.parse_changes({"summary": "Hegseth: no NATO."}), "closer"), "editor"
    )
    ids = [
        claim_id("hegseth-nato-1"),
        actor_id("pete-hegseth"),
        topic_id(topic()["key"]),
        SourceKey.create_id(source()["key"]),
        claim_id("no-such-claim"),
    ]
    batch = ledger.batch("tester")
    batch.prefetch(ids)
    assert batch.loaded[claim_id("no-such-claim").int] is None  # keyed by the id's int
    for i in ids[:4]:
        assert state(batch.loaded[i.int]) == state(ledger.repository.get(i))
    # The source a prefetched source key points to comes with it.
    key = batch.loaded[SourceKey.create_id(source()["key"]).int]
    assert isinstance(key, SourceKey)
    src = batch.loaded[UUID(key.source_id).int]
    assert isinstance(src, Source)
    assert state(src) == state(ledger.repository.get(src.id))
    assert isinstance(batch.find(Actor, actor_id("pete-hegseth")), Actor)
    assert batch.find(Topic, actor_id("pete-hegseth")) is None


def import_world(ledger: ClaimsLedger) -> None:
    """A small import: new records (most never looked at again in the batch), a revision."""
    with ledger.batch("tester") as batch:
        batch.register_source(c.parse_source(source()))
        batch.register_actor(c.parse_actor(actor()))
        batch.register_actor(c.parse_actor(actor("volodymyr-zelensky")))
        batch.define_topic(c.parse_topic(topic()))
        batch.record_claim(c.parse_claim(claim()))
        batch.record_claim(
            c.parse_claim(claim(key="zelensky-nato-1", actor="volodymyr-zelensky", passage=passage(ZELENSKY_PASSAGE)))
        )
        batch.revise_claim(c.ReviseClaim("hegseth-nato-1", None, c.parse_changes({"stance": "NEUTRAL"}), "why"))


def without_timestamp(state: bytes) -> dict[str, object]:
    decoded: dict[str, Any] = json.loads(state)
    assert set(decoded.pop("timestamp")) == {"_type_", "_data_"}
    return decoded


def test_bulk_path_stores_what_ordinary_aggregates_and_save_store(
    ledger: ClaimsLedger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import_world(ledger)
    ours = rows(ledger)

    # The same commands the ordinary eventsourcing way: Claim(...) etc. and ledger.save.
    def ordinary_create(
        self: Batch, cls: type[Aggregate], event_name: str, aggregate_id: UUID, **kwargs: object
    ) -> None:
        aggregate = self.stage(cls(**kwargs))
        assert aggregate.id == aggregate_id

    def ordinary_commit(self: Batch) -> int:
        aggregates = [a for a in self.staged.values() if isinstance(a, Aggregate)]
        assert len(aggregates) == len(self.staged)  # ordinary_create staged aggregates, never a created event
        self.events += len(self.ledger.save(*aggregates))
        self.staged.clear()
        return 0

    monkeypatch.setattr(Batch, "create", ordinary_create)
    monkeypatch.setattr(Batch, "commit", ordinary_commit)
    with ClaimsLedger.open(f"sqlite:///{tmp_path / 'ordinary.db'}") as reference:
        import_world(reference)
        theirs = rows(reference)
    monkeypatch.undo()

    assert len(ours) == len(theirs) == 8
    for (o_id, o_version, o_topic, o_state), (t_id, t_version, t_topic, t_state) in zip(ours, theirs, strict=True):
        assert (o_id, o_version, o_topic) == (t_id, t_version, t_topic)  # e.g. ledger.domain:Claim.Recorded
        assert without_timestamp(o_state) == without_timestamp(t_state)
        assert o_state.startswith(b'{"timestamp":{"_type_":"datetime_iso","_data_":"')
        assert o_state.split(b"}", 1)[1] == t_state.split(b"}", 1)[1]  # the same bytes after the timestamp
    # The repository reconstructs what the bulk path stored, as it does what save stored.
    for originator_id in {r[0] for r in ours}:
        assert {k: v for k, v in state(ledger.repository.get(originator_id)).items() if not k.endswith("_on")} == {
            k: v for k, v in state(reference_get(tmp_path, originator_id)).items() if not k.endswith("_on")
        }


def reference_get(tmp_path: Path, originator_id: UUID) -> object:
    with ClaimsLedger.open(f"sqlite:///{tmp_path / 'ordinary.db'}") as reference:
        return reference.repository.get(originator_id)


def test_commit_uses_application_save_when_the_environment_turns_on_a_cache(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGGREGATE_CACHE_MAXSIZE", "100")
    with ClaimsLedger.open(database_url) as cached:
        assert cached.repository.cache is not None
        import_world(cached)
        assert len(rows(cached)) == 8
        claim_state: Aggregate = cached.repository.get(claim_id("hegseth-nato-1"))
        assert isinstance(claim_state, Claim) and claim_state.content["stance"] == "NEUTRAL"


def test_save_collected_takes_the_steps_of_application_save() -> None:
    """``ClaimsLedger.save_collected`` is ``Application.save`` after its ``collect_events``."""
    library = inspect.getsource(Application.save).split("processing_event.collect_events(*objs, **kwargs)", 1)[1]
    ours = inspect.getsource(ClaimsLedger.save_collected).split('"""', 2)[2]

    def steps(body: str) -> list[str]:
        return [line.split("#")[0].strip() for line in body.splitlines() if line.split("#")[0].strip()]

    assert steps(library) == steps(ours) == [
        "recordings = self._record(processing_event)",
        "self._take_snapshots(processing_event)",
        "self._notify(recordings)",
        "self.notify(processing_event.events)",
        "return recordings",
    ]


def test_ledger_event_store_put_takes_the_steps_of_the_librarys_put() -> None:
    """``LedgerEventStore.put`` is ``EventStore.put`` with each Recording's Notification made when read:
    this fails when the library's ``put`` changes, so that the override is looked at again."""
    body = inspect.getsource(EventStore.put).split('"""', 2)[2]
    steps = [line.split("#")[0].strip() for line in body.splitlines() if line.split("#")[0].strip()]
    assert " ".join(steps) == (
        "stored_events = list(map(self.mapper.to_stored_event, domain_events)) recordings = [] "
        "notification_ids = self.recorder.insert_events(stored_events, **kwargs) if notification_ids: "
        "assert len(notification_ids) == len(stored_events) for d, s, n_id in zip( "
        "domain_events, stored_events, notification_ids, strict=True ): recordings.append( Recording( d, "
        "Notification( originator_id=s.originator_id, originator_version=s.originator_version, topic=s.topic, "
        "state=s.state, id=n_id, ), ) ) return recordings"
    )


def test_ledger_event_store_put_returns_what_the_librarys_put_returns(ledger: ClaimsLedger, tmp_path: Path) -> None:
    assert isinstance(ledger.events, LedgerEventStore)
    events = [e for i in range(3) for e in Topic(key=f"t-{i}", title="T", proposition="P.", recorded_by="x").collect_events()]
    with ClaimsLedger.open(f"sqlite:///{tmp_path / 'reference.db'}") as reference:
        library = EventStore(reference.mapper, reference.recorder)  # the library's own put
        theirs = library.put(events)
    ours = ledger.events.put(events)
    assert len(ours) == len(theirs) == 3
    for mine, expected in zip(ours, theirs, strict=True):
        assert isinstance(mine, Recording) and isinstance(mine.notification, Notification)
        assert mine.domain_event is expected.domain_event
        assert mine.notification == expected.notification  # id, originator, version, topic, state
    assert ledger.events.put([]) == library.put([]) == []


def test_a_batch_collects_garbage_less_often_while_it_is_open(ledger: ClaimsLedger) -> None:
    before = gc.get_threshold()
    with ledger.batch("tester") as outer:
        assert gc.get_threshold() == (_FewerCollections.YOUNG, *before[1:])
        with pytest.raises(BadInput), ledger.batch("tester"):
            raise BadInput("key", "refused")  # an inner batch that fails leaves the outer one's setting
        assert gc.get_threshold()[0] == _FewerCollections.YOUNG
        outer.define_topic(c.parse_topic(topic()))
    assert gc.get_threshold() == before
    with pytest.raises(BadInput), ledger.batch("tester") as failing:
        failing.define_topic(c.parse_topic(topic(key="BAD KEY")))
    assert gc.get_threshold() == before


def test_create_builds_the_event_the_event_class_builds(ledger: ClaimsLedger) -> None:
    """``Batch.create`` sets a created event's fields without the dataclass's ``__init__``: the same class,
    fields and field order (the stored state's key order) as the constructor's, and the constructor's
    error for a wrong field."""
    batch = ledger.batch("tester")
    batch.register_source(c.parse_source(source()))
    batch.register_actor(c.parse_actor(actor()))
    batch.define_topic(c.parse_topic(topic()))
    created = [item.event for item in batch.staged.values()]  # type: ignore[union-attr]
    assert [type(e).__qualname__ for e in created] == [
        "Source.Registered", "SourceKey.Assigned", "Actor.Registered", "Topic.Defined"
    ]  # fmt: skip
    for event in created:
        fields = {k: v for k, v in vars(event).items()}
        rebuilt = type(event)(**fields)
        assert rebuilt == event and list(vars(rebuilt).items()) == list(vars(event).items())
    with pytest.raises(TypeError):
        batch.create(Topic, "Defined", topic_id("other"), key="other", title="T", recorded_by="tester")


def test_an_event_that_cannot_be_encoded_writes_nothing(ledger: ClaimsLedger) -> None:
    """An event the encoder refuses, after others in the same put, leaves the log, the tree and the next
    positions as they were."""
    events = [e for i in range(3) for e in Topic(key=f"t-{i}", title="T", proposition="P.", recorded_by="x").collect_events()]
    bad = Topic(key="t-bad", title="T", proposition="P.", recorded_by="x").collect_events()[0]
    object.__setattr__(bad, "title", {1j})  # no JSON for a set of complex numbers
    with pytest.raises(TypeError):
        ledger.events.put([*events, bad])
    assert rows(ledger) == [] and ledger.ledger_recorder.tree_head().size == 0
    recordings = ledger.events.put(events)
    assert [r.notification.id for r in recordings] == [1, 2, 3]
    assert ledger.ledger_recorder.tree_head().size == 3


def test_select_events_many_answers_each_aggregates_events_in_order(ledger: ClaimsLedger) -> None:
    import_world(ledger)
    recorder = ledger.ledger_recorder
    ids = [claim_id("hegseth-nato-1"), actor_id("pete-hegseth"), claim_id("no-such-claim"), topic_id(topic()["key"])]
    expected = sorted(
        ((e.originator_id, e.originator_version, e.topic, e.state) for i in ids for e in recorder.select_events(i)),
        key=lambda e: (str(e[0]), e[1]),
    )
    got = [(UUID(str(e.originator_id)), e.originator_version, e.topic, e.state) for e in recorder.select_events_many(ids)]
    assert got == expected and len(got) == 4  # the claim twice (recorded, revised), the actor, the topic
    assert recorder.select_events_many([]) == [] and recorder.select_events_many([claim_id("no-such-claim")]) == []
