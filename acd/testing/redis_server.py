"""Start a private `redis-server` on a unix socket in a temporary directory.

Used by the test fixtures, `acd demo` and the benchmark: a real Redis, never a fake one.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType


class RedisServerError(RuntimeError):
    pass


class RedisServer:
    """A redis-server child process listening only on a unix socket."""

    def __init__(self, *, appendonly: bool = False, executable: str | None = None) -> None:
        exe = executable or shutil.which("redis-server")
        if exe is None:
            raise RedisServerError(
                "redis-server not found: install it (Debian: apt-get install redis-server) "
                "or give a Redis URL in the config")
        self._exe = exe
        self._appendonly = appendonly
        self._dir = Path(tempfile.mkdtemp(prefix="acd-redis-"))
        self.socket_path = self._dir / "redis.sock"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}"

    @property
    def pid(self) -> int | None:
        """The server's process id while it runs (the benchmark sets its priority)."""
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    def start(self, timeout_s: float = 10.0) -> RedisServer:
        args = [self._exe, "--port", "0", "--unixsocket", str(self.socket_path),
                "--unixsocketperm", "700", "--dir", str(self._dir), "--save", "",
                "--appendonly", "yes" if self._appendonly else "no",
                "--appendfsync", "always", "--loglevel", "warning"]
        self._proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout_s
        while not self.socket_path.exists():
            if self._proc.poll() is not None:
                err = self._proc.stderr.read().decode() if self._proc.stderr else ""
                raise RedisServerError(f"redis-server exited at start: {err.strip()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RedisServerError("redis-server did not create its socket in time")
            time.sleep(0.01)
        return self

    def kill(self) -> None:
        """Stop the server at once (SIGKILL) but keep its directory: `start()` again brings it
        back on the same socket with what its append-only file holds."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        if self._proc is not None and self._proc.stderr is not None:
            self._proc.stderr.close()
        self._proc = None
        self.socket_path.unlink(missing_ok=True)

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if self._proc is not None and self._proc.stderr is not None:
            self._proc.stderr.close()
        self._proc = None
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
