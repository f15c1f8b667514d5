"""Read-model rows to view dataclasses (the SELECT column lists live next to their readers)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from projections.values import as_date, as_uuid, from_us, loads, period, precision_of
from projections.views import (
    ActorView,
    ApiKeyListing,
    ClaimEventView,
    ClaimView,
    FieldChange,
    Link,
    Passage,
    Role,
    SourceView,
    StatedDate,
    TopicView,
)

CLAIM_COLUMNS = (
    "position", "claim_id", "key", "version", "known_from_us", "recorded_by", "first_recorded_us",
    "first_recorded_by", "actor", "topic", "stance", "summary", "quote_text", "quote_language", "value",
    "conditions", "stated_date", "stated_precision", "stated_approximate", "stated_note", "stated_earliest",
    "stated_latest", "counts_from", "channel", "source_id", "passage_start", "passage_end", "passage_exact", "passage_prefix",
    "passage_suffix", "attribution", "links", "retracted", "retraction_reason", "first_position", "log_position",
)  # fmt: skip


def claim_columns(alias: str) -> str:
    return ", ".join(f"{alias}.{c}" for c in CLAIM_COLUMNS)


def stated_date(value: dict[str, Any]) -> StatedDate:
    """A partial date in its stored form ({date, precision, approximate, note})."""
    earliest, latest = period(value["date"])
    return StatedDate(
        date=value["date"],
        precision=value.get("precision") or precision_of(value["date"]),
        earliest=as_date(earliest),
        latest=as_date(latest),
        approximate=bool(value.get("approximate", False)),
        note=value.get("note"),
    )


def claim_view(r: Sequence[Any]) -> ClaimView:
    (
        position, claim_id, key, version, known_from_us, recorded_by, first_recorded_us, first_recorded_by,
        actor, topic, stance, summary, quote_text, quote_language, value, conditions, stated_date_, precision,
        approximate, note, earliest, latest, counts_from, channel, source_id, passage_start, passage_end, passage_exact,
        passage_prefix, passage_suffix, attribution, links, retracted, retraction_reason, first_position,
        log_position,
    ) = r  # fmt: skip
    return ClaimView(
        id=as_uuid(claim_id),
        key=key,
        version=version,
        actor=actor,
        topic=topic,
        stance=stance,
        summary=summary,
        quote_text=quote_text,
        quote_language=quote_language,
        value=value,
        conditions=conditions,
        stated=StatedDate(stated_date_, precision, as_date(earliest), as_date(latest), bool(approximate), note),
        counts_from=as_date(counts_from),
        channel=channel,
        source_id=as_uuid(source_id),
        passage=Passage(passage_start, passage_end, passage_exact, passage_prefix, passage_suffix),
        attribution=attribution,
        links=[Link(link["relation"], as_uuid(link["target"])) for link in loads(links)],
        retracted=bool(retracted),
        retraction_reason=retraction_reason,
        first_recorded_at=from_us(first_recorded_us),
        first_recorded_by=first_recorded_by,
        version_recorded_at=from_us(known_from_us),
        version_recorded_by=recorded_by,
        position=log_position,
        first_position=first_position,
        row=position,
    )


EVENT_COLUMNS = "claim_id, version, event, log_position, known_from_us, recorded_by, reason, changes"


def claim_event_view(r: Sequence[Any]) -> ClaimEventView:
    claim_id, version, event, position, known_from_us, recorded_by, reason, changes = r
    fields = loads(changes) if changes else {}
    return ClaimEventView(
        claim_id=as_uuid(claim_id),
        version=version,
        type=event,
        position=position,
        recorded_at=from_us(known_from_us),
        recorded_by=recorded_by,
        reason=reason,
        changes=[FieldChange(name, change.get("before"), change.get("after")) for name, change in fields.items()],
    )


ACTOR_COLUMNS = "id, key, name, kind, aliases, wikidata, roles"


def actor_view(r: Sequence[Any]) -> ActorView:
    return ActorView(
        id=as_uuid(r[0]),
        key=r[1],
        name=r[2],
        kind=r[3],
        aliases=list(loads(r[4])),
        wikidata=r[5],
        roles=[Role(role["title"], _day(role.get("from")), _day(role.get("until"))) for role in loads(r[6])],
    )


def _day(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


TOPIC_COLUMNS = "id, key, title, proposition"


def topic_view(r: Sequence[Any]) -> TopicView:
    return TopicView(id=as_uuid(r[0]), key=r[1], title=r[2], proposition=r[3])


SOURCE_COLUMNS = "id, key, sha256, metadata, recorded_us"


def source_columns(alias: str) -> str:
    return ", ".join(f"{alias}.{c.strip()}" for c in SOURCE_COLUMNS.split(","))


def source_view(r: Sequence[Any]) -> SourceView:
    m = loads(r[3])
    return SourceView(
        id=as_uuid(r[0]),
        key=r[1],
        title=m["title"],
        publisher=m.get("publisher"),
        authors=list(m.get("authors") or []),
        url=m.get("url"),
        published=stated_date(m["published"]),
        language=m["language"],
        genre=m["genre"],
        sha256=r[2],
        recorded_at=from_us(r[4]),
    )


API_KEY_LISTING_COLUMNS = "name, role, created_us, created_by, revoked, revoked_reason"


def api_key_listing(r: Sequence[Any]) -> ApiKeyListing:
    return ApiKeyListing(
        name=r[0], role=r[1], created_at=from_us(r[2]), created_by=r[3], revoked=bool(r[4]), revoked_reason=r[5]
    )


