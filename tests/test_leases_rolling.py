"""The lease keys an instance stamps again, a slice a round: every one within a quarter of the
keys' TTL, however many calls it drives, and never one that ended."""

from __future__ import annotations

from acd.service.leases import RENEW_EVERY_S, _Rolling


def test_every_lease_comes_round_within_a_quarter_of_the_ttl() -> None:
    ttl_s = 40 * RENEW_EVERY_S  # a quarter of it: 10 rounds
    rolling = _Rolling(ttl_s)
    driven = {f"c{i:05}" for i in range(3_000)}  # more than 10 slices of RENEW_BATCH
    stamped: set[str] = set()
    for _ in range(10):
        part = rolling.take(driven)
        assert len(part) == 300
        stamped |= set(part)
    assert stamped == driven


def test_a_slice_skips_calls_that_ended_and_starts_again_with_new_ones() -> None:
    rolling = _Rolling(3600)
    driven = {"a", "b", "c"}
    assert rolling.take(driven) == ["a", "b", "c"]  # (a slice holds at least RENEW_BATCH)
    driven = {"b", "d"}
    assert rolling.take(driven) == ["b", "d"]
    many = {f"x{i:03}" for i in range(120)}
    assert rolling.take(many) == sorted(many)[:50]
    assert rolling.take(many) == sorted(many)[50:100]
    rest = many - {"x119"}  # it ends before its slice comes
    assert rolling.take(rest) == sorted(rest)[100:]
