"""The engine: applies events strictly in arrival order and turns them into store changes and
AMI actions. It holds a mirror of live calls and agents; Redis (the store) is the truth, and
every change goes through the store first (atomically, in Lua where it must be).

One consumer task reads one inbox: AMI frames (through the frame table) and the engine's own
timer events share it, so nothing is applied out of order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

from acd import contract
from acd.ami.events import BadFrame, Frame, to_domain
from acd.ami.link import AmiError, AmiLink
from acd.config import Config
from acd.core.events import DomainEvent
from acd.core.model import Agent, AgentState, Call
from acd.core.policy import Rules, rules_from_config
from acd.integrations.crm import CrmClient
from acd.service import actions
from acd.service.mirror import Mirror
from acd.service.router import Router
from acd.store import Store
from acd.tasks import cancel_and_wait

if TYPE_CHECKING:
    from acd.service.handlers import EventStep

log = logging.getLogger("acd.engine")
T = TypeVar("T")
MAX_BATCH = 256  # inbox items applied before routing runs (a burst is routed in a few rounds)
LEASE_MS = 5000  # a dead instance's calls are taken over after this long (its key's TTL)
CALL_LEASE_MS = 3_600_000  # a lease key's own TTL: a backstop (end_call deletes it)
RESYNC_RETRY_MIN_S = 1.0  # a failed resync is tried again after this, doubling ...
RESYNC_RETRY_MAX_S = 30.0  # ... up to this


class Engine:
    def __init__(self, cfg: Config, store: Store, link: AmiLink,
                 now: Callable[[], float] = time.time, instance_id: str | None = None,
                 crm: CrmClient | None = None) -> None:
        self.cfg = cfg
        self.crm = crm  # the IVR's lookup nodes ask it (None: no [integrations.crm])
        self.store = store
        self.link = link
        self.now = now
        # Several instances may share one PBX and one Redis: each drives the calls whose lease
        # it holds, and sees the others' changes through the store's event stream.
        self.instance_id = instance_id or f"{socket.gethostname()}-{uuid.uuid4().hex[:8]}"
        # The routing policies of every queue, plus their live service-objective offsets
        # (set by the snapshot task: see with_standing).
        self.rules: Rules = rules_from_config(cfg.queues)
        self.mirror = Mirror(self.rules)
        self.router = Router(self)
        # Read-only views (changes go through the mirror's methods).
        self.calls = self.mirror.calls
        self.foreign = self.mirror.foreign
        self.agents = self.mirror.agents
        self.leg_to_call = self.mirror.leg_to_call
        self.agent_by_ext = {a.extension: aid for aid, a in cfg.agents.items()}
        self.inbox: asyncio.Queue[Frame | DomainEvent | _Callback] = asyncio.Queue()
        # Set while the consumer waits for work: background work (the figures' slices) runs
        # then, not while an event is being applied or routed.
        self.idle = asyncio.Event()
        self.routing_enabled = False  # only after a resync with the PBX
        self.driven = 0  # calls this instance has driven (started or taken over)
        self.bad_frames = 0
        self.events_applied = 0
        self._tasks: set[asyncio.Task[Any]] = set()
        self._timers: dict[tuple[str, str], asyncio.TimerHandle] = {}
        self._leg_seq = 0
        self.logins = 0  # AMI logins so far: a resync retry stops once a newer login exists
        self._runner: asyncio.Task[None] | None = None
        self._heartbeat: asyncio.Task[None] | None = None
        self._background: list[asyncio.Task[None]] = []
        link.sink = self.inbox.put_nowait
        link.on_login = self._on_login
        link.on_lost = self._on_lost
        # Built last: the handlers need the attributes above.
        from acd.service.flow import CallerFlow
        from acd.service.handlers import Handlers

        self.flow = CallerFlow(self)  # caller-facing policies (admission, announcements, ...)
        self.handlers = Handlers(self)

    # --- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        # Alive before the first lease is taken: a lease whose instance has no key is anyone's.
        await self.store.mark_alive(self.instance_id, LEASE_MS)
        await self._load()
        self._runner = asyncio.create_task(self._consume(), name="engine")
        self._heartbeat = asyncio.create_task(self._beat(), name="heartbeat")
        from acd.service.leases import follow_store, keep_leases

        self._background = [asyncio.create_task(keep_leases(self), name="leases"),
                            asyncio.create_task(follow_store(self), name="follow")]
        self.link.start()

    async def stop(self, *, graceful: bool = True) -> None:
        """graceful=False stops like a crash: leases are left to lapse (for fault tests)."""
        # Bounded: a task stuck in a library call that ignores cancellation must not hang
        # the stop (seen once in the benchmark at 5,000 agents).
        await cancel_and_wait([self._runner, self._heartbeat, *self._background],
                              give_up_s=5.0)
        for handle in self._timers.values():
            handle.cancel()
        # A graceful stop hands the calls over at once (a killed instance's leases lapse).
        if graceful:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._release_leases(), 2.0)
        await self.link.close()
        for task in list(self._tasks):
            task.cancel()

    async def _release_leases(self) -> None:
        await self.store.release_leases(list(self.calls), self.instance_id)
        await self.store.retire(self.instance_id)  # the others look for its calls at once

    async def _load(self) -> None:
        """Agents from config (keeping live state found in Redis), calls from Redis."""
        for agent in await self.store.load_agents():
            if agent.id not in self.cfg.agents and not await self.store.remove_agent(agent.id):
                self.mirror.set_agent(agent)  # busy: kept until its call ends
        await self.apply_config(self.cfg)
        for call in await self.store.load_live_calls():
            if await self.store.acquire_lease(call.id, self.instance_id, CALL_LEASE_MS):
                self.handlers.put_call(call)  # with its policy timers
            else:
                self.mirror.set_foreign(call)
        self.handlers.wrapups.rearm()  # a wrap-up timer does not outlive a restart
        self.handlers.consults.rebuild()  # nor does the index of warm transfers
        log.info("loaded %d agents and %d live calls (%d driven by other instances)",
                 len(self.agents), len(self.calls), len(self.foreign))

    # --- the consumer ------------------------------------------------------------------------
    async def _consume(self) -> None:
        try:
            while True:
                if self.inbox.empty():
                    self.idle.set()
                batch = [await self.inbox.get()]
                self.idle.clear()
                # Whatever else is already waiting is taken too (in order): a burst is applied,
                # and routed, in a few round trips to the store instead of one per event.
                while len(batch) < MAX_BATCH and not self.inbox.empty():
                    batch.append(self.inbox.get_nowait())
                await self._apply_batch(batch)
                if self.router.pending:
                    try:
                        await self.router.route()
                    except Exception:  # e.g. Redis away: the next event or timer routes again
                        log.exception("routing failed")
        finally:
            self.idle.set()  # nothing waits for a consumer that is gone

    async def _apply_batch(self, batch: list[Frame | DomainEvent | _Callback]) -> None:
        items = [self._domain(item) for item in batch]
        n = 0
        while n < len(items):
            item = items[n]
            try:
                steps, noops, end = self._step_group(items, n)
            except Exception:  # never lose the consumer: the items go one by one instead
                log.exception("error grouping events")
                steps, noops, end = [], [], n
            if end > n:  # items n..end-1 are steps, no-ops or unreadable frames
                if steps:
                    await self._run_steps(steps)
                for other in noops:  # (they change nothing: the handlers still see them)
                    await self._apply(other)
                n = end
            else:
                if isinstance(item, _Callback):
                    await item.run()
                elif item is not None:
                    await self._apply(item)
                n += 1

    def _step_group(self, items: list[DomainEvent | _Callback | None], start: int
                    ) -> tuple[list[EventStep], list[DomainEvent], int]:
        """From `start` on, the events that are each one store step (agents' state changes by
        feature code, rung legs hung up), of distinct calls and agents, with only events that
        change nothing between them: they go to the store in one round trip, in order (a
        burst of logins or of ring-no-answers costs one round trip, not one per event).
        Returns them, the no-ops, and the index after the last item taken."""
        steps: list[EventStep] = []
        noops: list[DomainEvent] = []
        touched: set[str] = set()
        for n in range(start, len(items)):
            item = items[n]
            if item is None:
                continue
            if isinstance(item, _Callback):
                return steps, noops, n
            if self.handlers.is_noop(item):
                noops.append(item)
                continue
            step = self.handlers.step_for(item)
            if step is None or not touched.isdisjoint(step.touches):
                return steps, noops, n
            touched |= step.touches
            steps.append(step)
        return steps, noops, len(items)

    async def _run_steps(self, steps: list[EventStep]) -> None:
        # Agents made ready by these steps get their calls claimed in the same round trip
        # (Router.ahead). Only when no step puts a call back in a queue: such a call may be the
        # one an agent should take, and it is not in the index until its step is done.
        ready = [s.ready for s in steps if s.ready is not None]
        pairs = (self.router.ahead(ready) if ready and all(
            t.startswith("agent:") for s in steps for t in s.touches) else [])
        claims, claim_steps = self.handlers.prepare_claims(pairs)
        try:
            results = await self.store.run_prepared([s.prepared for s in steps] + claim_steps)
        except Exception:  # e.g. Redis away: none was made (as when one by one)
            log.exception("error applying %d events", len(steps))
            self.router.release(pairs, [])
            return
        oks: list[bool | None] = []
        try:
            for step, result in zip(steps, results[:len(steps)], strict=True):
                if isinstance(result, Exception):  # that one alone failed
                    log.error("error applying an event: %s", result)
                    continue
                try:
                    step.finish(result)
                    self.events_applied += 1
                except Exception:
                    log.exception("error applying an event")
            oks = await self.handlers.settle_claims(claims, results[len(steps):],
                                                    unmade=self.handlers.AGENT_UNMADE)
        finally:
            self.router.release(pairs, oks)

    def _domain(self, item: Frame | DomainEvent | _Callback) -> DomainEvent | _Callback | None:
        if not isinstance(item, dict):
            return item
        try:
            return to_domain(item)
        except BadFrame as exc:
            self.bad_frames += 1
            log.warning("bad AMI frame ignored: %s", exc)
            return None

    async def _apply(self, event: DomainEvent) -> None:
        try:
            await self.handlers.apply(event)
            self.events_applied += 1
        except Exception:  # one bad event must never stop the service
            log.exception("error applying %s", type(event).__name__)

    def want_route(self, call_id: str | None = None, agent_id: str | None = None) -> None:
        """Route after the current event: for this call, this agent, or (neither) everything."""
        self.router.want(call_id, agent_id)

    def _on_login(self) -> None:
        self.logins += 1
        self.spawn(self._resync(self.logins), "resync")

    def _on_lost(self) -> None:
        self.routing_enabled = False
        log.warning("AMI link lost: routing paused until the PBX is back and resynced")

    async def _resync(self, login: int) -> None:
        """After login `login`: resync, tried again (1 s, doubling to 30 s) while it fails and
        the link stays up. A resync that failed (CoreShowChannels refused or too slow on a
        loaded PBX) used to leave routing paused until the next login, which on a link that
        stays up never came: the callers waited, heartbeat fresh, nobody routed."""
        from acd.service.resync import resync

        delay = RESYNC_RETRY_MIN_S
        while True:
            try:
                await self.send(actions.heartbeat(self.now()))
                if self.cfg.pbx.fallback_queue:
                    await self.send(actions.setvar(None, contract.VAR_FALLBACK_QUEUE,
                                                   self.cfg.pbx.fallback_queue))
                await self.run_in_order(lambda: resync(self))
            except Exception:
                log.exception("resync failed")
            if self.routing_enabled or login != self.logins \
                    or not self.link.connected.is_set():
                return  # done, or the next login resyncs
            log.warning("resync not done: routing stays paused; trying again in %.0f s", delay)
            await asyncio.sleep(delay)
            if login != self.logins or not self.link.connected.is_set():
                return
            delay = min(RESYNC_RETRY_MAX_S, 2 * delay)

    async def run_in_order(self, fn: Callable[[], Awaitable[T]]) -> T:
        """Run fn inside the consumer, in order with the PBX's events; returns its result."""
        done: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self.inbox.put_nowait(_Callback(fn, done))
        return await done

    async def apply_config(self, cfg: Config) -> None:
        """A reloaded config: agents synced (live state kept), VIPs added, routing re-run."""
        now = self.now()
        old_agents = set(self.cfg.agents)
        self.cfg = cfg
        self.agent_by_ext = {a.extension: aid for aid, a in cfg.agents.items()}
        await self.store.add_vips(cfg.vip.numbers, cfg.vip.accounts)
        for aid, acfg in cfg.agents.items():
            state = AgentState.READY if acfg.login_at_start else AgentState.LOGGED_OUT
            self.mirror.set_agent(await self.store.sync_agent(Agent(
                id=aid, interface=acfg.interface, skills=dict(acfg.skills),
                queues=tuple(acfg.queues), name=acfg.name or aid, state=state,
                state_since=now, ready_since=now)))
        for aid in old_agents - set(cfg.agents):
            if await self.store.remove_agent(aid, now):
                self.mirror.drop_agent(aid)
            else:
                log.warning("agent %s left the config but is on a call: removed later", aid)
        self.rules = rules_from_config(cfg.queues).with_offsets(self.rules.offsets)
        self.mirror.reindex(self.rules)
        for call in self.calls.values():  # new rules reach the callers already waiting
            self.handlers.watch_policies(call)
        self.router.config_changed()
        self.flow.config_changed()

    def set_offsets(self, offsets: dict[str, float]) -> None:
        """Live service-objective offsets (seconds per queue) from the latest figures."""
        if offsets != self.rules.offsets:
            self.rules = self.rules.with_offsets(offsets)

    def set_handle_times(self, times: dict[str, float]) -> None:
        """(LiveSource) The queues' handle times over the last hour, from the figures."""
        self.flow.aht.set_measured(times)

    async def catch_up(self) -> None:
        """(LiveSource) Nothing to do: the engine's picture is the live one."""

    def attached(self) -> tuple[bool, str]:
        """(LiveSource) Attached to the PBX and resynced with it; else why not."""
        if self.link.connected.is_set() and self.routing_enabled:
            return True, ""
        return False, f"AMI not attached: {self.link.last_error or 'connecting'}"

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(contract.HEARTBEAT_INTERVAL_S)
            if self.link.connected.is_set():
                await self.send(actions.heartbeat(self.now()))

    # --- routing -----------------------------------------------------------------------------
    async def route(self) -> None:
        """Give waiting calls to ready agents now (everything pending, else a full plan)."""
        if not self.router.pending:
            self.router.want()
        await self.router.route()

    def new_leg_id(self, call: Call) -> str:
        self._leg_seq += 1
        return f"acd-{call.id}-{self._leg_seq}"

    # --- effects -----------------------------------------------------------------------------
    async def send(self, action: actions.Action, *, quiet: bool = False) -> bool:
        try:
            await self.link.send(action)
            return True
        except AmiError as exc:
            _failed(action, exc, quiet)
            return False

    def send_later(self, action: actions.Action, *, quiet: bool = False) -> None:
        """Fire and forget: the outcome comes back as events. `quiet`: a failure is expected
        (e.g. the channel may be gone already) and is not worth a warning."""
        self.spawn(self.send(action, quiet=quiet), str(action.get("Action")))

    def send_all_later(self, batch: list[actions.Action], *, quiet: bool = False) -> None:
        """send_later of many actions, written together and answered in one task (a tick's
        hundreds of announcements: a task each was most of their cost in the loop)."""
        if batch:
            self.spawn(self._send_all(batch, quiet), "send all")

    async def _send_all(self, batch: list[actions.Action], quiet: bool) -> None:
        for action, answer in zip(batch, await self.link.send_many(batch), strict=True):
            if isinstance(answer, AmiError):
                _failed(action, answer, quiet)

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def set_timer(self, key: tuple[str, str], delay_s: float, event: DomainEvent) -> None:
        self.cancel_timer(key)
        loop = asyncio.get_running_loop()
        self._timers[key] = loop.call_later(max(0.0, delay_s), self._fire, key, event)

    def cancel_timer(self, key: tuple[str, str]) -> None:
        handle = self._timers.pop(key, None)
        if handle is not None:
            handle.cancel()

    def _fire(self, key: tuple[str, str], event: DomainEvent) -> None:
        self._timers.pop(key, None)
        self.inbox.put_nowait(event)


def _failed(action: actions.Action, exc: AmiError, quiet: bool) -> None:
    """An action sent and forgotten failed: a warning, or (quiet: expected, e.g. the channel
    may be gone already) a debug line."""
    log.log(logging.DEBUG if quiet else logging.WARNING, "%s failed: %s",
            action.get("Action"), exc)


class _Callback:
    """A unit of work run by the consumer in order with the events (resync, API commands)."""

    def __init__(self, fn: Callable[[], Awaitable[Any]], done: asyncio.Future[Any]) -> None:
        self.fn = fn
        self.done = done

    async def run(self) -> None:
        try:
            result = await self.fn()
        except Exception as exc:  # handed to whoever waits for it
            if not self.done.done():
                self.done.set_exception(exc)
            return
        if not self.done.done():
            self.done.set_result(result)
