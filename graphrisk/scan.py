"""The scan: load -> context -> detectors -> decisions -> run directory.

The CLI and the library call the same :func:`scan`; :meth:`ScanResult.write` writes the run
directory of SPEC.md completely or not at all.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import platform
import resource
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from graphrisk import __version__
from graphrisk.context import ScanContext, check_window, concat_sorted
from graphrisk.decisions import decide_with_trace
from graphrisk.detectors.base import FLAG_SCHEMA, GROUP_SCHEMA, Findings
from graphrisk.errors import UsageError
from graphrisk.io import Tables, atomic_dir, environment_errno
from graphrisk.policy import Policy

if TYPE_CHECKING:
    import networkx as nx

Progress = Callable[[str], None]


def peak_rss_mb() -> float:
    """This process's peak resident memory (MB) since it started, as Linux counts it
    (``VmHWM``). Not ``ru_maxrss``: that one carries the parent's peak across fork and exec,
    so a scan started from a large process (a test run that generated a world, a notebook)
    reported the parent's memory as its own. ``ru_maxrss`` where ``/proc`` is missing."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


@dataclass
class Stages:
    """Wall seconds and peak RSS (MB) after each stage, in order."""

    rows: list[dict[str, Any]] = field(default_factory=list)

    def timed(self, name: str, progress: Progress | None = None):
        stages = self

        class _T:
            def __enter__(self) -> None:
                if progress:
                    progress(name)
                self.t = time.perf_counter()

            def __exit__(self, *exc: object) -> None:
                stages.rows.append(
                    {
                        "stage": name,
                        "seconds": round(time.perf_counter() - self.t, 4),
                        "peak_rss_mb": round(peak_rss_mb(), 1),
                    }
                )

        return _T()

    def merged(self) -> list[dict[str, Any]]:
        """The rows with repeated stages (one per shard) summed: seconds added, peak kept."""
        out: dict[str, dict[str, Any]] = {}
        for r in self.rows:
            if r["stage"] in out:
                o = out[r["stage"]]
                o["seconds"] = round(o["seconds"] + r["seconds"], 4)
                o["peak_rss_mb"] = max(o["peak_rss_mb"], r["peak_rss_mb"])
            else:
                out[r["stage"]] = dict(r)
        return list(out.values())


@dataclass
class ScanResult:
    """What a scan found: ``flags``, ``decisions``, ``groups`` (polars) and the summary."""

    flags: pl.DataFrame
    decisions: pl.DataFrame
    groups: pl.DataFrame
    summary: dict[str, Any]
    context: ScanContext
    policy: Policy
    run_id: str
    stages: Stages
    quarantine: dict[str, pl.DataFrame] = field(default_factory=dict)
    trace: pl.DataFrame | None = None  # per account: the policy rule that fired, ledger state
    #: one row per account: the figures behind the flags (graphrisk.features.DICTIONARY)
    features: pl.DataFrame | None = None

    def graph_context(self, accounts: list[str] | None = None) -> ScanContext:
        """A context whose graph holds ``accounts`` and their links.

        A whole scan has one already; a sharded scan builds a small one over those accounts'
        rows (their logins, loans and transfers), with the book's facts.
        """
        spill = getattr(self, "_spill", None)
        if self.context.book is None or (accounts is None and spill is None):
            return self.context
        if spill is not None:  # the book's rows are on disk, shard by shard
            return ScanContext(
                spill.rows(accounts),
                self.context.as_of,
                self.context.lookback_days,
                self.context.book,
            )
        assert accounts is not None
        keep = pl.Series(list(accounts), dtype=pl.String).implode()
        t = self.context.tables
        sub = Tables(
            accounts=t.accounts.filter(pl.col("account_id").is_in(keep)),
            loans=t.loans.filter(pl.col("account_id").is_in(keep)),
            transfers=t.transfers.filter(
                pl.col("src_account").is_in(keep) | pl.col("dst_account").is_in(keep)
            ),
            devices=t.devices.filter(pl.col("account_id").is_in(keep)),
            applications=None
            if t.applications is None
            else t.applications.filter(pl.col("account_id").is_in(keep)),
            source=t.source,
            lenders=t.lenders,
        )
        return ScanContext(sub, self.context.as_of, self.context.lookback_days, self.context.book)

    def to_networkx(
        self, group_id: str | None = None, accounts: list[str] | None = None
    ) -> nx.MultiDiGraph:
        """A networkx view of one group (by ``group_id``), of given accounts, or of everything."""
        if group_id is not None:
            members = self.groups.filter(pl.col("group_id") == group_id)["account_id"]
            if not members.len():
                raise KeyError(f"no group {group_id!r}")
            accounts = members.to_list()
        return self.graph_context(accounts).graph.to_networkx(accounts)

    def close(self) -> None:
        """Remove a sharded scan's shards from disk (written beside the book while it was
        scanned, read again by :meth:`graph_context`); nothing to do for a whole scan. The
        frames stay; a report or networkx view needs the shards, so write first."""
        spill = getattr(self, "_spill", None)
        if spill is not None:
            spill.close()

    def write(self, out: str | Path, progress: Progress | None = None) -> Path:
        """Write the run directory atomically: flags, decisions, groups, summary, report.

        With a ledger (``scan(..., ledger=DIR)``) this also appends the scan's decisions to
        it, together with the run: the entry is written in full to a temporary file in the
        ledger first, then the run is swapped in and the entry renamed in. If anything fails
        (no space left, a read-only ledger), the run directory and the ledger are both left
        as they were. A run already in the ledger (same run id) appends nothing.

        Parameters
        ----------
        out
            The run directory: absent, empty or an earlier run (see
            :func:`graphrisk.io.atomic_dir`).
        progress
            Called with the stage name when writing starts.

        Returns
        -------
        Path
            ``out``.

        Raises
        ------
        UsageError
            If ``out`` may not be replaced, or ``out`` or the ledger cannot be written for
            lack of space or permission (the message names the path).
        """
        out = Path(out)
        pending: list[Any] = []  # the ledger entry, once written to its temporary file
        where = ["--out", out]
        try:
            with atomic_dir(out, then=lambda: _commit_pending(pending, where)) as tmp:
                self._write_files(tmp, progress)
                where[:] = ["--ledger", _ledger_path(self)]
                pending.append(_prepare_ledger(self))
                where[:] = ["--out", out]
        except BaseException as e:
            for p in pending:
                if p is not None:
                    p.abort()
            code = environment_errno(e)
            if code is None:
                raise
            raise UsageError(
                f"{where[0]}: cannot write {where[1]}: {os.strerror(code)}; nothing was"
                " changed (the run directory and the ledger are as they were)"
            ) from e
        return out

    def _write_files(self, tmp: Path, progress: Progress | None) -> None:
        from graphrisk.report import render_report

        with self.stages.timed("write", progress):
            self.flags.write_parquet(tmp / "flags.parquet")
            self.decisions.write_parquet(tmp / "decisions.parquet")
            self.groups.write_parquet(tmp / "groups.parquet")
            if self.features is not None:
                self.features.write_parquet(tmp / "features.parquet")
            if self.trace is not None:
                from graphrisk.explain import TRACE_FILE

                self.trace.write_parquet(tmp / TRACE_FILE)
            if self.quarantine:
                (tmp / "quarantine").mkdir()
                for name, df in sorted(self.quarantine.items()):
                    df.write_parquet(tmp / "quarantine" / f"{name}.parquet")
        self.summary["timings"] = self.stages.merged()
        (tmp / "report.html").write_text(render_report(self), encoding="utf-8")
        (tmp / "summary.json").write_text(
            json.dumps(self.summary, indent=2, ensure_ascii=False, default=str) + "\n",
            encoding="utf-8",
        )


def _ledger_path(result: ScanResult) -> Path | None:
    led = getattr(result, "_ledger", None)
    return None if led is None else led[0].path


def _prepare_ledger(result: ScanResult) -> Any:
    """The scan's ledger entry written to a temporary file (``None``: no ledger, or in it)."""
    led = getattr(result, "_ledger", None)
    if led is None:
        return None
    from graphrisk.ledger import entry

    return led[0].prepare(entry(result.decisions, result.trace), result.run_id)


def _commit_pending(pending: list[Any], where: list[Any]) -> None:
    """Rename the prepared ledger entry in (called with the new run in place)."""
    for p in pending:
        if p is not None:
            where[:] = ["--ledger", p.ledger.path]
            p.commit()


FINGERPRINT_TABLES = ("accounts", "loans", "transfers", "devices", "applications")


def fingerprint_parts(ctx: ScanContext) -> dict[str, tuple[int, int] | None]:
    """Per table of the window: ``(rows, sum of row hashes mod 2**64)``, ``None`` if absent.

    Both add up over pieces of a book that hold each row once (a plan that counts its book in
    parts gets the same run id).
    """
    out: dict[str, tuple[int, int] | None] = {}
    if ctx.lenders is not None:  # reference data, whole in every shard: counted once
        out["lenders"] = (ctx.lenders.height, int(ctx.lenders.hash_rows(seed=7).sum()))
    for name in FINGERPRINT_TABLES:
        df = ctx.window(name)  # sums of row hashes: the order does not count
        if df is None:
            out[name] = None
            continue
        out[name] = (df.height, int(df.hash_rows(seed=7).sum()) if df.height else 0)
    return out


def _fingerprint(ctx: ScanContext | dict[str, tuple[int, int] | None]) -> str:
    parts = ctx if isinstance(ctx, dict) else fingerprint_parts(ctx)
    h = hashlib.sha1()
    if parts.get("lenders") is not None:  # absent: the run ids of books without one stay
        h.update("lenders:{}:{};".format(*parts["lenders"]).encode())
    for name in FINGERPRINT_TABLES:
        part = parts[name]
        if part is None:
            h.update(f"{name}:none;".encode())
            continue
        h.update(f"{name}:{part[0]}:{part[1]};".encode())
    return h.hexdigest()


def effective_policy(policy: Policy) -> dict[str, Any]:
    """The policy with every detector's parameters filled in (what the scan really used)."""
    from graphrisk.detectors import REGISTRY

    data = copy.deepcopy(policy.data)
    given = data.get("detectors", {})
    data["detectors"] = {
        name: {
            "enabled": given.get(name, {}).get("enabled", True),
            **policy.detector(name).get_params(),
        }
        for name in sorted(REGISTRY)
    }
    return data


def prior_parts(prior: pl.DataFrame) -> tuple[int, int]:
    """Rows and row-hash sum (modulo 2**64) of prior state (``PRIOR_SCHEMA``): they add up
    over any split of the rows, so an engine may compute them piece by piece."""
    from graphrisk.decisions import PRIOR_SCHEMA

    df = prior.select(list(PRIOR_SCHEMA)).cast(PRIOR_SCHEMA)  # type: ignore[arg-type]
    return df.height, int(df.hash_rows(seed=7).sum())


def digest_of(rows: int, hash_sum: int) -> str | None:
    """The text of :func:`prior_digest` from summed :func:`prior_parts`; ``None`` for no rows."""
    return f"{rows}:{hash_sum % (1 << 64)}" if rows else None


def prior_digest(prior: pl.DataFrame | None) -> str | None:
    """A digest of the ledger state a scan read (``PRIOR_SCHEMA``); ``None`` when it is empty.

    One row per account, so the digest ignores row order.
    """
    if prior is None:
        return None
    return digest_of(*prior_parts(prior))


def run_id_for(
    ctx: ScanContext,
    policy: Policy,
    prior: pl.DataFrame | str | None = None,
    lang: str = "zh",
    fingerprint: dict[str, tuple[int, int] | None] | None = None,
) -> str:
    """A run id determined by what decides the run: the data in the window, ``as_of``, the
    effective policy, a lookback given apart from the policy, the language of the
    explanations and the ledger state read (``prior``).

    The outputs are a function of these, so one run id names one set of outputs: the same
    scan against a ledger with another history before ``as_of``, in English rather than
    Chinese, or with another lookback gets another run id. Settings left at their default
    (no ledger state, the policy's own lookback, ``zh``) add nothing, so such runs keep the
    id of a plain scan. A sharded scan passes the book's ``fingerprint`` (the sum of its
    shards' :func:`fingerprint_parts`); ``ctx`` then only gives ``as_of`` and the lookback.
    ``prior`` may also be its :func:`prior_digest`, computed elsewhere (the Spark scan's,
    :func:`graphrisk.engines.spark_ledger.prior_digest`).
    """
    h = hashlib.sha1()
    h.update(_fingerprint(fingerprint if fingerprint is not None else ctx).encode())
    h.update(ctx.as_of.isoformat().encode())
    h.update(json.dumps(effective_policy(policy), sort_keys=True, default=str).encode())
    if ctx.lookback_days != policy.lookback_days:
        h.update(f"lookback:{ctx.lookback_days};".encode())
    if lang != "zh":
        h.update(f"lang:{lang};".encode())
    digest = prior if isinstance(prior, str) else prior_digest(prior)
    if digest is not None:
        h.update(f"prior:{digest};".encode())
    return h.hexdigest()[:16]


def run_detectors(
    ctx: ScanContext, policy: Policy, stages: Stages | None = None, progress: Progress | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Every enabled detector of ``policy`` over ``ctx``: (flags, groups)."""
    stages = stages or Stages()
    flags: list[pl.DataFrame] = []
    groups: list[pl.DataFrame] = []
    for det in policy.detectors():
        with stages.timed(f"detector:{det.name}", progress):
            found: Findings = det.detect(ctx)
        flags.append(found.flags)
        groups.append(found.groups)
    return combine(flags, groups)


def combine(
    flags: list[pl.DataFrame], groups: list[pl.DataFrame]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Flags and groups of several detectors (or shards) as one scan's, in the scan's order."""
    all_flags = pl.concat(flags, how="vertical") if flags else pl.DataFrame(schema=FLAG_SCHEMA)
    all_groups = pl.concat(groups, how="vertical") if groups else pl.DataFrame(schema=GROUP_SCHEMA)
    return (
        all_flags.sort(
            "account_id", "code", "detector", "window_end", "group_id", "evidence", nulls_last=True
        ),
        all_groups.unique().sort("group_id", "account_id", "role"),
    )


def scan(
    data: Tables | str | Path,
    as_of: datetime | str | None = None,
    policy: Policy | str | Path | dict | None = None,
    lookback_days: int | None = None,
    ledger: str | Path | None = None,
    quarantine: bool = False,
    lang: str = "zh",
    engine: str = "local",
    progress: Progress | None = None,
    shard_accounts: int | None = None,
    spill_dir: str | Path | None = None,
) -> ScanResult:
    """Scan a data directory (or loaded tables) and decide every account's limit.

    Parameters
    ----------
    data
        A data directory (see :func:`graphrisk.load`) or :class:`~graphrisk.io.Tables`.
    as_of
        Reference time; default the latest timestamp in the inputs.
    policy
        A :class:`Policy`, a TOML path, a dict of overrides, or ``None`` for the default.
    lookback_days
        Days of history read before ``as_of``; default the policy's ``lookback_days`` (180).
    ledger
        A ledger directory: earlier decisions are read (restore). This scan's decisions are
        appended when its run directory is written (:meth:`ScanResult.write`, run and entry
        together), or by :func:`commit_ledger` for a scan whose run is not written.
    quarantine
        Set rows breaking row rules aside instead of failing (see :func:`graphrisk.load`).
    lang
        Language of the customer explanation: ``"zh"`` (default) or ``"en"``.
    engine
        ``"local"`` (polars + compiled graph kernels) or ``"spark"``: the whole scan on
        Spark (:func:`graphrisk.engines.spark_scan.scan_on_spark`; it returns a
        :class:`~graphrisk.engines.spark_scan.SparkScanResult`, whose outputs stay Spark
        DataFrames until asked for). With loaded ``Tables`` the engine has nothing to do.
    shard_accounts
        Scan the book in shards of whole linked groups of at most this many accounts (see
        :mod:`graphrisk.shards`): the context, graph and detectors then hold one shard at a
        time. The outputs (and the run id) are those of a whole scan. ``None``: one piece.
    spill_dir
        With ``shard_accounts``: the directory a sharded scan writes its shards to (a
        temporary folder in it, about the book's size in lz4 Parquet, removed by
        :meth:`ScanResult.close`); default the system's temporary directory (``TMPDIR``).
        Local engine only (Spark spills to its own ``spark.local.dir``).

    Returns
    -------
    ScanResult

    Examples
    --------
    >>> from graphrisk.testing import tables
    >>> t = tables(loans=[("a", f"L{i}", 5000, f"2026-01-{4 * i + 1:02d}", None,
    ...                     f"2026-01-{4 * i + 3:02d}") for i in range(6)]
    ...                  + [("b", "L1", 800, "2026-01-02")])
    >>> r = scan(t)
    >>> r.decisions.select("account_id", "action", "limit_after").rows()
    [('a', 'reduce', 5000.0), ('b', 'keep', 10000.0)]
    """
    stages = Stages()
    if lang not in ("zh", "en"):
        raise UsageError(f"--lang must be zh or en, got {lang!r}")
    if not isinstance(policy, Policy):
        policy = Policy.from_dict(policy) if isinstance(policy, dict) else Policy.load(policy)
    if spill_dir is not None and engine == "spark":
        raise UsageError(
            "--spill-dir is for the local engine; Spark spills to its own spark.local.dir"
        )
    if spill_dir is not None:
        from graphrisk.shards import check_spill_dir

        check_spill_dir(spill_dir)
    if engine == "spark" and not isinstance(data, Tables):
        from graphrisk.engines.spark_scan import scan_on_spark

        return scan_on_spark(  # type: ignore[return-value]
            data,
            as_of=as_of,
            policy=policy,
            lookback_days=lookback_days,
            quarantine=quarantine,
            lang=lang,
            shard_accounts=shard_accounts,
            progress=progress,
            ledger=ledger,
        )
    with stages.timed("load", progress):
        if isinstance(data, Tables):
            tables = data
        else:
            from graphrisk.engines import get_engine

            tables = get_engine(engine).load(data, quarantine=quarantine)
    lookback = lookback_days or policy.lookback_days
    led = None
    if ledger is not None:
        from graphrisk.ledger import Ledger

        led = Ledger(ledger)
    read = tables.counts()
    spill = None
    if shard_accounts is not None and tables.accounts.height > shard_accounts:
        held = [tables]  # let go of by _scan_in_shards once the shards are on disk
        del tables
        sh = _scan_in_shards(
            held, as_of, lookback, policy, shard_accounts, stages, progress, led, lang, spill_dir
        )
        tables, spill = sh.book.tables, sh.spill
        ctx, flags, groups, feats = sh.book, sh.flags, sh.groups, sh.features
        decisions, trace, prior, run_id = sh.decisions, sh.trace, sh.prior, sh.run_id
        in_window, shard_stats = sh.in_window, sh.stats
    else:
        with stages.timed("context", progress):
            ctx = ScanContext.build(tables, as_of=as_of, lookback_days=lookback)
            if as_of is not None:
                check_window(ctx)
            _ = ctx.loans, ctx.transfers, ctx.devices, ctx.applications
            # the book's events outside the window are not read again: let them go (at 1M
            # accounts about 2 GB of a 7.4 GB peak)
            ctx.keep_window_only()
            tables = ctx.tables
        with stages.timed("graph", progress):
            _ = ctx.graph
        flags, groups = run_detectors(ctx, policy, stages, progress)
        with stages.timed("features", progress):
            feats = account_features(ctx, flags, groups, policy)
            # what the detectors shared (link tables, income series, ...) has served its
            # last reader: the decisions and the report read flags, loans and the graph
            ctx.drop_shared()
        in_window, shard_stats = _in_window(ctx), None
        with stages.timed("decide", progress):
            prior = None if led is None else led.prior(ctx.as_of)
            run_id = run_id_for(ctx, policy, prior, lang)
            decisions, trace = decide_with_trace(
                ctx.accounts,
                flags,
                policy,
                ctx.as_of,
                run_id,
                prior,
                lang,
                ctx.lookback_days,
                loans=ctx.loans,
            )
    summary = _summary(
        ctx, tables, read, flags, decisions, groups, policy, run_id, engine, in_window
    )
    if shard_stats is not None:
        summary["shards"] = shard_stats
    result = ScanResult(
        flags,
        decisions,
        groups,
        summary,
        ctx,
        policy,
        run_id,
        stages,
        tables.quarantine,
        trace,
        feats,
    )
    if led is not None:
        result._ledger = (led, prior)  # type: ignore[attr-defined]
    result._spill = spill
    return result


def account_features(
    ctx: ScanContext, flags: pl.DataFrame, groups: pl.DataFrame, policy: Policy
) -> pl.DataFrame:
    """The feature table of ``ctx``'s accounts (see :mod:`graphrisk.features`)."""
    from graphrisk.features import features

    return features(ctx, flags, groups, policy)


def _in_window(ctx: ScanContext) -> dict[str, int]:
    return {
        n: df.height
        for n in ("accounts", "loans", "transfers", "devices", "applications")
        if (df := ctx.window(n)) is not None
    }


@dataclass
class _Sharded:
    """What :func:`_scan_in_shards` found, for :func:`scan` to assemble."""

    book: ScanContext  # the whole book's context (its tables; graph and window cuts released)
    flags: pl.DataFrame
    groups: pl.DataFrame
    features: pl.DataFrame
    decisions: pl.DataFrame
    trace: pl.DataFrame
    prior: pl.DataFrame | None
    run_id: str
    in_window: dict[str, int]
    stats: dict[str, Any]
    spill: Any  # graphrisk.shards.Spill: the shards on disk


def _scan_in_shards(
    held: list[Tables],
    as_of: datetime | str | None,
    lookback: int,
    policy: Policy,
    shard_accounts: int,
    stages: Stages,
    progress: Progress | None,
    led: Any,
    lang: str,
    spill_dir: str | Path | None = None,
) -> _Sharded:
    """Every detector and the decisions over each shard of whole linked groups in turn (see
    graphrisk.shards).

    A decision reads its own account's flags, loans and ledger state only, so each shard's
    members are decided with the shard (the run id is the book's, from the plan's
    fingerprint): no window cut of the whole book is made after the plan.

    ``held`` holds the book's tables, and is emptied: once the shards are written to disk
    (:class:`graphrisk.shards.Spill`), the book's context keeps its accounts, lenders and
    load report only, and each shard is read back in its turn.
    """
    from graphrisk.shards import Spill, plan_shards

    tables = held.pop()
    with stages.timed("plan", progress):
        plan = plan_shards(tables, as_of, lookback, shard_accounts, policy)
        book = plan.book
        if as_of is not None:
            check_window(book)
        fingerprint = fingerprint_parts(book)
        in_window = _in_window(book)
        book.release()  # the whole book's graph and window cuts: not needed past the plan
        book.book = plan.facts
    with stages.timed("spill", progress):
        parts = Spill(tables, plan, spill_dir)
        book.tables = Tables(
            accounts=tables.accounts,
            loans=tables.loans.clear(),
            transfers=tables.transfers.clear(),
            devices=tables.devices.clear(),
            applications=None if tables.applications is None else tables.applications.clear(),
            source=tables.source,
            quarantine=tables.quarantine,
            lenders=tables.lenders,
            warnings=tables.warnings,
        )
        del tables
    with stages.timed("decide", progress):
        prior = None if led is None else led.prior(book.as_of)
        run_id = run_id_for(book, policy, prior, lang, fingerprint)
    out: dict[str, list[pl.DataFrame]] = {
        k: [] for k in ("flags", "groups", "features", "decisions", "trace")
    }
    for i, (part, members) in enumerate(parts):
        if progress:
            progress(f"shard {i + 1}/{plan.n_shards}")
        with stages.timed("context"):
            ctx = ScanContext(
                part, plan.facts.as_of, lookback, plan.facts.for_shard(part.accounts, part.devices)
            )
            _ = ctx.loans, ctx.transfers, ctx.devices, ctx.applications
            ctx.keep_window_only()  # as in a whole scan
            del part
        with stages.timed("graph"):
            _ = ctx.graph
        f, g = run_detectors(ctx, policy, stages)
        # a ghost's findings (an account of another shard) are its own shard's to make
        keep = members.implode()
        f = f.filter(pl.col("account_id").is_in(keep))
        g = g.filter(pl.col("account_id").is_in(keep))
        with stages.timed("features"):
            out["features"].append(
                account_features(ctx, f, g, policy).filter(pl.col("account_id").is_in(keep))
            )
            ctx.drop_shared()
        with stages.timed("decide"):
            mine = None if prior is None else prior.filter(pl.col("account_id").is_in(keep))
            d, t = decide_with_trace(
                ctx.accounts.filter(pl.col("account_id").is_in(keep)),
                f,
                policy,
                ctx.as_of,
                run_id,
                mine,
                lang,
                ctx.lookback_days,
                loans=ctx.loans,
            )
        out["flags"].append(f)
        out["groups"].append(g)
        out["decisions"].append(d)
        out["trace"].append(t)
        del ctx
    with stages.timed("combine", progress):
        flags, groups = combine(out.pop("flags"), out.pop("groups"))
        # one row per account of the book each: put in order without a second copy
        ordered = {
            k: concat_sorted(out[k], "account_id") for k in ("features", "decisions", "trace")
        }
    return _Sharded(
        book,
        flags,
        groups,
        ordered["features"],
        ordered["decisions"],
        ordered["trace"],
        prior,
        run_id,
        in_window,
        plan.stats,
        parts,
    )


def commit_ledger(result: ScanResult) -> Path | None:
    """Append a scan's decisions to its ledger without writing a run directory.

    :meth:`ScanResult.write` appends them already, together with the run; this is for a
    scan whose run is not written. Nothing is appended twice (same run id). Returns the
    entry's path, or ``None`` (no ledger, or the run is in it already).
    """
    led = getattr(result, "_ledger", None)
    if led is None:
        return None
    from graphrisk.ledger import entry

    ledger, _prior = led
    return ledger.append(entry(result.decisions, result.trace), result.run_id)


def _summary(
    ctx: ScanContext,
    tables: Tables,
    read: dict[str, int],
    flags: pl.DataFrame,
    decisions: pl.DataFrame,
    groups: pl.DataFrame,
    policy: Policy,
    run_id: str,
    engine: str,
    in_window: dict[str, int],
) -> dict[str, Any]:
    def counts(df: pl.DataFrame, col: str) -> dict[str, int]:
        return {str(k): int(v) for k, v in df.group_by(col).len().sort(col).iter_rows()}

    per_code = (
        flags.group_by("code")
        .agg(pl.len().alias("flags"), pl.col("account_id").n_unique().alias("accounts"))
        .sort("code")
    )
    return {
        "run_id": run_id,
        "as_of": ctx.as_of.isoformat(),
        "lookback_days": ctx.lookback_days,
        "window_start": ctx.start.isoformat(),
        "source": tables.source,
        "engine": engine,
        "rows": {
            # what the files held: the rows kept plus the rows set aside by --quarantine
            "read": {
                n: k + (tables.quarantine[n].height if n in tables.quarantine else 0)
                for n, k in read.items()
            },
            "in_window": in_window,
        },
        "quarantine": {k: v.height for k, v in sorted(tables.quarantine.items())},
        "warnings": [w.to_dict() for w in tables.warnings],
        "flags": {
            r["code"]: {"flags": r["flags"], "accounts": r["accounts"]} for r in per_code.to_dicts()
        },
        "flagged_accounts": int(flags["account_id"].n_unique()),
        "actions": counts(decisions, "action"),
        "groups": {
            str(k): int(v)
            for k, v in groups.group_by("kind")
            .agg(pl.col("group_id").n_unique())
            .sort("kind")
            .iter_rows()
        },
        "versions": {
            "graphrisk": __version__,
            "python": sys.version.split()[0],
            "polars": pl.__version__,
            "platform": platform.platform(),
        },
        "policy": effective_policy(policy),
    }
