"""The real service attached over TCP to the simulated PBX, with a real Redis.

Used by the end-to-end tests, `acd demo` and the benchmark, so all three run the same wiring.
"""

from __future__ import annotations

import asyncio
import copy
import secrets
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from acd.config import Config, parse_config
from acd.pbxsim import AgentPhone, PbxSim
from acd.service.app import Service
from acd.service.engine import Engine

STOP_TIMEOUT_S = 60.0  # under the tests' own time-out (120 s), so that Harness.stop can tell


def awaiting(task: asyncio.Task[Any]) -> list[str]:
    """Where a task waits: its chain of awaits, outermost first (Task.print_stack shows
    only the outermost coroutine), down to the future it waits on."""
    out: list[str] = []
    step: Any = task.get_coro()
    while step is not None:
        frame = getattr(step, "cr_frame", None) or getattr(step, "gi_frame", None)
        if frame is None:
            out.append(f"waits on {step!r}")
            break
        out.append(f"{frame.f_code.co_filename}:{frame.f_lineno} in {frame.f_code.co_name}")
        step = getattr(step, "cr_await", None) or getattr(step, "gi_yieldfrom", None)
    return out


async def wait_for(cond: Callable[[], object], timeout_s: float = 10.0, what: str = "") -> None:
    """Wait until cond() is true (polling the loop), or fail naming what was awaited."""
    deadline = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout_s} s waiting for {what or cond}")
        await asyncio.sleep(0.01)


class Harness:
    """The service and its simulated PBX; with `[pbxs.NAME]` in the config, one simulated PBX
    per name (`sims`, `engines`; `sim` and `engine` are the first PBX's)."""

    def __init__(self, sim: PbxSim, service: Service, cfg: Config,
                 sims: dict[str, PbxSim] | None = None) -> None:
        self.sim = sim
        self.service = service
        self.cfg = cfg
        self.sims: dict[str, PbxSim] = sims if sims is not None else {cfg.pbx.name: sim}

    @property
    def engine(self) -> Engine:
        assert self.service.engine is not None
        return self.service.engine

    @property
    def engines(self) -> dict[str, Engine]:
        return self.service.engines

    def all_attached(self) -> bool:
        """Every PBX's engine attached and resynced."""
        return len(self.service.engines) == len(self.sims) and all(
            e.routing_enabled for e in self.service.engines.values())

    @classmethod
    async def start(cls, cfg_data: dict[str, Any], redis_url: str, *,
                    phone: Callable[[str, str], AgentPhone] | None = None,
                    prompt_s: float = 0.05, config_path: Path | None = None,
                    **sim_kwargs: Any) -> Harness:
        data = copy.deepcopy(cfg_data)
        several = bool(data.get("pbxs"))
        tables: dict[str, dict[str, Any]] = data["pbxs"] if several \
            else {"": data.setdefault("pbx", {})}
        sim_kwargs.setdefault("default_prompt_s", prompt_s)
        sims: dict[str, PbxSim] = {}
        try:
            for key, pbx in tables.items():
                secret = secrets.token_hex(12)
                sim = PbxSim(username="acd", secret=secret, **sim_kwargs)
                # Scripted callers press keys quickly, so a busy machine never turns a key
                # press into a menu timeout.
                sim.pbx.digit_delay_s = 0.02
                sim.pbx.digit_gap_s = 0.02
                await sim.start(host="127.0.0.1", port=0)
                sims[key] = sim
                pbx.update({"host": "127.0.0.1", "port": sim.port, "username": "acd",
                            "secret": secret})
                for field in ("secret_env", "secret_file"):
                    pbx.pop(field, None)
        except BaseException:
            for sim in sims.values():
                await sim.stop()
            raise
        data.setdefault("http", {}).setdefault("port", 0)  # a free port: tests run side by side
        try:
            cfg = parse_config(data)
        except BaseException:
            for sim in sims.values():
                await sim.stop()
            raise
        by_name = {(cfg.pbx.name if key == "" else key): sim for key, sim in sims.items()}
        if config_path is not None:  # the file a reload reads: the same config, as TOML
            import tomli_w

            config_path.write_text(tomli_w.dumps(data), encoding="utf-8")
        make = phone or (lambda iface, ext: AgentPhone(interface=iface, extension=ext))
        for aid, agent in cfg.agents.items():
            by_name[cfg.agent_pbx(aid)].add_phone(make(agent.interface, agent.extension))
        service = Service(cfg, redis_url=redis_url, config_path=config_path)
        h = cls(next(iter(by_name.values())), service, cfg, by_name)
        try:
            await service.start()
            await wait_for(h.all_attached, 15.0, "the service to attach and resync")
        except BaseException:
            await h.stop()
            raise
        return h

    async def restart_service(self) -> None:
        """Stop the service and start a new one on the same Redis and PBX (callers stay)."""
        await self.service.stop()
        self.service = Service(self.cfg, redis_url=self.service.redis_url,
                               config_path=self.service.config_path)
        await self.service.start()
        await wait_for(self.all_attached, 15.0, "the new service to resync")

    async def stop(self) -> None:
        """Stop the service and the simulators; a stop that hangs prints every task's stack
        (what it waits for) and raises, instead of running into the test's time-out with only
        the threads' stacks to show (a teardown once hung so, not reproduced since)."""
        stopping = asyncio.create_task(self._stop(), name="harness-stop")
        done, _pending = await asyncio.wait({stopping}, timeout=STOP_TIMEOUT_S)
        if stopping in done:
            return stopping.result()
        current = asyncio.current_task()
        print(f"Harness.stop: not done in {STOP_TIMEOUT_S:g} s; the tasks:", file=sys.stderr)
        for task in asyncio.all_tasks():
            if task is not current:
                print(f"{task!r}:", *awaiting(task), sep="\n  ", file=sys.stderr)
        stopping.cancel()
        raise TimeoutError(f"Harness.stop: not done in {STOP_TIMEOUT_S:g} s")

    async def _stop(self) -> None:
        await self.service.stop()
        # `sim` may have been replaced by a test (a PBX restart): stop every one, once.
        for sim in {id(s): s for s in (self.sim, *self.sims.values())}.values():
            await sim.stop()
