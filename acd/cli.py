"""The `acd` command: run, check-config, pbxsim, demo, simulate, erlang."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

from acd.config import Config, ConfigError, load_config
from acd.logs import setup_logging

EXIT_CONFIG = 2


def _check_config(args: argparse.Namespace) -> int:
    try:
        load_config(args.file)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"{args.file}: {problem}", file=sys.stderr)
        return EXIT_CONFIG
    print(f"{args.file}: ok")
    return 0


def _with_overrides(args: argparse.Namespace) -> Config:
    cfg = load_config(args.config)
    if args.pbx:
        host, _, port = args.pbx.rpartition(":")
        try:
            pbx = cfg.pbx.model_copy(update={"host": host or cfg.pbx.host, "port": int(port)})
        except ValueError:
            raise ConfigError([f"--pbx: expected HOST:PORT, got {args.pbx!r}"]) from None
        cfg = cfg.model_copy(update={"pbx": pbx})
    return cfg


def _run(args: argparse.Namespace) -> int:
    from acd.service.app import Service, run_until_signal

    try:
        cfg = _with_overrides(args)
        service = Service(cfg, redis_url=args.redis_url, config_path=Path(args.config))
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"{args.config}: {problem}", file=sys.stderr)
        return EXIT_CONFIG
    asyncio.run(run_until_signal(service))
    return 0


def _figures(args: argparse.Namespace) -> int:
    from acd.service import figures_process

    return figures_process.main(args.config, args.redis_url, args.routing_url, args.instance)


def _summary(args: argparse.Namespace) -> int:
    import json

    from acd.stats.report import queue_summary
    from acd.store import Store

    try:
        cfg = load_config(args.config)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"{args.config}: {problem}", file=sys.stderr)
        return EXIT_CONFIG
    url = args.redis_url or cfg.redis.url
    if url is None:
        print(f"{args.config}: redis.url: required (or give --redis-url)", file=sys.stderr)
        return EXIT_CONFIG

    async def report() -> dict[str, object]:
        store = await Store.open(url, prefix=cfg.redis.prefix, pbx=cfg.pbx.name)
        try:
            return await queue_summary(store, cfg, time.time())
        finally:
            await store.close()

    print(json.dumps(asyncio.run(report()), indent=2))
    return 0


def _config_reference(args: argparse.Namespace) -> int:
    from acd.configdoc import render

    sys.stdout.write(render())
    return 0


def _pbxsim(args: argparse.Namespace) -> int:
    from acd.pbxsim import cli as pbxsim_cli

    return asyncio.run(pbxsim_cli.run(args))


def _demo(args: argparse.Namespace) -> int:
    from acd import demo

    return asyncio.run(demo.run(args))


def _simulate(args: argparse.Namespace) -> int:
    from acd.simulate import cli as simulate_cli

    return simulate_cli.run_simulate(args)


def _erlang(args: argparse.Namespace) -> int:
    from acd.simulate import cli as simulate_cli

    return simulate_cli.run_erlang(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="acd", description=__doc__)
    parser.add_argument("--log-level", default=None,
                        help="debug, info, warning (default: info; warning for the demo)")
    parser.add_argument("--log-json", action=argparse.BooleanOptionalAction, default=None,
                        help="JSON log lines (default: when stderr is not a terminal)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("check-config", help="validate a config file (exit 0 or 2)")
    p.add_argument("file")
    p.set_defaults(func=_check_config)

    p = sub.add_parser("config-reference", help="print the config reference (Markdown)")
    p.set_defaults(func=_config_reference)

    p = sub.add_parser("run", help="attach to the PBX and route calls")
    p.add_argument("-c", "--config", required=True)
    p.add_argument("--redis-url", default=None, help="overrides redis.url of the config")
    p.add_argument("--pbx", default=None, metavar="HOST:PORT",
                   help="overrides pbx.host and pbx.port of the config")
    p.set_defaults(func=_run)

    p = sub.add_parser("figures", help="(started by `acd run` with http.own_process) the "
                       "HTTP API, wallboard and figures in a process of their own")
    p.add_argument("-c", "--config", default=None, help="the config file (default: JSON on "
                   "standard input)")
    p.add_argument("--redis-url", default=None)
    p.add_argument("--routing-url", required=True, help="the routing process's internal API")
    p.add_argument("--instance", required=True, help="the routing instance's id")
    p.set_defaults(func=_figures)

    p = sub.add_parser("summary", help="print the per-queue figures kept in Redis (JSON)")
    p.add_argument("-c", "--config", required=True)
    p.add_argument("--redis-url", default=None)
    p.set_defaults(func=_summary)

    p = sub.add_parser("pbxsim", help="run the simulated Asterisk PBX (AMI over TCP)")
    from acd.pbxsim import cli as pbxsim_cli

    pbxsim_cli.add_arguments(p)
    p.set_defaults(func=_pbxsim)

    p = sub.add_parser("demo", help="the service against the simulated PBX with traffic")
    from acd import demo

    demo.add_arguments(p)
    p.set_defaults(func=_demo)

    from acd.simulate import cli as simulate_cli

    p = sub.add_parser("simulate", help="run the routing core on a scenario in virtual time")
    simulate_cli.add_simulate_arguments(p)
    p.set_defaults(func=_simulate)

    p = sub.add_parser("erlang", help="Erlang C: service level, ASA and agents needed")
    simulate_cli.add_erlang_arguments(p)
    p.set_defaults(func=_erlang)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    level = args.log_level or ("warning" if args.command == "demo" else "info")
    setup_logging(level, args.log_json)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
