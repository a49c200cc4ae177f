"""What machine a result was measured on: CPU, cores, memory, versions, load average."""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path
from typing import Any


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def memory_gb() -> float | None:
    try:
        with open("/proc/meminfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages (empty where the OS has none)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def source_state(repo: str) -> dict[str, Any]:
    """The checkout measured: HEAD and the files changed against it (others edit it too)."""
    import subprocess

    def git(*args: str) -> str:
        try:
            return subprocess.run(
                ["git", *args], cwd=repo, capture_output=True, text=True, timeout=30
            ).stdout
        except (OSError, subprocess.SubprocessError):
            return ""

    dirty = [x[3:] for x in git("status", "--porcelain", "--", "graphrisk").splitlines() if x]
    return {"commit": git("rev-parse", "HEAD").strip(), "graphrisk_changed_files": dirty}


def machine() -> dict[str, Any]:
    """The machine and the software versions."""
    import networkx
    import polars

    import graphrisk

    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "memory_gb": memory_gb(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "polars": polars.__version__,
        "networkx": networkx.__version__,
        "graphrisk": graphrisk.__version__,
    }


def replace_section(readme: Path, name: str, body: str) -> None:
    """Put ``body`` between the ``<!-- NAME:start -->`` and ``<!-- NAME:end -->`` markers of
    ``readme``; nothing happens when the file or either marker is missing."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    if not readme.is_file():
        return
    text = readme.read_text(encoding="utf-8")
    if start not in text or end not in text:
        return
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    readme.write_text(head + start + "\n" + body + end + tail, encoding="utf-8")
