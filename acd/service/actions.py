"""Domain commands -> AMI actions. Builds frames only; the engine sends them."""

from __future__ import annotations

from acd import contract
from acd.core.model import Agent, Call
from acd.core.phone_tag import phone_tag

Action = dict[str, str | list[str]]


def agi(channel: str, command: str, command_id: str) -> Action:
    return {"Action": "AGI", "Channel": channel, "Command": command, "CommandID": command_id}


def redirect(channel: str, context: str, exten: str = "s", priority: int = 1) -> Action:
    return {"Action": "Redirect", "Channel": channel, "Context": context, "Exten": exten,
            "Priority": str(priority)}


def redirect_both(channel: str, context: str, extra_channel: str, extra_context: str,
                  exten: str = "s", extra_exten: str = "s") -> Action:
    """One Redirect of two bridged channels (ExtraChannel): both leave the bridge alive and go
    their own ways, where redirecting only one would end the other's Bridge()."""
    return {**redirect(channel, context, exten), "ExtraChannel": extra_channel,
            "ExtraContext": extra_context, "ExtraExten": extra_exten, "ExtraPriority": "1"}


def setvar(channel: str | None, name: str, value: str) -> Action:
    action: Action = {"Action": "Setvar", "Variable": name, "Value": value}
    if channel is not None:
        action["Channel"] = channel
    return action


def heartbeat(now: float) -> Action:
    return setvar(None, contract.VAR_HEARTBEAT, str(int(now)))


def hangup(channel: str, cause: int = 16) -> Action:
    return {"Action": "Hangup", "Channel": channel, "Cause": str(cause)}


def _caller_id(call: Call, tag: str | None) -> str:
    # The agent's phone shows a short tag (queues.NAME.phone_tag) as the caller's name.
    if tag is None:
        tag = phone_tag("{vip}{queue}", 24, call)
    number = "".join(ch for ch in call.caller_num if ch.isalnum() or ch in "+*#-.")
    return f'"{tag}" <{number}>'


def ring_agent(call: Call, agent: Agent, leg_id: str, ring_timeout_s: float,
               tag: str | None = None) -> Action:
    """Originate the agent leg into acd-agent, which Bridge()s the caller once answered.
    `tag`: the caller name the phone shows (made safe by acd.core.phone_tag)."""
    return {
        "Action": "Originate", "Channel": agent.interface, "Context": contract.CTX_AGENT,
        "Exten": contract.AGENT_EXTEN, "Priority": "1",
        "Timeout": str(int(ring_timeout_s * 1000)), "CallerID": _caller_id(call, tag),
        "Async": "true", "ChannelId": leg_id,
        "Variable": [f"{contract.VAR_CALLER}={call.channel}",
                     f"{contract.VAR_AGENT_ID}={agent.id}",
                     f"{contract.VAR_CALL_ID}={call.id}"],
    }


def mixmonitor(channel: str, file: str, options: str) -> Action:
    """Start recording the channel (both directions mixed) into `file`."""
    action: Action = {"Action": "MixMonitor", "Channel": channel, "File": file}
    if options:
        action["Options"] = options
    return action


def mixmonitor_mute(channel: str, mute: bool) -> Action:
    """Pause (mute=True) or resume the channel's recording: silence is written meanwhile."""
    return {"Action": "MixMonitorMute", "Channel": channel, "Direction": "both",
            "State": "1" if mute else "0"}


def ring_consult(call: Call, agent: Agent, leg_id: str, ring_timeout_s: float,
                 first_leg: str, tag: str | None = None) -> Action:
    """Originate the leg of the agent consulted in a warm transfer into acd-agent: once it
    answers, its Bridge() joins the first agent's leg `first_leg` (waiting in acd-consult);
    ACD_CONSULT keeps it waiting there if that leg hangs up first (complete by hanging up)."""
    action = ring_agent(call, agent, leg_id, ring_timeout_s, tag)
    action["Variable"] = [f"{contract.VAR_CALLER}={first_leg}",
                          f"{contract.VAR_AGENT_ID}={agent.id}",
                          f"{contract.VAR_CALL_ID}={call.id}", f"{contract.VAR_CONSULT}=1"]
    return action


def core_show_channels() -> Action:
    return {"Action": "CoreShowChannels"}
