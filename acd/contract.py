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
# Caller-facing policies (acd/service/flow): where a refused caller is sent.
CTX_VOICEMAIL: Final = "acd-voicemail"  # VoiceMail(${ACD_MAILBOX}), then hang up
CTX_CLOSED: Final = "acd-closed"  # Playback(${ACD_CLOSED_PROMPT}), then hang up
CTX_ANNOUNCE: Final = "acd-announce"  # the hold loop's position / EWT announcement
CTX_OFFER: Final = "acd-offer"  # the hold loop's callback offer (Read of one key)
CTX_CALLBACK_OK: Final = "acd-callback-ok"  # callback booked: confirmation, then hang up
CTX_CALLBACK: Final = "acd-callback"  # a callback's agent leg: Dial(${ACD_CB_DIAL}) the customer
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
VAR_MAILBOX: Final = "ACD_MAILBOX"  # mailbox[@context] for acd-voicemail
VAR_CLOSED_PROMPT: Final = "ACD_CLOSED_PROMPT"  # the prompt acd-closed plays
# "<seq>:<position>:<minutes>" (acd/core/announce.py): the hold loop announces it once, when it
# differs from ACD_ANNOUNCED (the last one played, set by the dialplan).
VAR_ANNOUNCE: Final = "ACD_ANNOUNCE"
VAR_ANNOUNCED: Final = "ACD_ANNOUNCED"
# "<csat prompt>:<nps prompt>:<timeout s>:<thanks prompt>" (an empty prompt: question not asked),
# set when the call is answered if its queue has a survey; acd-after runs the survey.
VAR_SURVEY: Final = "ACD_SURVEY"
# "<seq>:<prompt>:<timeout s>:<key>:<booked prompt>" (acd/core/callback.py): the hold loop makes
# the offer once (ACD_OFFERED: the last one made, set by the dialplan).
VAR_OFFER: Final = "ACD_OFFER"
VAR_OFFERED: Final = "ACD_OFFERED"
# On a callback's agent leg (Originate Variable): the customer's dial string and ring time.
VAR_CB_DIAL: Final = "ACD_CB_DIAL"
VAR_CB_RING_S: Final = "ACD_CB_RING_S"
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
# acd-after raises UserEvent(AcdSurvey, Call: <call id>, Question: csat|nps, Answer: <digits>).
USEREVENT_SURVEY: Final = "AcdSurvey"
# UserEvent(AcdCallback, Action: request, Call: <id>) from acd-offer (the caller pressed the key);
# UserEvent(AcdCallback, Action: result, Call: <id>, Status: ${DIALSTATUS}) from acd-callback
# when the customer was not reached.
USEREVENT_CALLBACK: Final = "AcdCallback"

ALL_CONTEXTS: Final = (CTX_INBOUND, CTX_HOLD, CTX_AGENT, CTX_AFTER, CTX_FALLBACK, CTX_FEATURES,
                       CTX_VOICEMAIL, CTX_CLOSED, CTX_ANNOUNCE, CTX_OFFER, CTX_CALLBACK_OK,
                       CTX_CALLBACK, CTX_CONSULT)
SERVICE_VARIABLES: Final = (
    VAR_HEARTBEAT, VAR_DONE, VAR_CALL_ID, VAR_FALLBACK_QUEUE, VAR_CALLER, VAR_AGENT_ID,
    VAR_MAILBOX, VAR_CLOSED_PROMPT, VAR_ANNOUNCE, VAR_SURVEY, VAR_OFFER, VAR_CB_DIAL,
    VAR_CB_RING_S, VAR_CONSULT,
)
