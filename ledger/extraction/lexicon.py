"""Word lists the extraction rules use: speech verbs, Konjunktiv forms, role nouns, outlets.

Written by hand for German and English news; forms are generated from stems where the
inflection is regular, listed where it is not. Everything is lower case.
"""

from __future__ import annotations


def _weak(*stems: str) -> set[str]:
    """Forms of regular (weak) German verbs: sagen -> sagt, sagte, sagten, gesagt, sage, sagen."""
    forms: set[str] = set()
    for stem in stems:
        # an "e" joins the ending after t/d and after consonant + n/m: antwortete, leugnete; not betonte
        linker = "e" if stem.endswith(("t", "d")) or (stem[-1] in "nm" and stem[-2] not in "aeiouäöüyrlh") else ""
        forms |= {stem + "t" if not linker else stem + "et", stem + linker + "te", stem + linker + "ten", stem + "en"}
        forms |= {stem + "e", stem + "ete" if linker else stem + "te"}
        forms.add(
            ("" if stem.startswith(("be", "er", "ver", "zer", "ent", "emp", "miss")) or stem.endswith("ier") else "ge")
            + stem
            + ("et" if linker else "t")
        )
    return forms


# Verbs that introduce speech, writing or thought (the cue), German. Separable particles are
# listed in SEPARABLE so "teilte ... mit" is recognised with its particle.
DE_SPEECH_VERBS: set[str] = _weak(
    "sag", "erklär", "beton", "forder", "warn", "kritisier", "bericht", "behaupt", "mein", "bestätig",
    "versicher", "äußer", "zitier", "bekräftig", "ergänz", "antwort", "erläuter", "verlang", "meld",
    "verkünd", "mahn", "appellier", "droh", "beteuer", "argumentier", "dementier", "leugn", "twitter",
    "post", "bezweifel", "befürcht", "hoff", "vermut", "glaub", "schätz", "klag", "beklag", "lob",
    "fürcht", "frag", "widersprech", "kommentier", "bemerk", "prophezei", "plädier", "signalisier", "unterstell", "beharr", "bilanzier",
    "resümier", "insistier", "informier", "begründ", "erwart", "wert", "bewert", "veröffentlich", "würdig", "rechtfertig", "erinner",
    "attackier", "beschuldig", "bitt", "bemängel", "anprangern", "beanstand", "protestier", "demonstrier",
    "ermahn", "zusicher", "schilder", "beschreib", "wiederhol", "präzisier", "relativier", "versprech", "mutmaß", "spekulier", "urteil", "bekenn",
)  # fmt: skip
DE_SPEECH_VERBS |= {
    "schrieb", "schrieben", "schreibt", "schreiben", "geschrieben", "unterstrich", "unterstrichen",
    "unterstreicht", "sprach", "sprachen", "spricht", "gesprochen", "rief", "riefen", "ruft", "gerufen",
    "gab", "gaben", "gibt", "wies", "wiesen", "weist", "gewiesen", "verwies", "verwiesen",
    "verweist", "bestritt", "bestritten", "bestreitet", "warf", "warfen", "wirft", "geworfen",
    "vorgeworfen", "nannte", "nannten", "nennt", "bezeichnete", "bezeichneten", "bezeichnet",
    "hieß", "heißt", "schlug", "schlugen", "schlägt", "vorgeschlagen", "empfahl", "empfahlen", "empfiehlt",
    "empfohlen", "widersprach", "widersprachen", "widerspricht", "widersprochen", "versprach",
    "versprachen", "verspricht", "versprochen", "stellte", "stellten", "stellt", "festgestellt",
    "entgegnete", "entgegneten", "entgegnet", "fügte", "fügten", "fügt", "hinzugefügt", "teilte",
    "teilten", "teilt", "mitgeteilt", "kündigte", "kündigten", "kündigt", "angekündigt", "räumte",
    "räumten", "räumt", "eingeräumt", "führte", "führten", "führt", "ausgeführt", "gestand",
    "gestanden", "gesteht", "zugegeben", "angegeben", "bekanntgegeben", "bekannt", "erwiderte",
    "erwiderten", "erwidert", "verlautete", "verlautbarte", "dementierte", "sieht", "sah", "sahen",
    "geht", "ging", "gingen", "lautete", "lautet", "meinte", "meinten", "kritisierte",
    # verb-final forms of separable verbs in subordinate clauses ("wie die Polizei mitteilte")
    "mitteilte", "mitteilten", "mitteilt", "vorwarf", "vorwarfen", "vorwirft", "ausführte", "ausführt",
    "hinwies", "hinweist", "hingewiesen", "ankündigte", "ankündigten", "ankündigt", "bekanntgab", "feststellte",
    "feststellt", "zugab", "angab", "angaben", "einräumte", "hinzufügte", "aufforderte", "aufforderten",
    "auffordert", "aufgefordert", "vorschlug", "vorschlägt", "klarstellte", "zusicherte", "zugesichert",
    "zugesagt", "zusagte", "hervorhob", "hervorgehoben", "anprangerte", "anprangerten", "ablehnte", "abgelehnt",
    "beschrieb", "beschrieben", "bat", "baten", "gebeten", "beschloss", "beschlossen", "entschied",
    "entschieden", "vertritt", "vertrat", "erhofft", "erhoffte", "formulierte", "formuliert", "bekräftigte",
    "sprechen", "werfen", "gehen", "rufen", "geben", "weisen", "schlagen", "nennen",
}  # fmt: skip
# Words that look like verb forms above but are almost never cues on their own.
DE_NOT_CUES = {"teilen", "teil", "stellen", "stelle", "weisen", "weise", "gab", "gaben", "gibt", "führen",
               "bekannt", "geht", "ging", "gingen", "sieht", "sah", "sahen", "hoffen", "glauben", "lautet",
               "lautete", "post", "posten", "heißt", "hieß", "füge", "fügen", "räumen", "räume", "kündigen",
               "frage", "fragen", "lobe", "loben", "teile", "führe", "schätzen", "hoffe", "meinen", "deuten",
               "deute", "deutet", "deutete", "fragt", "fragte", "lob", "gelobt"}  # fmt: skip
# Separable particles that complete a cue ("teilte ... mit", "wies ... hin", "gab ... an").
SEPARABLE = {
    "teilte": {"mit"}, "teilten": {"mit"}, "teilt": {"mit"}, "wies": {"hin", "zurück"}, "wiesen": {"hin", "zurück"},
    "weist": {"hin", "zurück"}, "gab": {"an", "bekannt", "zu"}, "gaben": {"an", "bekannt", "zu"}, "gibt": {"an", "bekannt", "zu"},
    "fügte": {"hinzu"}, "fügten": {"hinzu"}, "fügt": {"hinzu"}, "kündigte": {"an"}, "kündigten": {"an"},
    "kündigt": {"an"}, "räumte": {"ein"}, "räumten": {"ein"}, "räumt": {"ein"}, "führte": {"aus"},
    "führten": {"aus"}, "führt": {"aus"}, "stellte": {"fest", "klar"}, "stellten": {"fest", "klar"},
    "stellt": {"fest", "klar"}, "warf": {"vor"}, "warfen": {"vor"}, "wirft": {"vor"}, "schlug": {"vor"},
    "schlugen": {"vor"}, "schlägt": {"vor"}, "rief": {"auf"}, "riefen": {"auf"}, "ruft": {"auf"},
    "geht": {"aus", "hervor"}, "ging": {"aus", "hervor"}, "gingen": {"aus"}, "sieht": {"vor"}, "sah": {"vor"},
    "deutete": {"an"}, "deutet": {"an"}, "hob": {"hervor"}, "hebt": {"hervor"}, "gehen": {"aus"}, "werfen": {"vor"}, "rufen": {"auf"},
    "geben": {"an", "bekannt", "zu"}, "weisen": {"hin"}, "schlagen": {"vor"}, "prangerte": {"an"},
    "prangerten": {"an"}, "prangert": {"an"}, "lehnte": {"ab"}, "lehnten": {"ab"}, "lehnt": {"ab"},
    "sicherte": {"zu"}, "sicherten": {"zu"}, "sagte": {"zu"},
}  # fmt: skip
# Cues that need their particle to count (gab alone is not speech; gab an is).
NEEDS_PARTICLE = {"teilte", "teilten", "teilt", "wies", "wiesen", "weist", "gab", "gaben", "gibt", "fügte",
                  "fügten", "fügt", "kündigte", "kündigten", "kündigt", "räumte", "räumten", "räumt", "führte",
                  "führten", "führt", "stellte", "stellten", "stellt", "warf", "warfen", "wirft", "schlug",
                  "schlugen", "schlägt", "rief", "riefen", "ruft", "geht", "ging", "gingen", "sieht", "sah",
                  "deutete", "deutet", "hob", "hebt", "prangerte", "prangerten", "prangert", "lehnte", "lehnten",
                  "lehnt", "sicherte", "sicherten", "gehen", "werfen", "rufen", "geben", "weisen",
                  "schlagen"}  # fmt: skip

EN_SPEECH_VERBS = {
    "said", "says", "say", "told", "tells", "wrote", "writes", "added", "adds", "stated", "states", "warned",
    "warns", "argued", "argues", "claimed", "claims", "insisted", "insists", "noted", "notes", "announced",
    "announces", "declared", "declares", "stressed", "stresses", "explained", "explains", "replied",
    "replies", "posted", "tweeted", "urged", "urges", "acknowledged", "admitted", "admits", "denied",
    "denies", "suggested", "suggests", "predicted", "promised", "promises", "vowed", "vows", "asserted",
    "emphasized", "emphasised", "confirmed", "confirms", "reported", "reports", "believes", "believed",
    "thinks", "thought", "criticized", "criticised", "demanded", "demands", "called", "cautioned",
    "complained", "conceded", "countered", "responded", "maintained", "maintains", "pledged", "recalled",
    "remarked", "repeated", "revealed", "signalled", "signaled", "agreed",
}  # fmt: skip

# "nach" attributes only before a noun of saying: "nach Angaben der Polizei".
DE_NACH_NOUNS = ("angaben", "informationen", "berichten", "bericht", "aussage", "aussagen", "ansicht",
                 "einschätzung", "meinung", "darstellung", "auffassung", "worten", "schätzungen", "erkenntnissen",
                 "ermittlungen", "meldungen", "medienberichten", "recherchen", "äußerungen", "überzeugung",
                 "berechnungen", "vorhersage", "auskunft", "auskünften", "bekunden", "vernehmen", "veröffentlichung",
                 "schätzung", "zählung", "umfrage", "studie", "untersuchung", "prognose", "analyse", "zahlen",
                 "daten", "statistik", "sicht", "einschätzungen", "mitteilung", "erklärung", "aussagen")  # fmt: skip

# Konjunktiv I (and the Konjunktiv II forms used in its place) of frequent verbs: the mark
# of German indirect speech. Third person, singular and plural.
KONJUNKTIV = {
    "sei", "seien", "seiest", "habe", "werde", "könne", "müsse", "solle", "wolle", "dürfe", "möge", "gebe",
    "wisse", "stehe", "liege", "komme", "gehe", "bleibe", "lasse", "trage", "sehe", "brauche", "gelte",
    "fehle", "handle", "handele", "besitze", "erwarte", "plane", "arbeite", "verfüge", "spiele", "halte",
    "denke", "glaube", "lehne", "unterstütze", "beabsichtige", "befinde", "benötige", "bestehe", "betrage",
    "drohe", "entspreche", "erfolge", "existiere", "finde", "führe", "gehöre", "hänge", "helfe", "hoffe",
    "kenne", "lebe", "nehme", "passe", "reiche", "scheine", "schließe", "setze", "spreche", "stimme",
    "teile", "treffe", "verstoße", "wachse", "zeige", "ziehe", "bedeute", "bringe", "mache",
    "hätte", "hätten", "wäre", "wären", "würde", "würden", "könnten", "müssten", "sollten", "dürften",
}  # fmt: skip
# Words introducing the complement clause of a speech verb.
COMPLEMENTIZERS = {"dass", "daß", "ob", "wie", "warum", "weshalb", "wann", "wo", "that", "whether", "how", "why"}

PRONOUNS_DE = {"er", "sie", "es", "ihm", "ihr"}
PRONOUNS_EN = {"he", "she", "they", "it"}
ARTICLES = {"der", "die", "das", "des", "dem", "den", "ein", "eine", "einer", "eines", "einem", "einen",
            "the", "a", "an"}  # fmt: skip
# Tokens that end a speaker noun phrase after the cue ("sagte Merz am Montag").
NP_STOPS = {
    "am", "im", "in", "auf", "bei", "gegenüber", "mit", "vor", "nach", "zu", "zum", "zur", "auch", "dabei",
    "jedoch", "aber", "noch", "bereits", "heute", "gestern", "dann", "weiter", "ferner", "außerdem", "zudem",
    "dazu", "nun", "erneut", "dagegen", "daher", "deshalb", "jetzt", "schon", "damals", "zuvor", "später",
    "kürzlich", "inzwischen", "ebenfalls", "allerdings", "gleichzeitig", "nicht", "sich", "es", "man", "dass",
    "ob", "und", "oder", "sei", "seien", "habe", "werde", "wolle", "könne", "müsse", "solle", "on", "at",
    "to", "that", "after", "before", "during", "last", "yesterday", "today", "earlier", "this", "and", "but", "while", "when", "as", "wie", "als", "wenn", "während", "über", "gegen", "für", "um",
    "vergangene", "vergangenen", "letzte", "letzten", "diese", "dieser", "diesen", "einem", "einer", "eines",
    "later", "ago", "also", "then", "now", "still", "again", "already", "once", "recently", "first",
    "had", "has", "have", "was", "were", "is", "are", "will", "would", "could", "should", "did", "does",
    "hingegen", "indes", "wiederum", "jedenfalls", "offenbar", "demnach", "zufolge", "laut", "gemäß", "sowie",
    "wörtlich", "erst", "gerade", "ebenso", "selbst", "zuletzt", "daraufhin", "hierzu",
}  # fmt: skip
# Sentence-initial adverbs and connectives cut from the front of a speaker phrase.
LEADING_FILLERS = {"so", "auch", "dagegen", "und", "doch", "zudem", "hierzu", "dazu", "außerdem", "aber",
                   "jedoch", "nun", "später", "zuvor", "denn", "daraufhin", "ebenso", "ferner", "also",
                   "but", "and", "meanwhile", "however", "later", "then", "still", "ebenfalls"}  # fmt: skip
# Clause starts after which the subject follows the verb ("Am Montag sagte Merz").
PREPOSITIONS = {"am", "im", "in", "auf", "bei", "nach", "vor", "während", "gegenüber", "mit", "zu", "zum",
                "zur", "über", "seit", "bis", "an", "aus", "von", "vom", "für", "um", "unter", "gestern",
                "heute", "dabei", "dazu", "hierzu", "daraufhin", "zuvor", "später", "damals", "bereits",
                "zugleich", "weiter", "außerdem", "zudem", "ferner", "deshalb", "daher", "jetzt", "nun",
                "dort", "hier", "vorher", "anschließend", "schließlich", "erst", "noch", "damit", "darüber",
                "darauf", "so", "ebenfalls", "auch", "zuletzt", "offiziell", "bislang", "bisher", "zunächst",
                "inzwischen", "mittlerweile", "derzeit", "trotzdem", "dennoch", "somit", "allerdings", "weiterhin",
                "schon", "morgen", "kürzlich", "gleichzeitig", "ursprünglich", "zuerst", "erneut", "nochmals",
                "wiederholt", "ausdrücklich", "öffentlich", "ende", "anfang", "mitte", "zusammen", "laut",
                "nachdem", "wegen", "trotz", "angesichts", "zusätzlich", "letzte", "vergangene", "vorige",
                "kommende", "nächste", "diesmal", "jüngst", "demnächst"}  # fmt: skip

# Media: a statement attributed to one of these is relayed (REPORTED), not said first-hand.
OUTLET_WORDS = (
    "zeitung", "agentur", "dpa", "reuters", "afp", "ap ", "tagesschau", "spiegel", "zeit online", "bild",
    "faz", "welt", "handelsblatt", "süddeutsche", "taz", "ard", "zdf", "ntv", "n-tv", "rtl", "nbc", "cnn",
    "bbc", "fox news", "abc", "cbs", "times", "post", "guardian", "journal", "politico", "axios", "bloomberg",
    "xinhua", "interfax", "tass", "ria", "nachrichten", "magazin", "sender", "fernsehen", "radio",
    "newspaper", "news", "kyiv independent", "ukrinform", "al jazeera", "deutsche welle", "medien", "media",
    "bericht", "report", "presse",
)  # fmt: skip

# German role nouns and the words of an actor's role titles they stand for. An actor
# matches when one of its role titles contains every word of a row (case-insensitive).
ROLE_NOUNS: dict[str, tuple[tuple[str, ...], ...]] = {
    "kremlchef": (("president", "russia"),),
    "kremlsprecher": (("kremlin", "spokes"), ("press secretary", "russia")),
    "kreml-sprecher": (("kremlin", "spokes"), ("press secretary", "russia")),
    "us-präsident": (("president", "united states"),),
    "us-präsidenten": (("president", "united states"),),
    "präsident": (("president",),),
    "präsidenten": (("president",),),
    "präsidentin": (("president",),),
    "kanzler": (("chancellor",),),
    "bundeskanzler": (("chancellor", "germany"),),
    "kanzlerin": (("chancellor",),),
    "premierminister": (("prime minister",),),
    "premier": (("prime minister",),),
    "verteidigungsminister": (("minister of defence",), ("secretary of defense",), ("defence minister",)),
    "pentagon-chef": (("secretary of defense",),),
    "außenminister": (("foreign",), ("secretary of state",)),
    "kommissionspräsidentin": (("president", "european commission"),),
    "sondergesandte": (("envoy",),),
    "sondergesandter": (("envoy",),),
    "generalstabschef": (("chief", "general staff"),),
    "generalsekretär": (("secretary general",),),
    "sprecher": (("spokes",),),
    "sprecherin": (("spokes",),),
    "president": (("president",),),
    "chancellor": (("chancellor",),),
    "secretary": (("secretary",),),
    "spokesman": (("spokes",),),
    "spokeswoman": (("spokes",),),
}
# Adjectives of origin that narrow a role noun ("der russische Präsident").
ROLE_COUNTRIES = {
    "russische": "russia", "russischen": "russia", "ukrainische": "ukraine", "ukrainischen": "ukraine",
    "französische": "france", "französischen": "france", "britische": "united kingdom",
    "britischen": "united kingdom", "amerikanische": "united states", "amerikanischen": "united states",
    "us-amerikanische": "united states", "deutsche": "germany", "deutschen": "germany", "russian": "russia",
    "ukrainian": "ukraine", "french": "france", "british": "united kingdom", "german": "germany",
    "us": "united states", "us-": "united states", "american": "united states",
}  # fmt: skip

WEEKDAYS = {
    "montag": 0, "dienstag": 1, "mittwoch": 2, "donnerstag": 3, "freitag": 4, "samstag": 5, "sonnabend": 5,
    "sonntag": 6, "monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4, "saturday": 5,
    "sunday": 6,
}  # fmt: skip
MONTHS = {
    "januar": 1, "jänner": 1, "februar": 2, "märz": 3, "april": 4, "mai": 5, "juni": 6, "juli": 7,
    "august": 8, "september": 9, "oktober": 10, "november": 11, "dezember": 12, "january": 1,
    "february": 2, "march": 3, "may": 5, "june": 6, "july": 7, "october": 10, "december": 12,
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "sept": 9, "okt": 10,
    "oct": 10, "nov": 11, "dez": 12, "dec": 12,
}  # fmt: skip
NUMBERS = {
    "ein": 1, "einem": 1, "einer": 1, "zwei": 2, "drei": 3, "vier": 4, "fünf": 5, "sechs": 6, "sieben": 7,
    "acht": 8, "neun": 9, "zehn": 10, "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5,
    "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10, "einigen": 3, "several": 3, "few": 3,
}  # fmt: skip
