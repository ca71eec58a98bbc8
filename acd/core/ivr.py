"""The IVR step machine: one AGI command at a time, driven by the service.

Each call of `start` / `on_agi_result` / `on_vip_result` returns a new state (the one passed in
is left untouched) and exactly one command: an `Agi` to send (its result comes back through
`on_agi_result`), a `LookupVip` (answered through `on_vip_result`), or a final `ToQueue` /
`EndCall`, after which the state is `Awaiting.DONE`.

Nodes that need no caller (set without language, hours, a vip decision) are followed at once;
more than MAX_HOPS of them in a row (no AGI command between) ends the call with "flow_loop",
and more than MAX_STEPS commands to the service (Agi and LookupVip) end it with "step_limit"
(a caller stuck in a menu loop). So a call ends after at most MAX_STEPS + 1 commands.
"""

from __future__ import annotations

import re

from acd.config import (
    CollectNode,
    Config,
    FlowConfig,
    HangupNode,
    HoursNode,
    LookupNode,
    MenuNode,
    PlayNode,
    QueueNode,
    SetNode,
    VipNode,
)
from acd.core import agi, reasons
from acd.core.agi import AgiResult
from acd.core.hours import is_open
from acd.core.ivr_state import (
    AGI_AWAITS,
    Agi,
    Awaiting,
    Command,
    EndCall,
    IvrState,
    LookupCaller,
    LookupResult,
    LookupVip,
    Step,
    ToQueue,
    merge_skills,
)

__all__ = [
    "MAX_HOPS", "MAX_STEPS", "Agi", "Awaiting", "Command", "EndCall", "IvrState",
    "IvrStateError", "LookupCaller", "LookupResult", "LookupVip", "Step", "ToQueue",
    "on_agi_result", "on_lookup_result", "on_vip_result", "start", "vip_by_config",
]

MAX_HOPS = 50
MAX_STEPS = 500
LANGUAGE_VAR = "CHANNEL(language)"  # Asterisk picks prompts from sounds/<language>/

Node = (PlayNode | MenuNode | CollectNode | SetNode | HoursNode | VipNode | QueueNode
        | HangupNode | LookupNode)


class IvrStateError(ValueError):
    """A result arrived that the state does not wait for (a duplicate or late event)."""


def start(cfg: Config, flow: str, caller_num: str, now: float) -> Step:
    """Begin `flow` for a new call at Unix time `now`."""
    st = IvrState(flow=flow, caller_num=caller_num)
    fl = cfg.flows.get(flow)
    if fl is None:
        return _end(st, "flow_error")
    return _enter(cfg, st, fl.start, now)


def on_agi_result(cfg: Config, state: IvrState, result: AgiResult, now: float) -> Step:
    """Continue after the AGI command the last step asked for."""
    if state.awaiting not in AGI_AWAITS:
        raise IvrStateError(f"AGI result while awaiting {state.awaiting!s}")
    st = state.copy()
    if result.hung_up:
        return _end(st, "hangup")
    if result.code != 200:
        return _end(st, "agi_error")
    fl = cfg.flows.get(st.flow)
    node = fl.nodes.get(st.node) if fl is not None else None
    if fl is None or node is None:
        return _end(st, "flow_error")  # flow or node gone (config reload)
    pressed = result.digit
    if st.awaiting in (Awaiting.PLAY, Awaiting.REPROMPT) and _is_escape(fl, pressed):
        return _escape(cfg, st, fl)
    if st.awaiting == Awaiting.REPROMPT and isinstance(node, MenuNode | CollectNode):
        return _ask(st, node)
    if st.awaiting == Awaiting.INPUT and isinstance(node, MenuNode):
        return _menu_input(cfg, st, fl, node, result.result, now)
    if st.awaiting == Awaiting.INPUT and isinstance(node, CollectNode):
        return _collect_input(cfg, st, fl, node, result.result, now)
    if st.awaiting in (Awaiting.PLAY, Awaiting.LANGUAGE) and isinstance(node, PlayNode | SetNode):
        return _enter(cfg, st, node.next, now)
    if st.awaiting == Awaiting.LANGUAGE and isinstance(node, LookupNode):
        return _enter(cfg, st, st.resume or node.next, now)
    if st.awaiting == Awaiting.QUEUE_PROMPT and isinstance(node, QueueNode):
        return _to_queue(cfg, st, node.queue, node.use_reason_queue)
    return _end(st, "flow_error")  # the node changed type under us (config reload)


def on_vip_result(cfg: Config, state: IvrState, is_vip: bool, now: float) -> Step:
    """Continue after a LookupVip."""
    if state.awaiting != Awaiting.VIP:
        raise IvrStateError(f"VIP result while awaiting {state.awaiting!s}")
    st = state.copy()
    node = _node(cfg, st.flow, st.node)
    if not isinstance(node, VipNode):
        return _end(st, "flow_error")
    if is_vip:
        st.vip, st.priority = True, max(st.priority, cfg.vip.priority)
    return _enter(cfg, st, node.vip if is_vip else node.normal, now)


def on_lookup_result(cfg: Config, state: IvrState, result: LookupResult, now: float) -> Step:
    """Continue after a LookupCaller: what the CRM found (else the node's defaults) goes into
    the call, then `next` (`on_failure` after a timeout or an error)."""
    if state.awaiting != Awaiting.LOOKUP:
        raise IvrStateError(f"lookup result while awaiting {state.awaiting!s}")
    st = state.copy()
    node = _node(cfg, st.flow, st.node)
    if not isinstance(node, LookupNode):
        return _end(st, "flow_error")
    info, dflt = result.info, node.defaults
    said_vip = info.vip if info is not None else None
    if said_vip or (said_vip is None and dflt.vip):
        st.vip, st.priority = True, max(st.priority, cfg.vip.priority)
    queue = info.queue if info is not None and info.queue in cfg.queues else ""
    st.queue = queue or dflt.queue or st.queue
    if info is not None:
        for key, value in (("customer_name", info.customer_name), ("crm_reason", info.reason)):
            if value:
                st.data[key] = value
        if info.account and not st.data.get("account"):
            st.data["account"] = info.account
    language = (info.language if info is not None else "") or dflt.language or ""
    target = node.on_failure if result.failed and node.on_failure else node.next
    if language and language in node.language_skills:
        st.skills = merge_skills(st.skills, node.language_skills[language])
    if not language or language == st.language:
        return _enter(cfg, st, target, now)
    st.language, st.resume = language, target
    return _agi(st, Awaiting.LANGUAGE, agi.set_variable(LANGUAGE_VAR, language))


def vip_by_config(cfg: Config, number: str, account: str) -> bool:
    """The static VIP lists of the config; the service may add its own sources."""
    return number in cfg.vip.numbers or (account != "" and account in cfg.vip.accounts)


# --- internals ---

def _node(cfg: Config, flow: str, name: str) -> Node | None:
    fl = cfg.flows.get(flow)
    return fl.nodes.get(name) if fl is not None else None


def _end(st: IvrState, reason: str, prompt: str = "") -> Step:
    st.awaiting = Awaiting.DONE
    return st, [EndCall(reason, prompt)]


def _ask_service(st: IvrState, awaiting: Awaiting, cmd: Agi | LookupVip | LookupCaller
                 ) -> Step:
    if st.steps >= MAX_STEPS:
        return _end(st, "step_limit")
    st.awaiting, st.steps = awaiting, st.steps + 1
    return st, [cmd]


def _agi(st: IvrState, awaiting: Awaiting, command: str) -> Step:
    st.hops = 0
    return _ask_service(st, awaiting, Agi(command))


def _escape_digits(fl: FlowConfig) -> str:
    return fl.escape_digit if fl.escape_digit and fl.escape_queue else ""


def _is_escape(fl: FlowConfig, digits: str | None) -> bool:
    return bool(digits) and digits == _escape_digits(fl)


def _escape(cfg: Config, st: IvrState, fl: FlowConfig) -> Step:
    assert fl.escape_queue is not None  # _is_escape checked it
    return _to_queue(cfg, st, fl.escape_queue)


def _to_queue(cfg: Config, st: IvrState, queue: str, use_reason_queue: bool = False) -> Step:
    if st.queue in cfg.queues:  # a CRM lookup picked the queue
        queue = st.queue
    # a node that routes by reason sends the call to its reason's queue, whoever picked before
    reason = reasons.of_call(cfg, st.reason, st.data)
    queue = reasons.queue_for(cfg, reason, queue, use_reason_queue)
    qcfg = cfg.queues.get(queue)
    skills = merge_skills(qcfg.skills if qcfg else {}, st.skills,
                          reasons.skills_of(cfg, reason))
    st.awaiting = Awaiting.DONE
    return st, [ToQueue(queue, st.priority, skills, st.language, st.vip, reason)]


def _enter(cfg: Config, st: IvrState, name: str, now: float) -> Step:
    """Enter `name` and follow caller-less nodes until one needs the service."""
    while True:
        st.hops += 1
        node = _node(cfg, st.flow, name)
        if st.hops > MAX_HOPS:
            return _end(st, "flow_loop")
        if node is None:
            return _end(st, "flow_error")
        st.node, st.attempts = name, 0
        st.path.append(name)
        nxt = _run(cfg, st, node, now)
        if not isinstance(nxt, str):
            return nxt
        name = nxt


def _run(cfg: Config, st: IvrState, node: Node, now: float) -> str | Step:
    """What entering `node` does: the next node's name, or the step to return."""
    fl = cfg.flows[st.flow]
    if isinstance(node, PlayNode):
        return _agi(st, Awaiting.PLAY, agi.stream_file(node.prompt, _escape_digits(fl)))
    if isinstance(node, MenuNode | CollectNode):
        return _ask(st, node)
    if isinstance(node, SetNode):
        st.skills = merge_skills(st.skills, node.skills)
        if node.reason is not None:
            st.reason = node.reason
        if node.language is None:
            return node.next
        st.language = node.language
        return _agi(st, Awaiting.LANGUAGE, agi.set_variable(LANGUAGE_VAR, node.language))
    if isinstance(node, HoursNode):
        hours = cfg.hours.get(node.hours)
        if hours is None:
            return _end(st, "flow_error")
        return node.open if is_open(hours, now) else node.closed
    if isinstance(node, VipNode):
        return _ask_service(st, Awaiting.VIP, LookupVip(st.caller_num, st.data.get("account", "")))
    if isinstance(node, LookupNode):
        key = st.caller_num if node.by == "caller_num" else st.data.get("account", "")
        return _ask_service(st, Awaiting.LOOKUP, LookupCaller(node.by, key, st.node))
    if isinstance(node, QueueNode):
        if node.prompt:
            return _agi(st, Awaiting.QUEUE_PROMPT, agi.stream_file(node.prompt))
        return _to_queue(cfg, st, node.queue, node.use_reason_queue)
    st.awaiting = Awaiting.DONE  # HangupNode: the service plays the prompt, then hangs up
    return st, [EndCall(st.node, node.prompt)]


def _ask(st: IvrState, node: MenuNode | CollectNode) -> Step:
    digits = 1 if isinstance(node, MenuNode) else node.max_digits
    return _agi(st, Awaiting.INPUT, agi.get_data(node.prompt, node.timeout_s, digits))


def _retry(cfg: Config, st: IvrState, fl: FlowConfig, node: MenuNode | CollectNode,
           prompt: str, now: float) -> Step:
    """A failed try: a prompt then ask again, or, retries spent, the fallback node."""
    st.attempts += 1
    if st.attempts > node.retries:
        fallback = node.default if isinstance(node, MenuNode) else node.on_fail
        return _enter(cfg, st, fallback, now) if fallback else _end(st, "no_input")
    if prompt:
        return _agi(st, Awaiting.REPROMPT, agi.stream_file(prompt, _escape_digits(fl)))
    return _ask(st, node)


def _menu_input(cfg: Config, st: IvrState, fl: FlowConfig, node: MenuNode, digits: str,
                now: float) -> Step:
    if digits in node.options:
        st.reason = node.reasons.get(digits, st.reason)
        return _enter(cfg, st, node.options[digits], now)
    if _is_escape(fl, digits):
        return _escape(cfg, st, fl)
    prompt = node.timeout_prompt if digits == "" else node.invalid_prompt
    return _retry(cfg, st, fl, node, prompt, now)


def _collect_input(cfg: Config, st: IvrState, fl: FlowConfig, node: CollectNode, digits: str,
                   now: float) -> Step:
    if _is_escape(fl, digits):
        return _escape(cfg, st, fl)
    if digits == "":
        return _retry(cfg, st, fl, node, "", now)  # no input: the prompt is asked again
    ok = node.min_digits <= len(digits) <= node.max_digits
    if ok and (node.pattern is None or re.fullmatch(node.pattern, digits)):
        st.data[node.variable] = digits
        return _enter(cfg, st, node.next, now)
    return _retry(cfg, st, fl, node, node.invalid_prompt, now)
