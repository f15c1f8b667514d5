"""Hostile import files: confined text files, alias bombs, deep nesting. Each is refused fast,
with a short error that names the file, and writes nothing."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from ledger_support import TEXT, source

from api.cli.main import main
from ledger.application import ClaimsLedger
from ledger.importer import MAX_TEXT_FILE_BYTES, ImportFileError, import_file


def _source_file(folder: Path, text_file: str, name: str = "import.yaml") -> Path:
    record = source()
    del record["text"]
    record["text_file"] = text_file
    path = folder / name
    path.write_text(yaml.safe_dump({"format": "claims-ledger/import/v1", "sources": [record]}), encoding="utf-8")
    return path


def _refused(url: str, path: Path) -> str:
    with ClaimsLedger.open(url) as ledger:
        with pytest.raises(ImportFileError) as caught:
            import_file(ledger, path, "test:import")
        assert ledger.ledger_recorder.tree_head().size == 0
    message = str(caught.value)
    assert str(path) in message and "nothing from" in message
    assert len(message) < 2_000  # a short error, not the document echoed back
    return message


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    inner = tmp_path / "imports"
    inner.mkdir()
    (inner / "article.txt").write_text(TEXT, encoding="utf-8")
    (tmp_path / "secret.txt").write_text(TEXT, encoding="utf-8")  # outside the import file's folder
    return inner


@pytest.mark.parametrize("text_file", ["/etc/passwd", "../secret.txt", "/dev/zero", "sub/../../secret.txt"])
def test_text_files_outside_the_import_folder_are_refused(database_url: str, folder: Path, text_file: str) -> None:
    message = _refused(database_url, _source_file(folder, text_file))
    assert "text_file" in message and "outside" in message


def test_a_symbolic_link_out_of_the_folder_is_refused(database_url: str, folder: Path) -> None:
    (folder / "link.txt").symlink_to(folder.parent / "secret.txt")
    assert "outside" in _refused(database_url, _source_file(folder, "link.txt"))


def test_only_regular_files_are_read(database_url: str, folder: Path) -> None:
    os.mkfifo(folder / "pipe.txt")  # reading it would block forever
    assert "not a regular file" in _refused(database_url, _source_file(folder, "pipe.txt"))
    (folder / "dir.txt").mkdir()
    assert "not a regular file" in _refused(database_url, _source_file(folder, "dir.txt"))


def test_a_text_file_over_the_size_limit_is_refused_unread(database_url: str, folder: Path) -> None:
    with (folder / "huge.txt").open("wb") as file:
        file.truncate(MAX_TEXT_FILE_BYTES + 1)  # sparse: no disk used
    assert "the limit is" in _refused(database_url, _source_file(folder, "huge.txt"))


def test_an_allowed_root_admits_files_below_it(
    database_url: str, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _source_file(folder, "../secret.txt")
    monkeypatch.setenv("CLAIMS_IMPORT_ROOT", str(folder.parent))
    with ClaimsLedger.open(database_url) as ledger:
        assert import_file(ledger, path, "test:import").created == {"sources": 1}


def _billion_laughs() -> str:
    lines = ["format: claims-ledger/import/v1", 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    previous = "a"
    for name in "bcdefghij":
        lines.append(f"{name}: &{name} [{','.join(['*' + previous] * 9)}]")
        previous = name
    return "\n".join(lines) + "\n"


HOSTILE: dict[str, tuple[str, str, str]] = {
    "billion laughs": ("laughs.yaml", _billion_laughs(), "aliases"),
    "a recursive alias": ("loop.yaml", "format: claims-ledger/import/v1\na: &a [*a]\n", "recursive alias"),
    "YAML nested 100 deep": ("deep.yaml", "format: claims-ledger/import/v1\nx: " + "[" * 100 + "]" * 100, "deeper"),
    "YAML nested 50,000 deep": ("deeper.yaml", "x: " + "[" * 50_000 + "]" * 50_000, "nesting depth"),
    "JSON nested 50,000 deep": ("deep.json", '{"x": ' + "[" * 50_000 + "]" * 50_000 + "}", "nesting depth"),
    "JSON nested 100 deep": ("deep100.json", json.dumps({"x": json.loads("[" * 100 + "]" * 100)}), "deeper"),
}


@pytest.mark.parametrize("case", HOSTILE)
def test_alias_bombs_and_deep_nesting_are_refused_fast(database_url: str, tmp_path: Path, case: str) -> None:
    name, text, says = HOSTILE[case]
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    assert says in _refused(database_url, path)


def test_the_cli_prints_one_short_error_for_an_alias_bomb(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "laughs.yaml"
    path.write_text(_billion_laughs(), encoding="utf-8")
    assert main(["--database", database_url, "import", str(path)]) != 0
    out: Any = capsys.readouterr()
    assert "Traceback" not in out.err and len(out.err) < 1_000 and "aliases" in out.err
