"""Warm reads: answers reused while the read model has not moved, ETags and persisted queries.

The read model is a pure function of the log prefix, so the answer to a query
(document, variables, operation, caller's role, response type) computed at
read-model position N stays right until the projector passes N. Two bases:

* **current** (no ``extensions.atTreeSize``): an entry is keyed by the position
  the answer was computed at (its ``extensions.basis.treeSize``) and by today's
  date (``asOf`` defaults to today); once the projector moves, no such entry
  is served again (requests look up keys of the current position only: the old ones, never asked again,
  age to the front of the LRU order and are evicted as it goes). Never by time. HTTP: ``Cache-Control: no-cache`` and an ``ETag``,
  so a client or CDN revalidates with ``If-None-Match`` and gets ``304``.
* **pinned** (``extensions.atTreeSize``): claims, actors, topics and sources as of
  the pin never change (``projections/record_versions.py``); an entry is keyed by the
  position of the last event that changed an actor, topic or source
  (``ReadModel.cache_positions``), not by the head (a conservative key: such an event
  recomputes the same answer). HTTP: ``immutable`` with
  a ``max-age`` of ``CLAIMS_CACHE_PINNED_MAX_AGE`` (at most until midnight, when
  the default ``asOf`` moves): how long an HTTP cache may show superseded details.

Only successful queries are kept: mutations, subscriptions, anything with
``errors`` and any non-200 answer go through untouched. A hit still takes a token
from the caller's read allowance (``api.graphql.ratelimit``); the cost check ran when the
entry was computed for the same document, variables and caller class. Not at the same collection
sizes, for a pinned entry: claims recorded since may make the estimate refuse the same request
computed anew (QUERY_TOO_COSTLY), while the kept answer, which costs nothing to serve, is still sent.
Memory is bounded: entries by the memory they take (``CLAIMS_RESPONSE_CACHE_BYTES``,
LRU: the body, the key's texts and the objects around them, see ``entry_size``), the
document registries by count.

Persisted queries: a query document that ran successfully is registered under the
SHA-256 of its text, and can then be sent as ``GET /graphql?id=<sha256>`` (plus
``variables``...) or, Apollo-style, as ``extensions.persistedQuery.sha256Hash``
without ``query``. An unknown hash answers ``PERSISTED_QUERY_NOT_FOUND``: send the
text once (POST), then the GET works; GET URLs are what HTTP caches keep.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl, urlencode

import orjson
from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLError,
    OperationDefinitionNode,
    OperationType,
    Visitor,
    parse,
    print_ast,
    visit,
)
from strawberry.http.parse_content_type import parse_content_type

from api.auth import ANONYMOUS, Caller, bearer
from api.errors import UNAVAILABLE_ERRORS, Unavailable, unavailable
from api.graphql.basis import OBSERVED_POSITION
from api.graphql.context import Context, Services, client_of
from api.graphql.limits import refused_caller, text_problem
from api.graphql.loaders import blocking
from api.graphql.prepared import PreparedOperations
from api.graphql.view import GRAPHQL_RESPONSE, accepts_graphql_response, answer_status, encode_json, json_depth

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

PERSISTED_QUERY_NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
SEEN_BODY_BYTES = 8192  # requests up to this size are remembered by their bytes (Seen)
SEEN_KEPT = 4096
SEEN_BYTES = 4 * 1024 * 1024
DOCUMENTS_KEPT = 4096  # registered documents and text -> normal form entries
DOCUMENTS_CHARS = 16 * 1024 * 1024  # the registered documents' texts together (each at most CLAIMS_MAX_QUERY_LENGTH)
# A run of 19 digits may be an integer beyond 64 bits, which orjson reads as a float: the standard library reads it.
# Looked for in the body with every digit made "0" and every other byte a space (a C-speed translate and substring
# search: ~0.3 us for a cold ``position`` request's body, where the regex ``[0-9]{19}`` took ~3 us).
LONG_NUMBER = b"0" * 19
_DIGITS_ONLY = bytes(ord("0") if chr(i).isascii() and chr(i).isdigit() else ord(" ") for i in range(256))
STREAM_ACCEPTS = (b"multipart", b"event-stream")  # strawberry's streaming transports


VARY = (b"vary", b"Authorization, Accept")
# For isinstance on every request (``dict | None`` in the call would build a union each time).
DICT_OR_NONE = (dict, type(None))
STR_OR_NONE = (str, type(None))


class Entry:
    """A reusable answer; the bytes of its fixed headers are encoded once."""

    __slots__ = ("basis_size", "body", "content_type", "content_type_bytes", "etag", "head", "length", "pinned")

    def __init__(self, body: bytes, content_type: str, etag: str, pinned: bool, basis_size: int | None = None) -> None:
        # A copy of exactly its length: orjson's output keeps the buffer it grew (4 KiB for a 400-byte
        # answer), which the cache's byte budget, counting len(body), would not see.
        self.body = bytes(memoryview(body))
        self.content_type = content_type
        self.etag = etag
        self.pinned = pinned
        self.basis_size = basis_size  # the answer's extensions.basis.treeSize
        self.head = ((b"etag", etag.encode()), VARY)
        self.content_type_bytes = content_type.encode("latin-1")
        self.length = str(len(body)).encode()

    def packed(self) -> Packed:
        return (
            self.body, self.content_type, self.etag, self.pinned, self.basis_size,
            self.head[0][1], self.content_type_bytes, self.length,
        )  # fmt: skip

    @classmethod
    def unpacked(cls, packed: Packed) -> Entry:
        entry = cls.__new__(cls)
        (
            entry.body, entry.content_type, entry.etag, entry.pinned, entry.basis_size,
            etag_bytes, entry.content_type_bytes, entry.length,
        ) = packed  # fmt: skip
        entry.head = ((b"etag", etag_bytes), VARY)
        return entry


# How the cache holds an Entry: a flat tuple of bytes, strings and numbers, which the cyclic garbage
# collector stops tracking the first time it sees it (a nested tuple takes one collection per level).
# Tens of thousands of Entry objects, all tracked, made each full collection ~4x longer and, as
# long-lived newcomers, triggered them more often: the cold path's p99 (bench/RESULTS.md, the
# session of 2026-12-01/02).
Packed = tuple[bytes, str, str, bool, "int | None", bytes, bytes, bytes]


# (normalised document hash, variables JSON, operation name (None: not given), role, response type, basis)
Key = tuple[str, str, str | None, str, bool, tuple[object, ...]]

# What an entry holds beyond its body and its key's texts: its packed tuple and etag bytes, the key
# and basis tuples, the LRU's node. Measured with tracemalloc (~650 bytes on CPython 3.11, x86_64;
# tests/test_api_http_cache.py checks the budget against traced memory). Counting bodies alone let
# a 64 MiB budget hold ~130 MiB of small answers (bench/memory.py).
ENTRY_OVERHEAD = 650


def entry_size(key: Key, entry: Entry | Packed) -> int:
    """The bytes an entry keeps alive: its body, etag (twice: text and header), and key texts, plus the rest."""
    body, etag = (entry.body, entry.etag) if isinstance(entry, Entry) else (entry[0], entry[2])
    texts = len(key[0]) + len(key[1]) + len(key[2] or "") + sum(len(p) for p in key[5] if isinstance(p, str))
    return len(body) + 2 * len(etag) + texts + ENTRY_OVERHEAD


class ResponseCache:
    """Answers by key, LRU within a byte budget; entries of a past basis are never served again."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.max_entry = max(1, max_bytes // 8)
        self._entries: OrderedDict[Key, Packed] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self._basis: tuple[int, int, str] = (-1, -1, "")  # (projected, details, today) last seen
        self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def observe(self, projected: int, details: int, today: str) -> None:
        """The read model is at ``projected`` (details at ``details``): what no longer holds is never served
        again (every key names the basis it was computed at: ``get`` and ``put`` take current ones only). Nothing
        is dropped here: a scan of every entry under the lock, on the event loop, at every move of the model, took
        ~47 ms at 50,000 entries. Requests look up keys of the current basis only, so a stale entry is never asked
        for again: it ages to the front of the LRU order and is evicted with the rest (a pinned answer unused for
        longer still goes before it: a lower hit rate, never a wrong answer). One looked up with a key the model
        left meanwhile (another thread's ``observe`` between the key and the lookup) is dropped there."""
        with self._lock:
            self._basis = (projected, details, today)

    def get(self, key: Key, *, count_miss: bool = True) -> Entry | None:
        with self._lock:
            packed = self._entries.get(key)
            if packed is None or not self._current(key):
                if packed is not None:  # (of a basis the model has left: its place goes to a current one)
                    self._drop(key)
                self.misses += count_miss
                return None
            self._entries.move_to_end(key)
            self.hits += 1
        return Entry.unpacked(packed)

    def put(self, key: Key, entry: Entry) -> None:
        size = entry_size(key, entry)
        with self._lock:
            if size > self.max_entry or not self._current(key):
                return  # too big, or computed at a basis the model has already left
            if key in self._entries:
                self._drop(key)
            self._entries[key] = entry.packed()
            self._bytes += size
            while self._bytes > self.max_bytes:
                self._drop(next(iter(self._entries)))

    def _current(self, key: Key) -> bool:
        kind, at, today = key[5][:3]
        projected, details, seen_today = self._basis
        return today == seen_today and at == (details if kind == "pinned" else projected)

    def _drop(self, key: Key) -> None:
        self._bytes -= entry_size(key, self._entries.pop(key))  # both immutable: the size it was put with


class Documents:
    """Query texts by SHA-256 (persisted queries) and each text's normalised hash, both LRU-bounded by count,
    the texts also by their characters."""

    def __init__(self, kept: int = DOCUMENTS_KEPT, max_chars: int = DOCUMENTS_CHARS) -> None:
        self.kept = kept
        self.max_chars = max_chars
        self._chars = 0  # of the texts kept
        self._texts: OrderedDict[str, str] = OrderedDict()  # sha256(text) -> text
        self._normal: OrderedDict[str, str | None] = OrderedDict()  # sha256(text) -> sha256(printed AST)
        self._lock = threading.Lock()

    def text(self, digest: str) -> str | None:
        with self._lock:
            text = self._texts.get(digest)
            if text is not None:
                self._texts.move_to_end(digest)
            return text

    def normal(self, text: str, digest: str, max_tokens: int, max_length: int) -> str | None:
        """The hash of the document as printed from its AST; None when it does not parse or is not all queries
        (or is too long, or holds a NUL or a lone surrogate, in a comment too: strawberry refuses its text, and
        the printed AST, which drops comments, would share the entry of a text it answers)."""
        if len(text) > max_length:
            return None
        with self._lock:
            if digest in self._normal:
                self._normal.move_to_end(digest)
                return self._normal[digest]
        normal: str | None = None
        try:
            document = parse(text, max_tokens=max_tokens)
        except GraphQLError:
            pass  # strawberry reports it
        else:
            operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
            reads_the_log, floating = _what_it_selects(document)
            if (
                operations
                and all(o.operation == OperationType.QUERY for o in operations)
                and not reads_the_log
                and text_problem(text) is None
            ):
                normal = sha256(print_ast(document)) + (FLOATING if floating else "")
        self._keep(self._normal, digest, normal)
        return normal

    def register(self, text: str, digest: str) -> None:
        """Keep a query document that ran successfully: it can now be asked for by its hash."""
        with self._lock:
            texts = self._texts
            if digest in texts:
                texts.move_to_end(digest)
                return
            texts[digest] = text
            self._chars += len(text)
            while len(texts) > self.kept or self._chars > self.max_chars:
                self._chars -= len(texts.popitem(last=False)[1])

    def _keep(self, store: OrderedDict[str, Any], digest: str, value: object) -> None:
        with self._lock:
            store[digest] = value
            store.move_to_end(digest)
            while len(store) > self.kept:
                store.popitem(last=False)


# Fields answered from the ledger's log and tree head (or the signed checkpoints), not from the read
# model: unpinned, their answers move with the log, not with the projector's position (under a pin they
# answer the log's prefix, but ``checkpoint`` does not). A document that selects one anywhere is never cached.
LOG_FIELDS = frozenset({"events", "event", "ledgerDigest", "inclusionProof", "consistencyProof", "checkpoint"})


# Arguments by which a field reads at a record time of its own, not at the operation's (the pin of
# ``extensions.atTreeSize``): (field, argument), None for any field. Given one, a pinned answer is not frozen
# (a knownAt in the future sees every later event), so it is neither kept under the pinned key, which moves
# only with actors, topics and sources, nor called immutable.
RECORD_TIME_ARGUMENTS = frozenset({(None, "knownAt"), ("changes", "to")})
# Fields that ignore the pin: the extraction assistant matches a source against today's actors and topics.
# (A claim's history keeps to the pin: only the events inside the pinned tree, ``basis.log_prefix``.)
UNPINNED_FIELDS = frozenset({"extractionCandidates"})
FLOATING = "+record-time"  # the end of the normal form of a document that has either


def _what_it_selects(document: DocumentNode) -> tuple[bool, bool]:
    """(whether the document reads the log: ``LOG_FIELDS``, whether a pin does not freeze its answer:
    ``UNPINNED_FIELDS`` or ``RECORD_TIME_ARGUMENTS``), in one walk of its fields."""
    reads_the_log = floating = False

    class Finder(Visitor):
        def enter_field(self, node: FieldNode, *_: Any) -> None:
            nonlocal reads_the_log, floating
            field = node.name.value
            reads_the_log = reads_the_log or field in LOG_FIELDS
            floating = floating or field in UNPINNED_FIELDS
            for argument in node.arguments or ():  # (None when the field has none)
                name = argument.name.value
                floating = floating or (None, name) in RECORD_TIME_ARGUMENTS or (field, name) in RECORD_TIME_ARGUMENTS

    visit(document, Finder())
    return reads_the_log, floating


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass
class Asked:
    """A GraphQL request read far enough to look it up."""

    payload: dict[str, Any]  # query, variables, operationName, extensions
    digest: str  # sha256 of the query text
    _variables: str | None = None
    strict: bool = False  # read as strawberry reads it (UTF-8 JSON, no number the readers differ on)
    finite: bool = False  # no NaN or infinity in it: orjson read it (it refuses both, and numbers beyond a double)

    @property
    def variables(self) -> str:
        """The variables as canonical JSON (part of the key), computed once."""
        if self._variables is None:
            variables = self.payload.get("variables")
            try:
                self._variables = orjson.dumps(variables, option=orjson.OPT_SORT_KEYS).decode()
            except TypeError:  # (integers beyond 64 bits)
                self._variables = json.dumps(variables, sort_keys=True, separators=(",", ":"))
        return self._variables

    @property
    def pin(self) -> object:
        extensions = self.payload.get("extensions")
        return extensions.get("atTreeSize") if isinstance(extensions, dict) else None

    def question(self, normal: str) -> Question | None:
        """What the response cache keys this request by, or None when no key tells it apart exactly from
        another request: a body not read as strawberry reads it, a number JSON cannot write back (NaN,
        Infinity: orjson writes null), a pin that is not an integer (3.0 and true would share 3's key), a pin
        of a document that gives a record time (its answer is not frozen by the pin)."""
        pin = self.pin
        if not self.strict or (pin is not None and type(pin) is not int):
            return None
        if not (self.finite or _finite(self.payload.get("variables"))):
            return None
        if pin is not None and normal.endswith(FLOATING):
            return None
        return (normal, self.variables, self.payload.get("operationName"), pin)


def _finite(value: object) -> bool:
    """No float in ``value`` (JSON data) that is NaN or infinite."""
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    if isinstance(value, list):
        return all(_finite(v) for v in value)
    return not isinstance(value, float) or math.isfinite(value)


def _remembered_as(scope: Scope, heads: Heads, body: bytes) -> tuple[bytes, bytes] | None:
    """The bytes a request is remembered by (``Seen``), or None when it is not one ``WarmFront`` may answer
    from them: a POST must be a body with the JSON content type (strawberry refuses any other), a GET must
    have no body. Their keys cannot collide: a POST's body is never empty, a GET's always is."""
    query_string = scope.get("query_string", b"")
    if scope["method"] == "GET":
        return (b"", query_string) if not body else None
    return (body, query_string) if body and _json_content(heads) else None


def _json_content(heads: Heads) -> bool:
    """A body strawberry reads as JSON: its media type names application/json, by strawberry's own parse and
    test (case-sensitive; ``x=application/json`` is not one)."""
    return _json_media(heads.get(b"content-type", b""))


@lru_cache(maxsize=256)  # (the header's parse costs ~10 us; clients send a handful of values)
def _json_media(content_type: bytes) -> bool:
    try:
        media, _ = parse_content_type(content_type.decode("latin-1"))
    except (AssertionError, ValueError):  # (no parameters at all: not a header strawberry reads as JSON)
        return False
    return "application/json" in media


# What the response cache keys a read by, apart from the caller: (normal form of the document, canonical
# variables, operationName, pin). A plain tuple of strings and JSON scalars, which the cyclic garbage collector
# stops tracking: 4,096 remembered ``Asked`` objects and their payload dicts, turning over under cold load, made
# every full collection walk them and triggered more of them (bench/RESULTS.md).
Question = tuple[str, str, str | None, object]


class Seen:
    """Requests already read, by their bytes (body, query string): what the cache keys them by, so a repeated
    anonymous read is answered without parsing, hashing or normalising (``WarmFront``).

    Only the event loop touches it (no lock); bounded by count and by the bytes of the keys, oldest out first.
    """

    def __init__(self, kept: int = SEEN_KEPT, max_bytes: int = SEEN_BYTES) -> None:
        self.kept = kept
        self.max_bytes = max_bytes
        self._bytes = 0
        # An OrderedDict: under cold load every request is put and the oldest dropped, and a plain dict's
        # first key is found by scanning the holes its deletions left (~3.2 us a put at 4,096, ~1 here).
        self._known: OrderedDict[tuple[bytes, bytes], Question] = OrderedDict()

    def get(self, request: tuple[bytes, bytes]) -> Question | None:
        return self._known.get(request)

    def put(self, request: tuple[bytes, bytes], question: Question) -> None:
        if request in self._known:
            return
        self._bytes += len(request[0]) + len(request[1])
        self._known[request] = question
        while len(self._known) > self.kept or self._bytes > self.max_bytes:
            oldest, _ = self._known.popitem(last=False)
            self._bytes -= len(oldest[0]) + len(oldest[1])


class WarmFront:
    """Outermost middleware: a ``/graphql`` request the response cache answers as it stands (seen before,
    anonymous, positions known in process) is answered here, before routing and the other middleware;
    anything else goes on with its body replayed. CORS, when configured, stays outside it."""

    def __init__(self, app: ASGIApp, graphql: CachedGraphQL) -> None:
        self.app = app
        self.graphql = graphql

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != "/graphql" or self.graphql.cache is None:
            await self.app(scope, receive, send)
            return
        # Only a request within the body limit is answered here: any other goes the whole way, through
        # the ``BodyLimit`` middleware (413), a GET with a body included (its body is never read here).
        services = scope["app"].state.services
        limit = services.settings.max_body_bytes
        heads = _heads(scope)
        declared = heads.get(b"content-length", b"")
        body = b""
        if scope["method"] == "POST":
            if not declared.isdigit() or int(declared) > min(SEEN_BODY_BYTES, limit):
                await self.app(scope, receive, send)
                return
            body = await _read_body(receive)
            if len(body) > limit:  # (more than it declared): the body limit refuses it
                await self.app(scope, _replay(body), send)
                return
        elif scope["method"] != "GET" or declared.strip(b"0") or b"transfer-encoding" in heads:
            await self.app(scope, receive, send)
            return
        graphql = self.graphql
        remembered = _remembered_as(scope, heads, body)
        entry = graphql.warm_hit(scope, heads, services, remembered)
        if entry is not None:
            await graphql._answer(heads, send, entry, keyed=False)
            return
        # /graphql's route is that app: no need to route it again, nor to read the body again
        await graphql.serve(scope, heads, services, body, remembered, send)


class CachedGraphQL:
    """ASGI wrapper of ``/graphql`` over HTTP (WebSockets pass straight through)."""

    def __init__(
        self,
        app: ASGIApp,
        cache: ResponseCache | None,
        pinned_max_age: int,
        prepared: PreparedOperations | None = None,
    ) -> None:
        self.app = app
        self.cache = cache
        self.pinned_max_age = pinned_max_age
        self.prepared = prepared  # query documents seen before skip strawberry's view (api/graphql/prepared.py)
        self.documents = Documents()
        self.seen = Seen()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "POST"):
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive) if scope["method"] == "POST" else b""
        heads = _heads(scope)
        await self.serve(scope, heads, scope["app"].state.services, body, _remembered_as(scope, heads, body), send)

    async def serve(
        self,
        scope: Scope,
        heads: Heads,
        services: Services,
        body: bytes,
        remembered: tuple[bytes, bytes] | None,
        send: Send,
    ) -> None:
        """A GET or POST whose body was read (``remembered``: what ``Seen`` would know it by)."""
        asked = self._read(scope, heads, services, body)
        if asked is None:  # not a request this cache understands: GraphiQL, batches, other bodies
            await self._strawberry(scope, body, send)
            return
        sent_text = asked.payload.get("query") is not None
        if not sent_text:
            text = self.documents.text(asked.digest)
            if text is None:
                await _send_json(send, 200, _not_found())
                return
            asked.payload["query"] = text
            scope, body = _rewritten(scope, asked.payload)  # (only its Content-Length changes of ``heads``)
        settings = services.settings
        normal = self.documents.normal(
            str(asked.payload["query"]), asked.digest, settings.max_tokens, settings.max_query_length
        )
        if normal is None:  # mutations, subscriptions, documents that do not parse: strawberry alone
            try:
                await self._strawberry(scope, body, send)
            finally:
                services.read_model.positions_watch().invalidate()  # a write here: this process's next read is fresh
            return
        question = asked.question(normal) if self.cache is not None else None  # (its key; None: not cached)
        if sent_text and question is not None and remembered is not None and len(body) <= SEEN_BODY_BYTES:
            self.seen.put(remembered, question)  # (repeats: ``WarmFront``)
        try:
            await self._serve_read(scope, heads, services, body, asked, normal, question, send)
        except UNAVAILABLE_ERRORS as error:  # (before any byte was sent: every database call comes first)
            await _unavailable(send, error)

    async def _strawberry(self, scope: Scope, body: bytes, send: Send) -> None:
        """Strawberry's view alone (mutations, batches, GraphiQL...). A database call refused while the app
        closes (in ``get_context``, before its answer starts) answers 503, as every route's does: this app is
        also called by ``WarmFront``, outside the routes' exception handlers."""
        started = False

        async def sending(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, _replay(body), sending)
        except UNAVAILABLE_ERRORS as error:
            if started:
                raise
            await _unavailable(send, error)

    def _read(self, scope: Scope, heads: Heads, services: Services, body: bytes) -> Asked | None:
        """The request's query, variables..., or None to leave it to strawberry alone."""
        try:
            if scope["method"] == "GET":
                # As starlette and strawberry read them: the last value of each name, a blank one kept
                # (a blank ``variables`` or ``extensions`` stays "", which strawberry refuses).
                params = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True))
                payload: dict[str, Any] = {"query": params.get("query")}
                for name in ("variables", "extensions"):
                    value = params.get(name)
                    if value not in (None, "null"):
                        payload[name] = json.loads(value) if value else value
                payload["operationName"] = params.get("operationName")
                asked_id: object = params.get("id")
                strict, finite = True, False
            else:
                if not _json_content(heads):
                    return None  # (strawberry's 400, or not a body it reads)
                payload, strict = _loads(body)
                asked_id = None
                finite = strict  # (strict: orjson read it)
        except (ValueError, UnicodeDecodeError, RecursionError):
            return None
        if not isinstance(payload, dict):
            return None
        extensions = payload.get("extensions")
        if not (
            isinstance(payload.get("variables"), DICT_OR_NONE)
            and isinstance(extensions, DICT_OR_NONE)
            and isinstance(payload.get("operationName"), STR_OR_NONE)
        ):
            return None  # strawberry's 400: never looked up (the key would not tell it from a good request)
        # JSON nested deeper than strawberry reads (the whole body; a GET's variables and extensions): its
        # 400, though the key, which ignores other members and extensions, would match a good request's.
        depth = services.settings.max_json_depth
        if not (
            _shallow(body, depth) or json_depth(payload, depth)
            if scope["method"] == "POST"
            else json_depth(payload.get("variables"), depth) and json_depth(extensions, depth)
        ):
            return None
        if isinstance(extensions, dict) and isinstance(extensions.get("persistedQuery"), dict):
            asked_id = extensions["persistedQuery"].get("sha256Hash")
        query = payload.get("query")
        if isinstance(query, str):
            digest = sha256(query)
            if asked_id is not None and asked_id != digest:
                return None  # strawberry answers; the hash will not be registered under a wrong text
            return Asked(payload, digest, strict=strict, finite=finite)
        if query is None and isinstance(asked_id, str) and asked_id:
            return Asked(payload, asked_id.lower(), strict=strict, finite=finite)
        return None

    async def _serve_read(
        self,
        scope: Scope,
        heads: Heads,
        services: Services,
        body: bytes,
        asked: Asked,
        normal: str,
        question: Question | None,
        send: Send,
    ) -> None:
        """Answer a read: from the cache when ``question`` (its key; None: not cached) finds an entry."""
        cache = self.cache
        key: Key | None = None
        projected: int | None = None
        authorization = heads.get(b"authorization", b"")
        caller = await _caller(services, authorization) if authorization else Caller()  # (anonymous: no await)
        role = _role(caller, services.settings)
        graphql_response = accepts_graphql_response(heads.get(b"accept", b""))
        if cache is not None and role is not None and question is not None:
            watch = services.read_model.positions_watch()
            positions = watch.current()
            if positions is None:
                positions = await blocking(watch.refresh)
            projected = positions[0]
            key = _lookup_key(cache, question, role, graphql_response, positions)
            entry = cache.get(key)
            if entry is not None and not services.reads.wait_needed(_client(caller, scope)):
                await self._answer(heads, send, entry, keyed=caller.principal is not None)
                return
        token = OBSERVED_POSITION.set(projected) if projected is not None else None
        try:
            answered = (
                await self._prepared(scope, heads, services, asked, caller, graphql_response)
                if role is not None
                else None
            )
            if answered is None:
                status, headers, content = await _capture(self.app, scope, body)
                answer = content_type = None
            else:
                status, headers, content, answer, content_type = answered
        finally:
            if token is not None:
                OBSERVED_POSITION.reset(token)
        entry = self._entry(status, headers, content, asked, answer, not normal.endswith(FLOATING), content_type)
        if entry is None:
            await _send_raw(send, status, headers, content)
            return
        if cache is not None and key is not None and role is not None:
            basis_now = _answer_basis(entry, key[5])
            if basis_now is not None:
                cache.put((*key[:5], basis_now), entry)
        await self._answer(heads, send, entry, keyed=bool(authorization))

    def warm_hit(
        self, scope: Scope, heads: Heads, services: Services, remembered: tuple[bytes, bytes] | None
    ) -> Entry | None:
        """The answer to a request seen before (``remembered``: its bytes), from an anonymous caller, as the
        cache holds it now; None (nothing done, no token taken) when the full path must decide."""
        cache = self.cache
        if cache is None or heads.get(b"authorization"):
            return None
        question = self.seen.get(remembered) if remembered is not None else None
        if question is None:
            return None
        positions = services.read_model.positions_watch().current()
        role = _role(Caller(), services.settings)
        if positions is None or role is None:
            return None
        graphql_response = accepts_graphql_response(heads.get(b"accept", b""))
        entry = cache.get(_lookup_key(cache, question, role, graphql_response, positions), count_miss=False)
        if entry is None or services.reads.wait_needed(_client(Caller(), scope)):
            return None  # the full path answers (and, when the allowance is spent, says 429)
        return entry

    async def _prepared(
        self, scope: Scope, heads: Heads, services: Services, asked: Asked, caller: Caller, graphql_response: bool
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes, dict[str, Any], str] | None:
        """The answer of the prepared path (status, headers, body, the body as data, its media type), or None:
        strawberry's."""
        prepared_operations = self.prepared
        if prepared_operations is None:
            return None
        payload = asked.payload
        query, variables = payload.get("query"), payload.get("variables")
        name, extensions = payload.get("operationName"), payload.get("extensions")
        if not (isinstance(query, str) and query):  # (the other fields' types were checked by _read)
            return None  # a persisted id alone, or strawberry's 400
        accept = heads.get(b"accept", b"")
        if any(kind in accept for kind in STREAM_ACCEPTS):
            return None
        if scope["method"] == "POST":  # (JSON nested too deep was left to strawberry by _read)
            content_type = heads.get(b"content-type", b"").split(b";", 1)[0].strip()
            if not asked.strict or content_type != b"application/json":
                return None
        prepared = prepared_operations.prepare(query, name)
        if prepared is None:
            return None
        client = scope.get("client")
        context = Context(services, caller, await services.sizes.current(blocking), client[0] if client else "unknown")
        result = await prepared_operations.execute(prepared, variables, extensions, context)
        if result is None:
            return None
        answer: dict[str, Any] = {"data": result.data}  # strawberry.http.process_result
        if result.errors:
            answer["errors"] = [error.formatted for error in result.errors]
        if result.extensions:
            answer["extensions"] = result.extensions
        status, retry_after = answer_status(result, answer, graphql_response)
        content = encode_json(answer)
        media = _MEDIA[graphql_response]
        headers = [(b"content-length", str(len(content)).encode()), (b"content-type", media.encode())]
        if retry_after is not None:
            headers.append((b"retry-after", retry_after.encode()))
        return status, headers, content, answer, media

    def _entry(
        self,
        status: int,
        headers: list[tuple[bytes, bytes]],
        content: bytes,
        asked: Asked,
        answer: dict[str, Any] | None = None,
        frozen: bool = True,
        content_type: str | None = None,
    ) -> Entry | None:
        """A cacheable answer: 200, JSON, no errors, every operation a query (then its document is registered).
        ``answer``: the body as data, when known (else read from ``content``); ``frozen``: False when a pinned
        basis does not freeze it (the document gives a record time); ``content_type``: the one in ``headers``,
        when known."""
        if status != 200:
            return None
        if content_type is None:
            content_type = dict(headers).get(b"content-type", b"").decode("latin-1")
        if "json" not in content_type:
            return None
        if answer is None:
            try:
                answer = orjson.loads(content)
            except ValueError:
                return None
        if not isinstance(answer, dict) or "errors" in answer or "data" not in answer:
            return None
        self.documents.register(str(asked.payload["query"]), asked.digest)
        basis = (answer.get("extensions") or {}).get("basis") or {}
        size = basis.get("treeSize") if isinstance(basis, dict) else None
        pinned = frozen and bool(basis.get("pinned")) if isinstance(basis, dict) else False
        etag = '"' + hashlib.sha256(content).hexdigest()[:32] + '"'
        return Entry(content, content_type, etag, pinned, size if isinstance(size, int) else None)

    async def _answer(self, heads: Heads, send: Send, entry: Entry, *, keyed: bool) -> None:
        if entry.pinned:
            scope_word = "private" if keyed else "public"
            control = f"{scope_word}, max-age={min(self.pinned_max_age, _until_midnight())}, immutable".encode()
        else:
            control = _NO_CACHE[keyed]
        headers = [*entry.head, (b"cache-control", control)]
        match = heads.get(b"if-none-match")
        if match and entry.etag in _etags(match):
            # No Content-Length: a 304's may only repeat the 200's (RFC 9110 8.6), and it has no body anyway.
            await send({"type": "http.response.start", "status": 304, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        headers += ((b"content-type", entry.content_type_bytes), (b"content-length", entry.length))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": entry.body})


_NO_CACHE = {False: b"public, no-cache", True: b"private, no-cache"}
_MEDIA = {False: "application/json", True: f"{GRAPHQL_RESPONSE}; charset=utf-8"}  # by accepts_graphql_response


def _lookup_key(
    cache: ResponseCache, question: Question, role: str, graphql_response: bool, positions: tuple[int, int]
) -> Key:
    """The key to look up at the read model's current positions (entries of older ones are never served)."""
    projected, details = positions
    today = _today()
    cache.observe(projected, details, today)
    normal, variables, operation_name, pin = question
    basis: tuple[object, ...] = ("pinned", details, today, pin) if pin is not None else ("current", projected, today)
    # An operationName of "" names no operation (strawberry refuses it): not the same request as none.
    return (normal, variables, operation_name, role, graphql_response, basis)


# The local day the last key was made on: (its first instant, the first of the next, as POSIX times; its
# ISO date). ``date.today().isoformat()`` costs ~0.9 us a request; a comparison of two floats, ~0.05.
_day: tuple[float, float, str] = (0.0, 0.0, "")


def _today() -> str:
    """``date.today().isoformat()``: asked again only outside the day last asked for (a clock set back included)."""
    global _day
    starts, ends, text = _day
    if starts <= time.time() < ends:
        return text
    today = date.today()
    midnight = datetime.min.time()
    text = today.isoformat()
    _day = (
        datetime.combine(today, midnight).timestamp(),
        datetime.combine(today + timedelta(days=1), midnight).timestamp(),
        text,
    )
    return text


def _answer_basis(entry: Entry, asked_basis: tuple[object, ...]) -> tuple[object, ...] | None:
    """The basis the answer was actually computed at (the model may have moved since the lookup)."""
    if asked_basis[0] == "pinned":
        return asked_basis
    size = entry.basis_size
    return ("current", size, asked_basis[2]) if size is not None else None


async def _caller(services: Any, authorization: bytes) -> Caller:
    secret = bearer(authorization.decode("latin-1") or None) if authorization else None
    if secret is None:
        return Caller()
    caller: Caller = await blocking(services.keys.identify, secret)
    return caller


def _role(caller: Caller, settings: Any) -> str | None:
    """The caller's role for the key; None when the request must go the whole way (refused callers)."""
    if refused_caller(caller, settings) is not None:
        return None
    return ANONYMOUS if caller.principal is None else caller.principal.role


def _client(caller: Caller, scope: Scope) -> str:
    """As ``Context.client``."""
    client = scope.get("client")
    return client_of(caller, client[0] if client else "unknown")


# A request's headers by name, the first value of each (ASGI: lower-case names, byte strings). Built once
# per request (~0.25 us): the layer asks for six names, nine times, each a scan of the list before.
Heads = dict[bytes, bytes]


def _heads(scope: Scope) -> Heads:
    headers = scope.get("headers", ())
    # (reversed: the first of repeated names is written last, so it stays)
    return dict(reversed(headers if isinstance(headers, list) else [*headers]))


def _etags(value: bytes) -> set[str]:
    text = value.decode("latin-1")
    return {part.strip().removeprefix("W/") for part in text.split(",") if part.strip()}


def _until_midnight() -> int:
    now = datetime.now()
    midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time())
    return max(1, int((midnight - now).total_seconds()))


def _not_found() -> dict[str, Any]:
    return {
        "errors": [
            {
                "message": "PersistedQueryNotFound: send the query text once (POST) to register it",
                "extensions": {"code": PERSISTED_QUERY_NOT_FOUND},
            }
        ]
    }


def _rewritten(scope: Scope, payload: dict[str, Any]) -> tuple[Scope, bytes]:
    """The request with the registered query text in it, for strawberry."""
    scope = dict(scope)
    if scope["method"] == "GET":
        params = [(k, v) for k, v in parse_qsl(scope.get("query_string", b"").decode("latin-1")) if k != "id"]
        params.append(("query", str(payload["query"])))
        scope["query_string"] = urlencode(params).encode("latin-1")
        return scope, b""
    body = json.dumps(payload).encode("utf-8")
    scope["headers"] = [(k, v) for k, v in scope["headers"] if k != b"content-length"] + [
        (b"content-length", str(len(body)).encode())
    ]
    return scope, body


def _loads(body: bytes) -> tuple[Any, bool]:
    """A request body's JSON, and whether it was read as strawberry reads it (strict UTF-8, and no
    number orjson and the standard library read differently): then by orjson."""
    if LONG_NUMBER not in body.translate(_DIGITS_ONLY):
        try:
            return orjson.loads(body), True
        except orjson.JSONDecodeError:
            pass  # NaN, a lone surrogate, a BOM...: the standard library decides, as before
    return json.loads(body), False


def _shallow(body: bytes, depth: int) -> bool:
    """Is the JSON of ``body`` surely nested at most ``depth`` deep? Each array or object it holds opens with a
    ``[`` or ``{`` of its own, so no more of them than ``depth`` is enough (those in strings only add to the count);
    a body with more is measured (``json_depth``)."""
    return body.count(b"{") + body.count(b"[") <= depth


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    return b"".join(chunks)


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    return receive


async def _capture(app: ASGIApp, scope: Scope, body: bytes) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    status = 500
    headers: list[tuple[bytes, bytes]] = []
    chunks: list[bytes] = []

    async def send(message: Message) -> None:
        nonlocal status, headers
        if message["type"] == "http.response.start":
            status = int(message["status"])
            headers = [(bytes(k), bytes(v)) for k, v in message.get("headers", ())]
        elif message["type"] == "http.response.body":
            chunks.append(bytes(message.get("body", b"")))

    await app(scope, _replay(body), send)
    return status, headers, b"".join(chunks)


async def _send_raw(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    kept = [(k, v) for k, v in headers if k.lower() != b"content-length"]
    kept.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": kept})
    await send({"type": "http.response.body", "body": body})


async def _unavailable(send: Send, error: Unavailable) -> None:
    answer, retry_after = unavailable(error)
    headers = [(b"content-type", b"application/json"), (b"retry-after", str(retry_after).encode())]
    await _send_raw(send, 503, headers, encode_json(answer))


async def _send_json(send: Send, status: int, value: object) -> None:
    body = json.dumps(value).encode("utf-8")
    await _send_raw(send, status, [(b"content-type", b"application/json")], body)
