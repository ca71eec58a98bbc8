"""The composition root: builds the stores, the AMI links, the engines and the HTTP API;
nothing else does.

One PBX or several (issue 6): per PBX one Store (its keys carry the PBX's name), one AmiLink and
one Engine that sees a single-PBX config (`Config.for_pbx`: that PBX and only its agents, so a
call is only ever bridged with an agent on its own PBX); one ServiceBackend over every engine
and one HTTP server.

With `http.own_process`, the HTTP API, the figures and the integrations run in a second
process (figures_process.py) that this one starts and watches; this one keeps the engines and
answers that process's commands on a loopback port of its own (internal_api.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import signal
import socket
import time
import uuid
from pathlib import Path

from aiohttp import web

from acd.ami.link import AmiLink
from acd.api.app import create_app
from acd.config import Config, ConfigError
from acd.integrations import Integrations
from acd.integrations.crm import CrmClient
from acd.integrations.webhooks import resolve_secrets
from acd.service.backend import ServiceBackend
from acd.service.engine import Engine
from acd.service.figures_child import FiguresChild, follow_offsets
from acd.service.internal_api import create_internal_app
from acd.service.runtime import start_runtime
from acd.store import Store, stats_ttl
from acd.tasks import cancel_and_wait

log = logging.getLogger("acd")
FIGURES_START_S = 60.0


class Service:
    """`secret`: the AMI secret of every PBX (else each PBX's own secret source);
    `secrets`: by PBX name, before `secret` and the config."""

    def __init__(self, cfg: Config, *, redis_url: str | None = None, secret: str | None = None,
                 secrets: dict[str, str] | None = None, config_path: Path | None = None,
                 http: bool = True) -> None:
        self.cfg = cfg
        url = redis_url or cfg.redis.url
        if url is None:
            raise ConfigError(["redis.url: required for `acd run` (only `acd demo` starts its "
                               "own redis-server)"])
        self.redis_url = url
        self._secrets: dict[str, str] = {}
        problems: list[str] = []
        for pbx in cfg.pbx_list():
            given = (secrets or {}).get(pbx.name, secret)
            try:
                self._secrets[pbx.name] = given if given is not None \
                    else pbx.resolve_secret(cfg.pbx_key(pbx.name))
            except ConfigError as exc:
                problems += exc.problems
        try:  # integrations: a screen pop's signing key must be there too
            resolve_secrets(cfg)
        except ConfigError as exc:
            problems += exc.problems
        self._crm_token: str | None = None
        crm = cfg.integrations.crm
        try:  # ... and the CRM's token
            self._crm_token = crm.resolve_token() if crm is not None else None
        except ConfigError as exc:
            problems += exc.problems
        if problems:
            raise ConfigError(problems)
        self.config_path = config_path
        self._http_enabled = http
        self.stores: dict[str, Store] = {}  # by PBX name, in config order
        self.engines: dict[str, Engine] = {}
        self.backend: ServiceBackend | None = None
        self._runner: web.AppRunner | None = None
        self.http_port: int | None = None
        self._stopped = False
        # Stable across restarts of the same instance (host and HTTP port), so a restarted
        # instance takes its calls back at once instead of waiting for its old leases to
        # lapse; two instances on one host differ by port. Port 0 (tests): a random id.
        self.instance_id = (f"{socket.gethostname()}:{cfg.http.port}" if cfg.http.port
                            else None)
        self.integrations: Integrations | None = None  # queue_log, records, screen pops
        self.crm: CrmClient | None = None  # the IVR's CRM lookups (one client for all PBXs)
        self.figures: FiguresChild | None = None  # http.own_process: the figures process
        self._offsets: asyncio.Task[None] | None = None

    def _knows_agent(self, agent_id: str) -> bool:
        """An agent of the running config (a reload may add or remove some)."""
        cfg = self.backend.cfg if self.backend is not None else self.cfg
        return agent_id in cfg.agents

    @property
    def engine(self) -> Engine | None:
        """The first PBX's engine (the only one with [pbx])."""
        return next(iter(self.engines.values()), None)

    @property
    def store(self) -> Store | None:
        """The first PBX's store."""
        return next(iter(self.stores.values()), None)

    async def start(self) -> Engine:
        """Attach to every PBX; returns the first PBX's engine."""
        started_ms = int(time.time() * 1000)  # integrations: events from here on
        if self.cfg.integrations.crm is not None:
            self.crm = CrmClient(self.cfg.integrations.crm, self._crm_token)
        for pbx in self.cfg.pbx_list():
            store = await Store.open(self.redis_url, prefix=self.cfg.redis.prefix,
                                     pbx=pbx.name, stats_ttl_s=stats_ttl(self.cfg.history_days),
                                     wait_for_redis=True, origin=uuid.uuid4().hex[:12])
            self.stores[pbx.name] = store
            link = AmiLink(host=pbx.host, port=pbx.port, username=pbx.username,
                           secret=self._secrets[pbx.name], ping_interval_s=pbx.ping_interval_s,
                           reconnect_max_s=pbx.reconnect_max_s, name=pbx.name)
            engine = Engine(self.cfg.for_pbx(pbx.name), store, link,
                            instance_id=self.instance_id, crm=self.crm)
            await engine.start()
            self.engines[pbx.name] = engine
            log.info("acd started: attaching to %s at %s:%d as %s", pbx.name, pbx.host,
                     pbx.port, pbx.username)
        first = self.engine
        assert first is not None
        self.backend = ServiceBackend(self.engines, self.config_path, cfg=self.cfg)
        if self.cfg.http.own_process:
            await self._start_figures_process(first.instance_id)
            return first
        # --- integrations (acd/integrations): their own task, next to the engines
        self.integrations = await Integrations.start(
            self.cfg, self.stores, self.redis_url, consumer=first.instance_id,
            start_ms=started_ms, knows_agent=self._knows_agent)
        # ---
        self.backend.start()
        if self._http_enabled:
            await self._start_http()
        return first

    async def _start_figures_process(self, instance: str) -> None:
        """http.own_process: the internal API on a loopback port, then the figures process
        (waited for up to FIGURES_START_S; routing goes on meanwhile and if it fails)."""
        assert self.backend is not None
        token = secrets.token_urlsafe(24)
        self._runner = web.AppRunner(create_internal_app(self.backend, token), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._offsets = asyncio.create_task(
            follow_offsets(self.engines, self.cfg.http.snapshot_interval_s), name="offsets")
        if not self._http_enabled:
            return
        self.figures = FiguresChild(self.cfg, self.config_path, redis_url=self.redis_url,
                                    routing_url=f"http://127.0.0.1:{port}", token=token,
                                    instance=instance)
        self.figures.start()
        if await self.figures.wait_ready(FIGURES_START_S):
            self.http_port = self.figures.http_port
        else:
            log.error("the figures process did not start within %.0f s: routing goes on "
                      "without the HTTP API until it does", FIGURES_START_S)

    async def _start_http(self) -> None:
        assert self.backend is not None
        http = self.cfg.http
        records = self.integrations.records if self.integrations is not None else None
        push = self.integrations.push if self.integrations is not None else None
        self._runner = web.AppRunner(create_app(self.backend, http, records=records, push=push),
                                     access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, http.host, http.port)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        self.http_port = sockets[0].getsockname()[1] if sockets else http.port
        log.info("HTTP API and wallboard on http://%s:%s/", http.host, self.http_port)

    async def stop(self, *, graceful: bool = True) -> None:
        if self._stopped:
            return
        self._stopped = True
        if self.figures is not None:
            await self.figures.stop()
        await cancel_and_wait([self._offsets])
        if self._runner is not None:
            await self._runner.cleanup()
        if self.backend is not None:
            await self.backend.stop()
        if self.integrations is not None:  # integrations: before the stores close
            await self.integrations.stop()
        for engine in self.engines.values():
            await engine.stop(graceful=graceful)
        if self.crm is not None:
            await self.crm.close()
        for store in self.stores.values():
            await store.close()


async def run_until_signal(service: Service) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await service.start()
    start_runtime()  # a long-running process: see runtime.py
    try:
        await stop.wait()
    finally:
        await service.stop()
