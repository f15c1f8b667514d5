"""The extraction assistant's rules, on small German and English examples written for these tests."""

from __future__ import annotations

from datetime import date

import pytest

from ledger.extraction import KnownActor, KnownRole, KnownTopic, extract, find_statements
from ledger.extraction.dates import find_dates
from ledger.extraction.text import quotations, sentences

PUBLISHED = date(2025, 3, 14)  # a Friday
ACTORS = [
    KnownActor("friedrich-merz", "Friedrich Merz", aliases=("Merz",)),
    KnownActor("volodymyr-zelensky", "Volodymyr Zelensky", aliases=("Selenskyj", "Wolodymyr Selenskyj")),
    KnownActor("vladimir-putin", "Vladimir Putin", roles=(KnownRole("President of Russia", date(2012, 5, 7)),)),
    KnownActor("emmanuel-macron", "Emmanuel Macron", roles=(KnownRole("President of France"),)),
    KnownActor("donald-trump", "Donald Trump", roles=(KnownRole("President of the United States", date(2025, 1, 20)),)),
]
TOPICS = [
    KnownTopic("air-defence", "Air defence for Ukraine", "Ukraine receives more air defence systems.", ("Luftabwehr",)),
    KnownTopic("ceasefire", "Ceasefire", "A ceasefire between Russia and Ukraine takes effect now."),
]


def one(text: str, lang: str = "de") -> tuple[str, dict[str, str | None]]:
    """The single statement of ``text``: its form and its parts as text."""
    found = find_statements(text, lang)
    assert len(found) == 1, [(s.form, text[s.message[0] : s.message[1]]) for s in found]
    st = found[0]
    return st.form, {
        "message": text[st.message[0] : st.message[1]],
        "cue": " ".join(text[s:e] for s, e in st.cue) or None,
        "source": text[st.source[0] : st.source[1]] if st.source else None,
    }


@pytest.mark.parametrize(
    "text, message",
    [
        ("„Wir bleiben an der Seite der Ukraine“, sagte Merz.", "„Wir bleiben an der Seite der Ukraine“"),
        ("»Wir bleiben an der Seite der Ukraine«, sagte Merz.", "»Wir bleiben an der Seite der Ukraine«"),
        ('"Wir bleiben an der Seite der Ukraine", sagte Merz.', '"Wir bleiben an der Seite der Ukraine"'),
        ("«Wir bleiben an der Seite der Ukraine», sagte Merz.", "«Wir bleiben an der Seite der Ukraine»"),
    ],
)
def test_direct_quotes_in_every_quotation_style(text: str, message: str) -> None:
    form, parts = one(text)
    assert form == "Direct"
    assert parts == {"message": message, "cue": "sagte", "source": "Merz"}


def test_direct_quote_after_a_colon_with_the_speaker_before() -> None:
    form, parts = one("Selenskyj schrieb auf X: „Wir brauchen mehr Luftabwehr, und zwar jetzt.“")
    assert form == "Direct" and parts["cue"] == "schrieb" and parts["source"] == "Selenskyj"
    assert parts["message"] == "„Wir brauchen mehr Luftabwehr, und zwar jetzt.“"


def test_a_short_scare_quote_or_a_quoted_name_is_no_statement() -> None:
    assert find_statements("Das Schiff „Graf Zeppelin“ wurde gefunden.") == []
    assert find_statements("Er sagte, die „Partei der Volksmacht für Freiheit“ sei verboten.")[0].form == "Indirect"
    form, parts = one("„Jeder Tag ohne Patriot kostet Leben“, schrieb Selenskyj.")  # German capitalises nouns
    assert form == "Direct" and parts["source"] == "Selenskyj"


def test_indirect_speech_with_konjunktiv_after_a_speech_verb() -> None:
    form, parts = one("Der Kanzler sagte am Montag, die Lage sei ernst.")
    assert form == "Indirect"
    assert parts == {"message": "die Lage sei ernst", "cue": "sagte", "source": "Der Kanzler"}


def test_dass_clause_and_a_perfect_tense_cue() -> None:
    form, parts = one("Macron hat am Dienstag betont, dass Europa geschlossen handeln müsse.")
    assert form == "Indirect" and parts["cue"] == "hat betont" and parts["source"] == "Macron"
    assert parts["message"] == "dass Europa geschlossen handeln müsse"


def test_separable_verb_cue_takes_its_particle() -> None:
    form, parts = one("Das Ministerium teilte am Abend mit, die Lieferung sei abgeschlossen.")
    assert form == "Indirect"
    assert parts["cue"] == "teilte mit" and parts["source"] == "Das Ministerium"
    assert parts["message"] == "die Lieferung sei abgeschlossen"


def test_message_before_the_cue_with_the_speaker_after_it() -> None:
    form, parts = one("Die Sanktionen wirkten nicht, erklärte ein Sprecher des Kremls.")
    assert form == "Indirect" and parts["cue"] == "erklärte"
    assert parts["message"] == "Die Sanktionen wirkten nicht" and parts["source"] == "ein Sprecher des Kremls"


@pytest.mark.parametrize(
    "text, cue, source, message",
    [
        ("Laut Kremlsprecher Peskow ist Moskau zu Gesprächen bereit.", "Laut", "Kremlsprecher Peskow",
         "ist Moskau zu Gesprächen bereit"),
        ("Dem Bericht der Zeitung zufolge wurden zwei Städte angegriffen.", "zufolge", "Dem Bericht der Zeitung",
         "wurden zwei Städte angegriffen"),
        ("Nach Angaben der Polizei gab es keine Verletzten.", "Nach", "Angaben der Polizei", "gab es keine Verletzten"),
        ("Die Gespräche seien produktiv gewesen, so Trump.", "so", "Trump", "Die Gespräche seien produktiv gewesen"),
        ("Wie die Agentur Reuters berichtete, wurde die Grenze geschlossen.", "Wie berichtete",
         "die Agentur Reuters", "wurde die Grenze geschlossen"),
    ],
)  # fmt: skip
def test_reported_speech_phrases(text: str, cue: str, source: str, message: str) -> None:
    form, parts = one(text)
    assert form == "Indirect"
    assert parts == {"message": message, "cue": cue, "source": source}


def test_konjunktiv_sentence_continues_the_last_speaker() -> None:
    text = "Merz sagte, die Hilfe gehe weiter. Deutschland werde keine Truppen schicken."
    first, second = find_statements(text)
    assert second.form == "IndirectFreeIndirect" and second.source == first.source
    assert text[second.message[0] : second.message[1]] == "Deutschland werde keine Truppen schicken."


def test_narrated_speech_act_is_reported_form() -> None:
    form, parts = one("Die Opposition kritisierte den Haushaltsplan scharf.")
    assert form == "Reported" and parts["source"] == "Die Opposition" and parts["cue"] is None


@pytest.mark.parametrize(
    "text, cue, source, message",
    [
        ('"We are close to a deal," Trump told reporters.', "told", "Trump", '"We are close to a deal,"'),
        ("The minister said that the plan would fail.", "said", "The minister", "that the plan would fail"),
        ("According to the Kremlin, Putin rejected the plan.", "According to", "the Kremlin",
         "Putin rejected the plan"),
        ("Zelensky wrote on X: “Ukraine will never accept this.”", "wrote", "Zelensky",
         "“Ukraine will never accept this.”"),
    ],
)  # fmt: skip
def test_english_statements(text: str, cue: str, source: str, message: str) -> None:
    _, parts = one(text, "en")
    assert parts == {"message": message, "cue": cue, "source": source}


def test_sentences_keep_ordinals_abbreviations_and_quotes_together() -> None:
    text = "Am 29. Dezember sprach Dr. Weber. „Das ist gut.“ Dann ging er."
    assert [text[s.start : s.end] for s in sentences(text)] == [
        "Am 29. Dezember sprach Dr. Weber.",
        "„Das ist gut.“",
        "Dann ging er.",
    ]
    assert quotations(text) == [(34, 48)]


@pytest.mark.parametrize(
    "expression, expected, precision, approximate",
    [
        ("am Mittwoch", "2025-03-12", "DAY", False),
        ("gestern", "2025-03-13", "DAY", False),
        ("am gestrigen Donnerstag", "2025-03-13", "DAY", False),
        ("vor zwei Wochen", "2025-02-28", "DAY", True),
        ("am 29. Dezember 2024", "2024-12-29", "DAY", False),
        ("am 29. Dezember", "2024-12-29", "DAY", False),  # the latest 29 December before publication
        ("am 02.03.2025", "2025-03-02", "DAY", False),
        ("Anfang März", "2025-03", "MONTH", True),
        ("on Wednesday", "2025-03-12", "DAY", False),
        ("last week", "2025-03-07", "DAY", True),
        ("two days ago", "2025-03-12", "DAY", False),
        ("on March 3, 2025", "2025-03-03", "DAY", False),
        ("im Februar", "2025-02", "MONTH", False),
    ],
)
def test_relative_dates_against_the_publication_date(
    expression: str, expected: str, precision: str, approximate: bool
) -> None:
    (found,) = find_dates(f"Er sagte das {expression} in Berlin.", PUBLISHED)
    partial = found.to_partial()
    assert (partial["date"], partial["precision"], partial["approximate"]) == (expected, precision, approximate)
    assert expression.split()[-1] in partial["note"]  # the note quotes the expression


def test_candidates_resolve_speakers_by_name_alias_accent_and_role() -> None:
    text = (
        "Wolodymyr Selenskyj sagte am Mittwoch, die Ukraine brauche mehr Luftabwehr. "
        "Der Kremlchef erklärte gestern, ein Waffenstillstand komme nicht in Frage. "
        "„Wir werden sehen“, sagte der französische Präsident. "
        "MERZ betonte, Europa müsse mehr tun."
    )
    by_message = {c.exact: c for c in extract(text, PUBLISHED, actors=ACTORS, topics=TOPICS)}
    luft = by_message["die Ukraine brauche mehr Luftabwehr"]
    assert luft.actor == "volodymyr-zelensky" and luft.stated["date"] == "2025-03-12"
    assert luft.topics[0][0] == "air-defence"  # via the topic's keyword
    kreml = by_message["ein Waffenstillstand komme nicht in Frage"]
    assert kreml.actor == "vladimir-putin" and "role" in kreml.notes[0]
    assert kreml.stated["date"] == "2025-03-13"
    assert by_message["„Wir werden sehen“"].actor == "emmanuel-macron"
    assert by_message["„Wir werden sehen“"].attribution == "DIRECT_QUOTE"
    assert by_message["Europa müsse mehr tun"].actor == "friedrich-merz"  # case-insensitive


def test_pronouns_resolve_only_when_one_speaker_fits() -> None:
    safe = extract("Merz sagte, die Hilfe gehe weiter. Er betonte, Europa müsse handeln.", PUBLISHED, actors=ACTORS)
    assert [c.actor for c in safe] == ["friedrich-merz", "friedrich-merz"]
    unsafe = extract(
        "Merz sagte, die Hilfe gehe weiter. Selenskyj sagte, das reiche nicht. Er betonte, Europa müsse handeln.",
        PUBLISHED,
        actors=ACTORS,
    )
    assert unsafe[-1].actor is None and "could be any of" in unsafe[-1].notes[0]


def test_unknown_speaker_is_proposed_as_a_new_actor() -> None:
    (cand,) = extract("Der Abgeordnete Karl Beispielmann sagte, das Gesetz sei falsch.", PUBLISHED, actors=ACTORS)
    assert cand.actor is None
    assert cand.proposed_actor == {
        "key": "der-abgeordnete-karl-beispielmann"[len("der-") :],
        "name": "Abgeordnete Karl Beispielmann",
        "kind": "PERSON",
        "aliases": ["Der Abgeordnete Karl Beispielmann"],
    }


def test_channel_attribution_and_no_forced_topic() -> None:
    (truth,) = extract(
        'Trump wrote on Truth Social: "The war must end now."', PUBLISHED, lang="en", actors=ACTORS, topics=TOPICS
    )
    assert truth.channel == "on Truth Social" and truth.actor == "donald-trump"
    (nbc,) = extract("Merz sagte in einem Interview mit NBC, das sei falsch.", PUBLISHED, actors=ACTORS, topics=TOPICS)
    assert nbc.channel == "in einem Interview mit NBC"
    assert nbc.topics == []  # no confident topic: none is forced
    (relayed,) = extract("Laut der Zeitung Bild sei der Plan gescheitert.", PUBLISHED, actors=ACTORS)
    assert relayed.attribution == "REPORTED"


def test_no_date_falls_back_to_publication_marked_approximate() -> None:
    (cand,) = extract("Merz sagte, die Lage sei ernst.", PUBLISHED, actors=ACTORS)
    assert cand.stated["date"] == "2025-03-14" and cand.stated["approximate"] is True


def test_the_actor_named_last_heads_the_mention_and_coordination_stays_open() -> None:
    actors = [*ACTORS, KnownActor("france", "France", kind="STATE", aliases=("Frankreich",))]
    (head,) = extract("Frankreichs Präsident Emmanuel Macron sagte, Europa sei bereit.", PUBLISHED, actors=actors)
    assert head.actor == "emmanuel-macron"
    (both,) = extract("Merz und Macron erklärten, Europa sei bereit.", PUBLISHED, actors=actors)
    assert both.actor is None and "several speakers" in both.notes[0]


def test_a_pronoun_finds_the_one_known_person_named_before_it() -> None:
    text = "Selenskyj reiste am Montag nach Paris. Dort sagte er, die Ukraine brauche Luftabwehr."
    (cand,) = extract(text, PUBLISHED, actors=ACTORS)
    assert cand.speaker == "er" and cand.actor == "volodymyr-zelensky"


def test_guillemets_in_either_direction_and_glued_marks() -> None:
    text = "Er sagte »Wir bleiben hier« und sie: «Wir gehen jetzt» – dann ging er."
    assert [text[s:e] for s, e in quotations(text)] == ["»Wir bleiben hier«", "«Wir gehen jetzt»"]
