"""Passages anchored by their words: the pure function, the command validation and an import."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from ledger_support import TEXT, actor, claim, source, topic

from ledger import commands as c
from ledger.anchoring import anchor
from ledger.application import ClaimsLedger
from ledger.errors import BadInput
from ledger.importer import ImportFileError, import_file

ARTICLE = (
    "Merz sagte am Montag: „Wir werden die Hilfe fortsetzen.“ Später fügte er hinzu, man werde "
    "die Hilfe fortsetzen, solange es nötig sei.\nDie Opposition   kritisierte das – scharf."
)


def test_unique_words_give_their_offsets() -> None:
    found = anchor(ARTICLE, "solange es nötig sei")
    assert ARTICLE[found.start : found.end] == "solange es nötig sei"
    assert not found.folded


def test_absent_words_are_an_error_naming_the_field_and_where_the_match_stops() -> None:
    with pytest.raises(BadInput) as error:
        anchor(ARTICLE, "Wir werden die Hilfe einstellen")
    assert error.value.field == "passage.exact"
    assert "does not occur" in error.value.message
    assert "'einstellen'" in error.value.message  # where the passage parts from the source


def test_ambiguous_words_list_every_candidate_with_context() -> None:
    with pytest.raises(BadInput) as error:
        anchor(ARTICLE, "die Hilfe fortsetzen")
    message = error.value.message
    assert error.value.field == "passage.exact"
    assert "occurs 2 times" in message
    first, second = (i for i in range(len(ARTICLE)) if ARTICLE.startswith("die Hilfe fortsetzen", i))
    assert f"{first}-{first + 20}" in message and f"{second}-{second + 20}" in message
    assert "werden [die Hilfe fortsetzen]" in message  # a little context around each


def test_prefix_or_suffix_disambiguates() -> None:
    by_prefix = anchor(ARTICLE, "die Hilfe fortsetzen", prefix="man werde")
    assert ARTICLE[by_prefix.start - 10 : by_prefix.start] == "man werde "
    by_suffix = anchor(ARTICLE, "die Hilfe fortsetzen", suffix=".“")
    assert ARTICLE[by_suffix.end : by_suffix.end + 2] == ".“"
    assert by_prefix.start != by_suffix.start


def test_a_prefix_that_fits_no_candidate_says_so() -> None:
    with pytest.raises(BadInput) as error:
        anchor(ARTICLE, "die Hilfe fortsetzen", prefix="niemand wollte")
    assert error.value.field == "passage.prefix"
    assert "no occurrence" in error.value.message


def test_typographic_quotes_dashes_and_whitespace_match_their_plain_forms() -> None:
    found = anchor(ARTICLE, '"Wir werden die Hilfe fortsetzen."')
    assert found.folded
    assert found.exact == "„Wir werden die Hilfe fortsetzen.“"  # the source's own characters
    spaced = anchor(ARTICLE, "Die Opposition kritisierte das - scharf")
    assert spaced.exact == "Die Opposition   kritisierte das – scharf"
    across_lines = anchor(ARTICLE, "nötig sei. Die Opposition")
    assert across_lines.exact == "nötig sei.\nDie Opposition"


def test_explicit_offsets_are_checked() -> None:
    start = ARTICLE.index("solange")
    assert anchor(ARTICLE, "solange", start=start, end=start + 7).start == start
    with pytest.raises(BadInput) as error:
        anchor(ARTICLE, "solange", start=start + 1, end=start + 8)
    assert error.value.field == "passage.exact"
    assert f"occur at {start}-{start + 7}" in error.value.message
    with pytest.raises(BadInput) as beyond:
        anchor(ARTICLE, "solange", start=start, end=len(ARTICLE) + 5)
    assert beyond.value.field == "passage.end"


def test_command_validation_takes_words_only_or_both_offsets() -> None:
    parsed = c.parse_claim(claim(passage={"exact": "sei nicht realistisch", "prefix": "der Ukraine"}))
    assert parsed.content["passage"] == {"exact": "sei nicht realistisch", "prefix": "der Ukraine"}
    with pytest.raises(BadInput) as error:
        c.parse_claim(claim(passage={"exact": "sei nicht realistisch", "start": 3}))
    assert error.value.field == "passage.end"
    selector = c.passage_selector(TEXT, parsed.content["passage"])
    assert TEXT[selector["start"] : selector["end"]] == "sei nicht realistisch"
    assert set(selector) == {"start", "end", "exact", "prefix", "suffix"}  # the stored record is unchanged


def test_import_by_words_stores_offsets_and_rejects_ambiguity(database_url: str, tmp_path: Path) -> None:
    document = {
        "format": "claims-ledger/import/v1",
        "sources": [source()],
        "actors": [actor(), actor("volodymyr-zelensky")],
        "topics": [topic()],
        "claims": [
            claim(passage={"exact": "eine Nato-Mitgliedschaft der Ukraine sei nicht realistisch"}),
            claim(
                key="zelensky-nato-1",
                actor="volodymyr-zelensky",
                stance="SUPPORTS",
                passage={"exact": "Die Ukraine gehöre in die Nato"},
            ),
        ],
    }
    bad = {**document, "claims": [claim(passage={"exact": "Ukraine"})]}
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(bad, allow_unicode=True), encoding="utf-8")
    with ClaimsLedger.open(database_url) as ledger:
        with pytest.raises(ImportFileError) as error:
            import_file(ledger, tmp_path / "bad.yaml", principal="curator")
        assert "passage.exact" in str(error.value) and "occurs 2 times" in str(error.value)
        assert ledger.ledger_recorder.tree_head().size == 0  # nothing written
        (tmp_path / "good.yaml").write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
        import_file(ledger, tmp_path / "good.yaml", principal="curator")
        stored = ledger.get_claim("zelensky-nato-1").content["passage"]
    assert TEXT[stored["start"] : stored["end"]] == "Die Ukraine gehöre in die Nato"
    assert stored["suffix"] == TEXT[stored["end"] : stored["end"] + c.QUOTE_CONTEXT]


def test_a_revision_may_move_the_passage_by_words(database_url: str) -> None:
    with ClaimsLedger.open(database_url) as ledger:
        with ledger.batch("curator") as batch:
            batch.register_source(c.parse_source(source()))
            batch.register_actor(c.parse_actor(actor()))
            batch.define_topic(c.parse_topic(topic()))
            batch.record_claim(c.parse_claim(claim()))
        changes = c.parse_changes({"passage": {"exact": "Nato-Mitgliedschaft der Ukraine sei nicht realistisch"}})
        revised = ledger.revise_claim(c.ReviseClaim("hegseth-nato-1", 1, changes, "shorter passage"), "curator")
        stored = revised.content["passage"]
        assert TEXT[stored["start"] : stored["end"]] == "Nato-Mitgliedschaft der Ukraine sei nicht realistisch"
        with pytest.raises(BadInput) as error:
            ledger.revise_claim(
                c.ReviseClaim("hegseth-nato-1", 2, c.parse_changes({"passage": {"exact": "Ukraine"}}), "x"), "curator"
            )
        assert error.value.field == "passage.exact" and "occurs 2 times" in error.value.message
