"""The GraphQL schema only grows: graphql-inspector (npm, run offline) compares the generated
``api/graphql/schema.graphql`` with the release baseline ``api/graphql/schema.baseline.graphql`` and fails on
any breaking change (a removed or retyped field, a new required argument...)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from graphql import FieldDefinitionNode, ObjectTypeDefinitionNode, parse, print_ast

ROOT = Path(__file__).resolve().parent.parent
BASELINE = ROOT / "api" / "graphql" / "schema.baseline.graphql"
CURRENT = ROOT / "api" / "graphql" / "schema.graphql"
INSPECTOR = ROOT / "node_modules" / ".bin" / "graphql-inspector"


def _diff(old: Path, new: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(INSPECTOR), "diff", str(old), str(new)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def _finish(run: subprocess.Popen[str]) -> tuple[int, str]:
    output, _ = run.communicate(timeout=120)
    return run.returncode, output


def _edited(tmp_path: Path, name: str, edit: Callable[[list[FieldDefinitionNode]], list[FieldDefinitionNode]]) -> Path:
    """The baseline with the fields of type ``LedgerDigest`` changed by ``edit``."""
    document = parse(BASELINE.read_text("utf-8"))
    definitions = [
        replace(node, fields=tuple(edit(list(node.fields or ()))))
        if isinstance(node, ObjectTypeDefinitionNode) and node.name.value == "LedgerDigest"
        else node
        for node in document.definitions
    ]
    path = tmp_path / name
    path.write_text(print_ast(replace(document, definitions=tuple(definitions))), "utf-8")
    return path


def test_the_schema_has_no_breaking_change_since_the_baseline() -> None:
    code, output = _finish(_diff(BASELINE, CURRENT))
    assert code == 0, f"breaking change against api/graphql/schema.baseline.graphql:\n{output}"


def test_the_check_fails_on_a_removed_field_and_passes_on_an_added_one(tmp_path: Path) -> None:
    def drop(fields: list[FieldDefinitionNode]) -> list[FieldDefinitionNode]:
        kept = [f for f in fields if f.name.value != "treeSize"]
        assert len(kept) == len(fields) - 1
        return kept

    def add(fields: list[FieldDefinitionNode]) -> list[FieldDefinitionNode]:
        extra = parse("type T { checkedAt: String }").definitions[0]
        assert isinstance(extra, ObjectTypeDefinitionNode) and extra.fields
        return [*fields, extra.fields[0]]

    removed = _diff(BASELINE, _edited(tmp_path, "removed.graphql", drop))
    added = _diff(BASELINE, _edited(tmp_path, "added.graphql", add))
    code, output = _finish(removed)
    assert code != 0 and "treeSize" in output and "removed" in output, output
    code, output = _finish(added)
    assert code == 0 and "checkedAt" in output, output
