"""`claims position` and `claims timeline`: names resolved like the API's, errors with suggestions."""

from __future__ import annotations

import json

import pytest
from factories import World

from api.cli.main import main
from projections.db import connect


@pytest.fixture
def url(database_url: str) -> str:
    world = World.open(database_url)  # actors alice-a ("Alice A", alias "Alice Alias"), bob-b; topic-x "Topic X"
    world.claim("c1", actor="alice-a", topic="topic-x", stance="OPPOSES", stated="2025-02-10")
    world.claim("c2", actor="alice-a", topic="topic-x", stance="SUPPORTS", stated="2025-03")
    world.close()
    assert main(["--database", database_url, "project"]) == 0
    return database_url


def test_position_and_timeline_by_name(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--database", url, "position", "alice alias", "TOPIC X", "--as-of", "2025-03-01", "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert (answer["actor"], answer["topic"], answer["position"]["stance"]) == ("alice-a", "topic-x", "OPPOSES")
    assert answer["position"]["claim"]["countsFrom"] == "2025-02-10"
    assert main(["--database", url, "position", "Alice", "topic-x"]) == 0
    assert "alice-a on topic-x as of" in capsys.readouterr().out
    assert main(["--database", url, "timeline", "ALICE A", "x", "--json"]) == 0
    timeline = json.loads(capsys.readouterr().out)["timeline"]
    assert [(t["stance"], t["claim"]["key"]) for t in timeline] == [("OPPOSES", "c1"), ("SUPPORTS", "c2")]


def test_unknown_and_ambiguous_names_are_errors(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--database", url, "position", "Alise", "topic-x"]) == 2
    err = capsys.readouterr().err
    assert "actor: no actor matches 'Alise'; closest: alice-a (Alice A)" in err
    assert main(["--database", url, "timeline", "alice-a", "topic"]) == 2
    err = capsys.readouterr().err
    assert "'topic' matches several topics: topic-x (Topic X), topic-y (Topic Y)" in err


def test_read_commands_never_project(database_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    world = World.open(database_url)
    world.claim("c1", actor="alice-a", topic="topic-x", stance="OPPOSES", stated="2025-02-10")
    world.close()
    # No read model yet: an error naming the command that builds it, and nothing created.
    assert main(["--database", database_url, "position", "alice-a", "topic-x"]) == 1
    err = capsys.readouterr().err
    assert "error: the database has no read model" in err and "run `claims project`" in err
    assert main(["--database", database_url, "timeline", "alice-a", "topic-x"]) == 1
    assert "has no read model" in capsys.readouterr().err  # the first left none behind
    assert main(["--database", database_url, "project"]) == 0
    capsys.readouterr()
    world = World.open(database_url, seed=False)
    world.count = 1
    world.claim("c2", actor="alice-a", topic="topic-x", stance="SUPPORTS", stated="2025-03")
    world.close()
    # The read model lags: the answer is what it reflects (c1 only), with a warning; it is not caught up.
    assert main(["--database", database_url, "timeline", "alice-a", "topic-x", "--json"]) == 0
    out = capsys.readouterr()
    assert [t["claim"]["key"] for t in json.loads(out.out)["timeline"]] == ["c1"]
    assert "warning: the read model reflects the ledger up to event" in out.err
    assert main(["--database", database_url, "timeline", "alice-a", "topic-x", "--json"]) == 0
    assert [t["claim"]["key"] for t in json.loads(capsys.readouterr().out)["timeline"]] == ["c1"]


def test_a_read_model_of_another_schema_is_reported_not_rebuilt(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    conn = connect(url)
    try:
        with conn.write_transaction():
            conn.execute("UPDATE rm_meta SET value = 'older-schema' WHERE name = 'schema_version'")
        assert main(["--database", url, "position", "alice-a", "topic-x"]) == 1
        err = capsys.readouterr().err
        assert "has a read model of schema older-schema" in err and "run `claims project`" in err
        assert conn.execute("SELECT value FROM rm_meta WHERE name = 'schema_version'") == [("older-schema",)]
        assert conn.execute("SELECT COUNT(*) FROM rm_claim_versions") == [(2,)]  # left as it was
    finally:
        conn.close()
