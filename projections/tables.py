"""Read-model tables declared once: a table is the view dataclass its queries return.

Each field of a view (``views.py``) is a column. The Python type says the rest unless an
``Annotated[..., Col(...)]`` says otherwise: ``str | None`` is a nullable ``text`` column of
the field's name, read from the record's payload (the event's dict) under the same name;
``list``/``dict`` fields are JSON text; a field whose type is itself a view dataclass
(``StatedDate``, ``Passage``) is embedded as ``<field>_<its field>`` columns. From a
:class:`Table` follow:

* its DDL (:attr:`Table.ddl`, types as ``db.ddl`` tokens: SQLite and PostgreSQL);
* the SELECT list and the row -> view mapping (:meth:`Table.select`, :attr:`Table.view`; :meth:`Reader.reading`
  reads a view in place from a wider row, and from PostgreSQL's typed values);
* the payload -> row mapping the projector writes (:attr:`Table.row`) and the way back
  (:attr:`Table.payload`), so a field added to the view is projected with no handler change.

The mappings are compiled once, at import, to plain functions (as ``dataclasses`` builds
``__init__``): they run for every projected event and every row read, where a loop over
field descriptions would cost the rebuild and the queries measurable time.

Why not SQLAlchemy Core: it would render the CREATE TABLE text (four type names per dialect,
which ``db.ddl`` already maps) but give neither the typed view dataclasses nor the row and
payload mappings, which is where a new field used to need five edits; queries stay raw SQL.
"""

from __future__ import annotations

import dataclasses
import sys
import types
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Generic, TypeVar
from uuid import UUID

from projections.values import as_date, as_uuid, dumps, from_us, loads

V = TypeVar("V")
Derive = Callable[[dict[str, Any]], Any]
_MISSING: Any = object()

# Python type -> column type token (``db.ddl`` renders the tokens per dialect).
SQL_TYPES: dict[type, str] = {
    str: "text",
    int: "integer",
    bool: "{bool}",
    date: "{date}",
    UUID: "{uuid}",
    datetime: "{int8}",  # microseconds since 1970-01-01 UTC (``values.to_us``)
}


@dataclass(frozen=True)
class Col:
    """How a view field is stored, where its type alone does not say it."""

    sql: str = ""  # the column's type token if not the type's (e.g. "{int8}" for an int)
    name: str = ""  # the column's name if not the field's (an embedded view's field: its columns' prefix)
    path: str = ""  # dotted place in the payload if not the field's name (e.g. "quote.text")
    default: Any = _MISSING  # the payload value when its key is absent
    meta: bool = False  # not in the payload: the projector passes it to Table.row (see Table.meta_names)
    derive: Derive | None = None  # computed from the payload dict holding the field
    part: int | None = None  # with derive: this item of what it returns (columns sharing a derive call it once)
    decode: Callable[[Any], Any] | None = None  # a JSON column: its text -> the view's value
    key: str = ""  # "primary key" | "unique"


@dataclass(frozen=True)
class Column:
    """One column of a table, as its DDL and its mappings see it."""

    name: str
    sql: str
    nullable: bool = False
    path: tuple[str, ...] = ()  # in the payload (a derived column: its place, the parent is passed)
    default: Any = _MISSING
    meta: bool = False
    derive: Derive | None = None
    key: str = ""
    json: bool = False
    python: type = object  # the field's type (without None), for the view's conversion
    part: int | None = None

    @property
    def from_payload(self) -> bool:
        return not self.meta and self.derive is None


def extra(
    name: str, sql: str, *, nullable: bool = False, meta: bool = False, derive: Derive | None = None, key: str = ""
) -> Column:
    """A column no view shows (e.g. a claim version's closing time, a search text)."""
    return Column(name, sql, nullable, (name,), meta=meta, derive=derive, key=key)


@dataclass(frozen=True)
class _Field:
    """A view field: one column, or an embedded view's fields."""

    name: str
    column: Column | None
    embedded: type | None = None
    fields: tuple[_Field, ...] = ()
    decode: Callable[[Any], Any] | None = None


def _fields(view: type, prefix: str = "", path: tuple[str, ...] = ()) -> tuple[_Field, ...]:
    # The view's module as globals (without them, typing evaluates with the class as globals).
    hints = typing.get_type_hints(view, vars(sys.modules[view.__module__]), include_extras=True)
    out = []
    for f in dataclasses.fields(view):
        hint = hints[f.name]
        col = Col()
        if typing.get_origin(hint) is typing.Annotated:
            hint, *marks = typing.get_args(hint)
            col = next((m for m in marks if isinstance(m, Col)), col)
        base, nullable = _optional(hint)
        place = tuple(col.path.split(".")) if col.path else (*path, f.name)
        if dataclasses.is_dataclass(base):
            assert isinstance(base, type)
            inner = _fields(base, col.name or f"{prefix}{f.name}_", place)
            out.append(_Field(f.name, None, base, inner))
            continue
        origin = typing.get_origin(base) or base
        json = origin in (list, dict)
        sql = col.sql or ("text" if json else SQL_TYPES.get(origin, ""))
        if not sql:
            raise TypeError(f"{view.__name__}.{f.name}: no column type for {base!r}: give Col(sql=...)")
        column = Column(
            col.name or prefix + f.name, sql, nullable, place, col.default, col.meta,
            col.derive, col.key, json, origin, col.part,
        )  # fmt: skip
        out.append(_Field(f.name, column, decode=col.decode))
    return tuple(out)


def _optional(hint: Any) -> tuple[Any, bool]:
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        assert len(args) == 1, hint
        return args[0], True
    return hint, False


def _columns(fields: Sequence[_Field]) -> list[Column]:
    return [c for f in fields for c in ([f.column] if f.column else _columns(f.fields))]


def _built_by_fields(view: type) -> bool:
    """Can a view be built by setting its __dict__? By declaration: no __post_init__ (its own or a base's),
    no slots, every field an init field by position, object's own __new__ and (not frozen) __setattr__.
    Then asked of __init__ itself, with a marker for each field: the one dataclasses writes, setting the
    fields alone, as given, in order. Then an object whose __dict__ holds the fields is that object
    (tests/test_projections_tables.py compares them)."""
    if hasattr(view, "__post_init__") or "__slots__" in vars(view) or view.__new__ is not object.__new__:  # type: ignore[comparison-overlap]
        return False  # (a probe could not see a __post_init__ that leaves a marker as it is)
    if not dataclasses.is_dataclass(view) or any(not f.init or f.kw_only for f in dataclasses.fields(view)):
        return False
    frozen = view.__dataclass_params__.frozen  # type: ignore[attr-defined]
    if not frozen and view.__setattr__ is not object.__setattr__:
        return False
    if getattr(getattr(view, "__init__", None), "__code__", None) is None:
        return False
    if view.__init__.__code__.co_filename != "<string>":  # type: ignore[misc]
        return False  # (an __init__ of the class's own, not the one dataclasses writes)
    names = [f.name for f in dataclasses.fields(view)]
    markers = [object() for _ in names]
    try:
        made = vars(view(*markers))
    except Exception:
        return False
    return list(made) == names and all(made[n] is m for n, m in zip(names, markers, strict=True))


def constructor(view: type[V]) -> Callable[..., V]:
    """``view``'s constructor by position, for views made from parts of a row in a loop (a position and
    its start date): its __dict__ set at once when :func:`_built_by_fields` allows it, as ``Reader.view``
    does (a frozen dataclass's __init__ sets each field through object.__setattr__: PositionView's 8,
    ~0.7 us), else the class itself."""
    names = [f.name for f in dataclasses.fields(view)] if dataclasses.is_dataclass(view) else []
    compiler = _Compiler()
    if not _built_by_fields(view) or any(n in compiler.env or n.startswith("_o") for n in names):
        return view
    body = f"_view({compiler.ref(view)}, {{{', '.join(f'{n!r}: {n}' for n in names)}}})"
    made: Callable[..., V] = compiler.compile(f"new_{view.__name__.lower()}", ", ".join(names), body)
    return made


def _view(cls: type[V], fields: dict[str, Any]) -> V:
    view = object.__new__(cls)
    object.__setattr__(view, "__dict__", fields)  # (frozen: its own __setattr__ refuses)
    return view


class _Compiler:
    """Builds the source of one function; the objects it names go to ``env``."""

    def __init__(self) -> None:
        self.env: dict[str, Any] = {
            "as_uuid": as_uuid, "as_date": as_date, "from_us": from_us, "loads": loads, "_json": _json,
            "_E": {}, "_view": _view,
        }  # fmt: skip

    def ref(self, value: Any) -> str:
        # One name per object: the columns sharing a derive function see the same call (bound once).
        name = next((k for k, v in self.env.items() if v is value and k.startswith("_o")), f"_o{len(self.env)}")
        self.env[name] = value
        return name

    def compile(self, name: str, args: str, body: str, lines: Sequence[str] = ()) -> Any:
        namespace: dict[str, Any] = {}
        statements = "".join(f"    {line}\n" for line in lines)
        exec(f"def {name}({args}):\n{statements}    return {body}\n", self.env, namespace)
        return namespace[name]


class Reader(Generic[V]):
    """A view read from (some columns of) a table: its SELECT list and row -> view mapping."""

    def __init__(self, table: str, view: type[V], columns: Sequence[str] | None = None) -> None:
        self.table = table
        self.fields = _fields(view)
        self.names = tuple(c.name for c in _columns(self.fields))
        if columns is not None:
            unknown = set(self.names) - set(columns)
            assert not unknown, f"{view.__name__} reads columns {table} does not have: {sorted(unknown)}"
        self._view_class = view
        self._readings: dict[tuple[int, bool], Callable[[Sequence[Any]], V]] = {}
        self.view: Callable[[Sequence[Any]], V] = self.reading()

    def reading(self, offset: int = 0, *, typed: bool = False) -> Callable[[Sequence[Any]], V]:
        """The row -> view function reading this view's columns from ``offset`` of a wider row (a
        statement selecting several views side by side: no slice per view). ``typed``: the row comes
        from PostgreSQL, whose uuid, date and boolean columns psycopg already returns as UUID, date and
        bool: those are taken as they are (the conversions cost ~1 us of a claim row's ~4 us)."""
        made = self._readings.get((offset, typed))
        if made is None:
            compiler = _Compiler()
            index = iter(range(offset, offset + len(self.names)))
            body = self._construct(compiler, self._view_class, self.fields, index, typed)
            name = f"{self._view_class.__name__.lower()}_from_{'typed_' if typed else ''}row"
            made = self._readings[(offset, typed)] = compiler.compile(name, "r", body)
        return made

    def _construct(
        self, c: _Compiler, view: type, fields: Sequence[_Field], index: typing.Iterator[int], typed: bool
    ) -> str:
        parts = []
        for f in fields:
            if f.column is None:
                assert f.embedded is not None
                parts.append(self._construct(c, f.embedded, f.fields, index, typed))
                continue
            value = f"r[{next(index)}]"
            col = f.column
            if col.json:
                convert = f"{c.ref(f.decode)}({{}})" if f.decode else "loads({})"
            elif typed and col.python in (UUID, date, bool) and col.sql == SQL_TYPES[col.python]:
                convert = "{}"  # (PostgreSQL's own type; an instant is a bigint on both stores)
            else:
                convert = {UUID: "as_uuid({})", date: "as_date({})", datetime: "from_us({})", bool: "bool({})"}.get(
                    col.python, "{}"
                )
            expr = convert.format(value)
            if col.nullable and expr != value:
                expr = f"(None if {value} is None else {expr})"
            parts.append(expr)
        if not _built_by_fields(view):
            return f"{c.ref(view)}({', '.join(parts)})"
        # Its __dict__ built at once: a frozen dataclass's __init__ sets each field through
        # object.__setattr__ (ClaimView's 27: ~2 us of a position's ~13 us from its row).
        names = [f.name for f in dataclasses.fields(view)]
        items = ", ".join(f"{name!r}: {part}" for name, part in zip(names, parts, strict=True))
        return f"_view({c.ref(view)}, {{{items}}})"

    def select(self, alias: str = "") -> str:
        """The SELECT list :attr:`view` reads, e.g. ``v.claim_id, v.key, ...``."""
        return ", ".join(f"{alias}.{n}" if alias else n for n in self.names)


class Table(Reader[V]):
    """A read-model table declared by its view (plus ``extras`` no view shows; ``view=None``: only extras)."""

    def __init__(
        self,
        name: str,
        view: type[V] | None,
        *,
        extras: Sequence[Column] = (),
        primary_key: Sequence[str] = (),
        indexes: Sequence[str] = (),
    ) -> None:
        if view is not None:
            super().__init__(name, view)
        else:  # bookkeeping: no view reads it
            self.table, self.fields, self.names = name, (), ()
        self.name = name
        self.columns = (*_columns(self.fields), *extras)
        self.primary_key = tuple(primary_key)
        self.indexes = tuple(indexes)
        self.column_names = tuple(c.name for c in self.columns)
        self.meta_names = tuple(c.name for c in self.columns if c.meta)
        self.payload_names = tuple(c.name for c in self.columns if c.from_payload)
        c = _Compiler()
        # row(payload, *meta): the row to insert, in ``column_names`` order. The meta values are
        # every meta column's, in ``meta_names`` order (by name works too): the projector calls it
        # for every claim event, where keyword arguments and defaults cost the rebuild time.
        # It first reads every key it reads with a default as present (a subscript costs half a
        # ``.get``: ~0.3 us a claim row), then, if one is absent (KeyError), as declared.
        present, present_row = self._row_source(c, present=True)
        lines, row = self._row_source(c)
        args = ", ".join(["p", *self.meta_names])
        self.row: Callable[..., tuple[Any, ...]] = c.compile(
            f"{name}_row", args, row, ["try:", *(f"    {line}" for line in present), f"    return {present_row}",
                                       "except KeyError:", "    pass", *lines],
        )  # fmt: skip
        self.payload: Callable[[Sequence[Any]], dict[str, Any]] = c.compile(
            f"{name}_payload", "r", self._decode_payload()
        )

    def _row_source(self, c: _Compiler, *, present: bool = False) -> tuple[list[str], str]:
        """The body of :attr:`row`: statements binding to locals, once per row, what columns
        share (the payload dict they sit in, a derive's result), then the row tuple. ``present``:
        a key read with a default is subscripted instead (raises KeyError when absent), except
        inside a dict that may itself be absent or None (then read as empty)."""
        lines: list[str] = []
        bound: dict[str, str] = {}

        def bind(expr: str) -> str:
            if expr not in bound:
                bound[expr] = f"v{len(bound)}"
                lines.append(f"{bound[expr]} = {expr}")
            return bound[expr]

        # A payload dict some column needs is taken strictly (its absence fails the row anyway);
        # one all of whose columns are optional reads as empty when absent or None.
        strict: set[tuple[str, ...]] = set()
        for col in self.columns:
            if not col.meta and (col.derive is not None or (not col.nullable and col.default is _MISSING)):
                strict.update(col.path[:i] for i in range(1, len(col.path)))

        optional: set[str] = set()  # the locals bound to a dict that may be absent: read with .get

        def holder(place: tuple[str, ...]) -> str:
            if not place:
                return "p"
            parent, part = holder(place[:-1]), place[-1]
            if place in strict:
                return bind(f"{parent}[{part!r}]")
            if present and parent not in optional:
                local = bind(f"{parent}[{part!r}] or _E")
            else:
                local = bind(f"{parent}.get({part!r}) or _E")
            optional.add(local)
            return local

        values = []
        for col in self.columns:
            if col.meta:
                values.append(col.name)
                continue
            *parents, leaf = col.path
            inside = holder(tuple(parents))
            if col.derive is not None:  # one call per derive and dict: the columns of its parts share it
                result = bind(f"{c.ref(col.derive)}({inside})")
                values.append(result if col.part is None else f"{result}[{col.part}]")
                continue
            if (col.default is _MISSING and not col.nullable) or (present and inside not in optional):
                value = f"{inside}[{leaf!r}]"
            elif col.default is not _MISSING:
                value = f"{inside}.get({leaf!r}, {c.ref(col.default)})"
            else:
                value = f"{inside}.get({leaf!r})"
            values.append(f"_json({value})" if col.json else value)
        return lines, f"({', '.join(values)},)"

    def _decode_payload(self) -> str:
        """The payload dict back from the :attr:`payload_names` columns (a nested dict whose
        values are all None, like an absent quote, reads back as None)."""
        tree: dict[str, Any] = {}
        for i, col in enumerate(c for c in self.columns if c.from_payload):
            value = f"r[{i}]"
            if col.json:
                value = f"loads({value})"
            elif col.python is UUID:
                value = f"(None if {value} is None else str({value}))" if col.nullable else f"str({value})"
            elif col.python is bool:
                value = f"bool({value})"
            node = tree
            for part in col.path[:-1]:
                node = node.setdefault(part, {})
            node[col.path[-1]] = (value, col.nullable)
        return _dict_source(tree)[0]

    @property
    def ddl(self) -> str:
        lines = []
        for col in self.columns:
            parts = [col.name, col.sql]
            if not col.nullable:
                parts.append("NOT NULL")
            if col.key:
                parts.append(col.key.upper())
            lines.append(" ".join(parts))
        if self.primary_key:
            lines.append(f"PRIMARY KEY ({', '.join(self.primary_key)})")
        body = ",\n    ".join(lines)
        return "\n".join([f"CREATE TABLE {self.name} (\n    {body}\n);", *(f"{i};" for i in self.indexes)])

    def reader(self, view: type[V2]) -> Reader[V2]:
        """Another view of this table's rows (e.g. a claim version as an audit-trail entry)."""
        return Reader(self.name, view, self.column_names)


V2 = TypeVar("V2")


def _json(value: Any) -> str:
    """JSON text of a payload value; an empty list (most claims' links) without the encoder."""
    return "[]" if value == [] else dumps(value)


def _dict_source(tree: dict[str, Any]) -> tuple[str, list[str]]:
    """(source of a dict literal, the value expressions that may be None in it)."""
    items, maybe_none = [], []
    for key, node in tree.items():
        if isinstance(node, dict):
            inner, nullable = _dict_source(node)
            if nullable and len(nullable) == len(node):  # every leaf may be None: the whole may be absent
                test = " and ".join(f"{v} is None" for v in nullable)
                inner = f"(None if {test} else {inner})"
            items.append(f"{key!r}: {inner}")
        else:
            value, nullable_ = node
            items.append(f"{key!r}: {value}")
            if nullable_:
                maybe_none.append(value)
    return "{" + ", ".join(items) + "}", maybe_none
