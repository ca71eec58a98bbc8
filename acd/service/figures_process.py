"""The figures process (`http.own_process`): the HTTP API, the wallboard, the figures and the
integrations, beside the routing process that `acd run` is.

It reads what it shows from the store (one Follower per PBX) and never talks to a PBX. A
supervisor command goes to the routing process (internal_api.py) and is answered from this
process's own figures, refreshed after it. The steering offsets the figures give are handed
back through the store (Follower.set_offsets, OffsetsReader).

Why: in one process the figures of a big centre (seconds of CPU per refresh) and hundreds of
pollers share the event loop with routing and make its decisions wait; see BENCHMARKS.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from aiohttp import web

from acd.api.app import create_app
from acd.api.backend import AgentAction, CommandError
from acd.config import Config, ConfigError, load_config
from acd.integrations import Integrations
from acd.service.backend import ServiceBackend, check_reloadable
from acd.service.follower import Follower
from acd.service.routing_client import RoutingClient
from acd.service.runtime import start_runtime
from acd.store import Store, stats_ttl

log = logging.getLogger("acd.figures")

TOKEN_ENV = "ACD_ROUTING_TOKEN"  # the internal API's token, handed over by `acd run`
READY_LINE = "acd-figures-http-port"  # the line that tells the routing process the port
PARENT_CHECK_S = 1.0
SWITCH_INTERVAL_S = 0.0005  # the GIL's (sys.setswitchinterval): see main
NICE_ABOVE_ROUTING = 5  # this process's nice, above the routing process's it inherits
# A refresh's slices here: nothing routes in this process, so what waits behind a slice is the
# pollers' requests, each for a few loop turns, a slice each. At the full bench size, 500
# pollers' p99 with routing idle was 5.2-5.6 ms with 1 ms slices, 2.5-2.6 ms with these (in
# the routing process a slice waits for routing to be idle, and keeps slices.SLICE_S: 4x as
# many would each wait so under a sustained load). BENCHMARKS.md, session 22.
REFRESH_SLICE_S = 0.00025


class FiguresBackend(ServiceBackend):
    """The figures from Followers; the commands carried out by the routing process."""

    def __init__(self, followers: dict[str, Follower], routing: RoutingClient,
                 config_path: Path | None, cfg: Config) -> None:
        super().__init__({}, config_path, cfg=cfg, sources=followers, slice_s=REFRESH_SLICE_S)
        self.followers = followers
        self.routing = routing

    async def agent_command(self, agent_id: str, action: AgentAction,
                            reason: str) -> dict[str, Any]:
        done = await self.routing.command("agent_command", agent_id=agent_id, action=action,
                                          reason=reason)
        return await self._fresh("agents", agent_id, str(done["pbx"]))

    async def set_call_priority(self, call_id: str, priority: int) -> dict[str, Any]:
        done = await self.routing.command("set_call_priority", call_id=call_id,
                                          priority=priority)
        return await self._fresh("calls", call_id, str(done["pbx"]))

    async def recording_command(self, call_id: str, pause: bool,
                                agent_id: str | None) -> dict[str, Any]:
        return await self.routing.command("recording_command", call_id=call_id, pause=pause,
                                          agent_id=agent_id)

    async def set_wrapup(self, agent_id: str, codes: list[str], resolved: bool | None,
                         done: bool) -> dict[str, Any]:
        return await self.routing.command("set_wrapup", agent_id=agent_id, codes=codes,
                                          resolved=resolved, done=done)

    async def transfer_call(self, call_id: str, queue: str | None, agent: str | None,
                            mode: str) -> dict[str, Any]:
        return await self.routing.command("transfer_call", call_id=call_id, queue=queue,
                                          agent=agent, mode=mode)

    async def escalate_call(self, call_id: str) -> dict[str, Any]:
        return await self.routing.command("escalate_call", call_id=call_id)

    async def finish_transfer(self, call_id: str, complete: bool) -> dict[str, Any]:
        return await self.routing.command("finish_transfer", call_id=call_id,
                                          complete=complete)

    async def reload_config(self) -> dict[str, Any]:
        """The routing process reloads (and refuses what it must); then this one follows."""
        if self.config_path is None:
            raise CommandError("no_config_file", "the service was not started from a file", 409)
        result = await self.routing.command("reload_config")
        try:
            cfg = load_config(self.config_path)
        except ConfigError as exc:  # changed again since: the next reload settles it
            raise CommandError("bad_config", "; ".join(exc.problems), 400) from None
        if not check_reloadable(self.cfg, cfg):
            self.cfg = cfg
            for name, follower in self.followers.items():
                follower.apply_config(cfg.for_pbx(name))
        return result


class FiguresService:
    """The composition root of the figures process."""

    def __init__(self, cfg: Config, *, redis_url: str, routing_url: str, token: str,
                 instance: str, config_path: Path | None = None) -> None:
        self.cfg = cfg
        self.redis_url = redis_url
        self.config_path = config_path
        self.instance = instance
        self.routing = RoutingClient(routing_url, token)
        self.stores: dict[str, Store] = {}
        self.followers: dict[str, Follower] = {}
        self.backend: FiguresBackend | None = None
        self.integrations: Integrations | None = None
        self._runner: web.AppRunner | None = None
        self.http_port: int | None = None

    async def start(self) -> int:
        """Returns the HTTP port."""
        started_ms = int(time.time() * 1000)
        self.routing.start()
        for pbx in self.cfg.pbx_list():
            store = await Store.open(self.redis_url, prefix=self.cfg.redis.prefix, pbx=pbx.name,
                                     stats_ttl_s=stats_ttl(self.cfg.history_days),
                                     wait_for_redis=True)
            self.stores[pbx.name] = store
            follower = Follower(self.cfg.for_pbx(pbx.name), store,
                                status=functools.partial(self.routing.status, pbx.name))
            await follower.read_all()
            self.followers[pbx.name] = follower
        backend = self.backend = FiguresBackend(self.followers, self.routing, self.config_path,
                                                self.cfg)
        self.integrations = await Integrations.start(
            self.cfg, self.stores, self.redis_url, consumer=self.instance, start_ms=started_ms,
            knows_agent=lambda aid: aid in backend.cfg.agents)
        backend.start()
        records = self.integrations.records if self.integrations is not None else None
        push = self.integrations.push if self.integrations is not None else None
        self._runner = web.AppRunner(create_app(backend, self.cfg.http, records=records,
                                                push=push), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.cfg.http.host, self.cfg.http.port)
        await site.start()
        sockets = getattr(site._server, "sockets", None) or []
        self.http_port = sockets[0].getsockname()[1] if sockets else self.cfg.http.port
        log.info("HTTP API and wallboard on http://%s:%s/ (figures process)",
                 self.cfg.http.host, self.http_port)
        return self.http_port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self.backend is not None:
            await self.backend.stop()
        if self.integrations is not None:
            await self.integrations.stop()
        await self.routing.close()
        for store in self.stores.values():
            await store.close()


async def serve(service: FiguresService) -> None:
    """Run until SIGTERM/SIGINT, or until the routing process that started this one is gone
    (killed, it could not stop it: an orphan must not serve figures nobody makes)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    parent = os.getppid()

    async def orphaned() -> None:
        while os.getppid() == parent:
            await asyncio.sleep(PARENT_CHECK_S)
        log.warning("the routing process is gone: stopping")
        stop.set()

    watch = asyncio.create_task(orphaned(), name="parent")
    try:
        port = await service.start()
        print(f"{READY_LINE} {port}", flush=True)
        start_runtime()
        await stop.wait()
    finally:
        watch.cancel()
        await service.stop()


def main(config: str | None, redis_url: str | None, routing_url: str, instance: str) -> int:
    """`acd figures` (started by `acd run`): the config from the file, or as JSON on stdin."""
    token = os.environ.get(TOKEN_ENV, "")
    if not token:
        print(f"acd figures: {TOKEN_ENV} is not set (this process is started by `acd run`)",
              file=sys.stderr)
        return 2
    try:
        if config is not None:
            cfg = load_config(config)
        else:
            from acd.config import parse_config

            cfg = parse_config(json.loads(sys.stdin.read()))
    except (ConfigError, ValueError) as exc:
        problems = exc.problems if isinstance(exc, ConfigError) else [f"stdin: {exc}"]
        for problem in problems:
            print(f"acd figures: {problem}", file=sys.stderr)
        return 2
    url = redis_url or cfg.redis.url
    if url is None:
        print("acd figures: redis.url: required", file=sys.stderr)
        return 2
    os.nice(NICE_ABOVE_ROUTING)  # routing, in the other process, comes first for a core
    # The bodies and pushes of each refresh are made in worker threads. A thread that holds
    # the GIL keeps the event loop waiting up to the switch interval (5 ms) each time the loop
    # wants it back, after every read and write of a request: at the full bench size, 500
    # pollers' p99 beside routing was 40 ms with 5 ms, 13-23 ms with 0.5 ms (BENCHMARKS.md).
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    service = FiguresService(cfg, redis_url=url, routing_url=routing_url, token=token,
                             instance=instance,
                             config_path=Path(config) if config is not None else None)
    asyncio.run(serve(service))
    return 0
