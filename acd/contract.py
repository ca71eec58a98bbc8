"""The contract between the service and the PBX dialplan (dialplans/acd.conf).

Every context, extension and channel variable the service relies on is named here and nowhere
else; the simulated PBX and the dialplan test read the same constants, so they cannot drift.

Call pattern ("agent first"):
1. ``acd-inbound``: checks the heartbeat, answers, enters ``AGI(agi:async)``; the service runs
   the IVR there and then ``Redirect``s the caller to ``acd-hold,s,1`` (or hangs up / breaks).
   A stale heartbeat sends the caller to ``acd-fallback`` (plain ``Queue()``).
2. ``acd-hold``: a loop that plays music in slices, re-checks the heartbeat each slice and leaves
   to ``acd-after`` as soon as ``ACD_DONE`` is 1 (set by the service once the agent is bridged).
3. The service originates the agent leg into ``acd-agent,s,1``, which answers and runs
   ``Bridge(${ACD_CALLER})``: the caller is pulled out of its music at once.
4. Agent feature codes in ``acd-features`` raise ``UserEvent(AcdAgent, ...)``.
5. Transfers (issue 9): a blind transfer clears ``ACD_DONE`` and ``Redirect``s the caller back
   to ``acd-hold``; a warm one redirects the caller there and the agent leg (``ExtraChannel``)
   to ``acd-consult``, a loop where a leg waits while it is not bridged; the consulted agent's
   leg runs ``acd-agent`` with ``ACD_CALLER`` = the first agent's leg and ``ACD_CONSULT`` = 1,
   so that it waits in ``acd-consult`` too when that leg hangs up (complete by hanging up).
   Completing or cancelling re-runs ``acd-agent`` on the leg that stays (``ACD_CALLER`` = the
   caller), which pulls the caller out of its music again.
"""

from __future__ import annotations

from typing import Final

CTX_INBOUND: Final = "acd-inbound"
CTX_HOLD: Final = "acd-hold"
CTX_AGENT: Final = "acd-agent"
CTX_AFTER: Final = "acd-after"
CTX_FALLBACK: Final = "acd-fallback"
CTX_FEATURES: Final = "acd-features"
CTX_CONSULT: Final = "acd-consult"  # agent legs wait here during a warm transfer
HOLD_EXTEN: Final = "s"
AGENT_EXTEN: Final = "s"

# Global variable kept fresh by the service with AMI Setvar (Unix seconds).
VAR_HEARTBEAT: Final = "ACD_HEARTBEAT"
HEARTBEAT_INTERVAL_S: Final = 5
HEARTBEAT_STALE_S: Final = 15  # the dialplan's threshold: `${EPOCH} - ACD_HEARTBEAT > 15`

# Channel variables on the caller channel.
VAR_DONE: Final = "ACD_DONE"  # "1" once bridged to an agent: the hold loop then leaves
VAR_CALL_ID: Final = "ACD_CALL_ID"  # the service's call id
VAR_FALLBACK_QUEUE: Final = "ACD_FALLBACK_QUEUE"  # global: the Asterisk queue of the fallback
# Channel variables on the agent leg.
VAR_CALLER: Final = "ACD_CALLER"  # the caller channel name, for Bridge()
VAR_AGENT_ID: Final = "ACD_AGENT_ID"
VAR_CONSULT: Final = "ACD_CONSULT"  # "1" on a consulted agent's leg: wait, do not hang up

# Feature codes (from an agent phone) raise UserEvent(AcdAgent, Action: <a>, Agent: <num>, ...).
USEREVENT_AGENT: Final = "AcdAgent"
FEATURE_CODES: Final = {"*51": "login", "*52": "pause", "*53": "unpause", "*54": "logout",
                        # issue 9, on the agent's call (dialled from a second line):
                        "*55": "wrapup",  # then the code's digits, then 1 resolved / 2 not
                        "*56": "transfer",  # blind; then a queue's transfer_code or an agent
                        "*57": "consult",  # warm: consult that target first
                        "*58": "complete",  # the warm transfer
                        "*59": "cancel",  # the warm transfer: back to the caller
                        "*50": "escalate"}  # to the supervisors' queue

ALL_CONTEXTS: Final = (CTX_INBOUND, CTX_HOLD, CTX_AGENT, CTX_AFTER, CTX_FALLBACK, CTX_FEATURES,
                       CTX_CONSULT)
SERVICE_VARIABLES: Final = (
    VAR_HEARTBEAT, VAR_DONE, VAR_CALL_ID, VAR_FALLBACK_QUEUE, VAR_CALLER, VAR_AGENT_ID,
    VAR_CONSULT,
)
