"""kill -9 trials on both stores: ``claims import`` and the projector killed at random points.

After each kill: ``claims verify`` is OK; an import's file is in the log entirely or not at
all (one transaction); the projector, restarted, brings the read model to exactly what a
rebuild from the log makes. ``CLAIMS_FAULT_TRIALS`` (default 1) sets the trials per test;
``python bench/faults.py`` runs many more.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from api_support import REPO_ROOT
from factories import PASSAGES, TEXT, actor_data, source_data, topic_data
from ledger_support import raw_sql

from ledger.application import ClaimsLedger
from ledger.integrity.verify import verify
from projections.projector import Projector

TRIALS = int(os.environ.get("CLAIMS_FAULT_TRIALS", "1"))
CLAIMS = 600  # per import file: long enough to be killed in the middle


def _import_file(folder: Path, name: str, prefix: str) -> tuple[Path, int]:
    """A file of one source, 3 actors, 2 topics and CLAIMS claims; returns it and its event count."""
    text = f"{prefix}: {TEXT}"  # a text of its own: a text is registered under one key only
    claims = []
    for i in range(CLAIMS):
        exact = PASSAGES[i % len(PASSAGES)]
        start = text.index(exact)
        claims.append({
            "key": f"{prefix}-claim-{i}", "actor": f"{prefix}-actor-{i % 3}", "topic": f"{prefix}-topic-{i % 2}",
            "stance": ("SUPPORTS", "OPPOSES", "NEUTRAL")[i % 3], "summary": f"Claim {i} of {prefix}",
            "stated": {"date": f"2025-{1 + i % 12:02d}"}, "source": f"{prefix}-source",
            "passage": {"start": start, "end": start + len(exact), "exact": exact}, "attribution": "REPORTED",
        })  # fmt: skip
    data = {
        "format": "claims-ledger/import/v1",
        "sources": [source_data(f"{prefix}-source", text=text)],
        "actors": [actor_data(f"{prefix}-actor-{i}") for i in range(3)],
        "topics": [topic_data(f"{prefix}-topic-{i}") for i in range(2)],
        "claims": claims,
    }
    path = folder / name
    path.write_text(json.dumps(data), encoding="utf-8")
    events = 2 + 3 + 2 + CLAIMS  # Source.Registered + SourceKey.Assigned, actors, topics, claims
    return path, events


def _cli(url: str, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "api.cli.main", "--database", url, *args],
        cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip


def _kill_after(process: subprocess.Popen[bytes], seconds: float) -> bool:
    """kill -9 the process after ``seconds`` unless it ended first; True if it was killed."""
    try:
        process.wait(timeout=seconds)
        return False
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        return True


def _size(url: str) -> int:
    with ClaimsLedger.open(url) as ledger:
        report = verify(ledger.ledger_recorder)
        assert report.ok, report  # claims verify: OK after every kill
        return ledger.ledger_recorder.tree_head().size


@pytest.mark.parametrize("trial", range(TRIALS))
def test_a_killed_import_leaves_all_or_nothing(database_url: str, tmp_path: Path, trial: int) -> None:
    rng = random.Random(trial)
    path, events = _import_file(tmp_path, "big.json", f"t{trial}")
    _size(database_url)  # creates the tables first, so the kill can land inside the import itself
    killed = _kill_after(_cli(database_url, "import", str(path)), rng.uniform(0.3, 2.5))
    after = _size(database_url)
    assert after in (0, events), f"partial transaction: {after} of {events} events (killed: {killed})"
    finished = _cli(database_url, "import", str(path))
    assert finished.wait(timeout=300) == 0, finished.stderr.read() if finished.stderr else ""
    assert _size(database_url) == events


def _read_model(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every read-model table's rows, sorted (bookkeeping tables left out)."""
    if url.startswith("sqlite:///"):
        names = [r[0] for r in raw_sql(url, "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'rm_%'")]
    else:
        names = [r[0] for r in raw_sql(url, "SELECT tablename FROM pg_tables WHERE tablename LIKE 'rm_%%'")]
    tables = sorted(set(names) - {"rm_tracking", "rm_meta"})
    assert "rm_claim_versions" in tables
    return {t: sorted(raw_sql(url, f"SELECT * FROM {t}"), key=repr) for t in tables}


@pytest.mark.parametrize("trial", range(TRIALS))
def test_a_killed_projector_resumes_to_what_a_rebuild_makes(database_url: str, tmp_path: Path, trial: int) -> None:
    rng = random.Random(100 + trial)
    for i in range(2):
        path, _ = _import_file(tmp_path, f"part{i}.json", f"p{trial}x{i}")
        assert _cli(database_url, "import", str(path)).wait(timeout=300) == 0
    size = _size(database_url)
    killed = _kill_after(_cli(database_url, "project", "--follow"), rng.uniform(0.5, 3.0))
    assert killed  # --follow never ends by itself
    projector = Projector(database_url)
    try:
        projector.catch_up()  # the restarted projector resumes from its last committed position
        assert projector.position() == size
        resumed = _read_model(database_url)
        projector.rebuild()
        rebuilt = _read_model(database_url)
    finally:
        projector.close()
    assert resumed == rebuilt
