"""Record ids: ``ledger.domain``'s ``uuid5`` of the key (its own, faster construction) is the standard
library's, value and form, so ids of ledgers written before it are found again. Pure functions."""

from __future__ import annotations

import pickle
import random
from collections.abc import Callable
from uuid import UUID, uuid5

import pytest

from ledger import domain


def _names() -> list[str]:
    rng = random.Random(13)
    alphabet = "abcxyz-09 é中\U0001f600\u202e\x00"
    made = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40))) for _ in range(500)]
    return ["", "a", "claim:hegseth-nato-1", "x" * 1000, *made]


def test_ids_are_the_standard_librarys_uuid5_of_the_key() -> None:
    for name in _names():
        ours, standard = domain._uuid5(name), uuid5(domain.NAMESPACE, name)
        assert ours == standard and hash(ours) == hash(standard) and str(ours) == str(standard)
        assert type(ours) is UUID and ours.version == 5 and ours.variant == standard.variant
        assert ours.is_safe == standard.is_safe and pickle.loads(pickle.dumps(ours)) == standard
    makers: list[tuple[Callable[[str], UUID], str]] = [
        (domain.claim_id, "claim:"),
        (domain.actor_id, "actor:"),
        (domain.topic_id, "topic:"),
        (domain.source_key_id, "source-key:"),
        (domain.source_id, "source:"),
        (domain.ApiKey.create_id, "api-key:"),
    ]
    for make, prefix in makers:
        assert make("k-1") == uuid5(domain.NAMESPACE, prefix + "k-1")


def test_a_key_that_is_not_utf8_fails_as_uuid5_fails() -> None:
    with pytest.raises(UnicodeEncodeError):
        uuid5(domain.NAMESPACE, "lone \ud800")
    with pytest.raises(UnicodeEncodeError):
        domain._uuid5("lone \ud800")
