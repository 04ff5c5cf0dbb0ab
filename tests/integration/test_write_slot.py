"""SQLite gate writers take turns across processes, and give up when their time is spent."""

from __future__ import annotations

import multiprocessing
import time

from adapters.db.write_slot import WriteSlot


def _hold(path: str, seconds: float, ready) -> None:
    slot = WriteSlot(path)
    assert slot.acquire(1.0) is not None
    ready.set()
    time.sleep(seconds)
    slot.release()


def test_a_writer_in_another_process_waits_its_turn_and_times_out_when_it_must(tmp_path):
    path = str(tmp_path / "cg.db-gatelock")
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Event()
    other = ctx.Process(target=_hold, args=(path, 0.6, ready))
    other.start()
    assert ready.wait(10)
    slot = WriteSlot(path)
    try:
        started = time.monotonic()
        assert slot.acquire(0.2) is None  # the other process still holds it
        gave_up = time.monotonic() - started
        left = slot.acquire(5.0)  # handed over as soon as the other process lets go
        waited = time.monotonic() - started
        assert left is not None
        slot.release()
    finally:
        other.join(10)
    assert 0.18 <= gave_up < 0.4
    assert 0.4 <= waited < 1.2
    assert 3.5 < left <= 5.0


def test_threads_of_one_process_take_turns_on_the_same_slot(tmp_path):
    slot = WriteSlot(str(tmp_path / "cg.db-gatelock"))
    assert slot.acquire(1.0) is not None
    assert slot.acquire(0.05) is None
    slot.release()
    assert slot.acquire(0.05) is not None
    slot.release()
