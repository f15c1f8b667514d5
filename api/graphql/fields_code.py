"""A compiled plan's selection sets as generated Python functions (graphql-jit's idea, for the common shape).

Why: after ``api/graphql/compiled.py`` decided everything that never changes for a document, a cold
request still walked each selection set's steps in a loop (``compiled.execute_fields``) and, for every
object field, went through four calls (``execute_field``, the resolver or ``getattr``, ``complete_field``,
the non-null and object completions) before the object's own fields ran, and through ``_call`` for a
resolver whose arguments the document fixed: about a third of the walk below a cold ``position``
(12.5 us in process; 9.2 with this module). Here each selection set of a plan becomes one function that
reads its fields in order with the plan's decisions written into its code: attribute reads by name,
response keys and type names as constants, a fixed resolver called with its keywords, and, for the two
common shapes, the completion inline:

* a plain attribute of scalar or enum type (``Step.strings``): a ``str`` (or a null, when nullable)
  completes in place, as ``execute_fields`` does;
* an object field without ``is_type_of`` (``Step.object_fields``): a value that is not null, not an
  awaitable and not an exception goes straight to its object's generated function, whose result
  (a dict, or an awaitable of one) is handled as ``complete_field`` handles it.

Everything else (other leaves, lists, abstract types, awaitables, nulls at non-null positions,
errors) goes through the same functions of ``compiled.py`` as the interpreter (``execute_field``,
``complete_field``, ``field_error``, by the helpers ``field_failed``, ``complete_into``...), so
values, errors, their paths and null propagation are theirs. Generating costs ~0.4 ms of ``compile``
per selection set and ~0.9 kB per step: a plan gets its code on its ``GENERATE_AFTER``-th run, so
only documents asked again and again pay it. The generated text names only the plan's steps, its
helpers and literals made with ``repr``: no text of the document is executed.
``tests/test_compiled_execution.py`` compares both forms with graphql-core's execution (the tests run
the generated form from a plan's first run: ``tests/conftest.py``).
"""

from __future__ import annotations

import keyword
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from graphql import Undefined
from graphql.pyutils import Path
from strawberry.execution import optimized_is_awaitable

if TYPE_CHECKING:
    from api.graphql.compiled import Run, Step

# A selection set's fields: (run, source object, its path) -> the response's dict, or an awaitable of it.
FieldsFunction = Callable[["Run", Any, "Path | None"], Any]


class FieldsCode:
    """Generates selection sets' functions; ``helpers``: ``compiled.py``'s functions the code calls (the
    general paths: ``field_failed``, ``complete_into``, ``execute_into``, ``completed_later``)."""

    def __init__(self, helpers: dict[str, Any]) -> None:
        # The globals every generated function shares; a function's own objects (its steps, their tables,
        # sub-functions and resolvers) are its closure's, so that a plan keeps no dict of names per function.
        self.globals: dict[str, Any] = {
            **helpers,
            "Path": Path,
            "Undefined": Undefined,
            "optimized_is_awaitable": optimized_is_awaitable,
        }

    def function(self, steps: Sequence[Step], getattr_reads: bool) -> FieldsFunction:
        """The function that executes ``steps`` (one selection set), as graphql-core's ``execute_fields``
        does. ``getattr_reads``: the default resolver is ``getattr`` (a field without a resolver is read as
        an attribute in the code)."""
        own: dict[str, Any] = {}
        body = []
        for i, step in enumerate(steps):
            own[f"s{i}"] = step
            body += [f"        # {step.type_name}.{step.name}", *_block(i, step, getattr_reads, self.globals, own)]
        if not steps:  # (every field skipped, or none the type has: an empty object)
            body.append("        pass")
        lines = [
            f"def make({', '.join(own)}):",
            "  def fields(run, source, path):",
            "    results = {}",
            "    pending = None",
            "    try:",
            *("  " + line for line in body),
            "    except Exception:",
            "        if pending:",
            "            run.settle_in_background([results[key] for key in pending])",
            "        raise",
            "    if pending is None:",
            "        return results",
            "    return _await_pending(results, pending)",
            "  return fields",
        ]
        name = steps[0].type_name if steps else "empty"
        code = compile("\n".join(lines) + "\n", f"<fields of {name}>", "exec")
        made: dict[str, Any] = {}
        exec(code, self.globals, made)  # (the text above: names and keys as repr literals, no text of the document)
        function: FieldsFunction = made["make"](**own)
        return function


def _block(i: int, step: Step, getattr_reads: bool, shared: dict[str, Any], own: dict[str, Any]) -> list[str]:
    """The code of one step (indented for the ``try`` of ``fields``; the objects it names put in ``own``); its
    general paths are calls of ``compiled.py``'s helpers, which take the step and the selection set's path."""
    key = repr(step.key)
    read = _attribute(step.python_name) if getattr_reads else None
    if step.strings is not None and read is not None:
        if step.strings is True:
            done = "type(value) is str" if step.non_null else "type(value) is str or value is None"
            complete = [f"    if {done}:", f"        results[{key}] = value"]
        else:
            own[f"t{i}"] = step.strings
            complete = [
                f"    name = t{i}.get(value) if type(value) is str else None",
                "    if name is not None:",
                f"        results[{key}] = name",
            ]
            if not step.non_null:
                complete += ["    elif value is None:", f"        results[{key}] = None"]
        return _indent(
            [
                "try:",
                f"    value = source{read}",
                "except Exception as raw:",
                f"    results[{key}] = field_failed(run, raw, s{i}, path)",
                "else:",
                *complete,
                "    else:",
                f"        pending = complete_into(results, pending, run, s{i}, path, value)",
            ]
        )
    if step.object_fields is not None:
        own[f"f{i}"] = step.object_fields.fields  # (generated already: the sets below first)
        by_name = read is not None and step.resolve is shared["resolve_attribute"]
        resolved = f"source{read}" if by_name else _resolver_call(i, step, shared, own)
        return _indent(
            [
                f"here = Path(path, {step.key!r}, {step.type_name!r})",
                "try:",
                f"    value = {resolved}",
                "    plain = (",
                "        value is not None and value is not Undefined",
                "        and not optimized_is_awaitable(value) and not isinstance(value, Exception)",
                "    )",
                "    if plain:",
                f"        result = f{i}(run, value, here)",
                "except Exception as raw:",
                f"    results[{key}] = field_failed(run, raw, s{i}, path, here)",
                "else:",
                "    if not plain:",
                f"        pending = complete_into(results, pending, run, s{i}, path, value, here)",
                "    elif type(result) is dict:",
                f"        results[{key}] = result",
                "    else:",
                f"        results[{key}], pending = completed_later(pending, run, s{i}, here, result)",
            ]
        )
    return _indent([f"pending = execute_into(results, pending, run, s{i}, source, path)"])


def _resolver_call(i: int, step: Step, shared: dict[str, Any], own: dict[str, Any]) -> str:
    """The expression resolving a field: its resolver called directly when ``compiled._call`` would pass it
    only what the plan fixed (a sync resolver, arguments fixed by the document: ``Step.kwargs``), else the
    step's ``resolve``."""
    general = f"s{i}.resolve(run, s{i}, source, here)"
    field, kwargs = step.field, step.kwargs
    if step.resolve is not shared["resolve_with_resolver"] or step.is_async or kwargs is None or field is None:
        return general
    resolver = field.base_resolver
    passed = [name for name in (step.parent_name, step.root_name, step.info_name) if name is not None]
    if resolver is None or len(set(passed)) < len(passed) or set(passed) & set(kwargs):
        return general  # (names _call would pass twice: its way)
    if not all(map(_attribute, passed)):
        return general  # (names the code could not pass as keywords)
    own[f"b{i}"] = resolver
    arguments = ["source"] if step.self_parameter else []
    if kwargs:
        own[f"k{i}"] = kwargs
        arguments.append(f"**k{i}")
    arguments += [f"{name}=source" for name in (step.parent_name, step.root_name) if name is not None]
    if step.info_name is not None:
        arguments.append(f"{step.info_name}=run.strawberry_info(s{i}, here)")
    return f"b{i}({', '.join(arguments)})"


def _attribute(name: str) -> str | None:
    """How the code reads attribute ``name``: ``.name`` when it is a plain identifier, else None."""
    # (ASCII only: Python reads identifiers in source NFKC-normalised, so "ﬁeld" would read "field")
    if name.isascii() and name.isidentifier() and not keyword.iskeyword(name) and not name.startswith("__"):
        return "." + name
    return None


def _indent(lines: list[str]) -> list[str]:
    return ["        " + line for line in lines]
