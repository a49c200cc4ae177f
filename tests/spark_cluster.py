"""A real Spark standalone cluster on 127.0.0.1 for tests: one master, N workers.

Each daemon is a separate process started with the pyspark package's own launcher
(``$SPARK_HOME/bin/spark-class``, ``SPARK_HOME`` being the installed ``pyspark`` package),
in its own process group, on free ports chosen at run time, bound to the loopback address
only. Their logs go to files under the given directory (``SPARK_LOG_DIR``, one ``.out`` file
per daemon; executors' work folders under ``SPARK_WORKER_DIR``), never to the terminal.
:func:`standalone_cluster` waits until every worker is registered with the master (its JSON
page, ``http://127.0.0.1:PORT/json/``), yields the running :class:`StandaloneCluster`, and
stops every process group at the end, also when the body raised. Every wait is bounded and
fails with the tail of the daemon's log.

Usage in a test module::

    @pytest.fixture(scope="module")
    def cluster(tmp_path_factory):
        with standalone_cluster(tmp_path_factory.mktemp("spark"), workers=2) as c:
            yield c

    def test_something(cluster):
        spark = SparkSession.builder.master(cluster.master_url)...
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

HOST = "127.0.0.1"
#: Default bound of every wait (seconds).
TIMEOUT = 60.0


def spark_home() -> Path:
    """The installed pyspark package directory (it has ``bin/spark-class`` and ``jars/``)."""
    import pyspark

    return Path(pyspark.__file__).resolve().parent


def free_port() -> int:
    """A TCP port free on the loopback address right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


@dataclass
class Daemon:
    """One daemon process (its own process group) and its log file."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path
    _fh: IO[bytes]

    def tail(self, lines: int = 30) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM to the process group, SIGKILL if still alive after ``timeout``."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout)
        # anything left in the group (the launcher exec's java, so normally nothing)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self._fh.close()


@dataclass
class StandaloneCluster:
    """A running master and its workers."""

    root: Path
    master_port: int
    webui_port: int
    daemons: list[Daemon] = field(default_factory=list)

    @property
    def master_url(self) -> str:
        return f"spark://{HOST}:{self.master_port}"

    @property
    def json_url(self) -> str:
        return f"http://{HOST}:{self.webui_port}/json/"

    def state(self) -> dict[str, Any]:
        """The master's JSON page (no proxy: loopback only)."""
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(self.json_url, timeout=5) as resp:
            return json.loads(resp.read().decode())  # type: ignore[no-any-return]

    def alive_workers(self) -> list[dict[str, Any]]:
        return [w for w in self.state().get("workers", []) if w.get("state") == "ALIVE"]

    def client_env(self) -> dict[str, str]:
        """Environment for a driver process: the same Python on the executors, loopback
        addresses, no proxy."""
        env = _base_env(self.root)
        env["PYSPARK_PYTHON"] = sys.executable
        env["PYSPARK_DRIVER_PYTHON"] = sys.executable
        return env

    def stop(self) -> None:
        for d in reversed(self.daemons):  # workers first, then the master
            d.stop()


def _base_env(root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env.update(
        SPARK_HOME=str(spark_home()),
        SPARK_LOCAL_IP=HOST,
        SPARK_LOG_DIR=str(root / "logs"),
        SPARK_WORKER_DIR=str(root / "work"),
        SPARK_LOCAL_DIRS=str(root / "local"),
        SPARK_PID_DIR=str(root / "pids"),
        SPARK_DAEMON_MEMORY="256m",
        SPARK_NO_DAEMONIZE="1",
        NO_PROXY=HOST,
        no_proxy=HOST,
    )
    return env


def _start(root: Path, name: str, args: list[str]) -> Daemon:
    env = _base_env(root)
    for key in ("SPARK_LOG_DIR", "SPARK_WORKER_DIR", "SPARK_LOCAL_DIRS", "SPARK_PID_DIR"):
        Path(env[key]).mkdir(parents=True, exist_ok=True)
    log = Path(env["SPARK_LOG_DIR"]) / f"{name}.out"
    fh = log.open("ab")
    process = subprocess.Popen(
        [str(spark_home() / "bin" / "spark-class"), *args],
        stdin=subprocess.DEVNULL,
        stdout=fh,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=root,
        start_new_session=True,  # its own process group, stopped as a whole
    )
    return Daemon(name, process, log, fh)


def _wait(what: str, ok: Any, daemons: list[Daemon], timeout: float) -> None:
    """Poll ``ok()`` until true; fail with the daemons' log tails on timeout or exit."""
    deadline = time.monotonic() + timeout
    while True:
        for d in daemons:
            if d.process.poll() is not None:
                raise RuntimeError(
                    f"spark {d.name} exited with {d.process.returncode} while waiting for "
                    f"{what}; log {d.log}:\n{d.tail()}"
                )
        with contextlib.suppress(OSError, ValueError):
            if ok():
                return
        if time.monotonic() > deadline:
            tails = "\n".join(f"--- {d.name} ({d.log}):\n{d.tail()}" for d in daemons)
            raise TimeoutError(f"no {what} after {timeout:.0f} s\n{tails}")
        time.sleep(0.5)


@contextlib.contextmanager
def standalone_cluster(
    root: Path,
    workers: int = 2,
    cores: int = 1,
    memory: str = "512m",
    timeout: float = TIMEOUT,
) -> Iterator[StandaloneCluster]:
    """Start a master and ``workers`` workers on 127.0.0.1, yield when all are registered,
    stop them all at the end (also on error)."""
    root = Path(root)
    cluster = StandaloneCluster(root, free_port(), free_port())
    try:
        cluster.daemons.append(
            _start(
                root,
                "master",
                [
                    "org.apache.spark.deploy.master.Master",
                    "--host",
                    HOST,
                    "--port",
                    str(cluster.master_port),
                    "--webui-port",
                    str(cluster.webui_port),
                ],
            )
        )
        _wait("master web page", lambda: cluster.state() is not None, cluster.daemons, timeout)
        for i in range(workers):
            cluster.daemons.append(
                _start(
                    root,
                    f"worker-{i + 1}",
                    [
                        "org.apache.spark.deploy.worker.Worker",
                        cluster.master_url,
                        "--cores",
                        str(cores),
                        "--memory",
                        memory,
                        "--host",
                        HOST,
                        "--port",
                        str(free_port()),
                        "--webui-port",
                        str(free_port()),
                        "--work-dir",
                        str(root / "work"),
                    ],
                )
            )
        _wait(
            f"{workers} registered workers",
            lambda: len(cluster.alive_workers()) >= workers,
            cluster.daemons,
            timeout,
        )
        yield cluster
    finally:
        cluster.stop()


# --- memory of the processes of a run ---------------------------------------------------


def _children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        kids.setdefault(ppid, []).append(int(d.name))
    return kids


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return 0.0


def _role(pid: int) -> str:
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return "gone"
    if "CoarseGrainedExecutorBackend" in cmd:
        return "executor_jvm"
    if "java" in cmd.split(" ")[0] or "/java " in cmd:
        return "driver_jvm" if "SparkSubmit" in cmd else "other_jvm"
    if "pyspark.daemon" in cmd or "pyspark.worker" in cmd or "pyspark/daemon" in cmd:
        return "python_workers"
    if "graphrisk" in cmd:
        return "driver_python"
    return "other"


class Sampler:
    """Peak resident memory (MB) over the process trees of ``roots``, sampled from ``/proc``
    every ``every`` seconds: per role (``peak``: the sum over a role's processes at one
    sample, e.g. all Python workers at once) and per process (``process_peak``: role and
    pid -> its own peak)."""

    def __init__(self, roots: list[int], every: float = 0.5) -> None:
        self.roots, self.every = roots, every
        self.peak: dict[str, float] = {}
        self.process_peak: dict[tuple[str, int], float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            kids = _children()
            seen, todo = set(), list(self.roots)
            while todo:
                p = todo.pop()
                if p in seen:
                    continue
                seen.add(p)
                todo += kids.get(p, [])
            now: dict[str, float] = {}
            for p in seen:
                role = _role(p)
                if role in ("gone", "other"):
                    continue
                mb = _rss_mb(p)
                key = (role, p)
                self.process_peak[key] = max(self.process_peak.get(key, 0.0), mb)
                # several Python workers (or executors) at once: their sum is what they hold
                now[role] = now.get(role, 0.0) + mb
            for role, mb in now.items():
                self.peak[role] = max(self.peak.get(role, 0.0), mb)
            self._stop.wait(self.every)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@dataclass
class Watched:
    """A finished process run under a :class:`Sampler`."""

    returncode: int
    out: str
    err: str
    wall_seconds: float
    memory: Sampler


def run_watched(
    cmd: list[str], env: dict[str, str], cwd: Path, watch: list[int] | None = None
) -> Watched:
    """Run ``cmd`` to its end while sampling the memory of its process tree and of the trees
    of ``watch`` (e.g. a cluster's worker daemons, whose children are the executors)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=cwd
    )
    with Sampler([proc.pid, *(watch or [])]) as s:
        out, err = proc.communicate()
    return Watched(proc.returncode, out, err, time.perf_counter() - t0, s)
