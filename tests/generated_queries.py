"""Generated GraphQL documents and the comparison of two answers to them, shared by the differential tests
(tests/test_compiled_execution.py: compiled against plain execution; tests/test_http_differential.py: the
HTTP fast paths against strawberry's view alone).

``Rewriter`` reprints a hypothesis-graphql query with aliases, fragments, ``@skip``/``@include``, variables and
real keys of the ledger; ``same_errors`` forgives only the errors a null propagation may or may not drop;
``masked`` hides what an unpinned answer reads from the clock.
"""

from __future__ import annotations

import functools
import json
import random
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from factories import ACTORS, TOPICS, World
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLObjectType,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    build_schema,
    get_named_type,
    get_nullable_type,
    is_abstract_type,
    is_list_type,
    is_non_null_type,
    parse,
    print_ast,
    value_from_ast_untyped,
)
from hypothesis import strategies as st
from hypothesis_graphql import nodes

from api.cli.main import main as cli
from api.graphql.schema import SDL_PATH
from ledger import commands as c

SCHEMA = build_schema(SDL_PATH.read_text(encoding="utf-8"))
SCALARS = {
    "Date": st.dates(date(2000, 1, 1), date(2030, 12, 31)).map(lambda d: nodes.String(d.isoformat())),
    "DateTime": st.datetimes(datetime(2020, 1, 1), datetime(2030, 1, 1), timezones=st.just(UTC)).map(
        lambda d: nodes.String(d.isoformat())
    ),
    "JSON": st.text(max_size=5).map(nodes.String),
}


def _errors(errors: Any) -> list[str]:
    return sorted(json.dumps(e.formatted, sort_keys=True, default=str) for e in errors or ())


def same_errors(ours: Any, reference: Any, query: str, document: str | None = None) -> None:
    """The same errors, but for those a null propagation may or may not have dropped.

    When a non-null field fails, its nearest nullable parent becomes null and graphql-core
    cancels the parent's pending fields: whether a sibling's error was recorded before
    depends on which thread-pool query finished first (plain execution differs from itself
    there). So an error only one side has must lie strictly below a position that is null in
    both answers, below which both sides have an error in common (the one whose propagation
    dropped it). When the whole data is null, the first non-null root field to fail cancels
    every other root field, in plain execution too: which of several failing root fields is
    reported, and whether the errors below another root field were recorded before the
    cancellation, is the same race. So there an error only one side has (at a root field or
    below one) is forgiven if the other side reports the error of another root field, the one
    that nulled the data, nothing at this error's root field and nothing at its path (a message that differs
    at the same path is no race). Given the ``document``, the error that nulled the data on the other side may
    also lie below another root field, where every field and list item on its path is non-null in the schema
    (its propagation reaches the root: plain execution reports either error, 29 of 30 runs one of them); any
    other difference is not forgiven.

    The order is compared sorted: graphql-core records errors in the order the fields'
    awaitables finish, and the async fields here wait on thread-pool queries, so the order of
    two errors from concurrent fields differs between runs of plain execution itself.
    """
    mine, theirs = _errors(ours.errors), _errors(reference.errors)
    if mine == theirs:
        return
    common = [json.loads(e) for e in set(mine) & set(theirs)]
    for text in set(mine) ^ set(theirs):
        path = json.loads(text).get("path") or []
        other = [json.loads(e).get("path") or [] for e in (theirs if text in mine else mine)]
        if ours.data is None and reference.data is None and path:
            # (a root field's error nulls the data if it is non-null, which only the document says)
            nulling = [p for p in other if (nulls_the_data(document, p) if document is not None else len(p) == 1)]
            # (the race records an error or not; it never changes the message at a path)
            assert nulling and path[0] not in {p[0] for p in nulling} and path not in other, (query, text, mine, theirs)
            continue
        droppable = any(
            _null_in(ours.data, prefix) and _null_in(reference.data, prefix)
            and any(_common_prefix(prefix, e.get("path") or []) == prefix for e in common)
            for prefix in _prefixes(path)[1:-1]  # strictly below, not the whole data
        )  # fmt: skip
        assert droppable, (query, text, mine, theirs)


def same_extensions(ours: dict[str, Any], reference: dict[str, Any], query: str) -> None:
    """The same ``extensions`` (the basis), with errors as without: an answer's basis counts only the pins and
    default reads of the fields whose values reach its data (``api/graphql/basis.py``), and both sides hold
    the same data, so what a field a null propagation cancelled did first never shows."""
    assert ours == reference, (query, ours, reference)


def nulls_the_data(document: str, path: list[Any]) -> bool:
    """Does an error at ``path`` (response keys, list indexes) null the whole ``data``: is every field and list
    item on it non-null in the schema, so that the null propagates to the root? Response keys are resolved
    through the document's aliases and fragments; a field of an abstract type counts as non-null only if it is
    in every possible type that has it."""
    if not path:  # (an error without a path, e.g. a refused document, nulls no field)
        return False
    ast = _parsed(document)
    fragments = {d.name.value: d for d in ast.definitions if isinstance(d, FragmentDefinitionNode)}
    operation = next(d for d in ast.definitions if isinstance(d, OperationDefinitionNode))
    types: list[Any] = [SCHEMA.query_type]
    selections: list[SelectionSetNode] = [operation.selection_set]
    for key in path:
        if isinstance(key, int):
            if not all(
                is_non_null_type(t) and is_list_type(t.of_type) and is_non_null_type(t.of_type.of_type) for t in types
            ):
                return False
            types = [t.of_type.of_type for t in types]
            continue
        parents = [p for t in types for p in _possible(get_nullable_type(t))]
        fields = [f for s in selections for f in _fields_named(s, key, fragments)]
        defs = [p.fields[f.name.value] for p in parents for f in fields if f.name.value in p.fields]
        if not defs or not all(is_non_null_type(d.type) for d in defs):
            return False
        types = [d.type for d in defs]
        selections = [f.selection_set for f in fields if f.selection_set is not None]
    return True


@functools.lru_cache(maxsize=64)
def _parsed(document: str) -> DocumentNode:
    """(Parsed once per document: a comparison asks once per pair of errors.)"""
    return parse(document)


def _possible(named: Any) -> list[Any]:
    return list(SCHEMA.get_possible_types(named)) if is_abstract_type(named) else [named]


def _fields_named(selection_set: SelectionSetNode, key: str, fragments: dict[str, Any]) -> list[FieldNode]:
    """The fields of a selection set (through fragments) whose response key is ``key``."""
    found: list[FieldNode] = []
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            if (selection.alias or selection.name).value == key:
                found.append(selection)
        elif isinstance(selection, InlineFragmentNode):
            found += _fields_named(selection.selection_set, key, fragments)
        elif isinstance(selection, FragmentSpreadNode) and selection.name.value in fragments:
            found += _fields_named(fragments[selection.name.value].selection_set, key, fragments)
    return found


def _null_in(data: Any, path: list[Any]) -> bool:
    """Whether the data holds a null at ``path`` (its parent answered, not nulled itself)."""
    parent = data
    for key in path[:-1]:
        parent = _child(parent, key)
    key = path[-1]
    if isinstance(parent, dict):
        return key in parent and parent[key] is None
    return isinstance(parent, list) and isinstance(key, int) and key < len(parent) and parent[key] is None


def _child(data: Any, key: Any) -> Any:
    if isinstance(data, dict):
        return data.get(key)
    if isinstance(data, list) and isinstance(key, int) and key < len(data):
        return data[key]
    return None


def _common_prefix(a: list[Any], b: list[Any]) -> list[Any]:
    out = []
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        out.append(x)
    return out


def _prefixes(path: list[Any]) -> list[list[Any]]:
    return [path[:n] for n in range(len(path), -1, -1)]


def generated_ledger(url: str) -> None:
    """Claims of three actors on two topics over years, with revisions, retractions and links."""
    rng = random.Random(13)
    world = World.open(url)
    keys = [f"g-{i}" for i in range(40)]
    specs = []
    for i, key in enumerate(keys):
        specs.append({
            "key": key, "actor": rng.choice(ACTORS), "topic": rng.choice(TOPICS),
            "stance": rng.choice(["SUPPORTS", "OPPOSES", "CONDITIONAL", "NEUTRAL"]),
            "stated": f"{rng.randint(2015, 2025)}-{rng.randint(1, 12):02d}",
            **({"conditions": "if asked"} if i % 7 == 0 else {}),
        })  # fmt: skip
    specs[-1]["stance"] = "CONDITIONAL"
    specs[-1]["conditions"] = "only with guarantees"
    world.claims(specs)
    with world.ledger.batch("editor") as batch:
        for key in keys[:6]:
            batch.revise_claim(c.ReviseClaim(key, None, c.parse_changes({"summary": f"revised {key}"}), "typo"))
        batch.retract_claim(c.RetractClaim(keys[7], None, "wrong speaker"))
    world.ledger.close()


def fill_ledger(kind: str, url: str, capsys: Any) -> None:
    """The ledger the differential tests run on: ``demo`` (the demo corpus) or ``generated``."""
    if kind == "demo":
        assert cli(["--database", url, "demo"]) == 0
        capsys.readouterr()
    else:
        generated_ledger(url)


def all_claims() -> Any:
    from projections import views

    return views.ClaimFilter(include_retracted=True)


class Rewriter:
    """Reprints a generated query with aliases, fragments, @skip/@include and variables."""

    def __init__(self, rng: random.Random, keys: dict[str, list[str]], size: int) -> None:
        self.rng = rng
        self.keys = keys
        # Values the ledger answers (hypothesis-graphql's are mostly out of range: BAD_USER_INPUT)
        self.sensible: dict[str, Callable[[], Any]] = {
            "atTreeSize": lambda: rng.choice([None, None, size]),
            "knownAt": lambda: rng.choice([None, None, "2030-01-01T00:00:00+00:00"]),
            "first": lambda: rng.randint(0, 5),
            "after": lambda: None,
            "treeSize": lambda: rng.choice([None, size]),
            "fromSize": lambda: rng.randint(0, size),
            "toSize": lambda: rng.choice([None, size]),
            "eventId": lambda: str(rng.randint(1, size)),
            "search": lambda: rng.choice(["a", "in", ""]),
            "lang": lambda: None,
        }
        self.variables: list[tuple[str, str, Any]] = []  # name, type, value
        self.redraw: dict[str, Callable[[], Any]] = {}  # name -> another value of the same kind
        self.fragments: list[str] = []
        self.aliases = 0

    def document(self, query: str) -> tuple[str, dict[str, Any]]:
        operation = parse(query).definitions[0]
        assert isinstance(operation, OperationDefinitionNode)
        body = self.selection_set(operation.selection_set, SCHEMA.query_type)
        declared = ", ".join(f"${name}: {type_}" for name, type_, _ in self.variables)
        head = f"query Generated({declared})" if declared else "query Generated"
        text = "\n".join([f"{head} {body}", *self.fragments])
        return text, {name: value for name, _, value in self.variables}

    def fresh_values(self) -> dict[str, Any]:
        """Other values for the same document's variables (the plan cache must not keep the first ones)."""
        return {name: self.redraw[name]() if name in self.redraw else value for name, _, value in self.variables}

    def selection_set(self, selection_set: SelectionSetNode, parent: Any) -> str:
        printed = [self.selection(s, parent) for s in selection_set.selections]
        rng = self.rng
        if len(printed) > 1 and rng.random() < 0.25:  # a named fragment holding part of the selections
            cut = rng.randint(1, len(printed))
            name = f"Part{len(self.fragments)}"
            self.fragments.append(f"fragment {name} on {parent.name} {{ {' '.join(printed[:cut])} }}")
            printed = [f"...{name}{self.condition()}", *printed[cut:]]
        if rng.random() < 0.2:  # an inline fragment, with or without its type condition
            on = f" on {parent.name}" if rng.random() < 0.5 else ""
            printed = [f"...{on}{self.condition()} {{ {' '.join(printed)} }}"]
        if rng.random() < 0.15 and printed:  # the same field twice: merged by field collection
            printed.append(printed[0] if not printed[0].startswith("...") else printed[-1])
        return "{ " + " ".join(printed) + " }"

    def condition(self) -> str:
        rng = self.rng
        if rng.random() < 0.7:
            return ""
        name = f"c{len(self.variables)}"
        directive = rng.choice(["skip", "include"])
        self.variables.append((name, "Boolean!", rng.random() < 0.5))
        self.redraw[name] = lambda: rng.random() < 0.5
        return f" @{directive}(if: ${name})"

    def selection(self, node: Any, parent: Any) -> str:
        assert isinstance(node, FieldNode), "hypothesis-graphql prints fields only"
        name = node.name.value
        rng = self.rng
        alias = ""
        if rng.random() < 0.3 and self.aliases < 20:
            self.aliases += 1
            alias = f"a{self.aliases}_{name}: "
        field = parent.fields.get(name) if isinstance(parent, GraphQLObjectType) else None
        arguments = ""
        if node.arguments and field is not None:
            arguments = "(" + ", ".join(self.argument(a, field) for a in node.arguments) + ")"
        sub = ""
        if node.selection_set and field is not None:
            sub = " " + self.selection_set(node.selection_set, get_named_type(field.type))
        return f"{alias}{name}{arguments}{self.condition()}{sub}"

    def argument(self, node: Any, field: Any) -> str:
        name = node.name.value
        rng = self.rng
        type_ = field.args[name].type
        value_text = print_ast(node.value)
        value = value_from_ast_untyped(node.value)
        real = self.keys.get(name)
        redraw: Callable[[], Any] | None = None
        if real and isinstance(value, str) and rng.random() < 0.7:
            value = rng.choice(real)
            value_text = json.dumps(value)
            redraw = lambda: rng.choice(real)  # noqa: E731
        elif name in self.sensible and rng.random() < 0.8:  # mostly answers, not only errors
            value = self.sensible[name]()
            value_text = "null" if value is None else json.dumps(value)
            redraw = self.sensible[name]
        if rng.random() < 0.4:
            variable = f"v{len(self.variables)}"
            self.variables.append((variable, str(type_), value))
            if redraw is not None:
                self.redraw[variable] = redraw
            return f"{name}: ${variable}"
        return f"{name}: {value_text}"


def as_is(value: Any) -> Any:
    return value


def reads_the_clock(key: str) -> bool:
    """``knownAt`` under its own name or an alias ``Rewriter`` gave it (``a3_knownAt``): a field alias is
    only a response key, and two executions a few microseconds apart read the clock differently."""
    return key == "knownAt" or (key.endswith("_knownAt") and key[0] == "a" and key[1 : key.index("_")].isdigit())


def masked(value: Any) -> Any:
    """The answer without what an unpinned request reads from the clock (``knownAt``, aliased or not)."""
    if isinstance(value, dict):
        return {k: ("<clock>" if reads_the_clock(k) and v is not None else masked(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [masked(v) for v in value]
    return value
