"""Ledgers written by an earlier version of the code still verify and project to the same answers.

The fixtures (tests/fixtures/ledger-v1.*) were written by the code of commit bf79940 with
tests/fixtures/make_ledger_fixtures.py and are never regenerated: they are the compatibility
contract for stored events, Merkle rows and tables. The SQLite one is a copy of the file; the
PostgreSQL one a plain ``pg_dump --inserts`` loaded into a fresh database.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import psycopg
import pytest
from eventsourcing.persistence import JSONTranscoder
from ledger_support import claim, record, seed_world

from api.cli import main as cli
from ledger import commands as c
from ledger.application import ClaimsLedger
from ledger.domain import ApiKey, claim_id
from ledger.integrity import proofs
from ledger.integrity.merkle import MemoryTree, leaf_hash, verify_consistency
from ledger.integrity.verify import verify
from ledger.persistence import leaf_data
from ledger.transcoder import LedgerTranscoder
from projections.projector import Projector
from projections.queries import ReadModel

FIXTURES = Path(__file__).resolve().parent / "fixtures"
CLAIM_KEYS = ("c1", "c2", "c3", "c4")
ACTOR_KEYS = ("alice-a", "bob-b", "carol-c")
# What the v1 ledgers hold: 18 events (see make_ledger_fixtures.story).
V1_EVENTS = 18


def answers(model: ReadModel) -> dict[str, Any]:
    """What the read model says about the fixture's story (fields every version keeps)."""
    claims = model.claims_by_ids([claim_id(k) for k in CLAIM_KEYS], None)
    out: dict[str, Any] = {"claims": {}, "actors": {}, "histories": {}}
    for key, view in zip(CLAIM_KEYS, claims, strict=True):
        assert view is not None, key
        out["claims"][key] = {
            "version": view.version,
            "actor": view.actor,
            "topic": view.topic,
            "stance": view.stance,
            "summary": view.summary,
            "stated": view.stated.date,
            "retracted": view.retracted,
            "retraction_reason": view.retraction_reason,
            "links": [[link.relation, str(link.target_id)] for link in view.links],
            "position": view.position,
            "first_recorded_at": view.first_recorded_at.isoformat(),
            "version_recorded_at": view.version_recorded_at.isoformat(),
            "version_recorded_by": view.version_recorded_by,
        }
    for key, history in zip(CLAIM_KEYS, model.claim_histories([claim_id(k) for k in CLAIM_KEYS]), strict=True):
        out["histories"][key] = [event.version for event in history]
    for actor in model.actors_by_keys(list(ACTOR_KEYS)):
        assert actor is not None
        out["actors"][actor.key] = {"name": actor.name, "kind": actor.kind, "aliases": list(actor.aliases)}
    return out


def _expected(backend: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / "ledger-v1.answers.json").read_text())[backend]
    return data


@pytest.fixture(params=("sqlite", "postgresql"), ids=("sqlite", "postgresql"))
def v1_url(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """A v1 fixture ledger loaded into a fresh database."""
    if request.param == "sqlite":
        path = tmp_path / "ledger-v1.sqlite"
        shutil.copyfile(FIXTURES / "ledger-v1.sqlite", path)
        yield "sqlite", f"sqlite:///{path}"
        return
    server = request.getfixturevalue("postgres_server")
    name = server.create_database()
    url = server.url(name)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute((FIXTURES / "ledger-v1.pg.sql").read_text())  # type: ignore[arg-type]
    try:
        yield "postgresql", url
    finally:
        server.drop_database(name)


def test_v1_ledger_verifies_and_proves(v1_url: tuple[str, str]) -> None:
    _, url = v1_url
    with ClaimsLedger.open(url) as ledger:
        recorder = ledger.ledger_recorder
        report = verify(recorder)
        assert report.ok, report.problem
        assert report.events == V1_EVENTS
        head = recorder.tree_head()
        assert head.size == V1_EVENTS
        # The root recomputed from the stored events (not from the stored leaf hashes) is the stored head.
        leaves = [leaf_hash(leaf_data(e.position, e.originator_id, e.originator_version, e.topic, e.state))
                  for e in recorder.iter_log()]  # fmt: skip
        assert MemoryTree(leaves).root() == head.root
        proof = proofs.inclusion(recorder, 5)
        assert proof.leaf_hash == leaves[4] and proof.root_hash == head.root and proof.verify()
        # A consistency proof between two of the stored tree heads (one per append transaction).
        heads = recorder.tree_heads()
        old = heads[len(heads) // 2]
        assert old.root == MemoryTree(leaves[: old.size]).root()
        assert verify_consistency(old.size, head.size, old.root, head.root, proofs.consistency(recorder, old.size).path)


def test_v1_ledger_passes_claims_verify(v1_url: tuple[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    _, url = v1_url
    assert cli.main(["--database", url, "verify", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is True and report["events"] == V1_EVENTS


def test_v1_ledger_projects_to_the_same_answers(v1_url: tuple[str, str]) -> None:
    backend, url = v1_url
    with ClaimsLedger.open(url) as ledger:
        projector = Projector(url, ledger=ledger)
        model = ReadModel(url)
        try:
            assert projector.catch_up() == V1_EVENTS
            assert answers(model) == _expected(backend)
        finally:
            model.close()
            projector.close()


def test_v1_ledger_aggregates_load_and_accept_new_events(v1_url: tuple[str, str]) -> None:
    _, url = v1_url
    with ClaimsLedger.open(url) as ledger:
        assert ledger.get_claim("c2").retracted == "misattributed"
        assert ledger.get_claim("c1").content["stance"] == "SUPPORTS"
        with ledger.batch("tester") as batch:
            revoked = batch.find(ApiKey, ApiKey.create_id("old-editor"))
            kept = batch.find(ApiKey, ApiKey.create_id("ci-reader"))
        assert revoked is not None and revoked.revoked == "rotated"
        assert kept is not None and kept.revoked is None
        # New events append to the old tree: it still verifies, one event longer.
        ledger.issue_api_key("after-upgrade", "reader", "admin")
        report = verify(ledger.ledger_recorder)
        assert report.ok, report.problem
        assert report.events == V1_EVENTS + 1


def test_v1_ledger_with_events_of_the_new_encoder_verifies_and_projects(v1_url: tuple[str, str]) -> None:
    """Events written by ``ledger.transcoder.LedgerTranscoder`` after those the library's encoder wrote:
    the old bytes stay as stored, the log verifies, and one projection reads both."""
    backend, url = v1_url
    with ClaimsLedger.open(url) as ledger:
        assert isinstance(ledger.mapper.transcoder, LedgerTranscoder)
        old = [(e.position, e.state, e.leaf_hash) for e in ledger.ledger_recorder.iter_log()]
        seed_world(ledger)  # a new source with its text, actors, a topic
        record(ledger)  # a new claim
        ledger.revise_claim(c.ReviseClaim("c1", 2, c.parse_changes({"summary": "re-corrected"}), "typo"), "editor")
        logged = list(ledger.ledger_recorder.iter_log())
        assert [(e.position, e.state, e.leaf_hash) for e in logged[:V1_EVENTS]] == old
        # The new events are what the library's encoder writes for them, byte for byte.
        library = JSONTranscoder()
        ledger.register_transcodings(library)
        for e in logged[V1_EVENTS:]:
            assert library.encode(library.decode(e.state)) == e.state
        report = verify(ledger.ledger_recorder)
        assert report.ok, report.problem
        assert report.events == len(logged) == V1_EVENTS + 7

        projector = Projector(url, ledger=ledger)
        model = ReadModel(url)
        try:
            assert projector.catch_up() == V1_EVENTS + 7
            expected = _expected(backend)
            c1 = {"summary": "re-corrected", "version": 3, "position": V1_EVENTS + 7, "version_recorded_by": "editor"}
            expected["claims"]["c1"] |= c1
            got = answers(model)
            del got["claims"]["c1"]["version_recorded_at"], expected["claims"]["c1"]["version_recorded_at"]  # now
            expected["histories"]["c1"].append(3)
            for part in ("claims", "histories", "actors"):
                for key in expected[part]:
                    assert (part, key, got[part][key]) == (part, key, expected[part][key])
            [new] = model.claims_by_ids([claim_id(claim()["key"])], None)
            assert new is not None and new.summary == claim()["summary"] and new.actor == "pete-hegseth"
        finally:
            model.close()
            projector.close()
