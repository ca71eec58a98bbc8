"""Screen pops: a signed JSON POST to a CRM when a call rings an agent and/or is answered
(`[queues.NAME.screen_pop]`).

The runner only builds the payload (a few Redis reads) and puts it on a bounded queue; worker
tasks post it, so a slow or dead CRM never holds up the event stream, let alone routing. A full
queue drops the pop (counted, logged). Each post is retried on a connection error, a timeout, a
5xx or a 429, `retries` times, waiting `backoff_s`, then twice as long each time.

The body is signed with HMAC-SHA256 under the queue's secret (`secret_env`): header
``X-Acd-Signature: sha256=<hex of the body's HMAC>``. Logs name the host only: never the secret
nor the query (it may hold the caller's number).

Payload: event ("ringing"/"answered"), at, pbx, call_id, uniqueid, caller_num, dnis, queue,
agent, agent_name, vip, account, language, ivr_path, flow, wait_s (so far), previous_calls (of
this number, ended ones, newest first: call_id, at, queue, agent, outcome; at most
`integrations.history_per_number`), last_agent (the agent of the newest previous answered
call), customer_name and crm_reason (what a CRM lookup found); issue 9: reason, reason_label,
entered_at (the original queue entry), transfers (the call's history: at, kind, from/to queue
and agent, oldest first) and wrapups (codes the agents before gave). A transferred call pops
for the agent that receives it: rung by a transfer (call_transferred), or consulted in a warm
transfer (consult_started).

With `integrations.agent_push` the same payload also goes to the agent's desktop stream (a Redis
Stream that every instance follows: push.py), queue screen pop configured or not.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import os
from collections import Counter
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp

from acd.config import Config, ConfigError, ScreenPopConfig
from acd.core.model import Call
from acd.core.reasons import label_of
from acd.core.transfer import history_entry
from acd.integrations.records import wrapup_entry
from acd.integrations.runner import Event
from acd.integrations.stream import IntegrationRedis, IntKeys

log = logging.getLogger("acd.integrations.webhooks")

SIGNATURE_HEADER = "X-Acd-Signature"
_EVENTS = {"call_claimed": "ringing", "call_answered": "answered",
           "call_transferred": "ringing", "consult_started": "ringing"}


def _pop_kind(ev: Event) -> str | None:
    """The pop an event makes, if any: a transfer pops only for the agent it goes to."""
    kind = _EVENTS.get(ev.type)
    if ev.type == "call_transferred":
        state = ev.fields.get("state", "")
        if not ev.fields.get("to_agent") or state not in ("ringing", "connected"):
            return None
        return "answered" if state == "connected" else "ringing"
    return kind


def sign(secret: bytes, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def resolve_secrets(cfg: Config) -> dict[str, bytes]:
    """The signing key of every queue whose screen pop names one; ConfigError naming the
    variable (never a value) when it is not set."""
    out: dict[str, bytes] = {}
    problems = []
    for name, queue in cfg.queues.items():
        pop = queue.screen_pop
        if pop is None or pop.secret_env is None:
            continue
        value = os.environ.get(pop.secret_env)
        if not value:
            problems.append(f"queues.{name}.screen_pop.secret_env: environment variable "
                            f"{pop.secret_env} is not set")
        else:
            out[name] = value.encode()
    if problems:
        raise ConfigError(problems)
    return out


@dataclass(frozen=True, slots=True)
class Pop:
    queue: str
    url: str
    body: bytes


class ScreenPops:
    name = "screen_pop"

    def __init__(self, cfg: Config, redis: IntegrationRedis, secrets: dict[str, bytes], *,
                 workers: int | None = None, queue_size: int | None = None) -> None:
        self.cfg = cfg
        self.redis = redis
        self.secrets = secrets
        icfg = cfg.integrations
        self.counts: Counter[str] = Counter()
        self._queue: asyncio.Queue[Pop] = asyncio.Queue(queue_size or icfg.webhook_queue_size)
        self._session: aiohttp.ClientSession | None = None
        self._workers = [asyncio.create_task(self._work(), name=f"screen-pop-{i}")
                         for i in range(workers or icfg.webhook_workers)]

    async def close(self) -> None:
        for task in self._workers:
            task.cancel()
        for task in self._workers:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._session is not None:
            await self._session.close()

    async def handle(self, ev: Event) -> None:
        kind = _pop_kind(ev)
        queue = ev.fields.get("to_queue") or ev.fields.get("queue", "")
        qcfg = self.cfg.queues.get(queue)
        pop = qcfg.screen_pop if qcfg is not None else None
        hook = pop is not None and kind in pop.events
        target = ev.fields.get("to_agent") or ev.agent_id  # a transfer pops for its receiver
        push = self.cfg.integrations.agent_push and bool(target)
        if kind is None or not (hook or push):
            return
        payload = await self.payload(ev, kind)
        body = json.dumps(payload, separators=(",", ":")).encode()
        if push:  # the agent's desktop (push.py): every instance follows this stream
            await self.redis.xadd(IntKeys(ev.store.keys).pops,
                                  {"agent": target, "p": body.decode()},
                                  self.cfg.integrations.agent_push_maxlen)
            self.counts["pushed"] += 1
        if pop is None or not hook:
            return
        url = render_url(pop, payload)
        try:
            self._queue.put_nowait(Pop(queue, url, body))
        except asyncio.QueueFull:
            self.counts["dropped"] += 1
            log.warning("screen pop for call %s dropped: %d pops already waiting", ev.call_id,
                        self._queue.qsize())

    async def payload(self, ev: Event, kind: str) -> dict[str, Any]:
        call = await ev.call()
        to_agent = ev.fields.get("to_agent", "")  # a transfer: the agent receiving the call
        agent = await ev.store.get_agent(to_agent) if to_agent else await ev.agent()
        entered = ev.float_field("entered_at")
        if entered is None and call is not None:
            entered = call.entered_at
        previous = await self.redis.recent(IntKeys(ev.store.keys).by_number(call.caller_num)) \
            if call is not None and call.caller_num else []
        previous = [p for p in previous if p.get("call_id") != ev.call_id]
        last_agent = next((p.get("agent", "") for p in previous
                           if p.get("outcome") == "answered" and p.get("agent")), "")
        return {
            "event": kind, "at": ev.at, "pbx": ev.pbx, "call_id": ev.call_id,
            "uniqueid": call.uniqueid if call else "",
            "caller_num": call.caller_num if call else "",
            "dnis": call.dnis if call else "",
            "queue": ev.fields.get("to_queue") or ev.fields.get("queue", ""),
            "agent": to_agent or ev.agent_id, "agent_name": agent.name if agent else "",
            **self._outcomes(call),
            "vip": bool(call.vip) if call else False, "account": call.account if call else "",
            "language": call.language if call else "",
            "ivr_path": list(call.ivr_path) if call else [], "flow": call.flow if call else "",
            "wait_s": max(0.0, ev.at - entered) if entered else 0.0,
            "previous_calls": previous, "last_agent": last_agent,
            "customer_name": call.customer_name if call else "",
            "crm_reason": call.crm_reason if call else "",
        }

    def _outcomes(self, call: Call | None) -> dict[str, Any]:
        """Issue 9: what the receiving agent should know of the call so far."""
        if call is None:
            return {"reason": "", "reason_label": "", "entered_at": None, "transfers": [],
                    "wrapups": []}
        return {"reason": call.reason,
                "reason_label": label_of(self.cfg, call.reason) if call.reason else "",
                "entered_at": call.entered_at,
                "transfers": [history_entry(t) for t in call.transfers],
                "wrapups": [wrapup_entry(w) for w in call.wrapups]}

    async def _work(self) -> None:
        while True:
            pop = await self._queue.get()
            try:
                await self._post(pop)
            except asyncio.CancelledError:
                raise
            except Exception:
                self.counts["failed"] += 1
                log.exception("screen pop to %s failed", _host(pop.url))

    async def _post(self, pop: Pop) -> None:
        qcfg = self.cfg.queues[pop.queue].screen_pop
        assert qcfg is not None
        if self._session is None:
            self._session = aiohttp.ClientSession()
        headers = {"Content-Type": "application/json"}
        secret = self.secrets.get(pop.queue)
        if secret is not None:
            headers[SIGNATURE_HEADER] = sign(secret, pop.body)
        delay = qcfg.backoff_s
        for attempt in range(qcfg.retries + 1):
            if attempt:
                self.counts["retried"] += 1
                await asyncio.sleep(delay)
                delay *= 2
            try:
                async with self._session.post(
                        pop.url, data=pop.body, headers=headers,
                        timeout=aiohttp.ClientTimeout(total=qcfg.timeout_s)) as resp:
                    status = resp.status
            except (aiohttp.ClientError, TimeoutError) as exc:
                log.warning("screen pop to %s: attempt %d failed: %s", _host(pop.url),
                            attempt + 1, type(exc).__name__)
                continue
            if status < 300:
                self.counts["sent"] += 1
                return
            log.warning("screen pop to %s: attempt %d answered %d", _host(pop.url),
                        attempt + 1, status)
            if status < 500 and status != 429:
                break  # the CRM refuses it: trying again would not help
        self.counts["failed"] += 1
        log.error("screen pop to %s failed for queue %s", _host(pop.url), pop.queue)


def render_url(pop: ScreenPopConfig, payload: dict[str, Any]) -> str:
    values = {k: quote(str(payload.get(k, "")), safe="")
              for k in ("caller_num", "queue", "call_id", "account", "language", "pbx",
                        "event", "dnis")}
    values["agent"] = quote(str(payload.get("agent", "")), safe="")
    return pop.url_template.format_map(values)


def _host(url: str) -> str:
    return urlsplit(url).netloc or "?"
