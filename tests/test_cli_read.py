"""`claims position` and `claims timeline`: names resolved like the API's, errors with suggestions."""

from __future__ import annotations

import json

import pytest
from factories import World

from api.cli import main


@pytest.fixture
def url(database_url: str) -> str:
    world = World.open(database_url)  # actors alice-a ("Alice A", alias "Alice Alias"), bob-b; topic-x "Topic X"
    world.claim("c1", actor="alice-a", topic="topic-x", stance="OPPOSES", stated="2025-02-10")
    world.claim("c2", actor="alice-a", topic="topic-x", stance="SUPPORTS", stated="2025-03")
    world.close()
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
