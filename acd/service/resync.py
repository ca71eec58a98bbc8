"""After every (re)connect: rebuild the live picture from the PBX before routing again.

What Redis holds is held against `CoreShowChannels`: calls whose caller channel is gone ended
while the service could not see it (closed once, with the outcome their state implies); a leg
that was ringing unseen is hung up and its call goes back to its place; calls still in AsyncAGI
restart their IVR step (the command in flight may have been lost with the connection).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from acd import contract
from acd.ami.link import AmiError
from acd.core.events import AgiSessionStarted
from acd.core.model import AgentState, Call, CallOutcome, CallState
from acd.service import actions

if TYPE_CHECKING:
    from acd.service.engine import Engine

log = logging.getLogger("acd.resync")

_GONE_OUTCOME = {
    CallState.IVR: CallOutcome.IVR_HANGUP,
    CallState.WAITING: CallOutcome.ABANDONED,
    CallState.RINGING: CallOutcome.ABANDONED,
    CallState.CONNECTED: CallOutcome.ANSWERED,
}


async def live_channels(engine: Engine) -> dict[str, dict[str, str]]:
    frames = await engine.link.send(actions.core_show_channels(), as_list=True, timeout_s=30)
    return {f["Uniqueid"]: f for f in frames
            if f.get("Event") == "CoreShowChannel" and f.get("Uniqueid")}


async def reconcile(engine: Engine, call: Call, channels: dict[str, dict[str, str]]) -> None:
    """One call held against what the PBX shows now."""
    h = engine.handlers
    if call.callback:  # no caller channel by design (acd/service/flow/callback.py)
        await engine.flow.callbacks.reconcile(call, channels)
        return
    chan = channels.get(call.uniqueid)
    if chan is None:
        await h.end(call, _GONE_OUTCOME[call.state])
        return
    if chan.get("Context") == contract.CTX_FALLBACK:
        await h.end(call, CallOutcome.FALLBACK)
        return
    if call.state is CallState.RINGING:
        leg = channels.get(call.leg_id)
        if leg is not None and leg.get("BridgeId") and leg.get("BridgeId") == chan.get(
                "BridgeId"):
            await h.bridged_leg(call, call.leg_id)
        else:
            if leg is not None:
                engine.send_later(actions.hangup(call.leg_id))
            await h.requeue(call.id, call.leg_id, "lost_ring")
    elif call.state is CallState.IVR:
        await h.ivr.resume(call)


async def _adopt_strangers(engine: Engine, channels: dict[str, dict[str, str]]) -> None:
    """Channels in acd's contexts that acd does not know (events missed while away, or state
    lost): a caller in AsyncAGI gets its IVR; a caller in the hold loop, whose queue nobody
    knows any more, is handed to the PBX's own queue rather than left waiting forever."""
    known = set(engine.calls) | set(engine.leg_to_call)
    for uid, chan in channels.items():
        if uid in known:
            continue
        context = chan.get("Context", "")
        if context == contract.CTX_INBOUND and chan.get("Application") == "AGI":
            log.warning("adopting caller %s found in AsyncAGI", chan.get("Channel"))
            await engine.handlers.ivr.started(AgiSessionStarted(
                channel=chan.get("Channel", ""), uniqueid=uid,
                caller_num=chan.get("CallerIDNum", ""), caller_name=chan.get("CallerIDName", ""),
                dnis=chan.get("Exten", ""), context=context, language=chan.get("Language", "")))
        elif context == contract.CTX_HOLD:
            if await engine.store.get_call(uid) is not None:
                continue  # another instance drives it
            log.warning("caller %s waits in %s unknown to acd: handing it to the fallback queue",
                        chan.get("Channel"), context)
            engine.send_later(actions.redirect(chan.get("Channel", ""), contract.CTX_FALLBACK))


async def resync(engine: Engine) -> None:
    h = engine.handlers
    try:
        channels = await live_channels(engine)
    except AmiError as exc:
        log.warning("resync failed (%s): routing stays paused until it is done", exc)
        return
    for call in list(engine.calls.values()):
        await reconcile(engine, call, channels)
    await _adopt_strangers(engine, channels)
    for agent in list(engine.agents.values()):
        if agent.state in (AgentState.RESERVED, AgentState.ON_CALL) and (
                agent.call_id not in engine.calls):
            await h.set_agent_state(agent.id, AgentState.READY)
    engine.mirror.replace_foreign([c for c in await engine.store.load_live_calls()
                                   if c.id not in engine.calls])
    engine.routing_enabled = True
    log.info("resync done: %d live calls, %d channels on the PBX", len(engine.calls),
             len(channels))
    engine.want_route()
    await engine.route()
