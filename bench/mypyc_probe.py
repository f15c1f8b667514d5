#!/usr/bin/env python
"""Would compiling our hot modules with mypyc close the cold ``position`` gap? (issue 13, a probe)

    python bench/mypyc_probe.py build --work /tmp/mypyc/probe [--modules api/graphql/compiled.py ...] [--each]
    python bench/mypyc_probe.py split --url postgresql://.../db_with_a_ledger --tree /tmp/mypyc/probe/pure
    python bench/mypyc_probe.py measure --url postgresql://.../db --work /tmp/mypyc/probe --rounds 3

Nothing here changes the product: ``build`` exports this checkout's HEAD (``git archive``) twice into
``--work``, as ``pure`` and ``compiled``, applies to both the few edits mypyc needs (``EDITS``, below: nested
classes out of functions, async generators into an interpreted module, one exception class non-native),
then compiles ``--modules`` in ``compiled`` with mypyc (C extensions built in place beside the ``.py``
files, which Python then imports instead); ``--each`` first compiles each candidate alone and reports which
fail and why. It then imports ``api.web.app`` and ``ledger`` from the compiled tree (a compiled module can
build and still break at import: mypyc replaces a dataclass's annotations with runtime classes, which
``projections/tables.py`` reads to make the read model's columns).

``split``: the cold request's CPU through the ASGI app (uvloop, ``--in-flight`` requests at a time, new random
questions, as ``bench/api_cold_profile.py --split``) under cProfile, on the event loop and on the database
threads (``blocking``'s calls), its self time grouped by package: ours (``api``, ``projections``,
``ledger``), each library, the standard library, and C functions (grouped by the module they name).
cProfile's overhead is per Python call, so it inflates the Python shares; the totals without it are
``measure``'s.

``measure``: ``bench/api_cold_profile.py --split`` (process CPU per request, in process, no HTTP server)
on the pure and the compiled tree, alternating, ``--rounds`` times (the order swapped every round); with
``--events`` also ``bench/import_cpu.py`` (CPU per imported event, SQLite) on both trees.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

# The candidates of issue 13's question: the cold request's path, then the import's.
CANDIDATES = [
    "api/graphql/compiled.py", "api/graphql/prepared.py", "api/graphql/loaders.py", "api/web/http_cache.py",
    "projections/views.py", "projections/tables.py", "projections/values.py", "projections/queries.py",
    "ledger/records.py", "ledger/domain.py", "ledger/persistence.py",
]  # fmt: skip
# What builds and still behaves (see RESULTS.md, "Issue 13, mypyc probe"): views.py's dataclasses must stay
# interpreted (their Annotated column marks are read at import), records.py (pydantic models) does not
# build, domain.py builds but eventsourcing's @event refuses its compiled methods at import.
MODULES = [
    "api/graphql/compiled.py", "api/graphql/prepared.py", "api/graphql/loaders.py", "api/web/http_cache.py",
    "projections/tables.py", "projections/values.py", "projections/queries.py", "ledger/persistence.py",
]  # fmt: skip

MYPYC_ATTR = "from mypy_extensions import mypyc_attr\n"
# fmt: off
EDITS: list[tuple[str, str, str]] = [
    # A native class cannot derive from RuntimeError: this one stays a Python class.
    ("projections/queries.py", "\nclass ReadModelUnavailable(RuntimeError):",
     f"\n{MYPYC_ATTR}\n\n@mypyc_attr(native_class=False)\nclass ReadModelUnavailable(RuntimeError):"),
    # mypyc compiles no class defined inside a function: the three graphql-core visitors move out,
    # their closure state into attributes.
    ("api/graphql/compiled.py", """    names: list[str] = []

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
""", """    names: list[str] = []
    spread: list[str] = []
    visit(operation, _Conditions(names))
    visit(operation, _Spreads(spread))
"""),
    ("api/graphql/compiled.py", """            visit(fragment, Conditions())
            visit(fragment, Spreads())
    return tuple(names)
""", """            visit(fragment, _Conditions(names))
            visit(fragment, _Spreads(spread))
    return tuple(names)


class _Conditions(Visitor):
    def __init__(self, names: list[str]) -> None:
        super().__init__()
        self.names = names

    def enter_directive(self, node: DirectiveNode, *_: Any) -> None:
        if node.name.value in ("skip", "include"):
            for argument in node.arguments or ():
                if isinstance(argument.value, VariableNode) and argument.value.name.value not in self.names:
                    self.names.append(argument.value.name.value)


class _Spreads(Visitor):
    def __init__(self, spread: list[str]) -> None:
        super().__init__()
        self.spread = spread

    def enter_fragment_spread(self, node: FragmentSpreadNode, *_: Any) -> None:
        if node.name.value not in self.spread:
            self.spread.append(node.name.value)


class _Variables(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.found = False

    def enter_variable(self, *_: Any) -> None:
        self.found = True
"""),
    ("api/graphql/compiled.py", """        uses_variables = False

        class Variables(Visitor):
            def enter_variable(self, *_: Any) -> None:
                nonlocal uses_variables
                uses_variables = True

        for argument in node.arguments or ():
            visit(argument, Variables())
        if uses_variables:""", """        variables = _Variables()
        for argument in node.arguments or ():
            visit(argument, variables)
        if variables.found:"""),
    ("api/web/http_cache.py", """def _reads_the_log(document: DocumentNode) -> bool:
    found = False

    class Finder(Visitor):
        def enter_field(self, node: FieldNode, *_: Any) -> None:
            nonlocal found
            found = found or node.name.value in LOG_FIELDS

    visit(document, Finder())
    return found
""", """class _Finder(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.found = False

    def enter_field(self, node: FieldNode, *_: Any) -> None:
        self.found = self.found or node.name.value in LOG_FIELDS


def _reads_the_log(document: DocumentNode) -> bool:
    finder = _Finder()
    visit(document, finder)
    return finder.found
"""),
    # graphql-core declares get_possible_types -> list but returns a union's tuple: compiled code checks the
    # declared type of what a call returns (TypeError; the differential test of abstract types found it).
    ("api/graphql/compiled.py", "for t in self.schema.get_possible_types(type_)}",
     "for t in cast(Any, self.schema).get_possible_types(type_)}"),
    ("api/graphql/compiled.py", "\nfrom typing import TYPE_CHECKING, Any\n",
     f"\nfrom typing import TYPE_CHECKING, Any, cast\n\n{MYPYC_ATTR}"),
    # Tests replace a method of these two (to count the prepared path's answers, to make a plan fail): a
    # native class has no instance __dict__ and its compiled callers ignore a patched class attribute.
    ("api/graphql/compiled.py", "\nclass Compiler:", "\n@mypyc_attr(native_class=False)\nclass Compiler:"),
    ("api/graphql/prepared.py", "\nclass PreparedOperations:",
     "\n@mypyc_attr(native_class=False)\nclass PreparedOperations:"),
    ("api/graphql/prepared.py", "\nfrom typing import TYPE_CHECKING, Any\n", f"\nfrom typing import TYPE_CHECKING, Any\n\n{MYPYC_ATTR}"),
    # A JSON body that is not an object goes to strawberry (which refuses it): compiled, the local declared
    # dict[str, Any] (by the GET branch) checks the POST body's JSON on assignment and raises TypeError (500).
    ("api/web/http_cache.py", 'payload: dict[str, Any] = {"query": params.get("query")}',
     'payload: Any = {"query": params.get("query")}'),
    # The SQLite and PostgreSQL recorders (interpreted) derive from it.
    ("ledger/persistence.py", "\nclass LedgerRecorder(ApplicationRecorder):",
     "\n@mypyc_attr(allow_interpreted_subclasses=True)\nclass LedgerRecorder(ApplicationRecorder):"),
    ("ledger/persistence.py", "\nfrom __future__ import annotations\n", f"\nfrom __future__ import annotations\n\n{MYPYC_ATTR}"),
    # A test sets an int constant to a float: a compiled module checks the type when it reads it.
    ("tests/test_compiled_execution.py", '"STEPS_KEPT", size * 1.5)', '"STEPS_KEPT", int(size * 1.5))'),
]
# fmt: on
# Left interpreted, moved unchanged into api/graphql/loaders_py.py, which loaders.py re-exports: its two async
# generators (blocking_chunks, closing_stores: mypyc compiles none), and the Loaders class, whose DataLoaders are
# made once per request with functools.cached_property: mypyc compiles that as a plain property (even on a
# non-native class), silently a new DataLoader at every access: the source the position primed is lost and
# read again, one more database call per request, same answers.
INTERPRETED_HEAD = """from __future__ import annotations

from api.graphql import loaders as _compiled

globals().update({k: v for k, v in vars(_compiled).items() if not k.startswith("__")})


"""


def export(into: Path) -> None:
    """This checkout's HEAD into ``into``, with EDITS applied."""
    if into.exists():
        shutil.rmtree(into)
    into.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", "HEAD"], cwd=ROOT, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    for path, old, new in EDITS:
        text = (into / path).read_text(encoding="utf-8")
        if text.count(old) != 1:
            raise SystemExit(f"{path}: the text an edit replaces is no longer there once: update EDITS")
        (into / path).write_text(text.replace(old, new), encoding="utf-8")
    loaders = into / "api/graphql/loaders.py"
    text = loaders.read_text(encoding="utf-8")
    start, end = text.index("async def blocking_chunks("), text.index("class AskAlone(Exception):")
    start2 = text.index("class Loaders:")
    moved = text[start:end] + text[start2:]
    (into / "api/graphql/loaders_py.py").write_text(INTERPRETED_HEAD + moved, encoding="utf-8")
    reexport = "\n\nfrom api.graphql.loaders_py import Loaders, blocking_chunks, closing_stores  # noqa: E402\n"
    loaders.write_text(text[:start] + text[end:start2] + reexport, encoding="utf-8")


def mypyc(tree: Path, modules: list[str]) -> tuple[bool, str, float]:
    """Compile ``modules`` in place in ``tree``: (built, the first error lines, seconds)."""
    started = time.monotonic()
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    run = subprocess.run(
        [sys.executable, "-m", "mypyc", *modules], cwd=tree, env=env, capture_output=True, text=True, check=False
    )
    errors = [line for line in (run.stdout + run.stderr).splitlines() if ": error:" in line]
    return run.returncode == 0, "\n".join(errors[:6]), time.monotonic() - started


def clean(tree: Path) -> None:
    for built in tree.rglob("*.so"):
        built.unlink()
    shutil.rmtree(tree / "build", ignore_errors=True)


def build(work: Path, modules: list[str], each: bool) -> int:
    pure, compiled = work / "pure", work / "compiled"
    export(pure)
    export(compiled)
    if each:
        print("| module alone | mypyc | then importing api.web.app and ledger.application |\n|---|---|---|")
        for module in CANDIDATES:
            built, errors, _ = mypyc(compiled, [module])
            imported = importing(compiled) if built else ""
            clean(compiled)
            print(f"| {module} | {'builds' if built else 'fails: ' + errors.replace(chr(10), '<br>')} | {imported} |")
    built, errors, seconds = mypyc(compiled, modules)
    print(f"{len(modules)} modules together: {'built' if built else 'failed'} in {seconds:.0f} s\n{errors}")
    if not built:
        return 1
    imported = importing(compiled)
    print("import:", imported)
    return 1 if imported.startswith("fails") else 0


def importing(tree: Path) -> str:
    """Import the app and the ledger from ``tree``: where the compiled module comes from, or the error."""
    check = (
        "import api.web.app, ledger.application, api.graphql.compiled as c; print('ok:', c.__file__.rsplit('/')[-1])"
    )
    run = subprocess.run([sys.executable, "-c", check], cwd=tree, capture_output=True, text=True, check=False)
    return run.stdout.strip() if run.returncode == 0 else "fails: " + run.stderr.strip().splitlines()[-1]


# --- split: the cold request's self time by package, under cProfile -------------------------------------

SITE = re.compile(r"[/\\]site-packages[/\\]([^/\\]+)")
# A C function's module: "<built-in method orjson.dumps>", "<method 'put' of '_queue.SimpleQueue' objects>"
C_MODULE = re.compile(r"<(?:built-in method |method '[^']+' of ')?([A-Za-z_]\w*)\.")


def package(filename: str, name: str, tree: str) -> str:
    if filename == "~":
        found = C_MODULE.match(name)
        return f"C: {found.group(1) if found else 'builtins'}"
    if filename.startswith(tree):
        parts = Path(filename[len(tree) :].lstrip("/")).parts
        if parts[0] == "bench":
            return "the bench's driver"
        return "ours: " + "/".join(parts[:2] if parts[0] == "api" else parts[:1])
    if filename.startswith(str(ROOT / "bench")):
        return "the bench's driver"
    if filename == "<string>":
        return "generated (dataclass and namedtuple methods)"
    site = SITE.search(filename)
    if site:
        return site.group(1).removesuffix(".py")
    if "/lib/python3" in filename:
        rest = filename.split("/lib/python3", 1)[1].split("/", 2)
        return "stdlib: " + (rest[1].removesuffix(".py") if len(rest) > 1 else "?")
    return "other: " + filename


def split_child(url: str, tree: Path, requests: int, in_flight: int) -> None:
    """Run under ``--tree``'s code (imported by api_cold_profile at import), print JSON {package: ms/req}."""
    sys.path.insert(0, str(ROOT / "bench"))
    import asyncio
    import random
    import threading

    import api_cold_profile as acp
    import uvloop

    from api.graphql import loaders
    from api.settings import Settings
    from api.web.app import create_app

    profiles: dict[int, cProfile.Profile] = {}
    on = [False]
    real_submit = loaders._EXECUTOR.submit

    def profiled(fn: Any, *args: Any) -> Any:
        if not on[0]:
            return fn(*args)
        profile = profiles.setdefault(threading.get_ident(), cProfile.Profile(time.thread_time))
        profile.enable()
        try:
            return fn(*args)
        finally:
            profile.disable()

    loaders._EXECUTOR.submit = lambda fn, *args: real_submit(profiled, fn, *args)  # type: ignore[method-assign,assignment]
    loop_profile = cProfile.Profile(time.thread_time)  # CPU, not wall: no waits
    rng = random.Random(time.time_ns())  # new questions: none answered from the response cache

    async def run() -> float:
        settings = Settings.from_env({}, database_url=url, projector="external", rate_reads=0)
        app = create_app(settings)
        async with app.router.lifespan_context(app):  # type: ignore[attr-defined]

            async def worker(count: int) -> None:
                for _ in range(count):
                    body = json.dumps({"query": acp.OUR_QUERY, "variables": acp.question(rng)}).encode()
                    assert await acp.call(app, body) == 200

            await asyncio.gather(*(worker(300 // in_flight) for _ in range(in_flight)))
            on[0] = True
            started = time.process_time()
            loop_profile.enable()
            await asyncio.gather(*(worker(requests // in_flight) for _ in range(in_flight)))
            loop_profile.disable()
            on[0] = False
            return time.process_time() - started

    process = uvloop.run(run())
    done = requests // in_flight * in_flight
    shares: dict[str, float] = defaultdict(float)
    top: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for where, profile in [("loop", loop_profile)] + [("db", p) for p in profiles.values()]:
        stats: Any = pstats.Stats(profile)
        for (filename, line, name), (_, _, tottime, _, _) in stats.stats.items():
            key = package(filename, name, str(tree))
            shares[f"{where}|{key}"] += tottime
            top[key].append((tottime, f"{Path(filename).name}:{line} {name}"))
    print(
        json.dumps(
            {
                "process_ms": process * 1e3 / done,
                "shares": {k: v * 1e3 / done for k, v in shares.items()},
                "top": {
                    k: [f"{t * 1e3 / done:.4f} {n}" for t, n in sorted(v, reverse=True)[:4]] for k, v in top.items()
                },
            }
        )
    )


def split(url: str, tree: Path, requests: int, in_flight: int, show_top: bool) -> int:
    command = [sys.executable, __file__, "split-child", "--url", url, "--tree", str(tree)]
    command += ["--requests", str(requests), "--in-flight", str(in_flight)]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    result = json.loads(out.strip().splitlines()[-1])
    by: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for key, ms in result["shares"].items():
        where, name = key.split("|", 1)
        by[name][where == "db"] += ms
    total = sum(sum(v) for v in by.values())
    print(f"code: {tree}; {in_flight} in flight; load {os.getloadavg()[0]:.2f}")
    print(f"process CPU under cProfile: {result['process_ms']:.3f} ms/req; profiled self time {total:.3f}")
    print("| package | event loop ms/req | database threads ms/req | total | share |\n|---|---:|---:|---:|---:|")
    for name, (loop, db) in sorted(by.items(), key=lambda kv: -sum(kv[1])):
        if loop + db >= 0.002:
            print(f"| {name} | {loop:.3f} | {db:.3f} | {loop + db:.3f} | {(loop + db) / total:.1%} |")
    if show_top:
        for name, rows in sorted(result["top"].items()):
            print(name, *rows, sep="\n    ")
    return 0


# --- measure: compiled against pure, alternating ----------------------------------------------------------

ROW = re.compile(r"^\| (\d+) \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \|$")


def cold_cpu(url: str, tree: Path, requests: int, in_flight: str) -> dict[int, tuple[float, float, float]]:
    """api_cold_profile --split on ``tree``: {in flight: (process, event loop, database) ms per request}."""
    command = [sys.executable, str(ROOT / "bench" / "api_cold_profile.py"), "--url", url]
    command += ["--requests", str(requests), "--split", in_flight, "--tree", str(tree)]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rows = {}
    for line in out.splitlines():
        m = ROW.match(line)
        if m:
            rows[int(m.group(1))] = (float(m.group(2)), float(m.group(3)), float(m.group(4)))
    return rows


def event_cpu(tree: Path, claims: int) -> float:
    """bench/import_cpu.py's median CPU µs per imported event (SQLite) for ``tree``."""
    env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONDONTWRITEBYTECODE": "1"}
    command = [sys.executable, str(ROOT / "bench" / "import_cpu.py"), "--one", str(tree), "--claims", str(claims)]
    out = subprocess.run([*command, "--runs", "5"], env=env, capture_output=True, text=True, check=True).stdout
    return float(json.loads(out.strip().splitlines()[-1])["cpu_us_per_event_median"])


def measure(url: str, work: Path, rounds: int, requests: int, in_flight: str, events: int) -> int:
    trees = {"pure": work / "pure", "compiled": work / "compiled"}
    seen: dict[tuple[str, int], list[float]] = defaultdict(list)
    per_event: dict[str, list[float]] = defaultdict(list)
    print("| round | load | tree | in flight | process ms/req | event loop | database thread |")
    print("|---:|---:|---|---:|---:|---:|---:|")
    for round_ in range(1, rounds + 1):
        order = ["pure", "compiled"] if round_ % 2 else ["compiled", "pure"]
        for name in order:
            load = os.getloadavg()[0]
            for flight, (process, loop, db) in cold_cpu(url, trees[name], requests, in_flight).items():
                seen[(name, flight)].append(process)
                print(
                    f"| {round_} | {load:.2f} | {name} | {flight} | {process:.3f} | {loop:.3f} | {db:.3f} |", flush=True
                )
            if events:
                per_event[name].append(event_cpu(trees[name], events))
                print(f"|   |   | {name} | import | {per_event[name][-1]:.1f} µs/event | | |", flush=True)
    print("\n| in flight | pure ms/req (median) | compiled | compiled / pure |\n|---:|---:|---:|---:|")
    for flight in sorted({f for _, f in seen}):
        pure, compiled = statistics.median(seen[("pure", flight)]), statistics.median(seen[("compiled", flight)])
        print(f"| {flight} | {pure:.3f} | {compiled:.3f} | {compiled / pure:.3f} |")
    if events:
        pure, compiled = statistics.median(per_event["pure"]), statistics.median(per_event["compiled"])
        print(f"| import µs/event | {pure:.1f} | {compiled:.1f} | {compiled / pure:.3f} |")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="export pure and compiled trees into --work, compile --modules")
    b.add_argument("--work", type=Path, required=True)
    b.add_argument("--modules", nargs="+", default=MODULES)
    b.add_argument("--each", action="store_true", help="first compile each candidate alone, report failures")
    for name in ("split", "split-child"):
        s = sub.add_parser(name, help="cProfile split of a cold request by package" if name == "split" else None)
        s.add_argument("--url", required=True)
        s.add_argument("--tree", type=Path, default=ROOT)
        s.add_argument("--requests", type=int, default=2000)
        s.add_argument("--in-flight", type=int, default=2)
        s.add_argument("--top", action="store_true", help="the costliest functions of each package")
    m = sub.add_parser("measure", help="process CPU per cold request, pure vs compiled, alternating")
    m.add_argument("--url", required=True)
    m.add_argument("--work", type=Path, required=True)
    m.add_argument("--rounds", type=int, default=3)
    m.add_argument("--requests", type=int, default=3000)
    m.add_argument("--in-flight", default="2,10")
    m.add_argument("--events", type=int, default=0, help="also CPU per imported event, with this many claims")
    args = parser.parse_args(argv)
    if args.command == "build":
        return build(args.work.resolve(), args.modules, args.each)
    if args.command == "split":
        return split(args.url, args.tree.resolve(), args.requests, args.in_flight, args.top)
    if args.command == "split-child":
        split_child(args.url, args.tree.resolve(), args.requests, args.in_flight)
        return 0
    return measure(args.url, args.work.resolve(), args.rounds, args.requests, args.in_flight, args.events)


if __name__ == "__main__":
    sys.exit(main())
