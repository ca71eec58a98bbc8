"""Pure parts of the caller-facing policies: admission decisions, overflow routes, the batch EWT
(equal to call_ewt), and the simulated PBX's CUT() and SayNumber words."""

from __future__ import annotations

import dataclasses
import math
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from acd.config import parse_config
from acd.config_policies import AdmissionConfig, AnnounceConfig, CallbackConfig, SurveyConfig
from acd.core.admission import entry_route, overflow_skills, refusal
from acd.core.announce import Announcement, announcement, due, pack, spoken_minutes
from acd.core.callback import (
    callback_number,
    dial_string,
    next_attempt_at,
    pack_offer,
    should_offer,
)
from acd.core.model import Agent, AgentState, Call, CallState
from acd.core.routing import call_key
from acd.core.survey import SurveyError, csat_points, nps_class, read_answer
from acd.core.survey import pack as survey_pack
from acd.pbxsim.apps_flow import number_words
from acd.pbxsim.clock import RealClock
from acd.pbxsim.core import PbxCore
from acd.pbxsim.customer import number_of as customer_number_of
from acd.pbxsim.dialplan import Dialplan
from acd.pbxsim.model import Channel
from acd.stats import ewt_batch, kinds
from acd.stats.census import WaitingCensus
from acd.stats.ewt import call_ewt
from acd.stats.ewt_batch import (
    Placed,
    counted_entry_ewt,
    entry_ewt,
    in_routing_order,
    places_only,
    waiting_placed,
)
from acd.stats.kinds import KindCache
from tests.flowkit import centre


def adm(**kw: Any) -> AdmissionConfig:
    return AdmissionConfig.model_validate({"action": "closed", **kw})


@pytest.mark.parametrize(("config", "ewt", "logged_in", "length", "position", "entering",
                          "reason"), [
    ({"max_ewt_s": 60}, 61.0, True, 0, 1, True, "ewt"),
    ({"max_ewt_s": 60}, 60.0, True, 0, 1, True, None),  # at the limit: admitted
    ({"max_ewt_s": 60}, None, True, 0, 1, True, None),  # no estimate: no refusal
    ({"max_waiting": 3}, 0.0, True, 3, 4, True, "full"),
    ({"max_waiting": 3}, 0.0, True, 2, 3, True, None),
    ({"max_waiting": 3}, 0.0, True, 9, 3, False, None),  # waiting: by its own place
    ({"max_waiting": 3}, 0.0, True, 0, 4, False, "full"),
    ({"max_waiting": 0}, 0.0, True, 0, 1, True, "full"),
    ({"no_agents": True}, None, False, 0, 1, True, "no_agents"),
    ({"no_agents": True, "max_ewt_s": 1}, 5.0, False, 0, 1, True, "no_agents"),  # first
    ({"no_agents": True, "max_waiting": 0}, 5.0, True, 0, 1, True, "full"),
    ({"no_agents": False, "max_ewt_s": 100}, None, False, 0, 1, True, None),
])
def test_refusal_triggers(config: dict[str, Any], ewt: float | None, logged_in: bool,
                          length: int, position: int, entering: bool,
                          reason: str | None) -> None:
    got = refusal(adm(**config), ewt_s=ewt, agents_logged_in=logged_in, queue_length=length,
                  position=position, entering=entering)
    assert (got.reason if got else None) == reason


def test_admission_config_needs_a_trigger_and_the_action_target() -> None:
    with pytest.raises(ValueError, match="at least one of"):
        adm()
    with pytest.raises(ValueError, match="overflow_queue"):
        AdmissionConfig.model_validate({"action": "overflow", "max_waiting": 1})
    with pytest.raises(ValueError, match="mailbox"):
        AdmissionConfig.model_validate({"action": "voicemail", "max_waiting": 1})


def test_config_checks_overflow_targets() -> None:
    from acd.config import ConfigError

    data = centre(sales={"admission": {"max_waiting": 1, "action": "overflow",
                                       "overflow_queue": "nowhere"}},
                  support={"admission": {"max_waiting": 1, "action": "overflow",
                                         "overflow_queue": "support"}})
    with pytest.raises(ConfigError) as err:
        parse_config(data)
    assert err.value.problems == [
        "queues.sales.admission.overflow_queue: unknown queue 'nowhere'",
        "queues.support.admission.overflow_queue: a queue cannot overflow to itself"]


def _call(queue: str, required: dict[str, int], **kw: Any) -> Call:
    return Call(id="c", channel="ch", uniqueid="c", caller_num="1", dnis="100",
                state=CallState.WAITING, queue=queue, required=required, **kw)


def test_overflow_keeps_what_the_ivr_added_and_takes_the_new_queues_skills() -> None:
    cfg = parse_config(centre())
    call = _call("sales", {"sales": 1, "lang_es": 2})
    assert overflow_skills(cfg, call, "support") == {"support": 1, "lang_es": 2}


def test_entry_route_follows_overflows_and_never_goes_back() -> None:
    over = {"max_ewt_s": 10, "action": "overflow"}
    cfg = parse_config(centre(sales={"admission": {**over, "overflow_queue": "support"}},
                              support={"admission": {**over, "overflow_queue": "sales"}}))
    probe = _call("sales", {"sales": 1}, entered_at=0.0)
    # Both queues refuse (EWT 100 > 10): sales -> support, then support would send it back to
    # sales, which it has visited: it waits in support.
    route = entry_route(cfg, probe, lambda c: (100.0, True, 0, 1))
    assert [h.queue for h in route.hops] == ["sales", "support"]
    assert route.hops[1].required == {"support": 1}
    assert route.final is None
    closed = parse_config(centre(sales={"admission": {**over, "overflow_queue": "support"}},
                                 support={"admission": {"max_waiting": 0,
                                                        "action": "closed"}}))
    route = entry_route(closed, probe, lambda c: (100.0, True, 0, 1))
    assert [h.queue for h in route.hops] == ["sales", "support"]
    assert route.final is not None and route.final.action == "closed"
    assert route.final.reason == "full"
    admitted = entry_route(closed, probe, lambda c: (5.0, True, 0, 1))
    assert [h.queue for h in admitted.hops] == ["sales"] and admitted.final is None


# --- the batch EWT equals call_ewt -------------------------------------------------------------

_QUEUES = ("q1", "q2", "q3")
_SKILLS = ("s1", "s2")


@st.composite
def _centres(draw: st.DrawFn) -> tuple[list[Call], list[Agent], float]:
    now = 10_000.0
    agents = []
    for i in range(draw(st.integers(0, 7))):
        state = draw(st.sampled_from(list(AgentState)))
        agents.append(Agent(
            id=f"a{i}", interface=f"PJSIP/{i}",
            skills={s: draw(st.integers(0, 3)) for s in _SKILLS},
            queues=tuple(draw(st.lists(st.sampled_from(_QUEUES), max_size=2, unique=True))),
            state=state, state_since=now - draw(st.floats(0, 900))))
    calls = []
    for i in range(draw(st.integers(0, 14))):
        # (a skill asked at level 0 is met by every agent, as by one not holding it)
        req = {s: draw(st.integers(0, 2)) for s in _SKILLS if draw(st.booleans())}
        calls.append(Call(
            id=f"c{i:02d}", channel="", uniqueid="", caller_num="", dnis="",
            state=draw(st.sampled_from([CallState.WAITING] * 4 + [CallState.RINGING])),
            queue=draw(st.sampled_from(_QUEUES)), priority=draw(st.sampled_from([0, 0, 10])),
            required=req, entered_at=now - draw(st.integers(0, 600))))
    return calls, agents, now


@settings(max_examples=300, deadline=None)
@given(_centres(), st.sampled_from([None, 0.0, 45.0, 300.0]))
def test_batch_ewt_equals_call_ewt(centre_: tuple[list[Call], list[Agent], float],
                                   aht: float | None) -> None:
    calls, agents, now = centre_
    wrapup = {"q1": 0.0, "q2": 10.0, "q3": 30.0}
    cache = KindCache()  # shared by every pass below, as the engine shares it
    got = waiting_placed(in_routing_order(calls), agents, now, lambda q: aht,
                         lambda q: wrapup[q], cache=cache)
    ordered = sorted(calls, key=call_key)
    waiting = [c for c in ordered if c.state is CallState.WAITING]
    census, by_id = WaitingCensus(), {a.id: a for a in agents}
    for c in calls:
        census.put(c)
    assert set(got) == {c.id for c in waiting}
    for c in waiting:
        expected = call_ewt(c, now, ordered, agents, aht, wrapup[c.queue])
        assert got[c.id].ewt_s == expected, c.id
        assert entry_ewt(c, now, ordered, agents, aht, wrapup[c.queue], cache) == expected
        assert counted_entry_ewt(c, now, census, by_id, aht, wrapup[c.queue], cache) == \
            expected
        same_queue = [o for o in waiting if o.queue == c.queue]
        assert got[c.id].position == same_queue.index(c) + 1
    newcomer = Call(id="new", channel="", uniqueid="", caller_num="", dnis="",
                    state=CallState.WAITING, queue="q2", required={"s1": 1}, entered_at=now)
    assert entry_ewt(newcomer, now, calls, agents, aht, 10.0, cache) == \
        call_ewt(newcomer, now, calls, agents, aht, 10.0) == \
        counted_entry_ewt(newcomer, now, census, by_id, aht, 10.0, cache)
    for only in ({c.id: c for c in waiting[::2]}, {c.id: c for c in waiting[1::3]}):
        # some asked for: each gets what it gets with every call asked for
        assert waiting_placed(in_routing_order(calls), agents, now, lambda q: aht,
                              lambda q: wrapup[q], only=only) == {i: got[i] for i in only}
    # the engine's tick: the waiting calls as the census orders them, not sorted again
    assert waiting_placed(census.in_order(), agents, now, lambda q: aht, lambda q: wrapup[q],
                          cache=cache) == got
    # the place alone (a position-only announcement), with no EWT
    assert places_only(census.in_order(), only) == {
        i: Placed(None, got[i].position) for i in only}


@settings(max_examples=300, deadline=None)
@given(_centres(), st.data())
def test_a_pass_in_steps_answers_for_its_first_steps_picture(
        centre_: tuple[list[Call], list[Agent], float], data: st.DataObject) -> None:
    # The engine runs a big tick a slice at a time and goes on between the slices: agents
    # change state (the cache follows them, for the new callers' EWT) and the config may be
    # reloaded. The pass answers for the agents of its first step, or a reload ends it
    # before it asks the cache about the new config with the old agents.
    calls, agents, now = centre_
    waiting = in_routing_order(calls)
    aht_s, wrapup_s = (lambda q: 60.0), (lambda q: 10.0)
    only = {c.id: c for c in waiting[::2]}
    places = [c.id for c in waiting[1::2]] + ["gone"]
    cache = KindCache()
    waiting_placed(waiting, agents, now, aht_s, wrapup_s, cache=cache)  # (a warm cache)
    expected = waiting_placed(waiting, agents, now, aht_s, wrapup_s, only=only)
    expected |= {i: p for i, p in places_only(waiting, dict.fromkeys(places)).items()
                 if i not in expected}
    moved = [dataclasses.replace(a, state=data.draw(st.sampled_from(list(AgentState))))
             for a in agents]
    reloaded = [dataclasses.replace(a, skills={s: data.draw(st.integers(0, 3))
                                               for s in _SKILLS}) for a in moved]
    reload_at = data.draw(st.one_of(st.none(), st.integers(0, 40)))
    steps = ewt_batch.placed_steps(waiting, agents, now, aht_s, wrapup_s, only=only,
                                   cache=cache, places=places)
    next(steps)  # (the first step: the working agents are read)
    now_agents, got, stale, n = moved, None, False, 0
    while got is None and not stale:
        # between two steps: a new caller's EWT with the agents as they are then
        waiting_placed(waiting[:1], now_agents, now, aht_s, wrapup_s, cache=cache)
        if n == reload_at:
            cache.agents_changed()
            now_agents = reloaded
        n += 1
        try:
            next(steps)
        except StopIteration as stop:
            got = stop.value
        except ewt_batch.StalePass:
            stale = True
    assert got == expected or stale
    assert not stale or reload_at is not None
    if reload_at == 0 and only:
        assert stale  # (every pass with calls asked for asks who takes their kinds)
    # The cache answers for the agents as they are now, as a cache made afresh does.
    assert waiting_placed(waiting, now_agents, now, aht_s, wrapup_s, cache=cache) == \
        waiting_placed(waiting, now_agents, now, aht_s, wrapup_s)


# --- the simulated PBX --------------------------------------------------------------------------

def test_cut_function_as_func_cut() -> None:
    pbx = PbxCore(Dialplan(), RealClock())
    ch = Channel(name="PJSIP/x-1", uniqueid="1", linkedid="1", kind="caller", cid_num="1",
                 cid_name="", context="c", exten="s")
    ch.variables["V"] = "17:3:0:acd/x"
    assert pbx.subst(ch, "${CUT(V,:,1)}") == "17"
    assert pbx.subst(ch, "${CUT(V,:,3)}") == "0"
    assert pbx.subst(ch, "${CUT(V,:,4)}") == "acd/x"
    assert pbx.subst(ch, "${CUT(V,:,5)}") == ""
    assert pbx.subst(ch, "${CUT(V,:,2-3)}") == "3:0"
    assert pbx.subst(ch, "${CUT(NONE,:,1)}") == ""
    ch.variables["D"] = "a-b"
    assert pbx.subst(ch, "${CUT(D,,2)}") == "b"  # the delimiter defaults to '-'


@pytest.mark.parametrize(("n", "words"), [
    (0, ["digits/0"]), (7, ["digits/7"]), (13, ["digits/13"]), (20, ["digits/20"]),
    (42, ["digits/40", "digits/2"]), (100, ["digits/1", "digits/hundred"]),
    (215, ["digits/2", "digits/hundred", "digits/15"]),
    (1001, ["digits/1", "digits/thousand", "digits/1"]),
])
def test_say_number_words(n: int, words: list[str]) -> None:
    assert number_words(n) == words


# --- announcements ------------------------------------------------------------------------------

@pytest.mark.parametrize(("ewt", "minutes"), [
    (None, None), (float("nan"), None), (0.0, 0), (59.9, 0), (60.0, 1), (89.9, 1), (90.0, 2),
    (599.0, 10), (629.0, 10), (631.0, 10), (749.0, 10), (751.0, 15), (1500.0, 25),
])
def test_spoken_minutes(ewt: float | None, minutes: int | None) -> None:
    assert spoken_minutes(ewt) == minutes


def test_announcement_values_and_packing() -> None:
    both = AnnounceConfig()
    assert pack(7, announcement(both, 3, 130.0)) == "7:3:2"
    assert pack(8, announcement(both, 1, None)) == "8:1:"
    assert pack(9, announcement(AnnounceConfig(position=False), 4, 20.0)) == "9::0"
    with pytest.raises(ValueError, match="at least one"):
        AnnounceConfig(position=False, ewt=False)
    with pytest.raises(ValueError, match="every_s > 0"):
        AnnounceConfig(on_entry=False, every_s=0)


def test_announcement_due() -> None:
    cfg = AnnounceConfig(every_s=60)
    a, b = Announcement(2, 3), Announcement(1, 3)
    assert due(cfg, 100.0, None, 100.0, None, a)  # on entry
    assert not due(cfg, 159.0, 100.0, 100.0, a, a)
    assert due(cfg, 160.0, 100.0, 100.0, a, a)
    late = AnnounceConfig(on_entry=False, every_s=60)
    assert not due(late, 150.0, None, 100.0, None, a)
    assert due(late, 160.0, None, 100.0, None, a)
    once = AnnounceConfig(every_s=0)
    assert not due(once, 1e6, 100.0, 100.0, a, b)
    changes = AnnounceConfig(every_s=60, only_changes=True)
    assert not due(changes, 200.0, 100.0, 100.0, a, a)
    assert due(changes, 200.0, 100.0, 100.0, a, b)


# --- survey -------------------------------------------------------------------------------------

@pytest.mark.parametrize(("question", "answer", "expected"), [
    ("csat", "1", ("csat", 1)), ("csat", "5", ("csat", 5)), ("CSAT", "3", None),
    ("csat", "0", None), ("csat", "6", None), ("csat", "", None), ("csat", "4*", None),
    ("nps", "0", ("nps", 0)), ("nps", "10", ("nps", 10)), ("nps", "11", None),
    ("nps", "٣", None), ("ces", "3", None),
])
def test_survey_answers_are_read_or_refused_with_a_reason(
        question: str, answer: str, expected: tuple[str, int] | None) -> None:
    if expected is None:
        with pytest.raises(SurveyError) as err:
            read_answer(question, answer)
        assert str(err.value)
    else:
        assert read_answer(question, answer) == expected


def test_csat_and_nps_mapping() -> None:
    assert [csat_points(v) for v in range(1, 6)] == [0, 25, 50, 75, 100]
    assert [nps_class(v) for v in (0, 6, 7, 8, 9, 10)] == [
        "detractor", "detractor", "passive", "passive", "promoter", "promoter"]
    assert survey_pack(SurveyConfig(nps=True, timeout_s=4)) == \
        "acd/survey-csat:acd/survey-nps:4:acd/survey-thanks"
    assert survey_pack(SurveyConfig(csat=False, nps=True)).startswith(":acd/survey-nps:")
    with pytest.raises(ValueError, match="at least one"):
        SurveyConfig(csat=False)


# --- callback -----------------------------------------------------------------------------------

def test_callback_numbers_offers_and_attempts() -> None:
    cfg = CallbackConfig(dial="PJSIP/{number}@trunk", offer_over_ewt_s=120, attempts=3,
                         retry_after_s=300, key="1")
    assert [callback_number(n) for n in ("5551234", " +15551234 ", "anonymous", "12", "")] == \
        ["5551234", "+15551234", None, None, None]
    assert dial_string(cfg, "+15551234") == "PJSIP/+15551234@trunk"
    assert [should_offer(cfg, e) for e in (None, 120.0, 121.0)] == [False, False, True]
    assert not should_offer(None, 1e6)
    assert not should_offer(CallbackConfig(dial="SIP/t/{number}", offer=False), 1e6)
    assert pack_offer(5, cfg) == "5:acd/callback-offer:5:1:acd/callback-booked"
    assert [next_attempt_at(cfg, n, 1000.0) for n in (1, 2, 3)] == [1300.0, 1300.0, None]
    for bad in ("PJSIP/trunk", "PJSIP/{number},30", "{number}", "PJSIP/ {number}"):
        with pytest.raises(ValueError, match="dial"):
            CallbackConfig(dial=bad)


def test_admission_callback_needs_the_callback_table() -> None:
    from acd.config import ConfigError

    data = centre(sales={"admission": {"no_agents": True, "action": "callback"}})
    with pytest.raises(ConfigError) as err:
        parse_config(data)
    assert err.value.problems == [
        "queues.sales.admission.action: callback needs [queues.sales.callback]"]
    data["queues"]["sales"]["callback"] = {"dial": "PJSIP/{number}@trunk"}
    assert parse_config(data).queues["sales"].callback is not None


@pytest.mark.parametrize(("dial", "number"), [
    ("PJSIP/5551234@trunk", "5551234"), ("SIP/customer/5550001", "5550001"),
    ("PJSIP/trunk/+4420", "+4420"), ("PJSIP/1001", None), ("PJSIP/abc@trunk", None),
])
def test_pbxsim_reads_the_number_of_a_trunk_dial_string(dial: str, number: str | None) -> None:
    assert customer_number_of(dial) == number


def test_user_events_of_the_policies_become_domain_events() -> None:
    from acd.ami.events import BadFrame, to_domain
    from acd.core.events import CallbackRequested, CallbackResult, SurveyAnswered

    base = {"Event": "UserEvent", "Channel": "PJSIP/trunk-1", "Uniqueid": "leg-9"}
    assert to_domain({**base, "UserEvent": "AcdSurvey", "Call": "c1", "Question": "CSAT",
                      "Answer": " 4"}) == SurveyAnswered("c1", "csat", "4")
    assert to_domain({**base, "UserEvent": "AcdCallback", "Action": "request",
                      "Call": "c1"}) == CallbackRequested("c1")
    assert to_domain({**base, "UserEvent": "AcdCallback", "Action": "result", "Call": "c1",
                      "Status": "noanswer"}) == CallbackResult("c1", "leg-9", "NOANSWER")
    with pytest.raises(BadFrame, match="unknown Action 'cancel'"):
        to_domain({**base, "UserEvent": "AcdCallback", "Action": "cancel", "Call": "c1"})
    with pytest.raises(BadFrame, match="missing header Call"):
        to_domain({**base, "UserEvent": "AcdSurvey", "Question": "csat", "Answer": "4"})


def test_which_queues_need_a_new_callers_ewt() -> None:
    from acd.service.flow.admission import needs_ewt

    def q(**policies: Any) -> Any:
        return parse_config(centre(sales=policies)).queues["sales"]

    assert not needs_ewt(None) and not needs_ewt(q())
    assert not needs_ewt(q(admission={"max_waiting": 3, "action": "closed"}))
    assert needs_ewt(q(admission={"max_ewt_s": 60, "action": "closed"}))
    assert needs_ewt(q(announce={}))
    assert not needs_ewt(q(announce={"ewt": False}))
    assert needs_ewt(q(callback={"dial": "PJSIP/{number}@trunk"}))
    assert not needs_ewt(q(callback={"dial": "PJSIP/{number}@trunk", "offer": False}))


@settings(max_examples=200, deadline=None)
@given(_centres(), st.lists(st.lists(st.tuples(st.integers(0, 6),
                                               st.sampled_from(list(AgentState))),
                                     max_size=40), max_size=6),
       st.sampled_from([1, 3, kinds.RECOUNT_OVER]),
       st.sampled_from([1, 4, kinds.PAIRS_KEPT]))
def test_kind_cache_counts_follow_agents_changing_state(
        centre_: tuple[list[Call], list[Agent], float],
        passes: list[list[tuple[int, AgentState]]], recount_over: int, pairs_kept: int) -> None:
    """One cache over many passes, agents changing state between them: a few at a time (the
    counts follow agent by agent) or many (more than RECOUNT_OVER: counted afresh); and the
    pairs of kinds counted forgotten past PAIRS_KEPT, in the middle of a pass too."""
    kept = kinds.RECOUNT_OVER, kinds.PAIRS_KEPT
    # (the centres have at most 7 agents and 18 kinds)
    kinds.RECOUNT_OVER, kinds.PAIRS_KEPT = recount_over, pairs_kept
    try:
        _passes_agree(*centre_, passes)
    finally:
        kinds.RECOUNT_OVER, kinds.PAIRS_KEPT = kept


def _passes_agree(calls: list[Call], agents: list[Agent], now: float,
                  passes: list[list[tuple[int, AgentState]]]) -> None:
    cache, census = KindCache(), WaitingCensus()
    for c in calls:
        census.put(c)
    newcomer = Call(id="new", channel="", uniqueid="", caller_num="", dnis="",
                    state=CallState.WAITING, queue="q2", required={"s1": 1}, entered_at=now)
    ids = [c.id for c in calls if c.state is CallState.WAITING]
    for changes in [[], *passes]:
        for i, state in changes:
            if agents:
                a = agents[i % len(agents)]
                agents[i % len(agents)] = Agent(id=a.id, interface=a.interface,
                                                skills=a.skills, queues=a.queues, state=state,
                                                state_since=a.state_since)
        if len(changes) % 4 == 2 and agents:  # a config reload: the last agent loses a skill
            last = agents[-1]
            agents[-1] = dataclasses.replace(last, skills=dict(list(last.skills.items())[1:]))
            agents.insert(0, agents.pop())  # (and is met first from now on)
            cache.agents_changed()
        by_id = {a.id: a for a in agents}
        for probe in [newcomer, *(c for c in calls if c.id in ids[:3])]:
            assert counted_entry_ewt(probe, now, census, by_id, 60.0, 10.0, cache) == \
                call_ewt(probe, now, calls, agents, 60.0, 10.0), probe.id
        placed = waiting_placed(in_routing_order(calls), agents, now, lambda q: 60.0,
                                lambda q: 10.0, cache=cache)
        for c in calls:
            if c.id in placed:
                assert placed[c.id].ewt_s == call_ewt(c, now, calls, agents, 60.0, 10.0)


@settings(max_examples=500, deadline=None)
@given(st.dictionaries(st.integers(1, 60), st.integers(0, 10**6), max_size=6),
       st.integers(0, 5))
def test_shares_summed_per_denominator_round_half_up_exactly(
        by_denominator: dict[int, int], extra: int) -> None:
    """The float sum with its exact fallback near x.5 rounds as the exact sum does, x.5 up
    (the numerators are made to land on x.5 exactly when `extra` is even)."""
    exact = sum((Fraction(n, d) for d, n in by_denominator.items()), Fraction(0))
    if extra % 2 == 0:  # land on x.5: add the missing part as sixths
        need = (Fraction(1, 2) - exact) % 1
        if (need * 6).denominator == 1:
            by_denominator = {**by_denominator, 6: by_denominator.get(6, 0) + int(need * 6)}
            exact = sum((Fraction(n, d) for d, n in by_denominator.items()), Fraction(0))
    assert ewt_batch._half_up_sum(by_denominator) == math.floor(exact + Fraction(1, 2))


def _one_skill_centre(now: float, n_agents: int, n_calls: int
                      ) -> tuple[list[Agent], list[Call], Call]:
    """Agents on a call with s1 at level 2, callers of q1 waiting for s1 at level 1, and one
    more about to join them."""
    agents = [Agent(id=f"a{i}", interface="x", skills={"s1": 2}, state=AgentState.ON_CALL,
                    state_since=now - 30) for i in range(n_agents)]
    calls = [Call(id=f"c{i}", channel="", uniqueid="", caller_num="", dnis="",
                  state=CallState.WAITING, queue="q1", required={"s1": 1},
                  entered_at=now - 100 + i) for i in range(n_calls)]
    probe = Call(id="new", channel="", uniqueid="", caller_num="", dnis="",
                 state=CallState.WAITING, queue="q1", required={"s1": 1}, entered_at=now)
    return agents, calls, probe


def test_kind_cache_follows_an_agent_into_kinds_first_met_after_it_moved() -> None:
    # The cache learns which kinds an agent serves when it first moves, and catches up with
    # the kinds met since at its next move: a count of a kind met later must follow it too.
    now = 1000.0
    agents, calls, first = _one_skill_centre(now, 2, 4)
    census, cache = WaitingCensus(), KindCache()
    for c in calls:
        census.put(c)
    later = dataclasses.replace(first, id="later", queue="q2", required={"s1": 2})

    def same(probe: Call) -> None:
        assert counted_entry_ewt(probe, now, census, {a.id: a for a in agents}, 120.0, 5.0,
                                 cache) == call_ewt(probe, now, calls, agents, 120.0, 5.0)

    same(first)
    agents[0] = dataclasses.replace(agents[0], state=AgentState.NOT_READY)
    same(first)  # a0 moved: the kinds it serves are worked out (q1's)
    same(later)  # a kind met only now: its counts are made with a0 not working
    agents[0] = dataclasses.replace(agents[0], state=AgentState.ON_CALL)
    same(later)  # a0 is back: q2's counts must follow it
    same(first)


def test_kind_cache_follows_agents_leaving_and_config_changes() -> None:
    now = 1000.0
    agents, calls, probe = _one_skill_centre(now, 3, 5)
    cache = KindCache()

    def same() -> None:
        assert entry_ewt(probe, now, calls, agents, 120.0, 5.0, cache) == \
            call_ewt(probe, now, calls, agents, 120.0, 5.0)

    same()
    agents[0] = Agent(id="a0", interface="x", skills={"s1": 2}, state=AgentState.NOT_READY)
    same()  # one agent fewer working: the cached takers and shares are dropped
    agents[1] = Agent(id="a1", interface="x", skills={"s1": 0}, state=AgentState.ON_CALL,
                      state_since=now - 30)
    cache.agents_changed()  # a reload took a skill away
    same()
    agents[:] = [Agent(id="a9", interface="x", skills={}, state=AgentState.READY)]
    cache.agents_changed()
    assert entry_ewt(probe, now, calls, agents, 120.0, 5.0, cache) is None
