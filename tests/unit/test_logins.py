"""The back-off figures of gating/logins.py, on both sides of each boundary."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from gating.logins import ACCOUNT, ADDRESS, Attempts, admit, failed, succeeded

NOW = datetime(2026, 11, 22, 1, 30, tzinfo=UTC)


def test_the_wait_starts_after_the_fifth_failure_and_doubles_up_to_fifteen_minutes():
    waits = [ACCOUNT.wait_after(n).total_seconds() for n in range(4, 12)]

    assert waits == [0, 2, 4, 8, 16, 32, 64, 128]
    assert ACCOUNT.wait_after(14) == timedelta(seconds=900)  # 1,024 s asked, 900 s at most
    assert ACCOUNT.wait_after(10**9) == timedelta(minutes=15)  # no overflow


def test_an_address_has_twenty_free_failures():
    assert ADDRESS.wait_after(19) == timedelta(0)
    assert ADDRESS.wait_after(20) == timedelta(seconds=2)


def test_an_attempt_counts_as_failed_until_it_succeeds_and_waits_are_kept_to_the_second():
    verdict, counted = admit(ACCOUNT, Attempts(4), NOW)
    assert (
        verdict.allowed and counted.failures == 5 and counted.retry_at == NOW + timedelta(2 / 86400)
    )

    early, _ = admit(ACCOUNT, counted, NOW + timedelta(seconds=1.999))
    on_time, _ = admit(ACCOUNT, counted, NOW + timedelta(seconds=2))

    assert not early.allowed and early.retry_at == NOW + timedelta(seconds=2)
    assert on_time.allowed
    assert succeeded(counted).failures == 4


def test_the_tenth_failure_in_a_row_locks_the_ninth_does_not():
    ninth = failed(ACCOUNT, Attempts(9, NOW), NOW)
    tenth = failed(ACCOUNT, Attempts(10, NOW), NOW)
    verdict, _ = admit(ACCOUNT, tenth, NOW + timedelta(days=30))

    assert ninth.locked_at is None and tenth.locked_at == NOW
    assert not verdict.allowed and verdict.locked


def test_an_address_is_forgiven_after_an_hour_without_a_failure_not_before():
    slowed = Attempts(30, NOW, NOW + timedelta(minutes=15))

    _, within = admit(ADDRESS, slowed, NOW + timedelta(minutes=59, seconds=59))
    _, after = admit(ADDRESS, slowed, NOW + timedelta(hours=1))
    _, name = admit(ACCOUNT, Attempts(8, NOW, NOW + timedelta(minutes=15)), NOW + timedelta(days=2))

    assert within.failures == 31 and after.failures == 1
    assert name.failures == 9  # a name is never forgiven by time alone, only by a success


def test_people_logging_in_behind_one_address_never_keep_it_slowed_down():
    # 30 wrong passwords from a proxy's address, then right ones every 10 minutes: the address
    # is forgiven an hour after the last wrong one, and no right one ever leaves a wait behind.
    kept = Attempts(30, NOW, NOW + timedelta(minutes=15))
    refused = 0
    for step in range(1, 31):
        at = NOW + timedelta(minutes=10 * step)
        verdict, counted = admit(ADDRESS, kept, at)
        if not verdict.allowed:
            refused += 1
            continue
        kept = succeeded(counted)
        assert kept.retry_at is None and kept.last_failed_at in (NOW, None)

    assert refused == 1  # only the one at 10 minutes, inside the wait the failures set
    assert kept.failures == 0 and kept.last_failed_at is None


def test_an_ipv6_client_counts_by_its_64_network_and_an_ipv4_one_by_its_address():
    from adapters.db.logins import address_key

    assert address_key("2001:db8:1:2::1") == address_key("2001:db8:1:2:ffff::9")
    assert address_key("2001:db8:1:2::1") != address_key("2001:db8:1:3::1")
    assert address_key("10.0.0.1") != address_key("10.0.0.2")
    assert address_key("::ffff:10.0.0.1") != address_key("::ffff:10.0.0.2")
    assert address_key("not an address") == address_key("not an address")
