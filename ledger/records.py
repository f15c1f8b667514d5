"""The shape of every record the ledger takes in, each declared once.

A model here is the one declaration of a command's fields, types, limits and
descriptions. From it follow:

- validation: ``ledger.commands`` checks plain data (from an import file, the API
  or the command line) with it; :func:`bad_input` turns pydantic's first error
  into a :class:`BadInput` naming the field path, with the ledger's own wording;
- the import file's JSON Schema (:class:`ImportFile`; ``python -m ledger.records``
  writes ``ledger/schema/import-v1.schema.json``, and a test fails when it is stale);
- the GraphQL input types (``api/graphql/types/inputs.py`` builds them from these models).

A new optional field of a claim is one line in :class:`ClaimContent`: it reaches
the JSON Schema, both GraphQL inputs (record and revise), the parsed content and
the ``Claim.Recorded``/``Claim.Revised`` events (which carry the content as a dict)
without another edit. Rules that need other records (does the actor exist, does
the passage occur in the source) stay in ``ledger.application``.
"""

from __future__ import annotations

import copy
import json
import re
import sys
from collections.abc import Sequence
from datetime import date as Date
from enum import Enum, StrEnum
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Literal, NotRequired, Required, Union, get_args, get_origin

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    Strict,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    WrapSerializer,
    create_model,
    model_serializer,
    model_validator,
)
from pydantic_core import PydanticCustomError
from typing_extensions import TypedDict  # pydantic needs its TypedDict before Python 3.12

from ledger.dates import PartialDate, Precision
from ledger.errors import BadInput

# Limits: generous for real material, small enough that nobody stores a book by accident.
MAX_KEY = 80
MAX_NAME = 300
MAX_TEXT = 2_000_000
MAX_SUMMARY = 2_000
MAX_QUOTE = 5_000
MAX_SHORT = 500
MAX_REASON = 2_000
MAX_LIST = 100
MAX_NOTE = 500
MAX_QID = 20

KEY = r"^[a-z0-9]+(-[a-z0-9]+)*$"
LANGUAGE = r"^[a-z]{2}$"
QID = r"^Q[1-9][0-9]*$"
URL = r"^https?://\S+$"
DATE = r"^\d{4}(-\d{2}(-\d{2})?)?$"
# What a value that does not match each pattern is told ({value!r} is the value).
PATTERN_REASONS = {
    KEY: "{value!r} is not a key (lower-case letters, digits and single hyphens)",
    LANGUAGE: "{value!r} is not an ISO 639-1 code such as 'de'",
    QID: "{value!r} is not a Wikidata QID such as 'Q22686'",
    URL: "{value!r} is not an http(s) URL",
    DATE: "{value!r} is not YYYY-MM-DD, YYYY-MM or YYYY",
}
# Control characters, and the bidirectional controls that make a name display as another
# (U+202E turns "evil\u202eexe.txt" around). Zero-width joiners stay: Persian and Indic names need them.
UNSAFE_IN_NAMES = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


class Stance(StrEnum):
    SUPPORTS = "SUPPORTS"
    OPPOSES = "OPPOSES"
    CONDITIONAL = "CONDITIONAL"
    NEUTRAL = "NEUTRAL"


class Attribution(StrEnum):
    DIRECT_QUOTE = "DIRECT_QUOTE"
    INDIRECT_SPEECH = "INDIRECT_SPEECH"
    REPORTED = "REPORTED"
    EDITORIAL = "EDITORIAL"


class Genre(StrEnum):
    NEWS = "NEWS"
    COMMENTARY = "COMMENTARY"
    OPINION = "OPINION"
    PRIMARY_STATEMENT = "PRIMARY_STATEMENT"
    TRANSCRIPT = "TRANSCRIPT"


class ActorKind(StrEnum):
    PERSON = "PERSON"
    ORGANISATION = "ORGANISATION"
    STATE = "STATE"
    GROUP = "GROUP"


class Relation(StrEnum):
    SUPERSEDES = "SUPERSEDES"
    DISPUTES = "DISPUTES"


class ImportOnly:
    """Marks a field that import files may give but the GraphQL inputs leave out."""


IMPORT_ONLY = ImportOnly()


# ---------------------------------------------------------------- value types


def refuse(reason: str, field: str | None = None) -> PydanticCustomError:
    """An error a validator raises: ``reason`` verbatim, at the value's path (plus ``field`` below it)."""
    return PydanticCustomError("bad_input", "{reason}", {"reason": reason, "field": field})


def _clean(value: str) -> str:
    # NUL breaks PostgreSQL text (lone surrogates pydantic refuses itself: string_unicode).
    if "\x00" in value:
        raise refuse("contains a NUL character")
    return value


def _optional(value: str) -> str | None:
    return _clean(value) or None


def _name(value: str) -> str:
    found = UNSAFE_IN_NAMES.search(_clean(value))
    if found:
        raise refuse(f"contains the control character U+{ord(found.group()):04X}, which names must not hold")
    return value


def _optional_name(value: str) -> str | None:
    return _name(value) or None


def _not_blank(value: str) -> str:
    if value.isspace():  # as ``not value.strip()`` for the non-empty text it is given, without copying it
        raise refuse("must not be empty")
    return _clean(value)


def _stripped(limit: int, *, required: bool = True) -> StringConstraints:
    return StringConstraints(strip_whitespace=True, min_length=1 if required else None, max_length=limit)


# Text: surrounding whitespace removed; required text must not be empty, optional text that is
# blank reads as absent (None). Names and titles refuse control characters (see UNSAFE_IN_NAMES).
# Verbatim text (a source's body, a passage's words) is kept exactly as given.
Summary = Annotated[str, _stripped(MAX_SUMMARY), AfterValidator(_clean)]
QuoteText = Annotated[str, _stripped(MAX_QUOTE), AfterValidator(_clean)]
ShortText = Annotated[str, _stripped(MAX_SHORT, required=False), AfterValidator(_optional)]
Title = Annotated[str, _stripped(MAX_SHORT), AfterValidator(_name)]
Name = Annotated[str, _stripped(MAX_NAME), AfterValidator(_name)]
OptionalName = Annotated[str, _stripped(MAX_NAME, required=False), AfterValidator(_optional_name)]
Body = Annotated[str, StringConstraints(min_length=1, max_length=MAX_TEXT), AfterValidator(_not_blank)]
Words = Annotated[str, StringConstraints(min_length=1, max_length=MAX_QUOTE), AfterValidator(_not_blank)]
Context = Annotated[str, StringConstraints(max_length=MAX_SHORT), AfterValidator(_clean)]


def _sorted_set(values: list[str]) -> list[str]:
    return sorted(set(values))


Key = Annotated[str, StringConstraints(strip_whitespace=True, max_length=MAX_KEY, pattern=KEY)]
Language = Annotated[str, StringConstraints(strip_whitespace=True, max_length=MAX_KEY, pattern=LANGUAGE)]
Reason = Annotated[str, _stripped(MAX_REASON), AfterValidator(_clean)]
Ref = Annotated[str, _stripped(MAX_KEY), AfterValidator(_clean)]  # a record's key or id
Offset = Annotated[int, Field(ge=0)]
Lax = Strict(False)  # enums and dates come as their string forms


class Record(BaseModel):
    """A record the ledger takes in: unknown fields refused, no silent type conversion."""

    model_config = ConfigDict(strict=True, extra="forbid", populate_by_name=True)


# ---------------------------------------------------------------- parts


def _date_object(value: Any) -> Any:
    """``2025-02`` is short for ``{date: 2025-02}``; a date object stands for its day."""
    if isinstance(value, Date):
        return {"date": value.isoformat()}
    if isinstance(value, str):
        return {"date": value}
    if isinstance(value, dict) and isinstance(value.get("date"), Date):
        return {**value, "date": value["date"].isoformat()}
    return value


_FIRST_DAY = Date.today()  # a day that has come, ever after: dates up to it never lie in the future


class DateFields(Record):
    """A date to DAY, MONTH or YEAR precision: 2025-02-12, 2025-02 or 2025."""

    date: Annotated[str, StringConstraints(pattern=DATE)]
    precision: Annotated[Annotated[Precision, Lax] | None, IMPORT_ONLY] = Field(
        None, description="Optional; must agree with the date's form."
    )
    approximate: bool = False
    note: Annotated[str, StringConstraints(max_length=MAX_NOTE)] | None = None

    @staticmethod
    def rule(fields: dict[str, Any]) -> None:
        """The rule across the validated fields (shared with :data:`claim_fields_validator`): the date agrees with
        its precision and has come; sets ``precision`` (from the date's form) and ``note`` (normalised)."""
        try:  # (the same few dates come again and again in an import: ledger.dates remembers them)
            parsed = PartialDate.from_fields(
                fields["date"], fields["precision"], fields["approximate"], fields["note"], ""
            )
        except BadInput as error:
            raise refuse(error.message, error.field.lstrip(".") or None) from None
        if parsed.earliest > _FIRST_DAY and parsed.earliest > Date.today():  # today() only when it can matter
            raise refuse(f"{parsed.iso()} lies in the future")
        fields["precision"] = parsed.precision
        fields["note"] = parsed.note

    @model_validator(mode="after")
    def _checked(self) -> DateFields:
        # Set as pydantic's __setattr__ sets a field (the value, and the field counted as set for
        # ``exclude_unset``), without its per-call dispatch: dates are validated once per claim and source.
        self.rule(self.__dict__)
        self.__pydantic_fields_set__.update(("precision", "note"))
        return self


PartialDateValue = Annotated[
    DateFields,
    BeforeValidator(_date_object, json_schema_input_type=Annotated[str, StringConstraints(pattern=DATE)] | DateFields),
]


class Passage(Record):
    """The passage of the source text by its words (exact, with prefix/suffix when the words occur more than
    once); start/end are optional and then checked. Typographic quotes, dashes and whitespace runs match their
    plain forms; the stored passage holds the source's own characters."""

    model_config = ConfigDict(json_schema_extra={"dependentRequired": {"start": ["end"], "end": ["start"]}})

    exact: Words
    start: Offset | None = None
    end: Offset | None = None
    prefix: Context | None = None
    suffix: Context | None = None

    @staticmethod
    def rule(fields: dict[str, Any]) -> None:
        """The rule across the validated fields (shared with :data:`claim_fields_validator`): both offsets or neither,
        in order, at most MAX_QUOTE apart."""
        start, end = fields["start"], fields["end"]
        if (start is None) != (end is None):
            missing = "end" if end is None else "start"
            raise refuse("must be given with the other offset, or leave both out to anchor by words", missing)
        if start is not None and end is not None:
            if end <= start:
                raise refuse(f"{end} must be greater than start {start}", "end")
            if end - start > MAX_QUOTE:
                raise refuse(f"spans {end - start} characters; the limit is {MAX_QUOTE}")

    @model_validator(mode="after")
    def _offsets(self) -> Passage:
        self.rule(self.__dict__)
        return self

    @staticmethod
    def given(fields: dict[str, Any]) -> dict[str, Any]:
        """The serialised form (shared with :data:`claim_fields_validator`): only what was given (all plain str/int);
        offsets are found later where they are missing."""
        return {k: v for k, v in fields.items() if v is not None}

    @model_serializer(mode="plain")
    def _given(self) -> dict[str, Any]:
        return self.given(self.__dict__)


class Quote(Record):
    text: QuoteText
    language: Language = Field(description="ISO 639-1 code of the quoted words, e.g. de.")


class Role(Record):
    title: Name
    start: Annotated[Date, Lax] | None = Field(None, alias="from")
    until: Annotated[Date, Lax] | None = None

    @model_validator(mode="after")
    def _in_order(self) -> Role:
        if self.start and self.until and self.until < self.start:
            raise refuse(f"{self.until} is before {self.start}", "until")
        return self


# ---------------------------------------------------------------- records


class Source(Record):
    """A source document (its text is stored once and never changes)."""

    key: Key
    title: Title
    text: Body
    publisher: OptionalName | None = None
    authors: Annotated[list[Name], Field(max_length=MAX_LIST)] = Field(default_factory=list)
    url: Annotated[str, StringConstraints(strip_whitespace=True, max_length=MAX_SHORT, pattern=URL)] | None = None
    published: PartialDateValue
    language: Language = Field(description="ISO 639-1 code of the source's language, e.g. de.")
    genre: Annotated[Genre, Lax]


class Actor(Record):
    key: Key
    name: Name
    kind: Annotated[ActorKind, Lax]
    aliases: Annotated[list[Name], Field(max_length=MAX_LIST), AfterValidator(_sorted_set)] = Field(
        default_factory=list
    )
    wikidata: Annotated[str, StringConstraints(strip_whitespace=True, max_length=MAX_QID, pattern=QID)] | None = None
    roles: Annotated[list[Role], Field(max_length=MAX_LIST)] = Field(default_factory=list)


class Topic(Record):
    key: Key
    title: Title
    proposition: Summary


class Keyed(Record):
    key: Key


class ClaimContent(Record):
    """What a claim says: the fields a revision may change. Stored as the claim's content."""

    actor: Key
    topic: Key
    stance: Annotated[Stance, Lax]
    summary: Summary
    quote: Quote | None = None
    value: ShortText | None = None
    conditions: ShortText | None = None
    stated: PartialDateValue
    channel: ShortText | None = None
    source: Ref = Field(description="The source's id or key.")
    passage: Passage
    attribution: Annotated[Attribution, Lax]


class Claim(ClaimContent, Keyed):  # bases in this order put ``key`` first
    """A claim: who (actor) said what (stance, summary) on which topic, when, where."""

    supersedes: Ref | None = Field(None, description="Key or id of a claim this one replaces.")
    disputes: Annotated[list[Ref], Field(max_length=MAX_LIST)] = Field(
        default_factory=list, description="Keys or ids of claims this one contradicts."
    )


CLAIM_FIELDS = tuple(ClaimContent.model_fields)
CLAIM_FIELD_SET = frozenset(CLAIM_FIELDS)
# A claim's fields that are not its content (its key and links), by their names in ``plain``.
_NOT_CONTENT = tuple(info.alias or name for name, info in Claim.model_fields.items() if name not in CLAIM_FIELD_SET)


def claim_content(claim: Claim) -> dict[str, Any]:
    """What a claim's events carry as its content: ``plain(claim)`` without its key and links.
    (The whole dump minus those is ~2 us a claim cheaper than pydantic's ``include`` filter.)"""
    content = plain(claim)
    for name in _NOT_CONTENT:
        del content[name]
    return content


# ---------------------------------------------------------------- a claim straight to its plain form


def _as_fields(model: type[Record]) -> Any:
    """``model``'s fields as a pydantic ``TypedDict`` of the same annotations and constraints (nested records
    the same way), validated straight to what :func:`plain` makes of a valid ``model``: enums as their values,
    the model's ``rule`` applied, defaults filled in, in field order, through its ``given`` serialiser if it
    has one. The fields, limits and rules are the model's own, not declared again."""
    decorators = model.__pydantic_decorators__
    checks = {d.info.mode for d in decorators.model_validators.values()}
    other = [decorators.validators, decorators.field_validators, decorators.root_validators]
    other += [decorators.field_serializers, decorators.computed_fields]
    if any(other) or checks - {"after"} or (checks and not hasattr(model, "rule")):
        raise TypeError(f"{model.__name__}: a validator claim_fields_validator cannot share: make it a ``rule``")
    if decorators.model_serializers and not hasattr(model, "given"):
        raise TypeError(f"{model.__name__}: a serialiser claim_fields_validator cannot share: make it a ``given``")
    rule = model.rule if checks else None  # type: ignore[attr-defined]
    given = model.given if decorators.model_serializers else None  # type: ignore[attr-defined]
    keys: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        aliases = {info.alias, info.validation_alias, info.serialization_alias} - {None, name}
        if aliases or info.exclude:
            raise TypeError(f"{model.__name__}.{name}: claim_fields_validator does not map aliases or exclusions")
        if not _dumps_as_validated(info.annotation, info.metadata):
            # the adapter only validates: a field whose JSON form differs from its validated value (a
            # serialiser, a date, a set...) would store other bytes than the model's dump
            raise TypeError(f"{model.__name__}.{name}: claim_fields_validator maps only JSON-shaped fields")
        annotation = _swapped(info.annotation)
        if info.is_required():
            keys[name] = Required[Annotated[(annotation, *info.metadata)] if info.metadata else annotation]
        else:  # pydantic fills the default in, and gives the fields in their declared order
            default = Field(default_factory=info.default_factory) if info.default_factory else Field(info.default)
            keys[name] = NotRequired[Annotated[(annotation, *info.metadata, default)]]
    fields: Any = _typed_dict(f"{model.__name__}Fields", keys)
    fields.__pydantic_config__ = ConfigDict(**{**model.model_config, "use_enum_values": True})
    if rule is None and given is None:
        return fields
    enums = [name for name, info in model.model_fields.items() if _holds_enum(info.annotation)]

    def finished(out: dict[str, Any]) -> dict[str, Any]:
        if rule is not None:
            rule(out)
            for name in enums:  # what the rule set there may be an enum: the JSON form is its value
                value = out[name]
                if isinstance(value, Enum):
                    out[name] = value._value_  # (``value`` is a Python property: two calls, once per claim)
        return out if given is None else given(out)  # type: ignore[no-any-return]

    return Annotated[fields, AfterValidator(finished)]


_typed_dict: Any = TypedDict  # called with a name and fields made at run time


_JSON_LEAVES = (str, int, float, bool, type(None))


def _dumps_as_validated(annotation: Any, metadata: Sequence[Any] = ()) -> bool:
    """Whether a value validated as ``annotation`` is already its own JSON-mode dump (enums aside, which
    the adapter gives as values): JSON leaves, enums, literals, records, and lists, unions and annotations
    of them, with no serialiser in the metadata."""
    if any(isinstance(m, PlainSerializer | WrapSerializer) for m in metadata):
        return False
    if isinstance(annotation, type):
        return issubclass(annotation, (*_JSON_LEAVES, Enum, Record))
    origin = get_origin(annotation)
    if origin is Annotated:
        return _dumps_as_validated(annotation.__origin__, annotation.__metadata__)
    if origin is Literal:
        return True
    if origin in (list, Union, UnionType):
        return all(_dumps_as_validated(arg) for arg in get_args(annotation))
    return False


def _holds_enum(annotation: Any) -> bool:
    if isinstance(annotation, type):
        return issubclass(annotation, Enum)
    return any(_holds_enum(arg) for arg in get_args(annotation))


def _swapped(annotation: Any) -> Any:
    """``annotation`` with every record in it (inside ``X | None``, ``list[X]``, ``Annotated[X, ...]``) as
    :func:`_as_fields` of it."""
    if isinstance(annotation, type) and issubclass(annotation, Record):
        return _as_fields(annotation)
    origin = get_origin(annotation)
    if origin is Annotated:
        return Annotated[(_swapped(annotation.__origin__), *annotation.__metadata__)]
    if origin is Union or origin is UnionType:
        return Union[tuple(_swapped(arg) for arg in get_args(annotation))]  # noqa: UP007
    if origin is list:
        return list[_swapped(get_args(annotation)[0])]  # type: ignore[misc]
    if _mentions_record(annotation):  # e.g. dict[str, Record]: not mapped here
        raise TypeError(f"claim_fields_validator cannot map records inside {annotation}")
    return annotation


def _mentions_record(annotation: Any) -> bool:
    if isinstance(annotation, type) and issubclass(annotation, Record):
        return True
    return any(_mentions_record(arg) for arg in get_args(annotation))


# ``plain(check(Claim, data))`` without building the models and dumping them (~2x faster; bench/RESULTS.md,
# import4). For every ``data`` it accepts the result is the same; what it refuses the caller checks with
# the model, which words the error (tests/test_records_fast.py compares both over good and bad input).
claim_fields_validator: Any = TypeAdapter(_as_fields(Claim)).validator


def _partial(model: type[Record], name: str, doc: str) -> type[Record]:
    """``model`` with every field optional (a change names only what changes); an explicit
    null is still checked against the field's type, so only optional fields can be cleared."""
    fields: dict[str, Any] = {}
    for field_name, info in model.model_fields.items():
        optional = copy.copy(info)
        optional.default, optional.default_factory = None, None
        fields[field_name] = (info.annotation, optional)
    partial: type[Record] = create_model(name, __base__=Record, __doc__=doc, **fields)
    return partial


ClaimChanges = _partial(
    ClaimContent, "ClaimChanges", "Fields to correct; omitted fields keep their value, null clears an optional one."
)


class Revision(Record):
    """A correction of the ledger's own record (wrong date, speaker, stance...). Applied once: 'key' identifies it on re-import."""

    key: Key
    claim: Ref
    changes: Annotated[ClaimChanges, Field(json_schema_extra={"minProperties": 1})]  # type: ignore[valid-type]
    reason: Reason


class Retraction(Record):
    claim: Ref
    reason: Reason


# ---------------------------------------------------------------- the import file

Review = Literal["pending", "accepted", "dismissed"]


class SourceEntry(Source):
    """A source; its text given inline or as a file next to the import file."""

    model_config = ConfigDict(json_schema_extra={"oneOf": [{"required": ["text"]}, {"required": ["text_file"]}]})

    text: Body = ""
    text_file: str | None = Field(
        None, description="Path of a UTF-8 text file, relative to the import file. Its bytes are registered unchanged."
    )


class ActorEntry(Actor):
    review: Review | None = Field(None, description="Set by `claims extract` on an actor it proposes; as for claims.")


class ClaimEntry(Claim):
    review: Review | None = Field(
        None,
        description="Set by `claims extract` on every candidate: 'pending' until a curator reviews it; 'accepted' "
        "imports it (recording that it came from the assistant and who accepted it); 'dismissed' skips it. "
        "Importing a file with pending records is an error unless the curator passes --accept-unreviewed.",
    )
    confidence: Annotated[float, Field(ge=0, le=1)] | None = Field(
        None, description="The assistant's confidence in the candidate (0-1)."
    )
    assistant: dict[str, Any] | None = Field(
        None,
        description="What the extraction assistant found (cue, speaker mention, form, rule, topic and stance "
        "suggestions, notes), for the curator; not stored with the claim.",
    )


class ImportFile(Record):
    """Curated sources, actors, topics, claims and corrections. YAML or JSON. Every section is optional; records
    are applied in the order sources, actors, topics, claims, revisions, retractions. Re-importing the same file
    writes nothing new."""

    format: Literal["claims-ledger/import/v1"]
    sources: list[SourceEntry] = Field(default_factory=list)
    actors: list[ActorEntry] = Field(default_factory=list)
    topics: list[Topic] = Field(default_factory=list)
    claims: list[ClaimEntry] = Field(default_factory=list)
    revisions: list[Revision] = Field(default_factory=list)
    retractions: list[Retraction] = Field(default_factory=list)


# ---------------------------------------------------------------- errors


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _reason(error: Any) -> tuple[str, str | None]:
    """The ledger's wording of one pydantic error, and a field below its location (if any)."""
    kind, ctx, value = error["type"], error.get("ctx") or {}, error.get("input")
    if kind == "bad_input":
        return ctx["reason"], ctx.get("field")
    if kind == "missing" or (value is None and kind.endswith("_type")):
        return "is required", None
    if kind == "extra_forbidden":
        return "is not a known field", None
    if kind == "string_pattern_mismatch":
        return PATTERN_REASONS.get(ctx["pattern"], "does not match {pattern}").format(value=value, **ctx), None
    if kind == "string_too_short":
        return "must not be empty", None
    if kind == "string_too_long":
        return f"is {len(value)} characters long; the limit is {ctx['max_length']}", None
    if kind == "too_long":
        return f"has {len(value)} entries; the limit is {ctx['max_length']}", None
    if kind == "enum":
        return f"{value!r} is not one of {ctx['expected'].replace(chr(39), '').replace(' or ', ', ')}", None
    if kind == "literal_error":
        return f"{value!r} is not {ctx['expected']}", None
    if kind == "string_unicode":
        return "is not valid UTF-8 text", None
    if kind == "string_type":
        return "must be a string", None
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return "must be an object", None
    if kind == "list_type":
        return "must be a list", None
    if kind == "bool_type":
        return "must be true or false", None
    if kind == "greater_than_equal" and ctx.get("ge") == 0:
        return "must be a non-negative integer", None
    if kind.startswith("date_"):
        return f"{value!r} is not a valid date YYYY-MM-DD", None
    if kind == "int_type":
        return "must be an integer", None
    return str(error["msg"]), None


def bad_input(error: ValidationError, where: str = "") -> BadInput:
    """The first problem pydantic found, as the ledger reports it: the field path and a clear reason."""
    first = error.errors(include_url=False)[0]
    reason, below = _reason(first)
    loc = tuple(first["loc"]) + ((below,) if below else ())
    path = _path(loc)
    if where:
        path = f"{where}.{path}" if path else where
    return BadInput(path or where, reason)


def check(model: type[Record], data: Any, where: str = "") -> Any:
    """``data`` validated as ``model``, or :class:`BadInput` naming the field."""
    try:
        # ``model.model_validate(data)`` without its keyword plumbing (~0.5 us a record of an import).
        return model.__pydantic_validator__.validate_python(data)
    except ValidationError as error:
        raise bad_input(error, where) from None


def plain(record: BaseModel, **kwargs: Any) -> dict[str, Any]:
    """The primitive form stored in events (enums and dates as their strings, aliases as field names)."""
    # ``record.model_dump(mode="json", by_alias=True, **kwargs)`` without its keyword plumbing.
    result: dict[str, Any] = record.__pydantic_serializer__.to_python(record, mode="json", by_alias=True, **kwargs)
    return result


# ---------------------------------------------------------------- the generated JSON Schema

SCHEMA_PATH = Path(__file__).parent / "schema" / "import-v1.schema.json"
SCHEMA_ID = "https://claims-ledger.invalid/schema/import-v1.schema.json"


def import_schema() -> dict[str, Any]:
    """The import file's JSON Schema, from :class:`ImportFile`.

    Shaped for ``jsonschema``'s messages and the importer's ``$ref`` inlining: optional
    values are ``type: [T, "null"]`` rather than ``anyOf``, no ``$ref`` has siblings,
    and pydantic's generated titles are left out."""
    raw = ImportFile.model_json_schema(mode="validation", ref_template="#/$defs/{model}")
    defs = raw.pop("$defs", {})
    tidy = _Tidy(defs)
    body = tidy.schema(raw)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "claims-ledger import file, format v1",
        **body,
        "$defs": tidy.referenced(),
    }


class _Tidy:
    def __init__(self, defs: dict[str, Any]) -> None:
        self.defs = defs
        self.used: set[str] = set()

    def referenced(self) -> dict[str, Any]:
        """Every definition the tidied schema refers to (refs inside definitions included)."""
        done: dict[str, Any] = {}
        while self.used - set(done):
            for name in sorted(self.used - set(done)):
                done[name] = self.schema(self.defs[name])
        return {name: done[name] for name in sorted(done)}

    def schema(self, node: dict[str, Any]) -> dict[str, Any]:
        node = {k: v for k, v in node.items() if k != "title"}
        if node.get("default", 0) is None or node.get("default", 0) is False or node.get("default") in ([], ""):
            del node["default"]
        any_of = node.get("anyOf")
        if isinstance(any_of, list) and len(any_of) == 2 and {"type": "null"} in any_of:
            other = next(s for s in any_of if s != {"type": "null"})
            rest = {k: v for k, v in node.items() if k != "anyOf"}
            if "$ref" in other:
                other = self.defs[other["$ref"].rsplit("/", 1)[1]]  # inline: jsonschema then names the inner error
            if isinstance(other.get("type"), str):
                return self.schema({**other, **rest, "type": [other["type"], "null"]})
            node = {**rest, "anyOf": [other, {"type": "null"}]}
        out: dict[str, Any] = {}
        for k, v in node.items():
            if k == "description" and isinstance(v, str):
                out[k] = " ".join(v.split())
            elif k in ("properties", "$defs", "dependentSchemas"):
                out[k] = {name: self.schema(s) for name, s in v.items()}
            elif k in ("items", "additionalProperties", "not") and isinstance(v, dict):
                out[k] = self.schema(v)
            elif k in ("anyOf", "oneOf", "allOf", "prefixItems"):
                out[k] = [self.schema(s) if isinstance(s, dict) else s for s in v]
            elif k == "$ref":
                self.used.add(v.rsplit("/", 1)[1])
                out[k] = v
            else:
                out[k] = v
        if "$ref" in out and len(out) > 1:  # a $ref with siblings: keep the reference alone
            ref = out.pop("$ref")
            out = {"allOf": [{"$ref": ref}], **out}
        return out


def write_schema(path: Path = SCHEMA_PATH) -> bool:
    """Write the JSON Schema; True when the file changed."""
    text = json.dumps(import_schema(), indent=2, ensure_ascii=False) + "\n"
    if path.exists() and path.read_text("utf-8") == text:
        return False
    path.write_text(text, "utf-8")
    return True


if __name__ == "__main__":
    changed = write_schema()
    print(f"{SCHEMA_PATH}: {'written' if changed else 'unchanged'}", file=sys.stderr)
