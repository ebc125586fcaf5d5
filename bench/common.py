"""What every benchmark prints or computes the same way: package versions and percentiles."""

from __future__ import annotations

import os
import platform
import statistics
from importlib.metadata import PackageNotFoundError, version


def package_version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "?"


def versions_line(*packages: str) -> str:
    """Python, then each package's version, then the CPU count: the machine a figure is from."""
    named = "  ".join(f"{package} {package_version(package)}" for package in packages)
    return f"python {platform.python_version()}  {named}  cpus {os.cpu_count()}"


def p90(values: list[float]) -> float:
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=10, method="inclusive")[8]
