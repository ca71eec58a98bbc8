"""Position and EWT announcements and the EWT accuracy figures, end to end (the real service,
the simulated PBX running dialplans/extensions_acd.conf over TCP, a real Redis).

What a simulated caller was played is in its truth (`heard`): the hold loop's announcement is
checked word by word against values worked out by hand from the EWT model."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from acd.core.model import CallState
from acd.testing.harness import Harness, wait_for
from tests.flowkit import (
    answer,
    call_of,
    centre,
    figures,
    lab,
    login,
    place,
    reload,
    truth_of,
    until_waiting,
)

__all__ = ["lab"]


def heard(h: Harness, number: str) -> list[str]:
    return [what for _, what in truth_of(h, number)["heard"]]


def announced(h: Harness, number: str) -> list[str]:
    """The announcement words played to the caller (the IVR menu prompt left out)."""
    return [w for w in heard(h, number) if not w.startswith("Read(")
            and "menu" not in w]


async def test_entry_announcement_says_place_and_minutes(lab: Any) -> None:
    # Both sales agents talk; 2 minutes of handle time assumed: callers 1 and 2 get the first
    # free agent in about 2 minutes (one each), caller 3 in about 4.
    h: Harness = await lab(centre(sales={"assumed_aht_s": 120, "announce": {"every_s": 0}}))
    await login(h, "a1")
    place(h, "6001", "1")
    await answer(h, "6001", "a1")
    await login(h, "a3")
    place(h, "6002", "1")
    await answer(h, "6002", "a3")
    for number in ("6003", "6004", "6005"):
        place(h, number, "1")
        await until_waiting(h, number)
    first = ["Playback(queue-youarenext)", "Playback(queue-holdtime)", "SayNumber(2)",
             "Playback(queue-minutes)"]
    third = ["Playback(queue-thereare)", "SayNumber(3)", "Playback(queue-callswaiting)",
             "Playback(queue-holdtime)", "SayNumber(4)", "Playback(queue-minutes)"]
    await wait_for(lambda: announced(h, "6005") == third, 10, "the third caller's announcement")
    await wait_for(lambda: announced(h, "6003") == first, 10, "the first caller's announcement")
    assert announced(h, "6004")[:3] == ["Playback(queue-thereare)", "SayNumber(2)",
                                         "Playback(queue-callswaiting)"]
    assert announced(h, "6004")[4] == "SayNumber(2)"


async def test_announcements_repeat_with_the_new_place(
        lab: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # The place said alone: the tick works out places, never an EWT pass (docs/admin-guide.md).
    from acd.stats import ewt_batch

    passes: list[int] = []
    walk = ewt_batch._asked_into  # (the EWT pass's walk: each waiting call's kind)

    def counted(*args: Any, **kwargs: Any) -> Iterator[None]:
        passes.append(1)
        return walk(*args, **kwargs)

    monkeypatch.setattr(ewt_batch, "_asked_into", counted)
    h: Harness = await lab(centre(support={"announce": {"ewt": False, "every_s": 1}}))
    ahead = place(h, "6101", "2")
    await until_waiting(h, "6101")
    place(h, "6102", "2")
    await until_waiting(h, "6102")
    await wait_for(lambda: "SayNumber(2)" in announced(h, "6102"), 10, "place 2 said")
    h.sim.hangup_caller(ahead)
    await wait_for(lambda: "Playback(queue-youarenext)" in announced(h, "6102"), 15,
                   "the caller to hear it is next")
    # No EWT is said: ewt = false.
    assert "Playback(queue-holdtime)" not in announced(h, "6102")
    assert passes == []


def before_the_first_pass(monkeypatch: pytest.MonkeyPatch,
                          first: Callable[[], Iterator[None]]) -> None:
    """The ticks' first EWT pass runs `first`'s steps before its own; the passes after it,
    their own alone."""
    from acd.service import flow
    from acd.stats import ewt_batch

    used: list[bool] = []

    def patched(*args: Any, **kwargs: Any) -> Generator[None, None, Any]:
        if not used:
            used.append(True)
            yield from first()
        return (yield from ewt_batch.placed_steps(*args, **kwargs))

    monkeypatch.setattr(flow, "placed_steps", patched)


async def test_a_tick_run_in_slices_lets_calls_go_on_and_then_acts(
        lab: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # A big centre's tick takes a large part of a second (docs/admin-guide.md): it runs a
    # slice at a time, the engine's events in between. Here every tick runs in slices
    # (slice_s = 0) and the first one holds until a second caller has come through the IVR
    # into the queue meanwhile, which a tick holding the engine would not let happen.
    h: Harness = await lab(centre(support={"announce": {"every_s": 1}}))
    h.engine.flow.slice_s = 0.0
    held: list[bool] = []

    def holding() -> Iterator[None]:
        for _ in range(1_000_000):  # (bounded: one a turn of the event loop)
            queued = call_of(h, "6202")
            if queued is not None and queued.state is CallState.WAITING:
                break
            yield
        held.append(call_of(h, "6202") is not None)

    before_the_first_pass(monkeypatch, holding)
    place(h, "6201", "2")
    await until_waiting(h, "6201")
    sent = h.engine.flow.announcer.sent
    await wait_for(lambda: h.engine.flow._running, 10, "a tick in slices")
    place(h, "6202", "2")
    await until_waiting(h, "6202")  # (while that tick is still being worked out)
    await wait_for(lambda: held, 10, "the held tick to go on")
    await wait_for(lambda: h.engine.flow.sliced and not h.engine.flow._running, 10,
                   "the held tick to be acted on")
    assert held == [True]
    assert h.engine.flow.announcer.sent > sent
    # The caller told on entry meanwhile is remembered: the tick's picture did not have it,
    # and is not a reason to forget it (it would be told again at once).
    second = call_of(h, "6202")
    assert second is not None and second.id in h.engine.flow.announcer.known()
    # The callers are told their places as usual afterwards: 1 and 2.
    await wait_for(lambda: "Playback(queue-youarenext)" in announced(h, "6201"), 10, "6201")
    await wait_for(lambda: "SayNumber(2)" in announced(h, "6202"), 10, "6202 second")


async def test_a_tick_in_slices_goes_on_when_the_engine_is_never_idle(lab: Any) -> None:
    # Slices are taken while the engine is idle, or after slices.GATE_MAX_WAIT_S without an idle
    # moment: a busy engine still gets its callers told.
    h: Harness = await lab(centre(support={"announce": {"every_s": 1}}))

    class NeverIdle(asyncio.Event):
        def set(self) -> None:  # (the engine says it is busy, always)
            pass

    h.engine.idle = NeverIdle()
    h.engine.flow.slice_s = 0.0
    place(h, "6301", "2")
    await until_waiting(h, "6301")
    sent, sliced = h.engine.flow.announcer.sent, h.engine.flow.sliced
    await wait_for(lambda: h.engine.flow.sliced >= sliced + 2, 10, "two ticks run in slices")
    assert h.engine.flow.announcer.sent > sent


async def test_an_error_in_a_tick_run_in_slices_is_logged_and_the_ticks_go_on(
        lab: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    h: Harness = await lab(centre(support={"announce": {"every_s": 1}}))
    h.engine.flow.slice_s = 0.0
    failed: list[int] = []

    def failing() -> Iterator[None]:
        failed.append(1)
        yield
        raise RuntimeError("a bug in the pass")

    before_the_first_pass(monkeypatch, failing)
    place(h, "6401", "2")
    await until_waiting(h, "6401")
    await wait_for(lambda: failed, 10, "the failing tick")
    sliced = h.engine.flow.sliced
    await wait_for(lambda: h.engine.flow.sliced > sliced, 10, "a next tick, run in slices")
    assert "policy tick failed" in caplog.text


async def test_a_connect_during_an_announcement_is_not_delayed(lab: Any) -> None:
    # "You are next" lasts 30 s here: the agent's Bridge() must take the caller out of it at
    # once, and after the call the caller must not hear the rest of the announcement.
    h: Harness = await lab(centre(support={"assumed_aht_s": 120, "announce": {"every_s": 0}}),
                           prompt_durations={"queue-youarenext": 30.0})
    await login(h, "a2")
    place(h, "6201", "2")
    await answer(h, "6201", "a2")
    place(h, "6202", "2")
    await until_waiting(h, "6202")
    await wait_for(lambda: "Playback(queue-youarenext)" in heard(h, "6202"), 10,
                   "the announcement to start")
    h.sim.agent_hangup("PJSIP/1002")  # a2 frees up during the 30 s prompt
    iface = "PJSIP/1002"
    await wait_for(lambda: (c := call_of(h, "6202")) is not None
                   and c.state is CallState.RINGING
                   and h.sim.pbx.phones[iface].channel is not None, 10, "a2 rings for 6202")
    picked_up = h.sim.clock.now()
    h.sim.agent_answer(iface)
    await wait_for(lambda: truth_of(h, "6202")["answered_at"] is not None, 10, "bridged")
    assert truth_of(h, "6202")["answered_at"] - picked_up < 0.5
    started = next(t for t, w in truth_of(h, "6202")["heard"]
                   if w == "Playback(queue-youarenext)")
    assert truth_of(h, "6202")["answered_at"] - started < 25  # the prompt was cut short
    # The agent talks (at least until acd has marked the caller done), then hangs up.
    caller = h.sim.pbx.channels[truth_of(h, "6202")["channel"]]
    await wait_for(lambda: caller.variables.get("ACD_DONE") == "1", 10, "ACD_DONE set")
    h.sim.agent_hangup(iface)
    await wait_for(lambda: truth_of(h, "6202")["ended_at"] is not None, 10, "caller hung up")
    assert truth_of(h, "6202")["outcome"] == "answered"
    assert "Playback(queue-holdtime)" not in heard(h, "6202")  # nothing after the bridge


async def test_reload_turns_announcements_on_for_callers_already_waiting(
        lab: Any, tmp_path: Path) -> None:
    cfg = centre()
    h: Harness = await lab(cfg)
    place(h, "6301", "2")
    await until_waiting(h, "6301")
    assert announced(h, "6301") == []
    cfg["queues"]["support"]["announce"] = {"ewt": False, "every_s": 30}
    await reload(h, tmp_path, cfg)
    await wait_for(lambda: "Playback(queue-youarenext)" in announced(h, "6301"), 15,
                   "an announcement after the reload")


async def test_ewt_accuracy_figures_by_hand(lab: Any) -> None:
    h: Harness = await lab(centre(support={"assumed_aht_s": 120}))
    await login(h, "a2")
    place(h, "6401", "2")  # a2 is ready: predicted 0
    await answer(h, "6401", "a2")
    place(h, "6402", "2")  # a2 talks: predicted about 120 s
    await until_waiting(h, "6402")
    predictions = {}
    for number in ("6401", "6402"):
        call = await h.engine.store.get_call(call_of(h, number).id)  # type: ignore[union-attr]
        assert call is not None and call.ewt_pred_s is not None and call.ewt_pred_at is not None
        predictions[number] = (call.id, call.ewt_pred_s, call.ewt_pred_at)
    assert predictions["6401"][1] == 0.0
    assert 100 < predictions["6402"][1] <= 120
    h.sim.agent_hangup("PJSIP/1002")
    await answer(h, "6402", "a2")
    errors = []
    for _number, (call_id, predicted, at) in predictions.items():
        stored = await h.engine.store.get_call(call_id)
        assert stored is not None and stored.answered_at is not None
        errors.append(predicted - (stored.answered_at - at))
    for window in ("15m", "today"):
        acc = (await figures(h, "support", window)).ewt_accuracy
        assert acc.answered == 2
        assert acc.mean_abs_error_s is not None and acc.mean_error_s is not None
        assert abs(acc.mean_abs_error_s - sum(abs(e) for e in errors) / 2) < 1e-9
        assert abs(acc.mean_error_s - sum(errors) / 2) < 1e-9
        assert acc.within_30s == sum(abs(e) <= 30 for e in errors) / 2 == 0.5
    centre_acc = (await h.service.backend.refresh()).centre.windows["15m"].ewt_accuracy  # type: ignore[union-attr]
    assert centre_acc.answered == 2
