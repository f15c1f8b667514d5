"""Actor and topic arguments: what the user typed, resolved to keys (rules: ``projections/names.py``).

A reference that names no record is NOT_FOUND with the closest names; one that
names several is BAD_USER_INPUT with the candidates. Never a silent ``null``.
"""

from __future__ import annotations

from api.context import Info
from api.errors import unresolved
from projections.names import FOUND

# (argument name for the error, actor | topic, the reference or None when not given)
Reference = tuple[str, str, str | None]


async def resolve_keys(info: Info, *refs: Reference) -> list[str | None]:
    """The key each given reference names (None where none was given), in one batched query."""
    asked = [(kind, ref) for _, kind, ref in refs if ref is not None]
    found = iter(await info.context.loaders.name.load_many(asked)) if asked else iter(())
    keys: list[str | None] = []
    for field, _, ref in refs:
        if ref is None:
            keys.append(None)
            continue
        resolution = next(found)
        if resolution.status != FOUND:
            raise unresolved(field, resolution)
        keys.append(resolution.key)
    return keys


async def resolve_pair(info: Info, actor: str, topic: str) -> tuple[str, str]:
    actor_key, topic_key = await resolve_keys(info, ("actor", "actor", actor), ("topic", "topic", topic))
    assert actor_key is not None and topic_key is not None
    return actor_key, topic_key
