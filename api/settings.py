"""The API's configuration, read from the environment once at start-up.

Every value has a safe default, so ``claims serve`` works with no variables set.
``Settings.from_env()`` reports a malformed value by naming the variable.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import TypeVar

from ledger.db import DEFAULT_DATABASE_URL

T = TypeVar("T")
PROJECTOR_EMBEDDED = "embedded"
PROJECTOR_EXTERNAL = "external"


@dataclass(frozen=True)
class Setting:
    env: str
    help: str


def _setting(default: T, env: str, help: str) -> T:
    return field(default=default, metadata={"setting": Setting(env, help)})


@dataclass(frozen=True)
class Settings:
    """Configuration of one API process (see the table in api/README.md)."""

    database_url: str = _setting(
        DEFAULT_DATABASE_URL, "CLAIMS_DATABASE_URL", "ledger database: sqlite:///PATH or postgresql://..."
    )
    read_database_url: str = _setting(
        "",
        "CLAIMS_READ_DATABASE_URL",
        "a PostgreSQL streaming replica of CLAIMS_DATABASE_URL: read-model queries go there, writes and the "
        "projector stay on the primary (see README, Scaling)",
    )
    projector: str = _setting(
        PROJECTOR_EMBEDDED,
        "CLAIMS_PROJECTOR",
        "`embedded`: run the projector in the API process; `external`: `claims project --follow` runs elsewhere",
    )
    require_key_for_reads: bool = _setting(
        False, "CLAIMS_REQUIRE_KEY_FOR_READS", "`1`: queries and subscriptions need an API key too"
    )
    write_wait_seconds: float = _setting(
        5.0,
        "CLAIMS_WRITE_WAIT_SECONDS",
        "how long a mutation waits for the read model (the replica's, with `CLAIMS_READ_DATABASE_URL`) "
        "before answering `pending: true`",
    )
    max_depth: int = _setting(12, "CLAIMS_MAX_QUERY_DEPTH", "deepest field nesting of a query")
    max_tokens: int = _setting(2000, "CLAIMS_MAX_QUERY_TOKENS", "tokens in one GraphQL document")
    max_query_length: int = _setting(
        65536,
        "CLAIMS_MAX_QUERY_LENGTH",
        "characters in one GraphQL document (comments too); values belong in variables",
    )
    max_aliases: int = _setting(30, "CLAIMS_MAX_ALIASES", "aliases in one GraphQL document")
    max_page_size: int = _setting(100, "CLAIMS_MAX_PAGE_SIZE", "largest `first` of a connection")
    default_page_size: int = _setting(
        20, "CLAIMS_DEFAULT_PAGE_SIZE", "`first` when not given (at most CLAIMS_MAX_PAGE_SIZE)"
    )
    max_list_size: int = _setting(1000, "CLAIMS_MAX_LIST_SIZE", "most entries `actors`, `topics` and `sources` return")
    max_body_bytes: int = _setting(
        8 * 1024 * 1024, "CLAIMS_MAX_BODY_BYTES", "largest request body (a source text travels in one mutation)"
    )
    cors_origins: tuple[str, ...] = _setting(
        (), "CLAIMS_CORS_ORIGINS", "comma-separated origins allowed to call the API from a browser (`*` for any)"
    )
    ready_max_lag: int = _setting(
        1000, "CLAIMS_READY_MAX_LAG", "`/readyz` fails while the read model is more events behind the log than this"
    )
    poll_seconds: float = _setting(
        0.2, "CLAIMS_EVENTS_POLL_SECONDS", "how often the subscription task looks for new ledger events"
    )
    key_cache_seconds: float = _setting(
        1.0,
        "CLAIMS_KEY_CACHE_SECONDS",
        "how often API-key events are re-read from the ledger: the bound on a revocation reaching reads "
        "(writes re-check the key before they commit)",
    )
    max_json_depth: int = _setting(32, "CLAIMS_MAX_JSON_DEPTH", "deepest nesting of arrays/objects in a request's JSON")
    max_search_length: int = _setting(
        200, "CLAIMS_MAX_SEARCH_LENGTH", "longest `search` / `filter.text` string of a query"
    )
    max_cost_anonymous: int = _setting(
        20_000,
        "CLAIMS_MAX_QUERY_COST",
        "largest estimated cost (objects in the answer, a source text counting 10) of a query without a key",
    )
    max_cost_with_key: int = _setting(
        200_000, "CLAIMS_MAX_QUERY_COST_WITH_KEY", "the same budget for a caller with a valid API key"
    )
    max_subscriptions: int = _setting(
        20, "CLAIMS_MAX_SUBSCRIPTIONS_PER_CONNECTION", "subscriptions one WebSocket may hold"
    )
    max_subscriptions_per_client: int = _setting(
        50, "CLAIMS_MAX_SUBSCRIPTIONS_PER_CLIENT", "subscriptions one client (key name, else address) may hold at once"
    )
    max_subscriptions_total: int = _setting(
        1000, "CLAIMS_MAX_SUBSCRIPTIONS", "subscriptions this API process holds at once, all clients together"
    )
    rate_reads: int = _setting(
        1200, "CLAIMS_RATE_LIMIT_READS", "queries a client (key name, else address) may send a minute; 0: no limit"
    )
    rate_writes: int = _setting(120, "CLAIMS_RATE_LIMIT_WRITES", "mutations a client may send a minute; 0: no limit")
    response_cache_bytes: int = _setting(
        64 * 1024 * 1024,
        "CLAIMS_RESPONSE_CACHE_BYTES",
        "memory for answers reused until the read model moves (api/web/http_cache.py); 0: no reuse",
    )
    cache_pinned_max_age: int = _setting(
        300,
        "CLAIMS_CACHE_PINNED_MAX_AGE",
        "`max-age` of answers pinned with `atTreeSize` (immutable, but actor/topic/source details may be revised)",
    )
    compiled_execution: bool = _setting(
        True,
        "CLAIMS_COMPILED_EXECUTION",
        "`0`: queries run through graphql-core's field-by-field execution instead of plans compiled once per "
        "document (api/graphql/compiled.py)",
    )
    prepared_http: bool = _setting(
        True,
        "CLAIMS_PREPARED_HTTP",
        "`0`: every GraphQL request over HTTP goes through strawberry's view and extensions, instead of query "
        "documents seen before going straight to execution (api/graphql/prepared.py)",
    )
    statement_timeout_seconds: float = _setting(
        10.0, "CLAIMS_STATEMENT_TIMEOUT_SECONDS", "longest a read-model query may run before it is cancelled; 0: none"
    )
    graphiql: bool = _setting(True, "CLAIMS_GRAPHIQL", "`0` turns the in-browser GraphiQL page off")
    checkpoint_key: str = _setting(
        "", "CLAIMS_CHECKPOINT_KEY", "private key file (`claims checkpoint keygen`): the server signs checkpoints"
    )
    checkpoint_seconds: float = _setting(
        60.0, "CLAIMS_CHECKPOINT_SECONDS", "longest time new events wait for a signed checkpoint"
    )
    checkpoint_events: int = _setting(
        1000, "CLAIMS_CHECKPOINT_EVENTS", "new events that trigger a checkpoint without waiting"
    )
    witness_key: str = _setting(
        "", "CLAIMS_WITNESS_KEY", "witness key file (`keygen --witness`): serve POST /witness/add-checkpoint"
    )
    witness_logs: tuple[str, ...] = _setting(
        (), "CLAIMS_WITNESS_LOGS", "comma-separated verifier keys of the logs this witness cosigns"
    )
    witness_state: str = _setting(
        "witness-state.json", "CLAIMS_WITNESS_STATE", "file of the latest checkpoint cosigned per log"
    )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        env = os.environ if env is None else env
        values: dict[str, object] = {}
        for f in fields(cls):
            setting: Setting = f.metadata["setting"]
            raw = env.get(setting.env)
            if raw is None or raw.strip() == "":
                continue
            values[f.name] = _convert(f.default, raw.strip(), setting.env)
        values.update(overrides)
        settings = cls(**values)  # type: ignore[arg-type]
        settings.check()
        return settings

    def check(self) -> None:
        if self.read_database_url and not self.read_database_url.startswith(("postgresql://", "postgres://")):
            raise ValueError("CLAIMS_READ_DATABASE_URL must be a postgresql://... URL (a streaming replica)")
        if self.projector not in (PROJECTOR_EMBEDDED, PROJECTOR_EXTERNAL):
            raise ValueError(f"CLAIMS_PROJECTOR must be {PROJECTOR_EMBEDDED!r} or {PROJECTOR_EXTERNAL!r}")
        if self.checkpoint_seconds <= 0 or self.checkpoint_events < 1:
            raise ValueError("CLAIMS_CHECKPOINT_SECONDS must be positive and CLAIMS_CHECKPOINT_EVENTS at least 1")
        for name in (
            "max_depth", "max_tokens", "max_query_length", "max_aliases", "max_page_size", "default_page_size", "max_body_bytes",
            "max_json_depth", "max_search_length", "max_cost_anonymous", "max_cost_with_key",
        ):  # fmt: skip
            if int(getattr(self, name)) < 1:
                raise ValueError(f"setting {name} must be at least 1")

    @classmethod
    def documented(cls) -> list[tuple[str, str, str]]:
        """(variable, default, meaning) for each setting: the README's table."""
        out = []
        for f in fields(cls):
            setting: Setting = f.metadata["setting"]
            default = f.default
            if isinstance(default, bool):
                shown = "1" if default else "0"
            else:
                shown = ",".join(default) if isinstance(default, tuple) else str(default)
            out.append((setting.env, shown or "(none)", setting.help))
        return out


def _convert(default: object, raw: str, env: str) -> object:
    try:
        if isinstance(default, bool):
            if raw.lower() in ("1", "true", "yes", "on"):
                return True
            if raw.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
        if isinstance(default, tuple):
            return tuple(part.strip() for part in raw.split(",") if part.strip())
    except ValueError:
        raise ValueError(f"{env}={raw!r} is not a valid value (default {default!r})") from None
    return raw
