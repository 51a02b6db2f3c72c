"""Helpers shared by the benchmark scripts: load average, process memory, machine record, result files."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def load_average() -> float:
    """The 1-minute load average (NaN where /proc is missing)."""
    path = Path("/proc/loadavg")
    return float(path.read_text().split()[0]) if path.exists() else float("nan")


def memory_gb(field: str, pid: int | str = "self") -> float:
    """A /proc/<pid>/status memory field in GiB (VmRSS: current, VmHWM: peak); NaN once the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 2**20
    except (FileNotFoundError, ProcessLookupError):
        pass
    return float("nan")


def code_commit() -> str:
    """``git describe --always --dirty`` of the checkout the benchmark runs from ("unknown" outside git)."""
    import subprocess

    try:
        return subprocess.run(["git", "describe", "--always", "--dirty"], cwd=Path(__file__).parent,
                              capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def machine(**extra) -> dict:
    """CPU, cores, memory, Python and torch versions, plus ``extra`` fields."""
    import torch

    memory_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                     if line.startswith("MemTotal:"))
    return {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
            "memory_gb": round(memory_kb / 2**20, 1), "python": platform.python_version(),
            "torch": torch.__version__, **extra}


def write_result(name: str, payload: dict) -> Path:
    """Write ``payload`` as ``results/<name>`` atomically (never a partial file); returns the path."""
    from seqatac._utils import atomic_path

    RESULTS.mkdir(parents=True, exist_ok=True)
    with atomic_path(RESULTS / name) as tmp:
        tmp.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {RESULTS / name}")
    return RESULTS / name
