"""Import files and the command line, end to end on both stores."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from ledger_support import TEXT, actor, claim, domain_event, raw_sql, source, topic

from api.cli.main import main
from ledger.application import ClaimsLedger
from ledger.importer import ImportFileError, import_file


def write(tmp_path: Path, data: Any, name: str = "claims.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def example(**claim_overrides: Any) -> dict[str, Any]:
    src = source()
    del src["text"]
    src["text_file"] = "article.txt"
    return {
        "format": "claims-ledger/import/v1",
        "sources": [src],
        "actors": [actor(), actor("volodymyr-zelensky", aliases=["Selenskyj"])],
        "topics": [topic()],
        "claims": [claim(**claim_overrides)],
        "revisions": [
            {
                "key": "fix-hegseth-summary",
                "claim": "hegseth-nato-1",
                "changes": {"summary": "Hegseth: NATO membership for Ukraine is not a realistic outcome."},
                "reason": "summary closer to the wording",
            }
        ],
    }


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "article.txt").write_text(TEXT, encoding="utf-8")
    return tmp_path


def tree_size(url: str) -> int:
    with ClaimsLedger.open(url) as ledger:
        return ledger.ledger_recorder.tree_head().size


def test_import_verify_tamper_verify_on_the_command_line(
    database_url: str, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(folder, example())
    db = ["--database", database_url]
    assert main([*db, "import", str(path)]) == 0
    assert "7 events written" in capsys.readouterr().out
    assert main([*db, "import", str(path)]) == 0
    assert "0 events written" in capsys.readouterr().out  # re-import writes nothing new
    assert main([*db, "digest"]) == 0
    digest = json.loads(capsys.readouterr().out)
    assert digest["tree_size"] == 7
    (folder / "digest.json").write_text(json.dumps(digest))
    assert main([*db, "verify", "--digest", str(folder / "digest.json")]) == 0
    assert "OK: 7 events" in capsys.readouterr().out
    assert main([*db, "log", "--json", "--aggregate", "hegseth-nato-1"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [row["type"] for row in lines] == ["Claim.Recorded", "Claim.Revised"]
    assert lines[1]["payload"]["reason"] == "summary closer to the wording"

    state = raw_sql(database_url, "SELECT state FROM ledger_events WHERE position = 6")[0][0]
    raw_sql(
        database_url,
        "UPDATE ledger_events SET state = %s WHERE position = 6",
        (bytes(state).replace(b"OPPOSES", b"SUPPORTS"),),
    )
    assert main([*db, "verify"]) == 1
    assert "FAILED: event 6 (ledger.domain:Claim.Recorded" in capsys.readouterr().err


def test_the_text_file_is_registered_unchanged(database_url: str, folder: Path) -> None:
    with ClaimsLedger.open(database_url) as ledger:
        import_file(ledger, write(folder, example()), "tester")
        source_id = ledger.get_claim("hegseth-nato-1").content["source"]
        assert ledger.repository.get(__import__("uuid").UUID(source_id)).text == TEXT


def refused(url: str, path: Path) -> ImportFileError:
    before = tree_size(url)
    with ClaimsLedger.open(url) as ledger, pytest.raises(ImportFileError) as caught:
        import_file(ledger, path, "tester")
    assert tree_size(url) == before, "a refused file must write nothing"
    return caught.value


def test_a_bad_record_late_in_the_file_writes_nothing_and_names_line_and_field(database_url: str, folder: Path) -> None:
    data = example()
    data["claims"].append(claim(key="second", actor="nobody"))
    error = refused(database_url, write(folder, data))
    problem = error.problems[0]
    assert problem.field == "claims[1].actor"
    assert "unknown actor key 'nobody'" in problem.message
    text = (folder / "claims.yaml").read_text().splitlines()
    assert problem.line is not None and "actor: nobody" in text[problem.line - 1]
    assert "nothing from" in str(error)


@pytest.mark.parametrize(
    ("mutate", "field", "message"),
    [
        (lambda d: d["claims"][0].update(stance="AGREES"), "claims[0].stance", "is not one of"),
        (lambda d: d["claims"][0].update(summary=""), "claims[0].summary", "should be non-empty"),
        (lambda d: d["claims"][0].pop("passage"), "claims[0]", "'passage' is a required property"),
        (lambda d: d["claims"][0].update(stated={"date": "2025-02-31"}), "claims[0].stated.date", "not a day"),
        (
            lambda d: d["claims"][0].update(passage={"start": 0, "end": 5, "exact": "Hallo"}),
            "claims[0].passage.exact",
            "does not match",
        ),
        (lambda d: d["claims"][0].update(source="unknown-source"), "claims[0].source", "unknown source"),
        (lambda d: d["claims"].append(dict(d["claims"][0])), "claims[1].key", "used twice in this file"),
        (lambda d: d["sources"][0].update(text_file="missing.txt"), "sources[0].text_file", "cannot be read"),
        (lambda d: d["revisions"][0].update(reason=""), "revisions[0].reason", "should be non-empty"),
        (lambda d: d.update(format="v0"), "format", "was expected"),
        (lambda d: d["actors"][0].update(wikidata="Q0"), "actors[0].wikidata", "does not match"),
    ],
)
def test_each_kind_of_bad_record_is_refused(
    database_url: str, folder: Path, mutate: Any, field: str, message: str
) -> None:
    data = example()
    mutate(data)
    problem = refused(database_url, write(folder, data)).problems[0]
    assert problem.field == field
    assert message in problem.message


def test_invalid_utf8_is_refused_with_its_line(database_url: str, folder: Path) -> None:
    path = folder / "broken.yaml"
    path.write_bytes(b"format: claims-ledger/import/v1\nactors:\n  - key: caf\xe9\n")
    problem = refused(database_url, path).problems[0]
    assert problem.line == 3
    assert "not valid UTF-8" in problem.message


def test_invalid_utf8_in_a_text_file_is_refused(database_url: str, folder: Path) -> None:
    (folder / "article.txt").write_bytes(TEXT.encode("utf-8")[:20] + b"\xff\xfe")
    problem = refused(database_url, write(folder, example())).problems[0]
    assert problem.field == "sources[0].text_file"
    assert "not valid UTF-8" in problem.message


def test_duplicate_yaml_keys_are_refused(database_url: str, folder: Path) -> None:
    path = folder / "dup.yaml"
    path.write_text(
        "format: claims-ledger/import/v1\ntopics:\n  - key: a\n    key: b\n    title: t\n    proposition: p\n"
    )
    problem = refused(database_url, path).problems[0]
    assert problem.line == 4
    assert "appears twice" in problem.message


def test_syntax_errors_are_reported_with_their_line(database_url: str, folder: Path) -> None:
    path = folder / "syntax.yaml"
    path.write_text("format: claims-ledger/import/v1\nclaims: [\n  {key: x\n")
    problem = refused(database_url, path).problems[0]
    assert "not valid YAML" in problem.message
    assert problem.line is not None


def test_reimport_after_corrections_writes_nothing(database_url: str, folder: Path) -> None:
    path = write(folder, example())
    with ClaimsLedger.open(database_url) as ledger:
        assert import_file(ledger, path, "tester").events == 7
        second = import_file(ledger, path, "tester")
        assert second.events == 0
        assert second.unchanged == 6


def test_changed_actor_details_are_revised_with_a_reason(database_url: str, folder: Path) -> None:
    path = write(folder, example())
    with ClaimsLedger.open(database_url) as ledger:
        import_file(ledger, path, "tester")
        data = example()
        data["actors"][1]["aliases"] = ["Selenskyj", "Selenkskyj"]
        result = import_file(ledger, write(folder, data, "v2.yaml"), "tester")
        assert result.events == 1
        last = domain_event(ledger, ledger.ledger_recorder.read_log(7, 1)[0])
        assert type(last).__qualname__ == "Actor.Revised"
        assert last.changes["aliases"]["after"] == ["Selenkskyj", "Selenskyj"]
        assert "v2.yaml" in last.reason


def test_the_cli_reports_errors_without_a_traceback(
    database_url: str, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = example()
    data["claims"][0]["stance"] = "AGREES"
    path = write(folder, data)
    assert main(["--database", database_url, "import", str(path)]) == 2
    err = capsys.readouterr().err
    assert "claims[0].stance" in err
    assert "Traceback" not in err
