"""Test helpers for the API and the wallboard: snapshots built with the schema models, an
in-memory Backend that records commands, a real server on a free port, and the browser
(Debian's chromium driven by Playwright; never `playwright install`)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from aiohttp import web

from acd.api.backend import AgentAction, CommandError, Readiness
from acd.api.server import start_site
from acd.stats.reason_schema import HistoryStep
from acd.stats.schema import (
    WINDOWS,
    AgentCountsView,
    AgentFigures,
    CallView,
    QueueFigures,
    ServiceLevel,
    Snapshot,
    WindowFigures,
)

if TYPE_CHECKING:
    from playwright.async_api import Browser, Page, Playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


# --- snapshots ---

def window(offered: int = 0, answered: int = 0, within: int = 0, abandoned: int = 0,
           sl: float | None = None, asa_s: float | None = None, target: float = 0.8,
           threshold_s: int = 20) -> WindowFigures:
    return WindowFigures(
        offered=offered, answered=answered, answered_within=within, abandoned=abandoned,
        short_abandoned=0, timed_out=0, overflowed=0,
        service_level=ServiceLevel(value=sl, threshold_s=threshold_s, target=target,
                                   formula="short_abandons_excluded",
                                   by_threshold={str(threshold_s): sl}),
        asa_s=asa_s, abandon_rate=abandoned / offered if offered else None, aht_s=None,
        handled=answered, repeats=0, repeat_rate=0.0 if answered else None,
        fcr_proxy=1.0 if answered else None)


def queue(name: str, *, waiting: int = 0, longest_wait_s: float = 0.0, ready: int = 0,
          reserved: int = 0, on_call: int = 0, wrap_up: int = 0, not_ready: int = 0,
          sl: float | None = None, asa_s: float | None = None, offered: int = 0,
          answered: int = 0, abandoned: int = 0, target_pct: float = 80.0,
          threshold_s: int = 20, agents_needed_now: int | None = None) -> QueueFigures:
    fig = window(offered, answered, answered, abandoned, sl, asa_s, target_pct / 100,
                 threshold_s)
    return QueueFigures(
        name=name, waiting=waiting, longest_wait_s=longest_wait_s, ewt_s=None,
        agents=AgentCountsView(logged_in=ready + reserved + on_call + wrap_up + not_ready,
                               ready=ready, reserved=reserved, on_call=on_call,
                               wrap_up=wrap_up, not_ready=not_ready),
        target_pct=target_pct, threshold_s=threshold_s, windows=dict.fromkeys(WINDOWS, fig),
        occupancy=None, agents_needed_now=agents_needed_now,
        agents_short_now=None if agents_needed_now is None else
        agents_needed_now - (ready + reserved + on_call + wrap_up + not_ready))


def _weighted(pairs: list[tuple[float | None, int]]) -> float | None:
    known = [(v, w) for v, w in pairs if v is not None and w]
    weight = sum(w for _, w in known)
    return sum(v * w for v, w in known) / weight if weight else None


def centre_of(queues: list[QueueFigures]) -> QueueFigures:
    def total(attr: str) -> int:
        return sum(getattr(q.agents, attr) for q in queues)
    offered = sum(q.windows["15m"].offered for q in queues)
    answered = sum(q.windows["15m"].answered for q in queues)
    answer_wait = sum((q.windows["15m"].asa_s or 0) * q.windows["15m"].answered for q in queues)
    return queue("*", waiting=sum(q.waiting for q in queues),
                 longest_wait_s=max((q.longest_wait_s for q in queues), default=0.0),
                 ready=total("ready"), reserved=total("reserved"), on_call=total("on_call"),
                 wrap_up=total("wrap_up"), not_ready=total("not_ready"),
                 sl=_weighted([(q.windows["15m"].service_level.value, q.windows["15m"].offered)
                               for q in queues]), offered=offered,
                 asa_s=answer_wait / answered if answered else None,
                 answered=answered,
                 abandoned=sum(q.windows["15m"].abandoned for q in queues))


def agent(agent_id: str, name: str, state: str = "ready", *, time_in_state_s: float = 0.0,
          queues: list[str] | None = None, call_id: str = "", reason: str = ""
          ) -> AgentFigures:
    return AgentFigures(id=agent_id, name=name, interface=f"PJSIP/{agent_id}", state=state,
                        reason=reason, time_in_state_s=time_in_state_s, call_id=call_id,
                        queues=queues or [], calls_handled_today=0, talk_s_today=0.0,
                        wrapup_s_today=0.0, occupancy_today=None, repeats_today=0,
                        fcr_proxy_today=None)


def call(call_id: str, queue_name: str, state: str = "waiting", *, wait_s: float = 0.0,
         agent_id: str = "", priority: int = 0, position: int | None = 1) -> CallView:
    return CallView(id=call_id, state=state, queue=queue_name, priority=priority, vip=False,
                    caller_num="+15550100", language="en", wait_s=wait_s, agent_id=agent_id,
                    position=position if state == "waiting" else None)


def snapshot(queues: Sequence[QueueFigures], agents: Sequence[AgentFigures] = (),
             calls: Sequence[CallView] = (), generated_at: float | None = None) -> dict[str, Any]:
    """The JSON shape the Backend serves, validated by the schema models."""
    return Snapshot(generated_at=time.time() if generated_at is None else generated_at,
                    timezone="UTC", centre=centre_of(list(queues)), queues=list(queues),
                    agents=list(agents), calls=list(calls), ivr_funnel={}
                    ).model_dump(mode="json")


def reason_board(rows: Sequence[tuple[str, str, int, int, float | None, float | None,
                                      float | None, float | None]],
                 generated_at: float | None = None) -> dict[str, Any]:
    """The ReasonsOut shape: (name, label, waiting, offered, SL, resolved rate, transfer
    rate, CSAT index) per reason."""
    from acd.stats.reason_schema import ReasonFigures, ReasonsOut, ReasonWindow

    out = []
    for name, label, waiting, offered, sl, resolved, transfers, csat in rows:
        base = window(offered, offered, offered, 0, sl).model_dump()
        base["transfer_rate"] = transfers
        today = ReasonWindow(**base, resolved=0, unresolved=0, resolved_rate=resolved,
                             codes={}, csat_answers=1 if csat is not None else 0,
                             csat_index=csat, nps_answers=0, nps=None)
        out.append(ReasonFigures(name=name, label=label, waiting=waiting, connected=0,
                                 today=today))
    return ReasonsOut(generated_at=time.time() if generated_at is None else generated_at,
                      reasons=out).model_dump(mode="json")


def trend_board(rows: Sequence[tuple[str, str, int, int]]) -> dict[str, Any]:
    """The ReasonTrendsOut shape: (name, label, this week, last week) per reason, in order."""
    from acd.stats.reason_schema import ReasonTrend, ReasonTrendsOut

    now = time.time()
    trends = [ReasonTrend(name=n, label=lb, this_week=a, last_week=b, change=a - b,
                          growth=(a - b) / b if b else None) for n, lb, a, b in rows]
    return ReasonTrendsOut(generated_at=now, this_week=[now - 604_800, now],
                           last_week=[now - 1_209_600, now - 604_800],
                           reasons=trends).model_dump(mode="json")


# --- backend ---

class FakeBackend:
    """An in-memory Backend: `publish()` pushes a snapshot to every subscriber; commands are
    recorded in `commands`; `fail[...] = CommandError(...)` makes the next one fail."""

    def __init__(self, snap: dict[str, Any] | None = None, *, replay_current: bool = False
                 ) -> None:
        self._snap: dict[str, Any] = snap or {}
        self._replay_current = replay_current  # subscribe() starts with the current snapshot
        self._subscribers: set[asyncio.Queue[dict[str, Any]]] = set()
        self.commands: list[tuple[Any, ...]] = []
        self.fail: dict[str, CommandError] = {}
        self.ready = Readiness(ready=True, ami=True, redis=True, reason="")
        self.history_rows: list[dict[str, Any]] = []
        # issue 9: figures by reason (build them with `reason_board` / `trend_board`)
        self.reason_snapshot: dict[str, Any] = {"generated_at": 0.0, "reasons": []}
        self.reason_rows: list[dict[str, Any]] = []
        self.trends: dict[str, Any] = {"generated_at": 0.0, "this_week": [0.0, 0.0],
                                       "last_week": [0.0, 0.0], "reasons": []}

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    def publish(self, snap: dict[str, Any]) -> None:
        self._snap = snap
        for q in self._subscribers:
            q.put_nowait(snap)

    def snapshot(self) -> dict[str, Any]:
        return self._snap

    async def subscribe(self) -> AsyncIterator[dict[str, Any]]:
        q: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._subscribers.add(q)
        try:
            if self._replay_current and self._snap:
                yield self._snap
            while True:
                yield await q.get()
        finally:
            self._subscribers.discard(q)

    async def history(self, queue: str | None, start: float, end: float
                      ) -> list[dict[str, Any]]:
        self.commands.append(("history", queue, start, end))
        self._maybe_fail("history")
        return self.history_rows

    def reasons(self) -> dict[str, Any]:
        return self.reason_snapshot

    async def reason_history(self, reason: str | None, start: float, end: float,
                             step: HistoryStep) -> list[dict[str, Any]]:
        self.commands.append(("reason_history", reason, start, end, step))
        self._maybe_fail("reason_history")
        return self.reason_rows

    async def reason_trends(self) -> dict[str, Any]:
        self.commands.append(("reason_trends",))
        return self.trends

    def readiness(self) -> Readiness:
        return self.ready

    def _maybe_fail(self, what: str) -> None:
        error = self.fail.pop(what, None)
        if error is not None:
            raise error

    async def agent_command(self, agent_id: str, action: AgentAction, reason: str
                            ) -> dict[str, Any]:
        self.commands.append(("agent", agent_id, action, reason))
        self._maybe_fail(action)
        state = {"login": "ready", "logout": "logged_out"}.get(action, action)
        return agent(agent_id, agent_id, state, reason=reason).model_dump(mode="json")

    async def recording_command(self, call_id: str, pause: bool,
                                agent_id: str | None) -> dict[str, Any]:
        self.commands.append(("recording", call_id, pause, agent_id))
        self._maybe_fail("recording")
        return {"call_id": call_id, "recording_file": f"{call_id}.wav", "paused": pause,
                "pauses": [[1.0]] if pause else [[1.0, 2.0]]}

    async def set_call_priority(self, call_id: str, priority: int) -> dict[str, Any]:
        self.commands.append(("priority", call_id, priority))
        self._maybe_fail("priority")
        return call(call_id, "sales", priority=priority).model_dump(mode="json")

    async def set_wrapup(self, agent_id: str, codes: list[str], resolved: bool | None,
                         done: bool) -> dict[str, Any]:
        self.commands.append(("wrapup", agent_id, codes, resolved, done))
        self._maybe_fail("wrapup")
        return {"agent_id": agent_id, "state": "ready" if done else "wrap_up",
                "call_id": "" if done else "c1", "codes": codes, "resolved": resolved}

    async def transfer_call(self, call_id: str, queue: str | None, agent: str | None,
                            mode: str) -> dict[str, Any]:
        self.commands.append(("transfer", call_id, queue, agent, mode))
        self._maybe_fail("transfer")
        return {"call_id": call_id, "kind": mode,
                "state": "consulting" if mode == "warm" else "waiting" if queue else "ringing",
                "queue": queue or "sales", "agent_id": agent or "",
                "consult_agent": "a2" if mode == "warm" else "", "transfers": 1}

    async def escalate_call(self, call_id: str) -> dict[str, Any]:
        self.commands.append(("escalate", call_id))
        self._maybe_fail("escalate")
        return {"call_id": call_id, "kind": "escalation", "state": "waiting",
                "queue": "supervisors", "agent_id": "", "consult_agent": "", "transfers": 1}

    async def finish_transfer(self, call_id: str, complete: bool) -> dict[str, Any]:
        self.commands.append(("complete" if complete else "cancel", call_id))
        self._maybe_fail("complete" if complete else "cancel")
        return {"call_id": call_id, "kind": "warm", "state": "connected", "queue": "sales",
                "agent_id": "a2" if complete else "a1", "consult_agent": "",
                "transfers": 1 if complete else 0}

    async def reload_config(self) -> dict[str, Any]:
        self.commands.append(("reload",))
        self._maybe_fail("reload")
        return {"reloaded": True, "changes": []}


# --- a real server (the production runner: handler_cancellation off, redacted access log) ---

@asynccontextmanager
async def serving(app: web.Application, host: str = "127.0.0.1") -> AsyncIterator[str]:
    """Serve `app` on a free port; yields its base URL."""
    runner, port = await start_site(app, host, 0, shutdown_timeout_s=1.0)
    try:
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


# --- the browser ---

async def launch_chromium(playwright: Playwright) -> Browser:
    return await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


async def open_wallboard(browser: Browser, base_url: str, token: str | None = None, *,
                         width: int = 1920, height: int = 1080, timeout_ms: float = 10_000
                         ) -> Page:
    """Open the wallboard and wait until it has rendered a first snapshot; returns the page.
    `page.console_errors` (a list) collects console errors and page errors."""
    page = await browser.new_page(viewport={"width": width, "height": height})
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.console_errors = errors  # type: ignore[attr-defined]
    url = base_url.rstrip("/") + "/" + (f"?token={quote(token, safe='')}" if token else "")
    await page.goto(url)
    await page.wait_for_selector("body[data-generated-at]", state="attached",
                                 timeout=timeout_ms)
    return page
