"""A measurement in a process of its own: the parent starts it and reads its one ``RESULT``
line; the child reads its own memory from ``/proc``."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bench.common import ROOT

_RESULT = "RESULT "


def report(result: Mapping[str, Any]) -> None:
    """The child's one result, as the line ``run`` looks for."""
    print(_RESULT + json.dumps(result), flush=True)


@dataclass(frozen=True)
class Finished:
    result: dict[str, Any] | None  # what the child reported, if it got that far
    output: list[str]  # its other lines of stdout, in order
    returncode: int
    stderr: str


def run(
    module: str,
    options: list[str],
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
) -> Finished:
    """``python -m MODULE OPTIONS`` from the repository root, to its end; past ``timeout``
    seconds it is killed and ``subprocess.TimeoutExpired`` raised."""
    done = subprocess.run(
        [sys.executable, "-m", module, *options],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    result = None
    output = []
    for line in done.stdout.splitlines():
        if line.startswith(_RESULT):
            result = json.loads(line[len(_RESULT) :])
        else:
            output.append(line)
    return Finished(result, output, done.returncode, done.stderr)


def status_kb(field: str) -> int | None:
    """A figure of ``/proc/self/status`` in KiB (``VmRSS``, ``VmHWM``), None without it."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def reset_peak_rss() -> int | None:
    """Reset the peak RSS (VmHWM) to the current RSS; that RSS in KiB, or None if unsupported."""
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
    except OSError:
        return None
    return status_kb("VmRSS")
