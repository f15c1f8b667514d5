"""From article to reviewed claims on both stores: `claims extract`, the review markers, `claims import`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from api.cli.main import main
from ledger.application import ClaimsLedger
from ledger.errors import NotFound

ARTICLE = (
    "Streit um Luftabwehr\n\n"
    "Der ukrainische Präsident Wolodymyr Selenskyj hat am Dienstag betont, die Ukraine brauche dringend "
    "mehr Luftabwehr. „Jeder Tag ohne Patriot kostet Leben“, schrieb Selenskyj auf X. "
    "Der Kremlchef erklärte gestern, Russland sei zu einer Waffenruhe nicht bereit.\n"
)
WORLD = {
    "format": "claims-ledger/import/v1",
    "actors": [
        {"key": "volodymyr-zelensky", "name": "Volodymyr Zelensky", "kind": "PERSON", "aliases": ["Selenskyj"]},
        {
            "key": "vladimir-putin", "name": "Vladimir Putin", "kind": "PERSON",
            "roles": [{"title": "President of Russia", "from": "2012-05-07"}],
        },
    ],
    "topics": [
        {"key": "air-defence", "title": "Air defence for Ukraine", "proposition": "Ukraine gets more air defence."},
        {"key": "ceasefire", "title": "Ceasefire", "proposition": "A ceasefire takes effect."},
    ],
}  # fmt: skip


@pytest.fixture
def drafted(database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    (tmp_path / "world.yaml").write_text(yaml.safe_dump(WORLD), encoding="utf-8")
    (tmp_path / "article.txt").write_text(ARTICLE, encoding="utf-8")
    (tmp_path / "keywords.yaml").write_text("air-defence: [Luftabwehr, Patriot]\nceasefire: [Waffenruhe]\n")
    db = ["--database", database_url]
    assert main([*db, "import", str(tmp_path / "world.yaml")]) == 0
    draft = tmp_path / "draft.yaml"
    args = ["extract", str(tmp_path / "article.txt"), "--published", "2025-06-12", "--out", str(draft)]
    assert main([*db, *args, "--keywords", str(tmp_path / "keywords.yaml")]) == 0
    assert "3 candidates" in capsys.readouterr().err
    return draft


def test_draft_proposes_reviewable_candidates(drafted: Path) -> None:
    draft = yaml.safe_load(drafted.read_text("utf-8"))
    assert draft["sources"][0]["text_file"] == "article.txt"
    claims = draft["claims"]
    assert all(c["review"] == "pending" and 0 < c["confidence"] <= 1 for c in claims)
    assert all("stance" not in c for c in claims)  # the curator's judgment
    assert [(c["actor"], c["topic"], c["attribution"]) for c in claims] == [
        ("volodymyr-zelensky", "air-defence", "INDIRECT_SPEECH"),
        ("volodymyr-zelensky", "air-defence", "DIRECT_QUOTE"),
        ("vladimir-putin", "ceasefire", "INDIRECT_SPEECH"),
    ]
    assert claims[0]["stated"]["date"] == "2025-06-10" and "am Dienstag" in claims[0]["stated"]["note"]
    assert claims[1]["channel"] == "auf X"
    assert claims[1]["passage"] == {"exact": "„Jeder Tag ohne Patriot kostet Leben“"}  # words, never offsets
    assert claims[2]["stated"]["date"] == "2025-06-11"


def test_pending_candidates_are_refused_and_accepted_ones_record_their_origin(
    database_url: str, drafted: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = ["--database", database_url]
    assert main([*db, "import", str(drafted)]) == 2
    err = capsys.readouterr().err
    assert "claims[0].review: is pending" in err and "nothing from" in err

    draft = yaml.safe_load(drafted.read_text("utf-8"))
    first, second, third = draft["claims"]
    first.update(review="accepted", stance="SUPPORTS")
    second.update(review="dismissed")
    third.update(review="accepted", stance="OPPOSES", summary="Putin: no ceasefire now.")
    drafted.write_text(yaml.safe_dump(draft, allow_unicode=True), encoding="utf-8")
    assert main([*db, "--as", "curator:anna", "import", str(drafted)]) == 0
    assert "2 claims" in capsys.readouterr().out

    with ClaimsLedger.open(database_url) as ledger:
        recorded = ledger.get_claim(first["key"]).content
        assert recorded["origin"] == {
            "assistant": "claims extract", "review": "accepted", "confidence": first["confidence"],
            "rule": "speech verb with a complement clause", "accepted_by": "curator:anna",
        }  # fmt: skip
        assert ARTICLE[recorded["passage"]["start"] : recorded["passage"]["end"]] == first["passage"]["exact"]
        assert ledger.get_claim(third["key"]).content["summary"] == "Putin: no ceasefire now."
        with pytest.raises(NotFound):
            ledger.get_claim(second["key"])  # dismissed: not recorded
    assert main([*db, "import", str(drafted)]) == 0  # re-import by anyone: nothing new
    assert "0 events written" in capsys.readouterr().out
    assert main([*db, "log", "--json", "--aggregate", first["key"]]) == 0
    event = json.loads(capsys.readouterr().out.splitlines()[0])
    assert event["recorded_by"] == "curator:anna"


def test_accept_unreviewed_is_explicit(database_url: str, drafted: Path, capsys: pytest.CaptureFixture[str]) -> None:
    draft = yaml.safe_load(drafted.read_text("utf-8"))
    for claim in draft["claims"]:
        claim["stance"] = "NEUTRAL"
    drafted.write_text(yaml.safe_dump(draft, allow_unicode=True), encoding="utf-8")
    db = ["--database", database_url]
    assert main([*db, "import", "--accept-unreviewed", str(drafted)]) == 0
    with ClaimsLedger.open(database_url) as ledger:
        origin = ledger.get_claim(draft["claims"][1]["key"]).content["origin"]
    assert origin["review"] == "accepted unreviewed"
