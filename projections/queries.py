"""Every read query of the product (CONTRACT STUB: the projections engineer implements it).

The API calls these and holds no SQL. Times: ``as_of`` is a date in the world
(valid time), ``known_at`` an instant of the ledger's own record (record time);
``None`` means today / now.

Partial dates rule: a claim counts *as of D* once its whole stated period lies on
or before D (stated.latest <= D): the ledger never attributes a position before
the evidence guarantees the statement had been made. Claims are ordered by
stated.latest, then stated.earliest, then log position.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from uuid import UUID

from projections.views import (
    ActorView,
    ApiKeyView,
    ClaimEventView,
    ClaimFilter,
    ClaimView,
    Page,
    PositionChangeView,
    PositionView,
    SourceView,
    TopicView,
)


class ReadModel:
    """Query functions over the read-model tables of one database."""

    def position(self, actor: str, topic: str, as_of: date | None, known_at: datetime | None) -> PositionView | None:
        raise NotImplementedError

    def positions(
        self, actor: str | None, topic: str | None, as_of: date | None, known_at: datetime | None
    ) -> list[PositionView]:
        """Current stance for every (actor, topic) pair with a qualifying claim, filtered."""
        raise NotImplementedError

    def positions_for_pairs(
        self, pairs: Sequence[tuple[str, str]], as_of: date | None, known_at: datetime | None
    ) -> list[PositionView | None]:
        """Batch form for DataLoaders: one result per pair, in order, in O(1) queries."""
        raise NotImplementedError

    def timeline(self, actor: str, topic: str, known_at: datetime | None) -> list[PositionChangeView]:
        """Each change of stance, oldest first (first entry has previous_stance None)."""
        raise NotImplementedError

    def claims_by_ids(self, ids: Sequence[UUID], known_at: datetime | None) -> list[ClaimView | None]:
        """Version current at known_at (None if not yet recorded then); retracted ones included, flagged."""
        raise NotImplementedError

    def claim_histories(self, ids: Sequence[UUID]) -> list[list[ClaimEventView]]:
        raise NotImplementedError

    def claims(self, filter: ClaimFilter, first: int, after: str | None, known_at: datetime | None) -> Page:
        """Keyset-paginated claims ordered by (stated.latest, position); raises ValueError on a bad cursor."""
        raise NotImplementedError

    def claims_for_sources(self, source_ids: Sequence[UUID], known_at: datetime | None) -> list[list[ClaimView]]:
        raise NotImplementedError

    def actors(self, search: str | None) -> list[ActorView]:
        """Search matches key, name or any alias, case-insensitively."""
        raise NotImplementedError

    def actors_by_keys(self, keys: Sequence[str]) -> list[ActorView | None]:
        raise NotImplementedError

    def topics(self) -> list[TopicView]:
        raise NotImplementedError

    def topics_by_keys(self, keys: Sequence[str]) -> list[TopicView | None]:
        raise NotImplementedError

    def sources(self) -> list[SourceView]:
        raise NotImplementedError

    def sources_by_ids(self, ids: Sequence[UUID]) -> list[SourceView | None]:
        raise NotImplementedError

    def source_text(self, source_id: UUID) -> str | None:
        raise NotImplementedError

    def api_key(self, secret_sha256: str) -> ApiKeyView | None:
        raise NotImplementedError

    def projected_position(self) -> int:
        """The last ledger log position the read model reflects."""
        raise NotImplementedError
