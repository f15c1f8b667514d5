"""Actor and topic arguments: what the user typed, resolved to keys (rules: ``projections/names.py``).

A reference that names no record is NOT_FOUND with the closest names; one that
names several is BAD_USER_INPUT with the candidates. Never a silent ``null``.

A field answering at a record time (``knownAt``, or an ``atTreeSize`` pin) resolves names
among those the ledger held then (``at``): the same pinned query finds the same record
later, even by a name changed since; an actor registered after it is NOT_FOUND there.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from api.errors import unresolved
from api.graphql.context import Info
from projections.names import FOUND, Resolution
from projections.queries import ReadModel

# (argument name for the error, actor | topic, the reference or None when not given)
Reference = tuple[str, str, str | None]


async def resolve_keys(info: Info, *refs: Reference, at: datetime | None) -> list[str | None]:
    """The key each given reference names (None where none was given) among the names in force at
    record time ``at`` (None: now), in one batched query."""
    asked = [(kind, ref, at) for _, kind, ref in refs if ref is not None]
    found = await info.context.loaders.name.load_many(asked) if asked else []
    return keys_of(refs, found)


def resolve_keys_now(
    read_model: ReadModel, *refs: Reference, at: datetime | None, reuse: bool = False
) -> list[str | None]:
    """:func:`resolve_keys` for code already on a worker thread (one trip for names and answer);
    ``reuse``: from the resolutions this process keeps (``ReadModel.resolve_names``), a server's choice."""
    asked = [(kind, ref) for _, kind, ref in refs if ref is not None]
    return keys_of(refs, read_model.resolve_names(asked, at, reuse=reuse) if asked else [])


def keys_of(refs: Sequence[Reference], found: Sequence[Resolution]) -> list[str | None]:
    """The keys of ``refs`` given the resolutions of those given (in order); the error of the first
    reference that names no record, or several."""
    resolutions = iter(found)
    keys: list[str | None] = []
    for field, _, ref in refs:
        if ref is None:
            keys.append(None)
            continue
        resolution = next(resolutions)
        if resolution.status != FOUND:
            raise unresolved(field, resolution)
        keys.append(resolution.key)
    return keys
