"""What every benchmark prints, computes or sets up the same way: versions, percentiles, goal
lines, the loopback model's timing, and an environment isolated as the tests' is."""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING

from harness.isolation import isolated_environ

if TYPE_CHECKING:
    from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "app.py"
# Korean like the app's answers: the words of the loopback model's token streams.
_TOKEN_WORDS = ("서울", "한강", "공원", "박물관", "시장", "카페", "산책", "야경")


# --------------------------------------------------------------------------- what is printed


def package_version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "?"


def versions_line(*packages: str) -> str:
    """Python, then each package's version, then the CPU count: the machine a figure is from."""
    named = "  ".join(f"{package} {package_version(package)}" for package in packages)
    return f"python {platform.python_version()}  {named}  cpus {os.cpu_count()}"


def percentile(values: Sequence[float], q: int) -> float:
    """The ``q``-th percentile (1-99) of ``values``, interpolated between the samples."""
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def p90(values: Sequence[float]) -> float:
    return percentile(values, 90)


def median_p90(values: Sequence[float], width: int, digits: int) -> str:
    """The median and the p90 of ``values`` as two right-aligned cells; dashes for none."""
    if not values:
        return f"{'-':>{width}}" * 2
    return f"{statistics.median(values):>{width}.{digits}f}{p90(values):>{width}.{digits}f}"


def verdict(met: bool) -> str:
    return "PASS" if met else "MISS"


def goal_line(measured: str, goal: str, met: bool) -> str:
    """``MEASURED (goal GOAL): PASS``, or ``MISS``."""
    return f"{measured} (goal {goal}): {verdict(met)}"


def total_run_line(started: float) -> str:
    """How long the run took since ``started`` (``time.perf_counter()``), and the load."""
    load = " / ".join(f"{n:.2f}" for n in os.getloadavg())
    return f"total run {time.perf_counter() - started:.0f} s; load average at the end {load}"


@contextmanager
def errors_noted(problems: list[str]) -> Iterator[None]:
    """An error ends the measuring, not the run: its traceback goes to stdout at once, and a
    line to ``problems``, so the figures gathered so far are still printed."""
    try:
        yield
    except Exception as error:
        problems.append(f"ERROR {type(error).__name__}: {error}")
        traceback.print_exc(file=sys.stdout)


# --------------------------------------------------------------------------- the loopback model


def korean_tokens(n: int, tag: str = "") -> list[str]:
    """``n`` word-sized deltas, each with its trailing space and ``tag`` first: t3서울0 ..."""
    return [f"{tag}{_TOKEN_WORDS[i % len(_TOKEN_WORDS)]}{i} " for i in range(n)]


def add_model_args(parser: argparse.ArgumentParser, tokens: int, tokens_help: str) -> None:
    """``--ttft``, ``--token-delay`` and ``--tokens``: how the loopback Bedrock answers."""
    parser.add_argument("--ttft", type=float, default=0.3, help="seconds to the first token")
    parser.add_argument("--token-delay", type=float, default=0.01, help="seconds between tokens")
    parser.add_argument("--tokens", type=int, default=tokens, help=tokens_help)


@dataclass(frozen=True)
class ModelTiming:
    """How the loopback Bedrock answers: ``tokens`` deltas, ``ttft`` seconds before the first
    and ``token_delay`` seconds between the others."""

    ttft: float
    token_delay: float
    tokens: int

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> ModelTiming:
        return cls(args.ttft, args.token_delay, args.tokens)

    @property
    def stream_s(self) -> float:
        """Seconds from the request to the last token, by the model alone."""
        return self.ttft + (self.tokens - 1) * self.token_delay

    def describe(self, with_stream: bool = True) -> str:
        line = (
            f"loopback Bedrock: ttft {self.ttft * 1000:.0f} ms, {self.tokens} tokens "
            f"{self.token_delay * 1000:.0f} ms apart"
        )
        return f"{line} (model stream ~{self.stream_s * 1000:.0f} ms)" if with_stream else line


# --------------------------------------------------------------------------- the environment


@contextmanager
def scratch(name: str) -> Iterator[Path]:
    """A temporary folder for one run of the benchmark ``name``, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as tmp:
        yield Path(tmp)


def bench_env(tmp: Path, *overrides: Mapping[str, str]) -> dict[str, str]:
    """This environment isolated as the tests' is, its files in ``tmp``, then ``overrides``
    (the loopback servers' variables, say) in order."""
    env = isolated_environ(tmp)
    for override in overrides:
        env.update(override)
    return env


@contextmanager
def environ_as(env: Mapping[str, str]) -> Iterator[None]:
    """``os.environ`` is ``env`` inside the block, and what it was again after it."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def app_test(user: str, app: Path = APP) -> AppTest:
    """``app`` (this checkout's ``app.py``) in this process (AppTest), used by ``user`` in
    local mode."""
    from streamlit.testing.v1 import AppTest  # the parent of bench.history never needs it

    at = AppTest.from_file(str(app), default_timeout=120)
    at.query_params["user"] = user
    return at


# --------------------------------------------------------------------------- processes (Linux)

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    """The fields of ``/proc/PID/stat`` after the command name (the state first), or None
    once the process is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()


def process_tree(root: int) -> list[int]:
    """``root`` and every live process descended from it."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) is not None:
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, ()))
    return tree


def cpu_seconds(pid: int, reaped: bool = True) -> float:
    """User + system CPU seconds of ``pid``, all its threads; with ``reaped``, also those of
    its children it has waited for (``cutime`` + ``cstime``). 0 once it is gone."""
    fields = _stat(pid)
    if fields is None:
        return 0.0
    used = fields[11:15] if reaped else fields[11:13]
    return sum(int(ticks) for ticks in used) / CLOCK_TICKS


def tree_cpu_seconds(pids: Sequence[int]) -> float:
    """CPU seconds of these processes (a ``process_tree``) and of their reaped children: a
    process that ended is counted once its parent has waited for it."""
    return sum(cpu_seconds(pid) for pid in pids)


def machine_cpu_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, every core (``/proc/stat``);
    idle and iowait are not busy."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    total = sum(values[:8])  # user nice system idle iowait irq softirq steal
    return (total - values[3] - values[4]) / CLOCK_TICKS, total / CLOCK_TICKS


def proc_status_mb(pid: int, field: str) -> float | None:
    """A figure of ``/proc/PID/status`` (``VmRSS``, ``VmHWM``) in MB, None without it."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024 / 1e6
    return None
