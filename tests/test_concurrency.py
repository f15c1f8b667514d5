"""The concurrency contract, with real concurrent writers on both stores.

* a stale ``expectedVersion`` is always a CONFLICT that carries ``currentVersion``;
* racing identical ``recordClaim`` calls answer ``created: false`` (it is idempotent);
* an import that loses a race to another writer is checked and applied again, and when it
  still loses it names the record, its line and says to run it again;
* nothing is lost or written twice.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, cast

import httpx2 as httpx  # the maintained fork starlette's TestClient uses
import pytest
import yaml
from api_support import claim_data, live_server, seed
from ledger_support import TEXT, actor, claim, source, topic

from ledger import commands as c
from ledger import importer
from ledger.application import ClaimsLedger
from ledger.errors import Conflict
from ledger.importer import ImportFileError, ImportResult, import_file

WRITERS = 8


def _events(url: str) -> Counter[str]:
    with ClaimsLedger.open(url) as ledger:
        return Counter(e.topic.partition(":")[2] for e in ledger.ledger_recorder.iter_log())


def _together(n: int, work: Callable[[int], Any]) -> list[Any]:
    """Run ``work(i)`` in n threads released at once; each result or the exception it raised."""
    barrier = threading.Barrier(n)

    def run(i: int) -> Any:
        barrier.wait()
        try:
            return work(i)
        except Exception as error:
            return error

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(run, range(n)))


def test_racing_revisions_one_wins_every_other_conflict_names_the_current_version(database_url: str) -> None:
    seed(database_url).close()
    before = _events(database_url)
    ledgers = [ClaimsLedger.open(database_url) for _ in range(WRITERS)]  # one per writer, as processes have

    def revise(i: int) -> int:
        command = c.ReviseClaim("c-minister", 1, c.parse_changes({"summary": f"summary {i}"}), "race")
        return ledgers[i].revise_claim(command, f"test:writer-{i}").version

    try:
        results = _together(WRITERS, revise)
    finally:
        for ledger in ledgers:
            ledger.close()
    assert [r for r in results if not isinstance(r, Exception)] == [2]
    conflicts = [r for r in results if isinstance(r, Exception)]
    assert all(isinstance(r, Conflict) for r in conflicts), conflicts
    assert {(r.expected_version, r.current_version) for r in cast(list[Conflict], conflicts)} == {(1, 2)}
    after = _events(database_url)
    assert after - before == Counter({"Claim.Revised": 1})


def test_a_batch_that_loses_a_race_names_the_record(database_url: str) -> None:
    with seed(database_url) as ledger, ClaimsLedger.open(database_url) as other:
        new = claim_data("c-new", "minister", "taurus", "NEUTRAL", "2025-02-26", "Berlin")
        batch = ledger.batch("test:slow")
        batch.record_claim(c.parse_claim(new))
        with other.batch("test:fast") as fast:  # commits first
            fast.record_claim(c.parse_claim(new))
        with pytest.raises(Conflict) as caught:
            batch.commit()
        assert caught.value.race and caught.value.key == "c-new" and caught.value.current_version == 1
        assert "claim c-new was written by another writer" in str(caught.value)

        batch = ledger.batch("test:slow")
        batch.revise_claim(c.ReviseClaim("c-minister", 1, c.parse_changes({"summary": "slow"}), "r"))
        other.revise_claim(c.ReviseClaim("c-minister", 1, c.parse_changes({"summary": "fast"}), "r"), "test:fast")
        with pytest.raises(Conflict) as caught:
            batch.commit()
        assert (caught.value.expected_version, caught.value.current_version) == (1, 2)


def _import_file(folder: Path, name: str, claim_key: str) -> Path:
    (folder / "article.txt").write_text(TEXT, encoding="utf-8")
    src = source()
    del src["text"]
    src["text_file"] = "article.txt"
    data = {
        "format": "claims-ledger/import/v1",
        "sources": [src],
        "actors": [actor()],  # the same new actor in both files
        "topics": [topic()],
        "claims": [claim(key=claim_key)],
    }
    path = folder / name
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def test_an_import_that_loses_a_race_is_applied_again(database_url: str, tmp_path: Path) -> None:
    first, second = _import_file(tmp_path, "a.yaml", "claim-a"), _import_file(tmp_path, "b.yaml", "claim-b")
    with ClaimsLedger.open(database_url) as ledger, ClaimsLedger.open(database_url) as other:
        raced: list[ImportResult] = []

        def race_once(done: int, total: int) -> None:
            if not raced:  # while `second` is checked, `first` commits the shared actor
                raced.append(import_file(other, first, "test:first"))

        result = import_file(ledger, second, "test:second", race_once)
    assert raced and result.created == {"claims": 1}  # the actor, topic and source were the winner's
    assert _events(database_url)["Actor.Registered"] == 1


def test_an_import_that_keeps_losing_says_which_record_and_to_run_it_again(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(importer, "IMPORT_ATTEMPTS", 1)
    first, second = _import_file(tmp_path, "a.yaml", "claim-a"), _import_file(tmp_path, "b.yaml", "claim-b")
    with ClaimsLedger.open(database_url) as ledger, ClaimsLedger.open(database_url) as other:
        raced: list[ImportResult] = []

        def race(done: int, total: int) -> None:
            if not raced:
                raced.append(import_file(other, first, "test:first"))

        with pytest.raises(ImportFileError) as caught:
            import_file(ledger, second, "test:second", race)
    message = str(caught.value)
    assert f"{second}:" in message and "written by another writer" in message and "run the import again" in message
    assert "sources[0].key" in message or "actors[0].key" in message or "topics[0].key" in message
    assert _events(database_url)["Claim.Recorded"] == 1  # only the winner's claim


def test_racing_writers_through_the_http_api(database_url: str) -> None:
    with seed(database_url) as ledger:
        secret = ledger.issue_api_key("racer", "editor", "test:setup")
    before = _events(database_url)
    revise = 'mutation { reviseClaim(id: "c-minister", expectedVersion: 1, changes: {summary: "s%d"}, reason: "r") { version } }'
    record = "mutation ($i: RecordClaimInput!) { recordClaim(input: $i) { created } }"
    new = {
        **claim_data("c-raced", "minister", "taurus", "NEUTRAL", "2025-02-26", "Berlin"),
        "stated": {"date": "2025-02-26"},
    }
    with live_server(database_url) as base, httpx.Client(base_url=base, timeout=60.0) as http:

        def post(query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
            response = http.post(
                "/graphql", json={"query": query, "variables": variables or {}},
                headers={"Authorization": f"Bearer {secret}"},
            )  # fmt: skip
            assert response.status_code == 200, response.text
            body: dict[str, Any] = response.json()
            return body

        revisions = _together(WRITERS, lambda i: post(revise % i))
        records = _together(WRITERS, lambda i: post(record, {"i": new}))
    won = [r for r in revisions if not r.get("errors")]
    lost = [r["errors"][0]["extensions"] for r in revisions if r.get("errors")]
    assert len(won) == 1 and won[0]["data"]["reviseClaim"]["version"] == 2
    assert len(lost) == WRITERS - 1 and all(e["code"] == "CONFLICT" and e["currentVersion"] == 2 for e in lost), lost
    assert all(not r.get("errors") for r in records), [r["errors"] for r in records if r.get("errors")]
    assert sorted(r["data"]["recordClaim"]["created"] for r in records) == [False] * (WRITERS - 1) + [True]
    assert _events(database_url) - before == Counter({"Claim.Revised": 1, "Claim.Recorded": 1})
