"""The `dev` script's package install, run with a stand-in apt-get (and sudo, id): the first
README command must install what a fresh machine lacks, as root and as a sudo user."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

DEV = Path(__file__).resolve().parent.parent / "dev"


def _tool(folder: Path, name: str, body: str) -> None:
    path = folder / name
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


def _need_apt(tmp_path: Path, uid: str) -> tuple[subprocess.CompletedProcess[str], str]:
    bin_ = tmp_path / "bin"
    bin_.mkdir()
    log = tmp_path / "apt.log"
    _tool(bin_, "apt-get", f'echo "$* frontend=$DEBIAN_FRONTEND" >> {log}')
    _tool(bin_, "id", f'echo {uid}')
    # (like sudo, VAR=value words before the command set its environment)
    _tool(bin_, "sudo", f'echo "sudo" >> {log}; exec env "$@"')
    # Only the function, not the script's command dispatch at its end.
    script = ('eval "$(sed -n \'/^need_apt()/,/^}/p\' "$DEV")"; '
              'need_apt acd-no-such-command acd-some-package; echo done')
    env = {**os.environ, "PATH": f"{bin_}:/usr/bin:/bin", "DEV": str(DEV)}
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], env=env,
                          capture_output=True, text=True, timeout=30, check=False)
    return done, log.read_text() if log.exists() else ""


@pytest.mark.parametrize("uid", ["0", "1000"])
def test_a_missing_package_is_installed_noninteractively(tmp_path: Path, uid: str) -> None:
    done, log = _need_apt(tmp_path, uid)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "done"
    assert "install -y -qq acd-some-package frontend=noninteractive" in log
    assert ("sudo" in log.split()) == (uid != "0")


def test_a_present_command_installs_nothing(tmp_path: Path) -> None:
    bin_ = tmp_path / "bin"
    bin_.mkdir()
    _tool(bin_, "apt-get", f"echo called >> {tmp_path / 'apt.log'}")
    script = 'eval "$(sed -n \'/^need_apt()/,/^}/p\' "$DEV")"; need_apt sh sh-package'
    env = {**os.environ, "PATH": f"{bin_}:/usr/bin:/bin", "DEV": str(DEV)}
    done = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True,
                          timeout=30, check=False)
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "apt.log").exists()
