"""The shipped seed corpus: loads cleanly, every claim is pinned to its source, and its positions are right."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
import yaml
from api_support import GraphQLClient

from api.cli import main
from ledger.application import ClaimsLedger
from ledger.dates import PartialDate
from ledger.domain import Actor, Claim, Source, Topic, actor_id, topic_id
from ledger.integrity.verify import verify

DEMO = Path(__file__).resolve().parent.parent / "api" / "demo"
REQUIRED_TOPICS = {
    "ukraine-nato-membership", "ukraine-eu-membership", "security-guarantees", "western-troops-in-ukraine",
    "territorial-concessions", "europe-at-the-table", "putin-zelensky-meeting", "russian-oil-purchases",
    "peace-deal-close", "peace-plan-referendum",
}  # fmt: skip
REQUIRED_ACTORS = {
    "donald-trump", "volodymyr-zelensky", "vladimir-putin", "pete-hegseth", "marco-rubio", "rustem-umerov",
    "dmitry-peskov", "sergey-lavrov", "emmanuel-macron", "keir-starmer", "friedrich-merz",
    "ursula-von-der-leyen", "steve-witkoff", "andrii-hnatov",
}  # fmt: skip


@pytest.fixture
def demo_url(database_url: str, capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["--database", database_url, "demo"]) == 0
    assert "events written" in capsys.readouterr().out
    return database_url


def corpus_claims() -> list[dict[str, Any]]:
    claims: list[dict[str, Any]] = yaml.safe_load((DEMO / "corpus.yaml").read_text("utf-8"))["claims"]
    return claims


def test_the_corpus_loads_pinned_dated_resolved_and_verified(demo_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--database", demo_url, "demo"]) == 0
    assert "already loaded, nothing written" in capsys.readouterr().out
    with ClaimsLedger.open(demo_url) as ledger:
        assert verify(ledger.ledger_recorder).ok
        records = corpus_claims()
        assert len(records) >= 60
        actors_with_claims, topics = set(), set()
        for record in records:
            claim = ledger.get_claim(record["key"])
            assert isinstance(claim, Claim)
            content = claim.content
            source = ledger.repository.get(UUID(content["source"]))
            assert isinstance(source, Source)
            passage = content["passage"]
            assert source.text[passage["start"] : passage["end"]] == passage["exact"], record["key"]
            stated = PartialDate.from_dict(content["stated"])
            published = PartialDate.from_dict(source.metadata["published"])
            assert stated.earliest <= published.latest, record["key"]
            assert isinstance(ledger.repository.get(actor_id(content["actor"])), Actor)
            assert isinstance(ledger.repository.get(topic_id(content["topic"])), Topic)
            actors_with_claims.add(content["actor"])
            topics.add(content["topic"])
        assert len(actors_with_claims) >= 15
        assert topics >= REQUIRED_TOPICS
        assert REQUIRED_ACTORS - {"steve-witkoff"} <= actors_with_claims  # Witkoff speaks in no seed
        assert all(ledger.repository.get(actor_id(key)) for key in REQUIRED_ACTORS)
        sources = yaml.safe_load((DEMO / "corpus.yaml").read_text("utf-8"))["sources"]
        assert {s["text_file"] for s in sources} == {f"seeds/{p.name}" for p in (DEMO / "seeds").glob("*.txt")}
        revised = [e for e in ledger.ledger_recorder.iter_log() if e.topic.endswith("Claim.Revised")]
        assert len(revised) >= 3


@pytest.fixture
def gql(demo_url: str) -> Iterator[GraphQLClient]:
    from starlette.testclient import TestClient

    from api.app import create_app
    from api.settings import Settings

    app = create_app(Settings.from_env({}, database_url=demo_url))
    with TestClient(app) as client:
        with ClaimsLedger.open(demo_url) as ledger:
            size = ledger.ledger_recorder.tree_head().size
        assert app.state.services.read.wait_for(size, 30.0)
        yield GraphQLClient(client)


POSITION = """query($a: String!, $t: String!, $d: Date, $k: DateTime) {
  position(actor: $a, topic: $t, asOf: $d, knownAt: $k) { stance since { date precision } claim { key } }
}"""


@pytest.mark.parametrize(
    ("actor", "topic", "as_of", "stance"),
    [
        ("pete-hegseth", "ukraine-nato-membership", "2025-02-20", "OPPOSES"),
        ("pete-hegseth", "ukraine-nato-membership", "2025-02-11", None),  # not said yet
        ("rustem-umerov", "ukraine-nato-membership", "2025-02-12", "SUPPORTS"),
        ("volodymyr-zelensky", "ukraine-nato-membership", "2025-12-31", "OPPOSES"),  # waived in December
        ("donald-trump", "ukraine-nato-membership", "2025-04-27", None),  # "April 2025", in a source of 28 April,
        ("donald-trump", "ukraine-nato-membership", "2025-04-28", "OPPOSES"),  # counts from the publication
        ("donald-trump", "europe-at-the-table", "2025-06-01", "OPPOSES"),
        ("donald-trump", "europe-at-the-table", "2025-12-28", "CONDITIONAL"),
        ("vladimir-putin", "negotiated-settlement", "2025-03-01", "SUPPORTS"),
        ("vladimir-putin", "negotiated-settlement", "2025-09-05", "CONDITIONAL"),
        ("emmanuel-macron", "western-troops-in-ukraine", "2025-11-29", "SUPPORTS"),  # "November" not yet complete
        ("emmanuel-macron", "western-troops-in-ukraine", "2025-11-30", "CONDITIONAL"),
        ("sergey-lavrov", "negotiated-settlement", "2025-04-23", None),
        ("friedrich-merz", "western-troops-in-ukraine", "2025-09-04", "NEUTRAL"),
    ],
)
def test_chosen_positions(gql: GraphQLClient, actor: str, topic: str, as_of: str, stance: str | None) -> None:
    position = gql.data(POSITION, {"a": actor, "t": topic, "d": as_of})["position"]
    assert (position and position["stance"]) == stance


def test_a_correction_changes_the_answer_known_before_and_after(gql: GraphQLClient) -> None:
    history = gql.data('{ claim(id: "hegseth-western-troops-2025-02-12") { history { type recordedAt reason } } }')[
        "claim"
    ]["history"]
    assert [h["type"] for h in history] == ["RECORDED", "REVISED"]
    before = history[0]["recordedAt"]
    variables = {"a": "pete-hegseth", "t": "western-troops-in-ukraine", "d": "2025-02-12"}
    assert gql.data(POSITION, {**variables, "k": before})["position"]["stance"] == "OPPOSES"
    assert gql.data(POSITION, variables)["position"]["stance"] == "CONDITIONAL"
    # A date correction: before it, Trump had no recorded position on 12 February.
    trump = {"a": "donald-trump", "t": "europe-at-the-table", "d": "2025-02-12"}
    assert gql.data(POSITION, {**trump, "k": before})["position"] is None
    assert gql.data(POSITION, trump)["position"]["stance"] == "OPPOSES"


def test_the_corpus_ships_inside_the_wheel(tmp_path: Path) -> None:
    """`claims demo` must work after a plain, non-editable install."""
    root = DEMO.parent.parent
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(root),
        ],
        check=True,
        cwd=tmp_path,
    )
    wheel = next(tmp_path.glob("claims_ledger-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"api/demo/corpus.yaml", "api/demo/corrections.yaml", "ledger/schema/import-v1.schema.json"} <= names
    assert len([n for n in names if n.startswith("api/demo/seeds/") and n.endswith(".txt")]) == 5
