"""Per-client rate limits (token buckets) for reads and writes.

A client is its API key's name when it sent a valid key, else its network address.
Each client has one bucket for queries and one for mutations, holding up to a
minute's allowance and refilled continuously; a request finding its bucket empty is
refused with ``RATE_LIMITED`` (HTTP 429) and told when to retry. At most
:data:`MAX_CLIENTS` buckets are kept (the least recently used go first), so a
stream of new addresses cannot grow memory without bound.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from graphql.error import GraphQLError

RATE_LIMITED = "RATE_LIMITED"
MAX_CLIENTS = 100_000


class RateLimiter:
    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # client -> (tokens, at)
        self._lock = threading.Lock()

    def wait_needed(self, client: str) -> float:
        """Take one token for ``client``: 0.0 when allowed, else the seconds until one is free."""
        if self.per_minute <= 0:
            return 0.0
        rate = self.per_minute / 60.0
        now = self.clock()
        with self._lock:
            tokens, at = self._buckets.pop(client, (float(self.per_minute), now))
            tokens = min(float(self.per_minute), tokens + (now - at) * rate)
            if tokens >= 1.0:
                self._buckets[client] = (tokens - 1.0, now)
                wait = 0.0
            else:
                self._buckets[client] = (tokens, now)
                wait = (1.0 - tokens) / rate
            while len(self._buckets) > MAX_CLIENTS:
                self._buckets.popitem(last=False)
        return wait


def rate_limited(kind: str, client: str, per_minute: int, wait: float, setting: str) -> GraphQLError:
    seconds = max(1, math.ceil(wait))
    return GraphQLError(
        f"too many {kind} from {client}: the limit is {per_minute} a minute ({setting}); retry in {seconds} s",
        extensions={"code": RATE_LIMITED, "retryAfter": seconds},
    )
