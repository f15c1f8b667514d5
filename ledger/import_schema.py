"""The import schema as a check: jsonschema's validator (the report of a refused file, with lines),
and the same schema compiled by fastjsonschema (a yes or no on a valid file, ~15x faster), used only
where it can never pass what jsonschema refuses (``ledger.importer.read``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import Any

import fastjsonschema
import jsonschema


def committed() -> dict[str, Any]:
    text = resources.files("ledger").joinpath("schema/import-v1.schema.json").read_text("utf-8")
    result: dict[str, Any] = json.loads(text)
    return result


@cache
def validator() -> jsonschema.Draft202012Validator:
    """The import schema with its local ``$ref``s inlined: the same rules and the same
    errors (no ``$ref`` in it has siblings, none is recursive), validated ~2.5x faster,
    since jsonschema resolves a reference per field of every record otherwise."""
    schema = committed()
    try:
        inlined = inline_refs({k: v for k, v in schema.items() if k != "$defs"}, schema, 0)
    except CannotInline:
        inlined = schema
    return jsonschema.Draft202012Validator(inlined)


class CannotInline(Exception):
    pass


# The keywords of the import schema that fastjsonschema's draft-07 code generator checks as jsonschema's
# 2020-12 validator does, under their draft-07 spelling; annotations it ignores, as jsonschema does.
_DRAFT07_SPELLING = {"dependentRequired": "dependencies"}
_SCHEMA_MAPS = frozenset({"properties", "patternProperties"})  # name -> schema
_SCHEMA_LISTS = frozenset({"anyOf", "allOf", "oneOf"})
_SUBSCHEMAS = frozenset({"items", "additionalProperties", "not", "propertyNames", "contains"})
_VALUES = frozenset(
    {"type", "enum", "const", "required", "pattern", "minLength", "maxLength", "minimum", "maximum",
     "exclusiveMinimum", "exclusiveMaximum", "minItems", "maxItems", "minProperties", "maxProperties",
     "uniqueItems", "dependentRequired", "format", "description", "title", "default", "examples", "$comment"}
)  # fmt: skip


@cache
def conforms() -> Callable[[Any], Any] | None:
    """The import schema compiled to Python (fastjsonschema): a yes or no on a whole file, ~15x faster
    than jsonschema, which stays the judge of a file this refuses (its line-numbered report).

    Sound only where it never passes what jsonschema refuses: it tests patterns with Python's ``re`` as
    jsonschema does (``$`` as end of text: stricter; a pattern with ``$`` elsewhere is not translated),
    types and limits alike but for a tuple, which it counts as an array (so items that may be arrays are
    not translated). Anything the translation does not know (a keyword added to the schema later,
    ``$ref``s not inlined) leaves it out: None, and every file is judged by jsonschema alone, as before."""
    inlined: Any = validator().schema
    if not isinstance(inlined, dict) or "$defs" in inlined:  # _inline_refs gave up
        return None
    try:
        body = draft07({k: v for k, v in inlined.items() if k not in ("$schema", "$id")})
    except CannotInline:
        return None
    return compiled(body)


def compiled(body: dict[str, Any]) -> Callable[[Any], Any] | None:
    """A draft-07 schema body compiled by fastjsonschema, or None when it cannot be compiled."""
    try:
        check: Callable[[Any], Any] = fastjsonschema.compile(
            {"$schema": "http://json-schema.org/draft-07/schema#", **body},
            use_default=False,  # never fill in defaults: the data is read, not changed
            use_formats=False,  # as jsonschema without a format checker: "format" annotates
        )
    except Exception:  # e.g. re.error from its pattern rewriting: jsonschema alone judges
        return None
    return check


def draft07(node: Any) -> dict[str, Any]:
    """An (inlined) 2020-12 schema in draft-07 spelling, or ``CannotInline`` for a keyword not known here."""
    if not isinstance(node, dict):
        raise CannotInline(repr(node))
    out: dict[str, Any] = {}
    keywords: dict[str, Any] = node
    for key, value in keywords.items():
        if key in _SCHEMA_MAPS:
            if key == "patternProperties" and not all(ends_only_at_end(name) for name in value):
                raise CannotInline(key)
            out[key] = {name: draft07(sub) for name, sub in value.items()}
        elif key in _SCHEMA_LISTS:
            out[key] = [draft07(sub) for sub in value]
        elif key in _SUBSCHEMAS:
            if key == "items" and may_be_array(value):
                # fastjsonschema counts a tuple (YAML's !!omap/!!pairs items) as an array, jsonschema does not
                raise CannotInline("items of type array")
            out[key] = value if isinstance(value, bool) else draft07(value)
        elif key == "pattern" and not ends_only_at_end(value):
            raise CannotInline(key)  # fastjsonschema rewrites every `$` to `\Z`: looser in a lookahead
        elif key in _VALUES:
            out[_DRAFT07_SPELLING.get(key, key)] = value
        else:
            raise CannotInline(key)
    return out


def may_be_array(node: Any) -> bool:
    """Whether a subschema (or one of its branches) names array as a type: there a tuple passes
    fastjsonschema and not jsonschema. (Without a type, both let any non-object through alike.)"""
    if not isinstance(node, dict):
        return False
    kinds = node.get("type")
    if kinds == "array" or (isinstance(kinds, list) and "array" in kinds):
        return True
    return any(may_be_array(sub) for key in _SCHEMA_LISTS for sub in node.get(key, ()))


def ends_only_at_end(pattern: Any) -> bool:
    """True when the pattern's only unescaped ``$`` (if any) is its last character: there ``\\Z`` is
    stricter than ``$`` (no trailing newline), so the compiled check can only refuse more."""
    if not isinstance(pattern, str):
        return False
    escaped = False
    for i, char in enumerate(pattern):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "$" and i != len(pattern) - 1:
            return False
    return True


# Compiling the schema costs ~70 ms of CPU once per process; jsonschema takes ~145 us per record, so a
# smaller first file is judged by jsonschema alone (the same verdict and report either way).
COMPILE_PAYS_OFF = 500  # records


def worth_compiling(data: dict[str, Any]) -> bool:
    if conforms.cache_info().currsize:
        return True
    return sum(len(v) for v in data.values() if isinstance(v, list)) >= COMPILE_PAYS_OFF


def fits(data: Any) -> bool:
    """True when the compiled check passes ``data``; False when it refuses it (or could not judge)."""
    check = conforms()
    if check is None:
        return False
    try:
        check(data)
    except (fastjsonschema.JsonSchemaException, TypeError, ValueError, RecursionError):
        return False  # refused, or a value the generated code cannot compare: jsonschema judges
    return True


def inline_refs(node: Any, root: dict[str, Any], depth: int) -> Any:
    if depth > 64:
        raise CannotInline("recursive schema")
    if isinstance(node, dict):
        ref = node.get("$ref")
        if ref is not None:
            if len(node) > 1 or not isinstance(ref, str) or not ref.startswith("#/"):
                raise CannotInline(ref)
            target: Any = root
            for part in ref[2:].split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            return inline_refs(target, root, depth + 1)
        return {k: inline_refs(v, root, depth + 1) for k, v in node.items()}
    if isinstance(node, list):
        return [inline_refs(v, root, depth + 1) for v in node]
    return node
