"""The import's one schema pass on the happy path (``ledger.importer.read``): a file the compiled
check (fastjsonschema) passes skips jsonschema; a file it refuses gets jsonschema's report, as
before. Differential: on a corpus of bad files the compiled check never passes what jsonschema
refuses, and ``read`` reports exactly what jsonschema alone reports."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ledger_support import actor, claim, locations, source, topic, with_value_at

from ledger import import_schema, importer

ROOT = Path(__file__).resolve().parents[1]
# jsonschema on the committed schema, as the importer has always run it (its $refs inlined: the same errors).
REFERENCE = jsonschema.Draft202012Validator(import_schema.validator().schema)


def full_file() -> dict[str, Any]:
    """A valid file touching every section and every kind of field the schema checks."""
    entry = claim(quote={"text": "nicht realistisch", "language": "de"}, value="12 %", channel="speech",
                  stated={"date": "2025-02-12", "precision": "DAY", "approximate": True, "note": "evening"},
                  supersedes="older-claim", disputes=["other-claim"])  # fmt: skip
    entry.update(review="accepted", confidence=0.5, assistant={"rule": "cue", "notes": ["x"]})
    return {
        "format": "claims-ledger/import/v1",
        "sources": [source(url="https://example.org/a", authors=["A. Author"], publisher="ARD")],
        "actors": [
            actor(wikidata="Q22686", roles=[{"title": "Minister", "from": "2025-01-25", "until": "2025-12-01"}]),
            {**actor("volodymyr-zelensky"), "review": "accepted"},
        ],
        "topics": [topic()],
        "claims": [entry],
        "revisions": [{"key": "fix-1", "claim": "hegseth-nato-1", "changes": {"summary": "New."}, "reason": "why"}],
        "retractions": [{"claim": "hegseth-nato-1", "reason": "withdrawn"}],
    }


BAD_VALUES: list[Any] = [
    None, True, False, 0, 1, -1, 1.0, 0.5, 1.5, -0.5, float("nan"), 10**30, "", " ", "x", "  padded  ",
    "abc\n", "a\nb", "a" * 21, "a" * 81, "a" * 301, "a" * 501, "a" * 2001, "\x00", "x\x00", "\x1c", "x\x1cy",
    "٣", "é", "Q0", "Q12", "Q1\n", "https://a b", "https://a\x1cb", "http://x", "ftp://x", "2025", "2025-02",
    "2025-02-30", "25-02-12", "2025-02-12\n", "de", "DE", "deu", "DAY", "MONTH", "SUPPORTS", "supports", "PERSON",
    "NEWS", "pending", "dismissed", "accepted", "hegseth-nato-1", "Bad-Key", "a--b", [], [1], ["x"], ["x", "x"],
    [None], ["x"] * 101, {}, {"x": 1}, {"date": "2025"}, {"start": 1}, {"text": "x", "language": "de"},
]  # fmt: skip
# A record, a section or the file itself set to the wrong kind of value (its fields get BAD_VALUES).
CONTAINER_VALUES: list[Any] = [None, True, 1, 1.5, "", "x", [], [None], ["x"], [{}], {}, {"x": 1}]


def corpus() -> Iterator[Any]:
    """The valid file with each location set to each bad value, each key removed, an unknown key
    added to each object, and each record of each section dismissed while broken."""
    base = full_file()
    for path in locations(base):
        node = base
        for part in path:
            node = node[part]
        for value in BAD_VALUES if not isinstance(node, dict | list) else CONTAINER_VALUES:
            yield with_value_at(base, path, value)
        if path:
            parent = with_value_at(base, (), base)
            for part in path[:-1]:
                parent = parent[part]
            if isinstance(parent, dict):
                smaller = copy.deepcopy(base)
                holder = smaller
                for part in path[:-1]:
                    holder = holder[part]
                del holder[path[-1]]
                yield smaller
        if isinstance(node, dict):
            yield with_value_at(base, path, {**node, "unknown": 1})
    for section in ("actors", "claims"):
        yield with_value_at(base, (section, 0), {**base[section][0], "review": "dismissed", "key": "Bad Key"})


def test_the_compiled_check_covers_the_shipped_schema_and_passes_the_demo_files() -> None:
    assert import_schema.conforms() is not None, "the compiled check fell back: every file pays jsonschema again"
    assert REFERENCE.is_valid(full_file())
    assert import_schema.fits(full_file())
    for name in ("corpus.yaml", "corrections.yaml"):
        data = yaml.safe_load((ROOT / "claims_demo" / name).read_text("utf-8"))
        assert import_schema.fits(data), name  # the happy path is taken


def test_on_a_corpus_of_bad_files_the_compiled_check_never_passes_what_jsonschema_refuses() -> None:
    refused = passed_by_both = 0
    for data in corpus():
        fits, valid = import_schema.fits(data), REFERENCE.is_valid(data)
        assert not (fits and not valid), json.dumps(data, default=repr)[:2000]
        refused += not valid
        passed_by_both += fits and valid
    assert refused > 2000 and passed_by_both > 300  # the corpus holds both kinds, many of each


def test_the_data_is_not_changed_by_the_check() -> None:
    # The shipped schema declares no default today; a schema that does must not fill one in.
    check = import_schema.compiled({"type": "object", "properties": {"roles": {"type": "array", "default": []}}})
    assert check is not None
    data: dict[str, Any] = {}
    check(data)
    assert data == {}
    data = full_file()
    before = copy.deepcopy(data)
    assert import_schema.fits(data)
    assert data == before


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "string", "pattern": "^(?!.*-$).+"},  # `$` in a lookahead: \Z there would pass "ab-\n"
        {"type": "string", "pattern": "^[^$]+$"},  # `$` in a class: \Z there does not compile
        {"type": "object", "patternProperties": {"^a$|^b": {"type": "string"}}},
        {"type": "array", "items": {"type": "array"}},  # a tuple passes as an array there
        {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": ["array", "null"]}]}},
    ],
)
def test_what_fastjsonschema_reads_otherwise_than_jsonschema_is_not_translated(schema: dict[str, Any]) -> None:
    with pytest.raises(import_schema.CannotInline):
        import_schema.draft07(schema)


def test_a_pattern_ending_in_dollar_is_translated_and_only_stricter() -> None:
    body = import_schema.draft07({"type": "string", "pattern": r"^a\$b$"})
    check = import_schema.compiled(body)
    assert check is not None
    check("a$b")
    with pytest.raises(Exception, match="pattern"):
        check("a$b\n")  # jsonschema's `$` passes this; refusing it only sends the file to jsonschema


def test_a_small_first_file_is_judged_by_jsonschema_without_compiling(tmp_path: Path) -> None:
    import_schema.conforms.cache_clear()
    path = tmp_path / "small.json"
    path.write_text(json.dumps(full_file()), encoding="utf-8")
    importer.read(path)
    assert import_schema.conforms.cache_info().currsize == 0  # ~70 ms saved on a curator's small file
    big = full_file()
    big["sources"] = [source(key=f"s{i}", url=f"https://example.org/{i}") for i in range(import_schema.COMPILE_PAYS_OFF)]
    path.write_text(json.dumps(big), encoding="utf-8")
    importer.read(path)
    assert import_schema.conforms.cache_info().currsize == 1


def test_a_section_of_the_wrong_kind_gets_the_schema_report_when_pending_candidates_are_checked(
    tmp_path: Path,
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"format": "claims-ledger/import/v1", "actors": 1}), encoding="utf-8")
    with pytest.raises(importer.ImportFileError, match="actors"):
        importer.read(path, accept_unreviewed=False)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=90),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)
LOCATIONS = list(locations(full_file()))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(LOCATIONS), json_values)
def test_any_value_anywhere_the_compiled_check_agrees_with_jsonschema(path: tuple[Any, ...], value: Any) -> None:
    data = with_value_at(full_file(), path, value)
    assert not (import_schema.fits(data) and not REFERENCE.is_valid(data))


def report(path: Path) -> list[importer.Problem] | None:
    try:
        importer.read(path)
    except importer.ImportFileError as error:
        return error.problems
    return None


@pytest.mark.parametrize("suffix", [".json", ".yaml"])
def test_read_reports_exactly_what_jsonschema_alone_reports(tmp_path: Path, suffix: str) -> None:
    """End to end through files: the same problems (file, line, field, message) as the jsonschema pass."""
    samples = [data for i, data in enumerate(corpus()) if i % 97 == 0 and isinstance(data, dict)]
    assert len(samples) > 30
    for i, data in enumerate(samples):
        path = tmp_path / f"file{i}{suffix}"
        if suffix == ".json":
            path.write_text(json.dumps(data, allow_nan=False) if _finite(data) else "{}", encoding="utf-8")
        else:
            path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
        data, lines = _reference_parse(path)
        expected = importer.schema_problems(data, str(path), lines)
        assert report(path) == (expected or None), path.read_text("utf-8")[:500]


@pytest.mark.parametrize(
    "value",
    ["!!binary aGVsbG8=", "!!set {a, b}", "!!omap [a: 1, b: 2]", "!!timestamp 2025-02-12", ".nan", "!!float 1e3"],
)
def test_yaml_values_beyond_json_get_the_jsonschema_verdict(tmp_path: Path, value: str) -> None:
    for path_in_file in (("sources", 0, "title"), ("sources", 0, "authors"), ("claims", 0, "disputes", 0),
                         ("claims", 0, "confidence"), ("actors", 0, "roles", 0, "from")):  # fmt: skip
        text = yaml.safe_dump(with_value_at(full_file(), path_in_file, "PLACEHOLDER"), allow_unicode=True, sort_keys=False)
        path = tmp_path / "file.yaml"
        path.write_text(text.replace("PLACEHOLDER", value), encoding="utf-8")
        data, lines = _reference_parse(path)
        assert not (import_schema.fits(data) and not REFERENCE.is_valid(data)), path_in_file
        expected = importer.schema_problems(data, str(path), lines)
        assert report(path) == (expected or None)


def _finite(data: Any) -> bool:
    try:
        json.dumps(data, allow_nan=False)
    except ValueError:
        return False
    return True


def _reference_parse(path: Path) -> tuple[Any, Any]:
    """The data and line index ``read`` works from (its own parsing steps, unchanged by the fast check)."""
    text = path.read_text("utf-8")
    data = importer._json(text) if path.suffix == ".json" else importer._NOT_JSON
    if data is not importer._NOT_JSON:
        return data, importer._Lines(None, text)
    node, data = importer._parse(text)
    return data, importer._Lines(node)
