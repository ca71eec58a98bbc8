"""``acd pbxsim``: run the simulated PBX with generated traffic (wired into acd/cli.py)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import tomllib
from pathlib import Path

from acd import contract
from acd.pbxsim.clock import RealClock
from acd.pbxsim.model import AgentPhone
from acd.pbxsim.sim import PbxSim
from acd.pbxsim.traffic import Traffic

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    a = parser.add_argument
    a("--listen", default="127.0.0.1:5038", help="HOST:PORT for AMI")
    a("--username", default="acd")
    a("--secret-env", default=None, help="environment variable holding the AMI secret")
    a("--secret", default=None)
    a("--dialplan", type=Path, default=None)
    a("--config", type=Path, default=None, help="acd.toml: agent phones from [agents.*]")
    a("--rate", type=float, default=0.0, help="calls per minute")
    a("--duration", type=float, default=None, help="seconds, then exit")
    a("--dnis", action="append", default=None)
    a("--vip-share", type=float, default=0.0)
    a("--vip-number", action="append", default=[])
    a("--inputs", default="", help='input script, e.g. "1|2;-;1|2"')
    a("--patience-mean", type=float, default=60.0)
    a("--talk-mean", type=float, default=None)
    a("--answer-delay", type=float, default=1.0)
    a("--rna-share", type=float, default=0.0, help="share of phones that never answer")
    a("--seed", type=int, default=None)
    a("--truth", type=Path, default=None)
    a("--speed", type=float, default=1.0)
    a("--wait-for-acd", type=float, default=0.0, metavar="S",
      help="start the traffic (and the --duration) only once acd's heartbeat is set, waiting "
           "at most S seconds (a slow start of acd then costs no calls)")


def _phones(config: Path | None, args: argparse.Namespace) -> list[AgentPhone]:
    if config is None:
        return []
    data = tomllib.loads(config.read_text(encoding="utf-8"))
    agents = data.get("agents", {})
    out = []
    for i, (key, agent) in enumerate(sorted(agents.items())):
        if not isinstance(agent, dict) or "interface" not in agent:
            continue
        rna = args.rna_share > 0 and (i % max(1, round(1 / args.rna_share))) == 0
        out.append(AgentPhone(
            interface=str(agent["interface"]), extension=str(agent.get("extension", key)),
            name=str(agent.get("name", key)),
            answer_after_s=None if rna else args.answer_delay,
            talk_s=args.talk_mean if args.talk_mean else 30.0,
        ))
    return out


async def _heartbeat_seen(sim: PbxSim, timeout_s: float) -> None:
    """Until acd has set its heartbeat global (it attached and resynced), or the time is up."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not sim.pbx.globals.get(contract.VAR_HEARTBEAT):
        if asyncio.get_running_loop().time() > deadline:
            log.warning("acd's heartbeat not seen after %.0f s: starting the traffic anyway",
                        timeout_s)
            return
        await asyncio.sleep(0.1)


async def run(args: argparse.Namespace) -> int:
    secret = args.secret
    if args.secret_env:
        secret = os.environ.get(args.secret_env)
    if not secret:
        log.error("no AMI secret given (--secret-env VAR or --secret S)")
        return 2
    host, _, port = args.listen.rpartition(":")
    sim = PbxSim(username=args.username, secret=secret, dialplan_path=args.dialplan,
                 clock=RealClock(args.speed))
    for phone in _phones(args.config, args):
        sim.add_phone(phone)
    bound = await sim.start(host or "127.0.0.1", int(port))
    log.info("pbxsim listening on %s:%s (user %s)", host, bound, args.username)
    if args.wait_for_acd > 0:
        await _heartbeat_seen(sim, args.wait_for_acd)
    traffic = Traffic(rate_per_min=args.rate, dnis=args.dnis or ["100"],
                      vip_numbers=args.vip_number, vip_share=args.vip_share,
                      input_script=args.inputs, patience_mean_s=args.patience_mean,
                      talk_mean_s=args.talk_mean, seed=args.seed)
    traffic.start(sim)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def dump() -> None:
        if args.truth is not None:
            sim.write_truth(args.truth)

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGUSR1, dump)
    try:
        if args.duration is not None:
            await asyncio.wait_for(stop.wait(), args.duration / args.speed)
        else:
            await stop.wait()
    except TimeoutError:
        pass
    finally:
        traffic.stop()
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1):
            loop.remove_signal_handler(sig)
        dump()
        await sim.stop()
    return 0
