"""``streamlit run app.py`` (or another script) on loopback, pointed at the loopback Bedrock:
shared by the browser tests and the browser benchmarks.

The app gets this process's environment, isolated (``harness.isolation``) and without proxy
settings, and the fake's endpoint and credentials, so it can reach nothing but loopback.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from harness.isolation import isolated_environ
from loopback.bedrock import FakeBedrock

ROOT = Path(__file__).resolve().parent.parent
PROXY_VARS = frozenset({"http_proxy", "https_proxy", "all_proxy", "no_proxy"})
STARTUP_TIMEOUT_S = 60
LOG_TAIL_CHARS = 3000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def app_env(tmp: Path, fake: FakeBedrock) -> dict[str, str]:
    """This environment isolated with files in ``tmp``, without proxies, pointed at ``fake``."""
    env = {
        name: value
        for name, value in isolated_environ(tmp).items()
        if name.lower() not in PROXY_VARS
    }
    env.update(NO_PROXY="127.0.0.1,localhost", PYTHONUNBUFFERED="1")
    env.update(fake.env())
    return env


@dataclass
class AppServer:
    """``streamlit run app.py`` on a free loopback port, its output in ``tmp/streamlit.log``;
    ``script`` runs another app the same way (a benchmark's baseline)."""

    proc: subprocess.Popen[bytes]
    url: str
    log: Path
    launched: float  # time.time() just before the process was started
    db: Path
    outbox_db: Path

    @classmethod
    def launch(cls, tmp: Path, fake: FakeBedrock, script: Path | str = "app.py") -> AppServer:
        tmp.mkdir(parents=True, exist_ok=True)
        env = app_env(tmp, fake)
        port = free_port()
        log = tmp / "streamlit.log"
        command = [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(script),
            "--server.headless",
            "true",
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--browser.gatherUsageStats",
            "false",
            # Others edit the repository meanwhile: no "source changed" reruns.
            "--server.fileWatcherType",
            "none",
        ]
        with log.open("wb") as out:
            launched = time.time()
            proc = subprocess.Popen(
                command,
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        return cls(
            proc=proc,
            url=f"http://127.0.0.1:{port}",
            log=log,
            launched=launched,
            db=Path(env["CHAT_HISTORY_DB"]),
            outbox_db=Path(env["CHAT_OUTBOX_DB"]),
        )

    def wait_healthy(self, timeout: float = STARTUP_TIMEOUT_S) -> float:
        """Poll ``/_stcore/health`` every 20 ms; the time.time() it first said ok."""
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"streamlit exited with {self.proc.returncode}:\n{self.log_tail()}"
                )
            try:
                with opener.open(f"{self.url}/_stcore/health", timeout=2) as response:
                    if response.read().strip() == b"ok":
                        return time.time()
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.02)
        raise RuntimeError(f"streamlit not healthy within {timeout:g} s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)

    def log_tail(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-LOG_TAIL_CHARS:]
        except OSError:
            return "(no log)"

    def problems(self) -> list[str]:
        """Lines of the server's output that look like trouble."""
        try:
            lines = self.log.read_text(errors="replace").splitlines()
        except OSError:
            return []
        words = ("Traceback", "Error", "ERROR", "WARNING", "Exception")
        return [line for line in lines if any(word in line for word in words)]
