"""The container deployment: docker-compose.yml, the Dockerfile, docker/ and .env.example.

No Docker engine is needed: the compose file is read with PyYAML and, when Debian's
`docker-compose` (v1) is installed, validated with `docker-compose config -q`.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
ENV_EXAMPLE = ROOT / ".env.example"
ACD_TOML = ROOT / "docker" / "acd.toml"
INTERNAL_PORTS = {5038: "AMI", 6379: "Redis"}
PLACEHOLDERS = {"change-me", "", "${ACD_AMI_SECRET}"}


def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())  # type: ignore[no-any-return]


def services() -> dict[str, Any]:
    return compose()["services"]  # type: ignore[no-any-return]


def published(port: object) -> tuple[str, str]:
    """(host side, container side) of a `ports` entry, short or long syntax."""
    if isinstance(port, dict):
        return str(port.get("published", "")), str(port.get("target", ""))
    text = str(port).split("/")[0]
    parts = text.split(":")
    return (":".join(parts[:-1]) or parts[-1]), parts[-1]


def _in_range(port: int, spec: str) -> bool:
    lo, _, hi = spec.partition("-")
    return lo.isdigit() and int(lo) <= port <= int(hi or lo)


# --- compose: what is published, health, order --------------------------------------------------

def test_the_three_services() -> None:
    assert {"asterisk", "redis", "acd"} <= set(services())


def test_ami_and_redis_are_never_published() -> None:
    for name, svc in services().items():
        for port in svc.get("ports", []):
            _host, container = published(port)
            for internal, what in INTERNAL_PORTS.items():
                assert not _in_range(internal, container), f"{name} publishes {what} ({port})"
    assert "ports" not in services()["redis"]


def test_only_sip_rtp_and_http_are_published() -> None:
    ports = {name: [str(p) for p in svc.get("ports", [])] for name, svc in services().items()}
    assert ports["asterisk"] == ["5060:5060/udp", "10000-10099:10000-10099/udp"]
    http_port = tomllib.loads(ACD_TOML.read_text())["http"]["port"]
    assert ports["acd"] == [f"{http_port}:{http_port}"]


def test_every_service_has_a_health_check() -> None:
    for name, svc in services().items():
        check = svc.get("healthcheck")
        assert check and check.get("test"), name
        assert not check.get("disable"), name


def test_acd_starts_after_healthy_asterisk_and_redis() -> None:
    depends = services()["acd"]["depends_on"]
    for dep in ("asterisk", "redis"):
        assert depends[dep]["condition"] == "service_healthy"


def test_redis_keeps_its_data() -> None:
    redis = services()["redis"]
    assert str(redis["image"]).startswith("redis:7")
    cmd = " ".join(redis["command"]) if isinstance(redis["command"], list) else redis["command"]
    assert "--appendonly yes" in cmd
    assert any(str(v).endswith(":/data") for v in redis["volumes"])
    assert str(redis["volumes"][0]).split(":")[0] in compose()["volumes"]


def test_images_are_pinned() -> None:
    image = services()["asterisk"]["image"]
    name, _, tag = image.partition(":")
    assert name == "andrius/asterisk" and re.match(r"^\d+\.\d+", tag), image
    assert "latest" not in tag


def test_asterisk_gets_the_dialplans_and_the_lab_config() -> None:
    volumes = [str(v) for v in services()["asterisk"]["volumes"]]
    assert "./dialplans:/etc/asterisk/acd:ro" in volumes
    for v in volumes:
        host = v.split(":")[0]
        if host.startswith("./"):
            assert (ROOT / host).exists(), v
            assert v.endswith(":ro"), f"{v}: mount the repository's files read-only"
    for conf in ("extensions", "manager", "pjsip", "queues", "rtp", "musiconhold"):
        assert f"./docker/asterisk/{conf}.conf:/etc/asterisk/{conf}.conf:ro" in volumes


def test_ami_permit_matches_the_compose_subnet() -> None:
    subnet = compose()["networks"]["acd"]["ipam"]["config"][0]["subnet"]
    assert subnet == "172.29.53.0/24"
    manager = (ROOT / "docker" / "asterisk" / "manager.conf").read_text()
    assert "permit = 172.29.53.0/255.255.255.0" in manager
    assert '#include "acd/manager_acd.conf"' in manager
    for svc in services().values():
        assert svc["networks"] == ["acd"]


def test_rtp_range_matches_rtp_conf() -> None:
    rtp = (ROOT / "docker" / "asterisk" / "rtp.conf").read_text()
    assert re.search(r"^rtpstart = 10000$", rtp, re.M)
    assert re.search(r"^rtpend = 10099$", rtp, re.M)


# --- the acd service and its image -------------------------------------------------------------

def test_acd_service_config_is_mounted_read_only_with_secret_from_env_file() -> None:
    acd = services()["acd"]
    assert acd["build"] in (".", {"context": "."})
    assert "./docker/acd.toml:/etc/acd/acd.toml:ro" in acd["volumes"]
    assert acd["env_file"] in (".env", [".env"])
    assert "ACD_AMI_SECRET" not in str(acd.get("environment", ""))


def test_compose_config_passes_acd_check_config() -> None:
    env = {**os.environ, "ACD_AMI_SECRET": secrets.token_hex(16)}
    res = subprocess.run([sys.executable, "-m", "acd", "check-config", str(ACD_TOML)],
                         capture_output=True, text=True, env=env, timeout=60, cwd=ROOT)
    assert res.returncode == 0, res.stderr


def test_compose_config_is_adapted_to_the_compose_network() -> None:
    cfg = tomllib.loads(ACD_TOML.read_text())
    assert cfg["pbx"]["host"] == "asterisk"
    assert cfg["pbx"]["port"] == 5038
    assert cfg["pbx"]["secret_env"] == "ACD_AMI_SECRET"
    assert "secret" not in cfg["pbx"] and "secret_file" not in cfg["pbx"]
    assert cfg["redis"]["url"] == "redis://redis:6379/0"
    assert cfg["http"]["host"] == "0.0.0.0"
    assert cfg["http"]["port"] == 8080  # the image's HEALTHCHECK asks this port
    # Open on 0.0.0.0: who may read is a deliberate choice, and a token is only ever a hash.
    assert "anonymous_read" in cfg["http"]
    assert all(re.fullmatch(r"[0-9a-f]{64}", t["sha256"]) for t in cfg["http"].get("tokens", []))
    # Everything else is acd.example.toml: same queues, agents, flows.
    example = tomllib.loads((ROOT / "acd.example.toml").read_text())
    for key in ("queues", "agents", "flows", "hours", "vip"):
        assert cfg[key] == example[key], key


def test_dockerfile() -> None:
    text = DOCKERFILE.read_text()
    froms = re.findall(r"^FROM (\S+)", text, re.M)
    assert froms and all(f == "python:3.11-slim" for f in froms), froms
    users = re.findall(r"^USER (\S+)", text, re.M)
    assert users and not users[-1].startswith(("root", "0")), "the service must not run as root"
    health = re.search(r"^HEALTHCHECK .*?(?<!\\)$", text, re.M | re.S)
    assert health and "http://127.0.0.1:8080/healthz" in health.group(0)
    assert "curl" not in health.group(0)  # slim has no curl
    assert re.search(r'^ENTRYPOINT \["acd"', text, re.M)
    assert re.search(r'^CMD \["run", "-c", "/etc/acd/acd.toml"\]', text, re.M)


def test_dockerignore_keeps_secrets_and_venv_out_of_the_image() -> None:
    lines = (ROOT / ".dockerignore").read_text().split()
    assert lines[lines.index("*") + 1:] and "*" in lines  # allow-list: everything else ignored
    assert "!.env" not in lines and "!.venv" not in lines


# --- secrets ------------------------------------------------------------------------------------

def _deploy_files() -> list[Path]:
    files = [COMPOSE, DOCKERFILE, ENV_EXAMPLE, ROOT / ".dockerignore", ROOT / "acd.example.toml"]
    for folder in ("docker", "dialplans"):
        files += [p for p in (ROOT / folder).rglob("*") if p.is_file()]
    return files


def _tracked_files() -> list[Path]:
    try:
        res = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True,
                             timeout=30, check=True)
    except (OSError, subprocess.SubprocessError):
        return []
    return [ROOT / name for name in res.stdout.decode().split("\0") if name]


_ASSIGN = re.compile(r"""(?ix) ^\s*(?:ACD_AMI_SECRET|secret|password)\s*[:=]>?\s*
                         ["']?(?P<value>[^"'\s;#]*)""")


def test_env_example_has_only_a_placeholder() -> None:
    values = dict(line.split("=", 1) for line in ENV_EXAMPLE.read_text().splitlines()
                  if line and not line.startswith("#"))
    assert values == {"ACD_AMI_SECRET": "change-me"}


def test_no_secret_in_any_committed_file() -> None:
    """Secrets assigned in deployment files are placeholders; no .env is ever tracked."""
    files = sorted(set(_deploy_files()) | {p for p in _tracked_files() if p.is_file()})
    found = []
    for path in files:
        if path.suffix in (".py", ".pyc", ".lua", ".md") or path.name == "start.sh":
            continue  # code and prose, not deployment data
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        for n, line in enumerate(text.splitlines(), 1):
            m = _ASSIGN.match(line)
            if m and m.group("value") not in PLACEHOLDERS \
                    and not m.group("value").startswith("lab-") \
                    and "CHANGE-ME" not in m.group("value"):
                found.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert found == []
    m = _ASSIGN.match("ACD_AMI_SECRET=s3cr3t-value")  # the scanner does see a real one
    assert m and m.group("value") == "s3cr3t-value"
    assert not [p for p in _tracked_files() if p.name == ".env"], ".env must never be committed"


def test_env_file_is_ignored_by_git() -> None:
    assert (ROOT / ".git").exists(), "run from a git checkout"
    res = subprocess.run(["git", "check-ignore", "-q", ".env"], cwd=ROOT, timeout=30)
    assert res.returncode == 0, ".env (the AMI secret) must be listed in .gitignore"


# --- docker-compose validates the file (Debian package docker-compose, no engine needed) -------

def test_docker_compose_config_validates(tmp_path: Path) -> None:
    exe = shutil.which("docker-compose")
    if exe is None:
        pytest.fail("docker-compose is not installed, so docker-compose.yml was not validated: "
                    "run `apt-get install docker-compose` (./dev setup does it)")
    for name in ("docker-compose.yml", "Dockerfile", ".dockerignore"):
        shutil.copy(ROOT / name, tmp_path / name)
    for folder in ("docker", "dialplans"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    shutil.copy(ENV_EXAMPLE, tmp_path / ".env")  # env_file: .env must exist
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMPOSE_")}
    res = subprocess.run([exe, "-f", "docker-compose.yml", "config", "-q"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120, env=env)
    assert res.returncode == 0, res.stdout + res.stderr
