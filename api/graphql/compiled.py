"""Compiled execution of query operations: each validated document is planned once.

Why: a cold request spends most of its Python time in graphql-core's per-field machinery
(``execute_field``/``complete_value``: a field-definition lookup, a resolve-info tuple,
type dispatch by ``isinstance`` chains and the collection of sub-fields for every object)
and in strawberry's per-field wrapper (an ``Info``, argument conversion, a chain of field
extensions), all of it recomputed for every field of every request although, for one
document, it never changes. This module does that work once per (document, operation,
values of the variables that ``@skip``/``@include`` read): the operation becomes a tree
of field steps, each holding its response key, field definition, field nodes, the
strawberry resolver to call (or the attribute to read, for a field without one), its
argument values when they do not depend on variables, and a completion function made
for its return type (leaf serialisation, non-null checks, lists, sub-plans of objects
and of each possible type of an abstract type). A plan that runs often (GENERATE_AFTER runs)
then gets each of its selection sets as generated Python code (``api/graphql/fields_code.py``),
which does what the interpreter of its steps (``execute_fields``) does, with fewer calls.

At request time it coerces the variables with graphql-core's own ``get_variable_values`` (scalar and
enum variables without defaults, all valid: the same steps without its per-request lookups),
reads arguments that use variables with ``get_argument_values`` (or, when each is a variable or
left out, straight from the coerced variables by its rules: ``VariableArguments``), converts them with
strawberry's ``convert_arguments``, and runs the plan with graphql-core's semantics:
the same concurrency (a field's coroutine per async field, several awaited together with
cancellation of the rest when one fails, so DataLoaders batch as before), the same error
location (message, path, locations), null propagation to the nearest nullable field and
the same dropping of errors below a nulled position. The result is a graphql-core
``ExecutionResult``, so strawberry's extensions (limits, cost, read access, error codes and
masking, ``extensions.basis``) and the response cache see what they always saw.
``tests/test_compiled_execution.py`` checks it against plain execution on generated queries.

What it does not do (those operations run through graphql-core's ``execute``, unchanged):
mutations and subscriptions, introspection (``__schema``, ``__type``), fields with strawberry
field extensions (permissions) or exception handlers, resolver middleware, ``@defer``/``@stream``,
fragment arguments, operation directives, any document whose field collection fails
for the given variables (remembered: not compiled again), and operations a plan of which
would exceed the size budget (STEPS_PER_PLAN; all plans kept together: STEPS_KEPT).
``CLAIMS_COMPILED_EXECUTION=0`` turns it off altogether.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import enum
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable, Iterable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, Literal

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLAbstractType,
    GraphQLEnumType,
    GraphQLError,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    Undefined,
    located_error,
)
from graphql import (
    ExecutionResult as CoreExecutionResult,
)
from graphql import (
    execute as core_execute,
)
from graphql.execution.collect_fields import (
    CollectedFields,
    FieldDetails,
    FragmentDetails,
    collect_fields,
    collect_subfields,
)
from graphql.execution.executor import Executor, default_type_resolver
from graphql.execution.get_variable_signature import GraphQLVariableSignature, get_variable_signature
from graphql.execution.values import (
    VariableValues,
    VariableValueSource,
    get_argument_values,
    get_variable_values,
    maybe_use_default_value,
)
from graphql.language import DirectiveNode, VariableNode, Visitor, visit
from graphql.pyutils import Path, inspect, is_iterable
from graphql.pyutils.gather_with_cancel import gather_with_cancel
from graphql.type import GraphQLResolveInfoHelpers, assert_valid_schema, get_nullable_type, is_required_argument
from graphql.type.scalars import coerce_id, coerce_string, serialize_id, serialize_string
from graphql.utilities import coerce_input_value
from strawberry.execution import optimized_is_awaitable
from strawberry.schema.schema import _OperationContextAwareGraphQLResolveInfo
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.arguments import convert_argument, convert_arguments
from strawberry.types.base import StrawberryOptional, StrawberryType

from api.graphql.fields_code import FieldsCode, FieldsFunction

if TYPE_CHECKING:
    from strawberry.schema import Schema
    from strawberry.types.field import StrawberryField

OPERATIONS_KEPT = 512  # documents' operations remembered (as many as the parser and validation caches keep)
PLANS_PER_OPERATION = 32  # plans for distinct @skip/@include values of one operation; beyond: graphql-core runs it
MAX_COERCION_ERRORS = 50  # graphql-core's default
# Size budgets, counted in field steps (about 1.4 kB each with their completion closures; ~2.3 kB
# in a plan that got its generated code, GENERATE_AFTER). An
# operation one of whose plans would be larger is not planned again (graphql-core's ``execute`` runs
# it, as it would without this module), so a document crafted to plan big (deep fragments, many
# @include combinations) costs one aborted compilation; and the plans kept together stay under
# STEPS_KEPT (about 30 MB; up to ~45 MB when every plan kept runs often): the least recently used
# operations make room for a new plan.
STEPS_PER_PLAN = 1_000
STEPS_KEPT = 20_000
# A plan's selection sets get their generated code (``api/graphql/fields_code.py``) on its GENERATE_AFTER-th
# run: ~0.4 ms of compile() per selection set (~3 ms for a cold ``position``'s plan, ~0.1 s for a plan near
# STEPS_PER_PLAN) and ~0.9 kB more per step, paid for a document asked again and again, not for each one seen.
GENERATE_AFTER = 8
# Converted argument values that can be shared by every request of one document.
IMMUTABLE = (str, int, float, bool, type(None), dt.date, dt.datetime, dt.time, enum.Enum, uuid.UUID)

Completer = Callable[["Run", "Step", Path, Any], Any]


class Unsupported(Exception):
    """The operation uses something the plan does not execute: graphql-core runs it."""


class TooLarge(Unsupported):
    """A plan of the operation would hold more than STEPS_PER_PLAN steps."""


def _settle_in_background(background: set[Any], values: Sequence[Any]) -> None:
    """Let abandoned sibling awaitables finish (and their errors be observed), as graphql-core does."""
    awaitables = [v for v in values if optimized_is_awaitable(v)]
    if not awaitables:
        return
    future = asyncio.gather(*awaitables, return_exceptions=True)
    background.add(future)
    future.add_done_callback(background.discard)


class Run:
    """One execution's state: what every step reads, and the errors collected so far."""

    __slots__ = (
        "async_helpers",
        "background",
        "context",
        "error_positions",
        "errors",
        "field_info",
        "fragments",
        "operation",
        "operation_extensions",
        "owner",
        "root_value",
        "schema",
        "variables",
    )

    def __init__(
        self,
        owner: CompiledExecution,
        schema: GraphQLSchema,
        plan: Plan,
        root_value: Any,
        context: Any,
        variables: VariableValues,
        operation_extensions: Any,
    ) -> None:
        self.owner = owner
        self.schema = schema
        self.fragments = plan.fragment_definitions
        self.operation = plan.operation
        self.root_value = root_value
        self.context = context
        self.variables = variables
        self.operation_extensions = operation_extensions
        self.errors: list[GraphQLError] = []
        self.error_positions: set[Path | None] = set()
        self.background: set[Any] = set()
        # The helpers get the background set, not this Run: a bound method of the Run in its own helpers
        # made a reference cycle per request, left to the cyclic collector (the cold path's p99).
        self.async_helpers = GraphQLResolveInfoHelpers(
            gather=_gather, track=partial(_settle_in_background, self.background)
        )
        self.field_info: tuple[Step | None, Path | None, Any] = (None, None, None)

    def add_error(self, error: GraphQLError, path: Path | None) -> None:
        """Record a field error unless its position (or an ancestor) was nulled already."""
        positions = self.error_positions
        at = path
        while at is not None:
            if at in positions:
                return
            at = at.prev
        if None in positions:
            return
        positions.add(path)
        self.errors.append(error)

    def settle_in_background(self, values: Sequence[Any]) -> None:
        _settle_in_background(self.background, values)

    def raw_info(self, step: Step, path: Path) -> Any:
        return _OperationContextAwareGraphQLResolveInfo(  # type: ignore[call-arg]
            step.name,
            step.nodes,
            step.return_type,
            step.parent_type,
            path,
            self.schema,
            self.fragments,
            self.root_value,
            self.operation,
            self.variables.coerced,
            self.context,
            optimized_is_awaitable,
            None,
            self.async_helpers,
            self.operation_extensions,
        )

    def type_info(self, step: Step, path: Path) -> Any:
        """The info ``resolve_type``/``is_type_of`` get: the field's, as graphql-core passes them
        (its path without the list indices), made once for all the items of a list."""
        while isinstance(path.key, int):
            path = path.prev  # type: ignore[assignment]
        last_step, last_path, info = self.field_info
        if last_step is step and last_path is path:
            return info
        info = self.raw_info(step, path)
        self.field_info = (step, path, info)
        return info

    def strawberry_info(self, step: Step, path: Path) -> Any:
        return self.owner.config.info_class(_raw_info=self.raw_info(step, path), _field=step.field)  # type: ignore[arg-type]


def _gather(values: Sequence[Awaitable[Any]]) -> Awaitable[list[Any]]:
    return gather_with_cancel(*values)


class Step:
    """One response key of one selection set: what to resolve and how to complete it."""

    __slots__ = (
        "arguments",
        "complete",
        "converters",
        "details",
        "field",
        "field_def",
        "info_name",
        "is_async",
        "key",
        "kwargs",
        "name",
        "node",
        "nodes",
        "non_null",
        "object_fields",
        "parent_name",
        "parent_type",
        "python_name",
        "resolve",
        "return_type",
        "root_name",
        "self_parameter",
        "strings",
        "type_name",
        "variable_arguments",
        "wants_info",
    )

    key: str
    name: str
    parent_type: GraphQLObjectType
    type_name: str
    field_def: GraphQLField
    return_type: GraphQLOutputType
    non_null: bool
    details: list[FieldDetails]
    nodes: list[FieldNode]
    node: FieldNode
    complete: Completer
    resolve: Callable[[Run, Step, Any, Path], Any]
    field: StrawberryField | None
    python_name: str
    arguments: dict[str, Any] | None  # graphql-core's coerced arguments, when fixed by the document
    variable_arguments: VariableArguments | None  # else, when each is a variable or left out
    kwargs: dict[str, Any] | None  # converted for the resolver, when fixed and immutable
    converters: list[tuple[str, str, Any]]  # GraphQL name, Python name, strawberry type to convert (None: as is)
    self_parameter: bool
    parent_name: str | None
    root_name: str | None
    info_name: str | None
    wants_info: bool
    is_async: bool  # a coroutine resolver (strawberry awaits it inside its own coroutine)
    # A field read by the default resolver (getattr) whose type is a scalar or an enum: how a ``str``
    # value completes in its selection set's code (``api/graphql/fields_code.py``): True, as it is (String,
    # ID); a table, each value the enum has to its name. None: every value goes through ``complete``.
    strings: Literal[True] | dict[str, str] | None
    # A field of (non-null) object type without ``is_type_of``: the object's selection set, whose generated
    # function the code of this field's selection set calls directly for a plain value. None: ``complete``.
    object_fields: Selection | None


class Selection:
    """One selection set of a plan: its steps and the function that executes them (``fields``): the
    interpreter :func:`execute_fields` until the plan runs often (GENERATE_AFTER), then its generated
    code (``api/graphql/fields_code.py``)."""

    __slots__ = ("fields", "steps")

    def __init__(self, steps: list[Step]) -> None:
        self.steps = steps
        self.fields: FieldsFunction = partial(_interpret, steps)


class Plan:
    """An operation compiled for one set of ``@skip``/``@include`` values."""

    __slots__ = ("fragment_definitions", "operation", "runs", "selection", "selections", "size", "steps")

    def __init__(
        self, operation: OperationDefinitionNode, fragment_definitions: dict[str, FragmentDefinitionNode]
    ) -> None:
        self.operation = operation
        self.fragment_definitions = fragment_definitions
        self.steps: list[Step] = []
        self.selection: Selection  # the root's
        self.selections: list[Selection] = []  # all of them, each after those below it
        self.size = 0  # field steps in the whole plan
        self.runs = 0  # executions so far, up to GENERATE_AFTER (then its selection sets get their code)


class Operation:
    """A document's operation: its fragments, the variables its directives read, its plans."""

    __slots__ = (
        "condition_variables",
        "fragment_definitions",
        "fragments",
        "operation",
        "plans",
        "signatures",
        "too_large",
    )

    def __init__(self, document: DocumentNode, operation: OperationDefinitionNode) -> None:
        self.operation = operation
        self.fragment_definitions = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self.fragments = {name: FragmentDetails(d, None) for name, d in self.fragment_definitions.items()}
        self.condition_variables = _condition_variables(operation, self.fragment_definitions)
        self.plans: dict[Hashable, Plan | None] = {}  # None: graphql-core runs it (decided once)
        self.too_large = False  # a plan went over STEPS_PER_PLAN: graphql-core runs every combination
        # The variables' signatures when every one is a scalar or enum without a default (see
        # ``coerce_leaf_variables``); None: graphql-core coerces them; unset: not looked at yet.
        self.signatures: tuple[GraphQLVariableSignature, ...] | bool | None = False

    def variables(self, schema: GraphQLSchema, inputs: dict[str, Any]) -> VariableValues | list[GraphQLError]:
        """graphql-core's ``get_variable_values``, without its per-request work when it can be skipped."""
        signatures = self.signatures
        if signatures is False:
            signatures = self.signatures = leaf_signatures(schema, self.operation)
        if isinstance(signatures, tuple):
            coerced = coerce_leaf_variables(signatures, inputs)
            if coerced is not None:
                return coerced
        return get_variable_values(
            schema, self.operation.variable_definitions or (), inputs, max_errors=MAX_COERCION_ERRORS
        )

    @property
    def size(self) -> int:
        return sum(plan.size for plan in self.plans.values() if plan is not None)


def leaf_signatures(
    schema: GraphQLSchema, operation: OperationDefinitionNode
) -> tuple[GraphQLVariableSignature, ...] | None:
    """The operation's variable signatures if each is a scalar or enum (nullable or not) without a
    default value: those :func:`coerce_leaf_variables` can coerce; else None."""
    signatures = []
    for node in operation.variable_definitions or ():
        signature = get_variable_signature(schema, node)
        if isinstance(signature, GraphQLError) or signature.default is not None:
            return None
        if not isinstance(get_nullable_type(signature.type), GraphQLScalarType | GraphQLEnumType):
            return None
        signatures.append(signature)
    return tuple(signatures)


def coerce_leaf_variables(
    signatures: tuple[GraphQLVariableSignature, ...], inputs: dict[str, Any]
) -> VariableValues | None:
    """What ``coerce_variable_values`` gives for these leaf variables when every value is valid (the
    same steps: sources, omitted nullable values, ``coerce_input_value``); None at the first value
    that is not (graphql-core then coerces all of them again and reports the errors)."""
    sources: dict[str, VariableValueSource] = {}
    coerced: dict[str, Any] = {}
    for signature in signatures:
        name = signature.name
        value = inputs.get(name, Undefined)
        if value is Undefined:
            if isinstance(signature.type, GraphQLNonNull):
                return None
            sources[name] = VariableValueSource(signature)
            continue
        if value is not None and not isinstance(value, LEAF_INPUTS):
            return None  # (a list or an object: graphql-core's depth check and its error)
        sources[name] = VariableValueSource(signature, value)
        if type(value) is str and _nullable_leaf(signature.type).coerce_input_value in STRING_AS_IS:
            coerced[name] = value  # (what coerce_input_value returns for it, without its type checks)
            continue
        result = coerce_input_value(value, signature.type)
        if result is Undefined:
            return None
        coerced[name] = result
    return VariableValues(sources, coerced)


# JSON values a leaf variable may take as they are (a tuple: ``str | int | ...`` would build a union per call).
LEAF_INPUTS = (str, int, float, bool)
# graphql-core's coercions of String and ID variables: each returns a ``str`` as it is.
STRING_AS_IS = (coerce_string, coerce_id)


def _nullable_leaf(type_: Any) -> Any:
    return type_.of_type if type(type_) is GraphQLNonNull else type_


def _condition_variables(
    operation: OperationDefinitionNode, fragments: dict[str, FragmentDefinitionNode]
) -> tuple[str, ...]:
    """The variables that ``@skip``/``@include`` arguments read in the operation or a fragment it
    spreads (directly or through other fragments): the plan depends on these and no others."""
    names: list[str] = []

    class Conditions(Visitor):
        def enter_directive(self, node: DirectiveNode, *_: Any) -> None:
            if node.name.value in ("skip", "include"):
                for argument in node.arguments or ():
                    if isinstance(argument.value, VariableNode) and argument.value.name.value not in names:
                        names.append(argument.value.name.value)

    spread: list[str] = []

    class Spreads(Visitor):
        def enter_fragment_spread(self, node: FragmentSpreadNode, *_: Any) -> None:
            if node.name.value not in spread:
                spread.append(node.name.value)

    visit(operation, Conditions())
    visit(operation, Spreads())
    for name in spread:  # (grows while it is read: fragments spread by fragments)
        fragment = fragments.get(name)
        if fragment is not None:
            visit(fragment, Conditions())
            visit(fragment, Spreads())
    return tuple(names)


class CompiledExecution:
    """A drop-in for graphql-core's ``execute`` (the arguments strawberry passes it) that runs
    query operations through cached plans and everything else through ``execute``."""

    def __init__(self, schema: Schema) -> None:
        self.strawberry_schema = schema
        converter = schema.schema_converter
        self.scalar_registry = converter.scalar_registry
        self.config = schema.config
        self.default_resolver = schema.config.default_resolver
        # (document id, operation name): the document (kept alive while its entry is) and its operation
        self.operations: OrderedDict[tuple[int, str | None], tuple[DocumentNode, Operation | None]] = OrderedDict()
        self.steps_kept = 0  # field steps in every cached plan (bounded by STEPS_KEPT)

    # ------------------------------------------------------------------ request time

    def __call__(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        root_value: Any = None,
        context_value: Any = None,
        variable_values: dict[str, Any] | None = None,
        operation_name: str | None = None,
        middleware: Any = None,
        operation_extensions: Any = None,
        **kwargs: Any,
    ) -> Any:
        def fallback() -> Any:
            return core_execute(
                schema,
                document,
                root_value=root_value,
                context_value=context_value,
                variable_values=variable_values,
                operation_name=operation_name,
                middleware=middleware,
                operation_extensions=operation_extensions,
                **kwargs,
            )

        if getattr(middleware, "middlewares", None) or kwargs.get("is_async_iterable") is not None:
            return fallback()
        found = self._operation(document, operation_name)
        if found is None:
            return fallback()
        assert_valid_schema(schema)
        variables = found.variables(schema, variable_values or {})
        if isinstance(variables, list):
            return CoreExecutionResult(None, errors=variables)
        plan = self._plan(schema, found, variables)
        if plan is None:
            return fallback()
        return self.run(Run(self, schema, plan, root_value, context_value, variables, operation_extensions), plan)

    def run(self, run: Run, plan: Plan) -> Any:
        if plan.runs < GENERATE_AFTER:
            plan.runs += 1
            if plan.runs == GENERATE_AFTER:
                self._generate(plan)
        try:
            data = plan.selection.fields(run, run.root_value, None)
        except GraphQLError as error:
            run.add_error(error, None)
            return CoreExecutionResult(None, run.errors or None)
        if optimized_is_awaitable(data):
            return _await_operation(run, data)
        return CoreExecutionResult(data, run.errors or None)

    def _generate(self, plan: Plan) -> None:
        """Give each selection set of a plan its generated function, those below a set before it."""
        getattr_reads = self.default_resolver is getattr
        for selection in plan.selections:
            selection.fields = FIELDS_CODE.function(selection.steps, getattr_reads)

    # ------------------------------------------------------------------ compile time

    def _operation(self, document: DocumentNode, name: str | None) -> Operation | None:
        key = (id(document), name)
        operations = self.operations
        entry = operations.get(key)
        if entry is not None and entry[0] is document:  # (the id of a collected document may be reused)
            operations.move_to_end(key)
            return entry[1]
        found = self._find_operation(document, name)
        operations[key] = (document, found)
        while len(operations) > OPERATIONS_KEPT:
            _, (_, evicted) = operations.popitem(last=False)
            if evicted is not None:
                self.steps_kept -= evicted.size
        return found

    @staticmethod
    def _find_operation(document: DocumentNode, name: str | None) -> Operation | None:
        """The query operation to plan, or None (graphql-core reports missing or ambiguous ones)."""
        chosen: OperationDefinitionNode | None = None
        for definition in document.definitions:
            if isinstance(definition, OperationDefinitionNode):
                if name is None:
                    if chosen is not None:
                        return None
                    chosen = definition
                elif definition.name and definition.name.value == name:
                    chosen = definition
            elif isinstance(definition, FragmentDefinitionNode) and definition.variable_definitions:
                return None  # fragment arguments (experimental)
        if chosen is None or chosen.operation != OperationType.QUERY or chosen.directives:
            return None
        return Operation(document, chosen)

    def _plan(self, schema: GraphQLSchema, found: Operation, variables: VariableValues) -> Plan | None:
        coerced = variables.coerced
        key = tuple((name in coerced, coerced.get(name)) for name in found.condition_variables)
        if found.too_large:
            return None
        try:
            return found.plans[key]
        except KeyError:
            if len(found.plans) >= PLANS_PER_OPERATION:  # many condition values: no plan table grows unbounded
                return None
        except TypeError:  # an unhashable condition value: not planned
            return None
        try:
            plan: Plan | None = Compiler(self, schema, found, variables).plan()
        except TooLarge:
            found.too_large = True
            self.steps_kept -= found.size
            found.plans.clear()
            return None
        except (Unsupported, GraphQLError, RecursionError):
            plan = None  # graphql-core runs it (and reports the error, with the same variables)
        if plan is not None:
            self._make_room(plan.size, found)
            if self.steps_kept + plan.size > STEPS_KEPT:  # its own other plans are what fills the budget
                self.steps_kept -= found.size
                found.plans.clear()
            self.steps_kept += plan.size
        found.plans[key] = plan
        return plan

    def _make_room(self, size: int, keep: Operation) -> None:
        """Forget the least recently used operations until ``size`` more steps fit in STEPS_KEPT."""
        operations = self.operations
        for key in list(operations):
            if self.steps_kept + size <= STEPS_KEPT:
                return
            evicted = operations[key][1]
            if evicted is not None and evicted is not keep:
                del operations[key]
                self.steps_kept -= evicted.size


class Compiler:
    """Builds the steps of one plan from graphql-core's own field collection."""

    def __init__(
        self,
        owner: CompiledExecution,
        schema: GraphQLSchema,
        found: Operation,
        variables: VariableValues,
    ) -> None:
        self.owner = owner
        self.schema = schema
        self.found = found
        self.variables = variables
        self.size = 0
        self.selections: list[Selection] = []

    def plan(self) -> Plan:
        schema, found = self.schema, self.found
        root_type = schema.query_type
        if root_type is None:
            raise Unsupported("no query type")
        plan = Plan(found.operation, found.fragment_definitions)
        plan.steps = self.steps(
            root_type, collect_fields(schema, found.fragments, self.variables, root_type, found.operation)
        )
        plan.selection = self.selection(plan.steps)
        plan.selections = self.selections
        plan.size = self.size
        return plan

    def steps(self, parent_type: GraphQLObjectType, collected: CollectedFields) -> list[Step]:
        grouped, defer_usages, forbidden = collected
        if defer_usages or forbidden:
            raise Unsupported("@defer")
        steps = []
        for key, details in grouped.items():
            step = self.step(parent_type, key, details)
            if step is not None:
                steps.append(step)
        return steps

    def step(self, parent_type: GraphQLObjectType, key: str, details: list[FieldDetails]) -> Step | None:
        if any(d.fragment_variable_values is not None or d.defer_usage is not None for d in details):
            raise Unsupported("fragment arguments or @defer")
        node = details[0].node
        name = node.name.value
        field_def = self.schema.get_field(parent_type, name)
        if field_def is None:
            return None  # graphql-core skips it too
        if name in ("__schema", "__type"):
            raise Unsupported("introspection")
        self.size += 1
        if self.size > STEPS_PER_PLAN:
            raise TooLarge
        step = Step()
        step.key, step.name, step.parent_type, step.type_name = key, name, parent_type, parent_type.name
        step.field_def, step.return_type = field_def, field_def.type
        step.non_null = isinstance(field_def.type, GraphQLNonNull)
        step.details, step.nodes, step.node = details, [d.node for d in details], node
        step.field, step.python_name = None, name
        step.arguments, step.kwargs, step.converters = {}, None, []
        step.variable_arguments = None
        step.self_parameter, step.parent_name, step.root_name, step.info_name = False, None, None, None
        step.wants_info, step.is_async = False, False
        step.object_fields = None
        self.arguments(step)
        if name == "__typename":
            step.resolve = resolve_typename
        else:
            self.resolver(step)
        step.complete = self.completer(step, field_def.type)
        step.strings = self.strings(step)
        return step

    def strings(self, step: Step) -> Literal[True] | dict[str, str] | None:
        """:attr:`Step.strings`: decided from what ``complete_leaf`` would return for a ``str``."""
        if step.resolve is not resolve_attribute or self.owner.default_resolver is not getattr:
            return None
        leaf = get_nullable_type(step.return_type)
        if isinstance(leaf, GraphQLScalarType):
            # graphql-core's String and ID return a str as it is (a custom scalar may not)
            return True if leaf.coerce_output_value in (serialize_string, serialize_id) else None
        if isinstance(leaf, GraphQLEnumType):
            table = {}
            for definition in leaf.values.values():
                if type(definition.value) is str:
                    try:
                        name = leaf.coerce_output_value(definition.value)
                    except Exception:
                        continue
                    if type(name) is str:
                        table[definition.value] = name
            return table or None
        return None

    def arguments(self, step: Step) -> None:
        """Arguments fixed by the document are coerced once; those reading variables at request time."""
        field_def, node = step.field_def, step.node
        if not (field_def.args or node.arguments):
            return
        uses_variables = False

        class Variables(Visitor):
            def enter_variable(self, *_: Any) -> None:
                nonlocal uses_variables
                uses_variables = True

        for argument in node.arguments or ():
            visit(argument, Variables())
        if uses_variables:
            step.arguments = None
            step.variable_arguments = VariableArguments.of(field_def, node)
            return
        try:
            step.arguments = get_argument_values(field_def, node, self.variables)
        except Exception:  # raised again at request time, where graphql-core raises it
            step.arguments = None

    def resolver(self, step: Step) -> None:
        field: StrawberryField | None = (step.field_def.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
        if field is None:
            raise Unsupported(f"{step.type_name}.{step.name} is not a strawberry field")
        if field.extensions:
            raise Unsupported(f"{step.type_name}.{step.name} has field extensions")
        converter = self.owner.strawberry_schema.schema_converter
        if converter._get_field_exception_handlers(field):
            raise Unsupported(f"{step.type_name}.{step.name} has exception handlers")
        step.field, step.python_name = field, field.python_name
        resolver = field.base_resolver
        if resolver is None:
            step.resolve = resolve_attribute
            return
        step.resolve = resolve_with_resolver
        step.is_async = field.is_async
        step.self_parameter = resolver.self_parameter is not None
        step.parent_name = resolver.parent_parameter.name if resolver.parent_parameter else None
        step.root_name = resolver.root_parameter.name if resolver.root_parameter else None
        step.info_name = resolver.info_parameter.name if resolver.info_parameter else None
        inputs = any(isinstance(_named(a.type), GraphQLInputObjectType) for a in step.field_def.args.values())
        # strawberry hands ``info`` to input types' conversion: build it for those fields too
        step.wants_info = step.info_name is not None or inputs
        step.converters = self.converters(step, field)
        if step.arguments is not None and not field.arguments:
            step.kwargs = {}
        elif step.arguments is not None and not inputs:
            owner = self.owner
            try:
                kwargs = convert_arguments(
                    step.arguments, field.arguments, scalar_registry=owner.scalar_registry, config=owner.config
                )
            except Exception:  # converted (and raised) at request time instead
                return
            if all(isinstance(v, IMMUTABLE) for v in kwargs.values()):
                step.kwargs = kwargs

    def converters(self, step: Step, field: StrawberryField) -> list[tuple[str, str, Any]]:
        """strawberry's ``convert_arguments``, decided once: a scalar or enum argument (not a list,
        not ``Maybe``) is passed as graphql-core coerced it; anything else goes through
        ``convert_argument`` at request time."""
        out = []
        name_converter = self.owner.config.name_converter
        for argument in field.arguments:
            name = name_converter.from_argument(argument)
            definition = step.field_def.args.get(name)
            type_: Any = argument.type
            while type(type_) is StrawberryOptional:  # (``Maybe`` subclasses it: converted)
                type_ = type_.of_type
            graphql_type = get_nullable_type(definition.type) if definition is not None else None
            plain = isinstance(graphql_type, GraphQLScalarType | GraphQLEnumType) and not isinstance(
                type_, StrawberryType
            )
            if plain and isinstance(graphql_type, GraphQLScalarType) and graphql_type.name == "GlobalID":
                plain = False
            out.append((name, argument.python_name, None if plain else argument.type))
        return out

    def completer(self, step: Step, type_: GraphQLOutputType) -> Completer:
        if isinstance(type_, GraphQLNonNull):
            return complete_non_null(self.completer(step, type_.of_type), step)
        if isinstance(type_, GraphQLList):
            return complete_list(self.completer(step, type_.of_type), type_.of_type)
        if isinstance(type_, GraphQLObjectType):
            selection = self.selection(self.sub_steps(type_, step))
            if type_ is get_nullable_type(step.return_type) and type_.is_type_of is None:
                step.object_fields = selection  # (the field's own type: its selection set's code calls it)
            return complete_object(type_, selection)
        if isinstance(type_, GraphQLAbstractType):  # interface or union: a plan per possible type
            by_name = {t.name: complete_object(t, self.selection(self.sub_steps(t, step)))
                       for t in self.schema.get_possible_types(type_)}  # fmt: skip
            return complete_abstract(type_, by_name)
        return complete_leaf(type_)

    def selection(self, steps: list[Step]) -> Selection:
        selection = Selection(steps)
        self.selections.append(selection)
        return selection

    def sub_steps(self, type_: GraphQLObjectType, step: Step) -> list[Step]:
        found = self.found
        collected = collect_subfields(
            self.schema, found.fragments, self.variables, found.operation, type_, step.details
        )
        return self.steps(type_, collected)


def _named(type_: Any) -> Any:
    while isinstance(type_, GraphQLNonNull | GraphQLList):
        type_ = type_.of_type
    return type_


class VariableArguments:
    """A field's arguments when each is a variable (``f(a: $x)``) or left out: graphql-core's
    ``get_argument_values`` read off the coerced variables, without its per-request lookups.

    Its rules, decided once per argument: left out, or its variable has no value, the argument's
    default (coerced once, as graphql-core memoises it on the argument) or nothing when it has none;
    otherwise the variable's coerced value as it is (validation checked the variable's type). A
    case that is an error there (a required argument left out or whose variable is missing or null,
    a null for a non-null argument, a default that does not coerce) is not read here: ``read``
    answers None and ``get_argument_values`` raises its error. ``tests/test_compiled_execution.py``
    compares the two.
    """

    __slots__ = ("arguments",)

    def __init__(self, arguments: list[tuple[str, str | None, bool, bool, Any]]) -> None:
        # (out name, variable (None: left out), required, non-null, default (Undefined: none))
        self.arguments = arguments

    @classmethod
    def of(cls, field_def: GraphQLField, node: FieldNode) -> VariableArguments | None:
        given = {argument.name.value: argument.value for argument in node.arguments or ()}
        arguments = []
        for name, definition in field_def.args.items():
            value = given.pop(name, None)
            if value is not None and not isinstance(value, VariableNode):
                return None  # a literal (or a list or object holding variables): graphql-core reads it
            required = is_required_argument(definition)
            if value is None and required:
                return None
            defaults: dict[str, Any] = {}
            out_name = definition.out_name or name
            try:
                maybe_use_default_value(defaults, out_name, definition, _refuse_default)
            except Exception:  # (an invalid default: graphql-core reports it at request time)
                return None
            variable = value.name.value if value is not None else None
            non_null = isinstance(definition.type, GraphQLNonNull)
            arguments.append((out_name, variable, required, non_null, defaults.get(out_name, Undefined)))
        if given:  # (an argument the field does not define: validation refused it; graphql-core ignores it)
            return None
        return cls(arguments)

    def read(self, variables: VariableValues) -> dict[str, Any] | None:
        """The arguments, or None where ``get_argument_values`` must decide (it raises)."""
        coerced = variables.coerced
        out: dict[str, Any] = {}
        for out_name, variable, required, non_null, default in self.arguments:
            if variable is None or variable not in coerced:
                if required:
                    return None
                if default is not Undefined:
                    out[out_name] = default
                continue
            value = coerced[variable]
            if non_null and (value is None or value is Undefined):
                return None
            out[out_name] = value
        return out


def _refuse_default(error: GraphQLError, path: list[str | int]) -> None:
    raise error


# ---------------------------------------------------------------------- resolving


def resolve_typename(run: Run, step: Step, source: Any, path: Path) -> Any:
    return step.type_name


def resolve_attribute(run: Run, step: Step, source: Any, path: Path) -> Any:
    # strawberry's default resolver (``StrawberryConfig.default_resolver``: getattr) on the Python name
    return run.owner.default_resolver(source, step.python_name)


def resolve_with_resolver(run: Run, step: Step, source: Any, path: Path) -> Any:
    arguments = step.arguments
    if arguments is None:  # graphql-core coerces arguments before it calls the resolver
        direct = step.variable_arguments
        arguments = direct.read(run.variables) if direct is not None else None
        if arguments is None:
            arguments = get_argument_values(step.field_def, step.node, run.variables)
    if step.is_async:  # strawberry converts an async field's arguments inside its coroutine
        return _call_async(run, step, source, path, arguments)
    return _call(run, step, source, path, arguments)


async def _call_async(run: Run, step: Step, source: Any, path: Path, arguments: dict[str, Any]) -> Any:
    result = _call(run, step, source, path, arguments)
    return await result if optimized_is_awaitable(result) else result


def _call(run: Run, step: Step, source: Any, path: Path, arguments: dict[str, Any]) -> Any:
    """strawberry's ``get_arguments`` and ``StrawberryField.get_result``, with what never changes decided."""
    field = step.field
    assert field is not None and field.base_resolver is not None
    info = run.strawberry_info(step, path) if step.wants_info else None
    kwargs = step.kwargs
    if kwargs is not None:
        kwargs = dict(kwargs)
    else:
        kwargs = {}
        for name, python_name, type_ in step.converters:
            if name in arguments:
                value = arguments[name]
                if type_ is not None:
                    owner = run.owner
                    value = convert_argument(value, type_, owner.scalar_registry, owner.config, info, path=(name,))
                kwargs[python_name] = value
    if step.parent_name is not None:
        kwargs[step.parent_name] = source
    if step.root_name is not None:
        kwargs[step.root_name] = source
    if step.info_name is not None:
        kwargs[step.info_name] = info
    if step.self_parameter:
        return field.base_resolver(source, **kwargs)
    return field.base_resolver(**kwargs)


# ---------------------------------------------------------------------- executing


def _interpret(steps: list[Step], run: Run, source: Any, path: Path | None) -> Any:
    return execute_fields(run, steps, source, path)


def execute_fields(run: Run, steps: list[Step], source: Any, path: Path | None) -> Any:
    """A selection set's fields, concurrently (graphql-core's ``execute_fields``), by its steps; what a
    selection set's generated code does (``api/graphql/fields_code.py``) without the code.

    A plain attribute of scalar or enum type (``Step.strings``) is read here, and a ``str`` or a
    null it may be completes here: no path, no resolver and completer calls (most of a cold
    ``position``'s fields). Any other value, and an error, goes on to the field's ``complete``,
    read once, exactly as :func:`execute_field` would have it."""
    results: dict[str, Any] = {}
    pending: list[str] = []
    try:
        for step in steps:
            strings = step.strings
            if strings is None:
                result = execute_field(run, step, source, Path(path, step.key, step.type_name))
            else:
                try:
                    value = getattr(source, step.python_name)
                except Exception as raw:
                    field_error(run, raw, step.non_null, step.nodes, Path(path, step.key, step.type_name))
                    results[step.key] = None
                    continue
                if type(value) is str:
                    name = value if strings is True else strings.get(value)
                    if name is not None:
                        results[step.key] = name
                        continue
                elif value is None and not step.non_null:
                    results[step.key] = None
                    continue
                result = complete_field(run, step, Path(path, step.key, step.type_name), value)
            results[step.key] = result
            if optimized_is_awaitable(result):
                pending.append(step.key)
    except Exception:
        if pending:
            run.settle_in_background([results[key] for key in pending])
        raise
    if not pending:
        return results
    return _await_pending(results, pending)


# The general paths of a selection set's generated code (``api/graphql/fields_code.py``): each does what
# graphql-core's ``execute_fields`` does for one field, ``path`` being the selection set's and ``at`` (when
# the code made it already) the field's. ``pending``: the keys whose results are awaitable, or None (none yet).


def field_failed(run: Run, raw: Exception, step: Step, path: Path | None, at: Path | None = None) -> None:
    """A field whose resolver or completion raised: located (a non-null one raises), its result None."""
    field_error(run, raw, step.non_null, step.nodes, at or Path(path, step.key, step.type_name))


def complete_into(
    results: dict[str, Any],
    pending: list[str] | None,
    run: Run,
    step: Step,
    path: Path | None,
    value: Any,
    at: Path | None = None,
) -> list[str] | None:
    """A resolved value completed by the field's ``complete`` (into ``results``); ``pending``, grown if awaitable."""
    result = results[step.key] = complete_field(run, step, at or Path(path, step.key, step.type_name), value)
    return _pending(pending, step.key) if optimized_is_awaitable(result) else pending


def execute_into(
    results: dict[str, Any], pending: list[str] | None, run: Run, step: Step, source: Any, path: Path | None
) -> list[str] | None:
    """A field resolved and completed (into ``results``), as ``execute_field`` does; ``pending``, as above."""
    result = results[step.key] = execute_field(run, step, source, Path(path, step.key, step.type_name))
    return _pending(pending, step.key) if optimized_is_awaitable(result) else pending


def completed_later(
    pending: list[str] | None, run: Run, step: Step, at: Path, completed: Awaitable[Any]
) -> tuple[Any, list[str]]:
    """An object's fields that are awaitable (as ``complete_field`` awaits them), and ``pending`` with its key."""
    return _await_completed(run, step, at, completed), _pending(pending, step.key)


def _pending(pending: list[str] | None, key: str) -> list[str]:
    if pending is None:
        return [key]
    pending.append(key)
    return pending


async def _await_pending(container: Any, pending: list[Any]) -> Any:
    """Await the pending entries of a result dict or list in place: one directly, several together
    (graphql-core's ``gather_with_cancel``: when one fails, the others are cancelled)."""
    if len(pending) == 1:
        key = pending[0]
        container[key] = await container[key]
    else:
        values = await gather_with_cancel(*(container[key] for key in pending))
        for key, value in zip(pending, values, strict=True):
            container[key] = value
    return container


def execute_field(run: Run, step: Step, source: Any, path: Path) -> Any:
    try:
        result = step.resolve(run, step, source, path)
    except Exception as raw:
        field_error(run, raw, step.non_null, step.nodes, path)
        return None
    return complete_field(run, step, path, result)


def complete_field(run: Run, step: Step, path: Path, result: Any) -> Any:
    """A field's resolved value (or awaitable) completed; an error located at ``path``."""
    try:
        if optimized_is_awaitable(result):
            return _complete_awaitable(run, step, path, result)
        completed = step.complete(run, step, path, result)
        if optimized_is_awaitable(completed):
            return _await_completed(run, step, path, completed)
    except Exception as raw:
        field_error(run, raw, step.non_null, step.nodes, path)
        return None
    return completed


async def _complete_awaitable(run: Run, step: Step, path: Path, result: Awaitable[Any]) -> Any:
    try:
        completed = step.complete(run, step, path, await result)
        if optimized_is_awaitable(completed):
            completed = await completed
    except Exception as raw:
        field_error(run, raw, step.non_null, step.nodes, path)
        completed = None
    return completed


async def _await_completed(run: Run, step: Step, path: Path, completed: Awaitable[Any]) -> Any:
    try:
        return await completed
    except Exception as raw:
        field_error(run, raw, step.non_null, step.nodes, path)
        return None


def field_error(run: Run, raw: Exception, non_null: bool, nodes: list[FieldNode], path: Path) -> None:
    """Locate the error; a non-null position passes it to its parent, a nullable one records it."""
    error = located_error(raw, nodes, path.as_list())
    if non_null:
        raise error
    run.add_error(error, path)


async def _await_operation(run: Run, data: Awaitable[dict[str, Any]]) -> CoreExecutionResult:
    try:
        value = await data
    except GraphQLError as error:
        run.add_error(error, None)
        return CoreExecutionResult(None, run.errors or None)
    return CoreExecutionResult(value, run.errors or None)


# ---------------------------------------------------------------------- completing


def complete_non_null(inner: Completer, step: Step) -> Completer:
    message = f"Cannot return null for non-nullable field {step.type_name}.{step.name}."

    def complete(run: Run, step: Step, path: Path, value: Any) -> Any:
        if isinstance(value, Exception):
            raise value
        completed = inner(run, step, path, value)
        if completed is None:
            raise TypeError(message)
        return completed

    return complete


def complete_leaf(type_: Any) -> Completer:
    coerce = type_.coerce_output_value

    def complete(run: Run, step: Step, path: Path, value: Any) -> Any:
        if isinstance(value, Exception):
            raise value
        if value is None or value is Undefined:
            return None
        coerced = coerce(value)
        if coerced is Undefined or coerced is None:
            raise TypeError(
                f"Expected `{inspect(type_)}.coerce_output_value({inspect(value)})` to return non-nullable value,"
                f" returned: {inspect(coerced)}"
            )
        return coerced

    return complete


def complete_object(type_: GraphQLObjectType, selection: Selection) -> Completer:
    is_type_of = type_.is_type_of

    def complete(run: Run, step: Step, path: Path, value: Any) -> Any:
        if isinstance(value, Exception):
            raise value
        if value is None or value is Undefined:
            return None
        if is_type_of is not None:
            matches = is_type_of(value, run.type_info(step, path))
            if optimized_is_awaitable(matches):
                return _checked_then_fields(run, step, path, value, type_, selection, matches)
            if not matches:
                raise _invalid_return_type(type_, value, step)
        return selection.fields(run, value, path)

    return complete


async def _checked_then_fields(
    run: Run, step: Step, path: Path, value: Any, type_: GraphQLObjectType, selection: Selection, matches: Any
) -> Any:
    if not await matches:
        raise _invalid_return_type(type_, value, step)
    completed = selection.fields(run, value, path)
    return await completed if optimized_is_awaitable(completed) else completed


def _invalid_return_type(type_: GraphQLObjectType, value: Any, step: Step) -> GraphQLError:
    return GraphQLError(f"Expected value of type '{type_.name}' but got: {inspect(value)}.", step.nodes)


def complete_abstract(type_: GraphQLAbstractType, by_name: dict[str, Completer]) -> Completer:
    resolve_type = type_.resolve_type or default_type_resolver

    def complete(run: Run, step: Step, path: Path, value: Any) -> Any:
        if isinstance(value, Exception):
            raise value
        if value is None or value is Undefined:
            return None
        info = run.type_info(step, path)
        runtime = resolve_type(value, info, type_)
        if optimized_is_awaitable(runtime):
            return _resolved_then_object(run, step, path, value, type_, by_name, info, runtime)
        return _object_of(run, step, path, value, type_, by_name, info, runtime)

    return complete


def _object_of(
    run: Run, step: Step, path: Path, value: Any, type_: Any, by_name: dict[str, Completer], info: Any, runtime: Any
) -> Any:
    # graphql-core's own checks and messages (they read only ``.schema`` of the executor)
    object_type = Executor.ensure_valid_runtime_type(run, runtime, type_, step.details, info, value)  # type: ignore[arg-type]
    return by_name[object_type.name](run, step, path, value)


async def _resolved_then_object(
    run: Run, step: Step, path: Path, value: Any, type_: Any, by_name: dict[str, Completer], info: Any, runtime: Any
) -> Any:
    completed = _object_of(run, step, path, value, type_, by_name, info, await runtime)
    return await completed if optimized_is_awaitable(completed) else completed


def complete_list(inner: Completer, item_type: GraphQLOutputType) -> Completer:
    item_non_null = isinstance(item_type, GraphQLNonNull)

    def complete(run: Run, step: Step, path: Path, value: Any) -> Any:
        if isinstance(value, Exception):
            raise value
        if value is None or value is Undefined:
            return None
        if hasattr(value, "__aiter__"):
            return _complete_async_items(run, step, path, value, inner, item_non_null)
        if not is_iterable(value):
            raise GraphQLError(f"Expected Iterable, but did not find one for field '{step.type_name}.{step.name}'.")
        return _complete_items(run, step, path, value, inner, item_non_null)

    return complete


def _complete_items(
    run: Run, step: Step, path: Path, items: Iterable[Any], inner: Completer, item_non_null: bool
) -> Any:
    completed: list[Any] = []
    pending: list[int] = []
    remaining = iter(items)
    try:
        for index, item in enumerate(remaining):
            item_path = Path(path, index, None)
            if optimized_is_awaitable(item):
                completed.append(_complete_awaitable_item(run, step, item_path, item, inner, item_non_null))
                pending.append(index)
                continue
            try:
                value = inner(run, step, item_path, item)
                if optimized_is_awaitable(value):
                    completed.append(_await_item(run, step, item_path, value, item_non_null))
                    pending.append(index)
                    continue
                completed.append(value)
            except Exception as raw:
                field_error(run, raw, item_non_null, step.nodes, item_path)
                completed.append(None)
    except Exception:
        # the items started and those not reached yet: awaited in the background (graphql-core's
        # ``track``), so that no coroutine is left un-awaited
        run.settle_in_background([*(completed[i] for i in pending), *remaining])
        raise
    if not pending:
        return completed
    return _await_pending(completed, pending)


async def _complete_awaitable_item(
    run: Run, step: Step, path: Path, item: Awaitable[Any], inner: Completer, item_non_null: bool
) -> Any:
    try:
        value = inner(run, step, path, await item)
        if optimized_is_awaitable(value):
            value = await value
    except Exception as raw:
        field_error(run, raw, item_non_null, step.nodes, path)
        value = None
    return value


async def _await_item(run: Run, step: Step, path: Path, value: Awaitable[Any], item_non_null: bool) -> Any:
    try:
        return await value
    except Exception as raw:
        field_error(run, raw, item_non_null, step.nodes, path)
        return None


async def _complete_async_items(
    run: Run, step: Step, path: Path, items: Any, inner: Completer, item_non_null: bool
) -> Any:
    """An async iterable list (no resolver of ours returns one): read it whole, then complete it."""
    collected = [item async for item in items]
    completed = _complete_items(run, step, path, collected, inner, item_non_null)
    return await completed if optimized_is_awaitable(completed) else completed


# Selection sets' generated code (``api/graphql/fields_code.py``), and what it calls.
FIELDS_CODE = FieldsCode(
    {
        "field_failed": field_failed,
        "complete_into": complete_into,
        "execute_into": execute_into,
        "completed_later": completed_later,
        "resolve_attribute": resolve_attribute,
        "resolve_with_resolver": resolve_with_resolver,
        "_await_pending": _await_pending,
    }
)
