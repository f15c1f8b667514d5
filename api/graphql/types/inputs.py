"""Mutation inputs, generated from the record declarations in ``ledger.records``.

A field declared there (its name, type, optionality and description) appears here
without another edit. The API turns an input into the plain dict the parser
(``ledger.commands.parse_*``) takes and leaves validation to it."""

from __future__ import annotations

from datetime import date
from enum import Enum
from types import UnionType
from typing import TYPE_CHECKING, Annotated, Any, TypeAlias, Union, get_args, get_origin

import strawberry
from pydantic import BaseModel
from strawberry.types.unset import UNSET

from api.graphql.types.enums import Attribution, Stance
from ledger import records
from ledger.records import ImportOnly


def _graphql(annotation: Any) -> Any:
    """The GraphQL input type of a declared field's type (``X | None`` is handled by the caller)."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _graphql(get_args(annotation)[0])
    if origin in (Union, UnionType):
        inner = [a for a in get_args(annotation) if a is not type(None)]
        if len(inner) != 1:
            raise TypeError(f"no GraphQL input type for {annotation!r}")
        return _graphql(inner[0]) | None
    if origin is list:
        return list[_graphql(get_args(annotation)[0])]  # type: ignore[misc]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return _INPUTS[annotation]
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return annotation  # a vocabulary of the ledger, made a GraphQL enum in api.graphql.types.enums
    if annotation in (str, int, float, bool, date):
        return annotation
    raise TypeError(f"no GraphQL input type for {annotation!r}")


_INPUTS: dict[type[BaseModel], type] = {}


def input_type(model: type[BaseModel], name: str, *, partial: bool = False) -> type:
    """The GraphQL input type of a record declared in ``ledger.records``.

    Fields keep the declaration's names (a pydantic alias is the GraphQL name), types and
    descriptions; the type's description is the model's docstring. A required field is
    non-null; an optional one is nullable with default null, listed after the required ones.
    ``partial`` makes every field nullable and omittable (UNSET), for a set of changes.
    Fields marked ``ImportOnly`` are left out."""
    declared = [(n, f) for n, f in model.model_fields.items() if not any(isinstance(m, ImportOnly) for m in f.metadata)]
    if not partial:
        declared.sort(key=lambda item: not item[1].is_required())  # stable: declaration order within each group
    annotations: dict[str, Any] = {}
    namespace: dict[str, Any] = {"__module__": __name__, "__qualname__": name}
    for field_name, info in declared:
        kind = _graphql(info.annotation)
        options: dict[str, Any] = {"description": info.description}
        if info.alias and info.alias != field_name:
            options["name"] = info.alias
        if partial:
            annotations[field_name], options["default"] = kind | None, UNSET
        elif not info.is_required():
            annotations[field_name], options["default"] = kind | None, None
        else:
            annotations[field_name] = kind
        namespace[field_name] = strawberry.field(**options)
    namespace["__annotations__"] = annotations
    doc = " ".join((model.__doc__ or "").split()) or None
    made = strawberry.input(type(name, (), namespace), name=name, description=doc)
    _INPUTS[model] = made
    return made


# The mutation inputs, generated from the record declarations (nested parts first).
if TYPE_CHECKING:
    PartialDateInput: TypeAlias = Any
    PassageInput: TypeAlias = Any
    QuoteInput: TypeAlias = Any
    RoleInput: TypeAlias = Any
    RegisterSourceInput: TypeAlias = Any
    RegisterActorInput: TypeAlias = Any
    DefineTopicInput: TypeAlias = Any
    RecordClaimInput: TypeAlias = Any
    ClaimChangesInput: TypeAlias = Any
else:
    PartialDateInput = input_type(records.DateFields, "PartialDateInput")
    PassageInput = input_type(records.Passage, "PassageInput")
    QuoteInput = input_type(records.Quote, "QuoteInput")
    RoleInput = input_type(records.Role, "RoleInput")
    RegisterSourceInput = input_type(records.Source, "RegisterSourceInput")
    RegisterActorInput = input_type(records.Actor, "RegisterActorInput")
    DefineTopicInput = input_type(records.Topic, "DefineTopicInput")
    RecordClaimInput = input_type(records.Claim, "RecordClaimInput")
    ClaimChangesInput = input_type(records.ClaimChanges, "ClaimChangesInput", partial=True)


@strawberry.input(description="Which claims to list; all conditions must hold.")
class ClaimFilter:
    actor: str | None = strawberry.field(default=None, description="Actor key, name or alias (any case, accents).")
    topic: str | None = strawberry.field(default=None, description="Topic key or title (any case, accents).")
    source: strawberry.ID | None = strawberry.field(default=None, description="Source id.")
    stance: Stance | None = None
    attribution: Attribution | None = None
    stated_from: date | None = strawberry.field(default=None, description="Counts from (Claim.countsFrom) on or after.")
    stated_to: date | None = strawberry.field(default=None, description="Counts from (Claim.countsFrom) on or before.")
    text: str | None = strawberry.field(
        default=None,
        description="Substring of the summary or of the quote (not across the two), any case, any Unicode normal "
        "form (composed or decomposed accents; ligatures and full-width letters as plain ones).",
    )
    include_retracted: bool = False


def plain(value: Any) -> Any:
    """An input object as the dict ``ledger.commands`` parses: enums by value, unset and null fields dropped."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, date):
        return value.isoformat()
    definition = getattr(type(value), "__strawberry_definition__", None)
    if definition is None:
        return value
    out: dict[str, Any] = {}
    for field in definition.fields:
        item = getattr(value, field.python_name)
        if item is UNSET or item is None:
            continue
        out[field.graphql_name or field.python_name] = plain(item)
    return out


def changes(value: ClaimChangesInput) -> dict[str, Any]:
    """Like ``plain`` but an explicit null stays (it clears the field)."""
    definition = ClaimChangesInput.__strawberry_definition__
    out: dict[str, Any] = {}
    for field in definition.fields:
        item = getattr(value, field.python_name)
        if item is not UNSET:
            out[field.python_name] = None if item is None else plain(item)
    return out
