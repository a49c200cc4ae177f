"""The command line: thin click commands that call the library (see SPEC.md for the verbs).

Exit codes: 0 success, 1 internal error, 2 usage error, 3 invalid input data.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import traceback
from pathlib import Path
from typing import TYPE_CHECKING

import click

from graphrisk.errors import DataError, GraphriskError, UsageError

if TYPE_CHECKING:
    pass

#: The longest ``--lookback`` accepted (a century).
MAX_LOOKBACK_DAYS = 36_500


class _StageBar:
    """A progress bar over a command's stages on stderr (``rich``): ``done/total``, elapsed time.

    Called with each stage's name as it starts (the ``progress`` callback of the scan or the
    generator); the stages are known in advance (for a scan: load, context, graph, one per
    enabled detector, decide, write), so the bar counts them. Used as a context manager: the
    bar completes and stops on exit.
    """

    def __init__(self, stages: list[str], title: str = "scan") -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self.stages = stages
        self.bar = Progress(
            TextColumn(title),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.description}"),
            console=Console(stderr=True),
            refresh_per_second=4,  # the elapsed time ticks during a long stage
        )
        self.task = self.bar.add_task("", total=len(stages))

    def __call__(self, stage: str) -> None:
        done = self.stages.index(stage) if stage in self.stages else None
        self.bar.update(self.task, description=stage, completed=done, refresh=True)

    def __enter__(self) -> _StageBar:
        self.bar.start()
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if exc_type is None:
            self.bar.update(self.task, completed=len(self.stages), description="done")
        self.bar.refresh()
        self.bar.stop()


def _progress(enabled: bool, policy: Path | None = None) -> contextlib.AbstractContextManager:
    """The progress display of ``scan``: a :class:`_StageBar` on a terminal, else nothing.

    Yields the callback to pass as ``progress`` (``None`` in a pipe: it stays quiet).
    """
    if not enabled:
        return contextlib.nullcontext(None)
    from graphrisk.policy import Policy

    detectors = [f"detector:{d.name}" for d in Policy.load(policy).detectors()]
    return _StageBar(["load", "context", "graph", *detectors, "features", "decide", "write"])


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="graphrisk")
def cli() -> None:
    """graphrisk: multi-lending (多头借贷) and the links behind it -> credit-limit decisions."""


@cli.command()
@click.argument("data", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--out", "out", required=True, type=click.Path(path_type=Path), help="run directory to write"
)
@click.option(
    "--as-of", "as_of", default=None, help="reference date/time (default: latest timestamp)"
)
@click.option(
    "--lookback",
    "lookback",
    # 0 would silently fall back to the policy's default; more than a century is a typo
    type=click.IntRange(min=1, max=MAX_LOOKBACK_DAYS),
    default=None,
    help="days of history (default 180)",
)
@click.option("--policy", "policy", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("--ledger", "ledger", type=click.Path(file_okay=False, path_type=Path), default=None)
@click.option("--engine", type=click.Choice(["local", "spark"]), default="local", show_default=True)
@click.option(
    "--spark-master",
    "spark_master",
    default=None,
    envvar="SPARK_MASTER",
    help="with --engine spark: the cluster to run on (default local mode)",
)
@click.option("--quarantine", is_flag=True, help="set bad rows aside instead of failing")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@click.option(
    "--shard-accounts",
    "shard_accounts",
    type=click.IntRange(min=1),
    default=None,
    help="scan in shards of whole linked groups of at most N accounts (same outputs)",
)
@click.option(
    "--spill-dir",
    "spill_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="with --shard-accounts: where the shards are written (default TMPDIR)",
)
@click.option("--json", "as_json", is_flag=True, help="print the summary as JSON")
def scan(
    data: Path,
    out: Path,
    as_of: str | None,
    lookback: int | None,
    policy: Path | None,
    ledger: Path | None,
    engine: str,
    quarantine: bool,
    lang: str,
    shard_accounts: int | None,
    as_json: bool,
    spark_master: str | None,
    spill_dir: Path | None,
) -> None:
    """Scan DATA (a directory of Parquet tables) and write the run directory OUT."""
    from graphrisk.scan import ScanResult
    from graphrisk.scan import scan as run_scan

    if spark_master:
        os.environ["SPARK_MASTER"] = spark_master

    _check_out(out, data, ledger)
    _check_as_of(as_of, lookback, policy)
    with _progress(sys.stderr.isatty() and not as_json, policy) as progress:
        result = run_scan(
            data,
            as_of=as_of,
            policy=policy,
            lookback_days=lookback,
            ledger=ledger,
            quarantine=quarantine,
            lang=lang,
            engine=engine,
            progress=progress,
            shard_accounts=shard_accounts,
            spill_dir=spill_dir,
        )
        try:
            result.write(out, progress)
        except (PermissionError, FileExistsError, NotADirectoryError, IsADirectoryError) as e:
            raise UsageError(f"--out: cannot write {out}: {e.strerror or e}") from e
        except OSError as e:  # not a usage error, but no internal one either
            raise GraphriskError(f"cannot write {out}: {e.strerror or e}") from e
        finally:
            if isinstance(result, ScanResult):
                result.close()  # a sharded scan's shards on disk: the run is written
    s = result.summary
    if as_json:
        click.echo(
            json.dumps(
                {
                    k: s[k]
                    for k in (
                        "run_id",
                        "as_of",
                        "rows",
                        "quarantine",
                        "flags",
                        "actions",
                        "groups",
                        "timings",
                    )
                },
                default=str,
            )
        )
        return
    click.echo(f"run {s['run_id']}  as_of {s['as_of']}  -> {out}")
    click.echo("rows: " + ", ".join(f"{k} {v:,}" for k, v in s["rows"]["read"].items()))
    if s["quarantine"]:
        click.echo("quarantined: " + ", ".join(f"{k} {v:,}" for k, v in s["quarantine"].items()))
    click.echo("actions: " + ", ".join(f"{k} {v:,}" for k, v in s["actions"].items()))
    click.echo(
        "flags: " + (", ".join(f"{k} {v['accounts']:,}" for k, v in s["flags"].items()) or "none")
    )
    total = sum(r["seconds"] for r in s["timings"])
    click.echo(f"seconds: {total:.1f}")


def _check_out(out: Path, data: Path, ledger: Path | None) -> None:
    """Refuse an ``--out`` whose replacement would destroy input or other files (exit 2).

    Checked before the scan so a mistake costs nothing: the run directory replaces ``out``
    whole, so ``out`` must not be (or hold) the data or the ledger, nor sit where a table is
    read from, and an existing ``out`` must be a run directory (or empty).
    """
    from graphrisk.io import check_replaceable
    from graphrisk.schema import TABLES

    o, d = out.resolve(), data.resolve()
    if o == d or o in d.parents:
        raise UsageError(
            f"--out {out} is the data directory {data} or holds it: writing the run there"
            " would replace the input"
        )
    if o.parent == d and o.name.removesuffix(".parquet") in TABLES:
        raise UsageError(
            f"--out {out} is where table {o.name.removesuffix('.parquet')!r} of {data}"
            " is read from; choose another name"
        )
    if ledger is not None:
        led = ledger.resolve()
        if led == o or o in led.parents:
            raise UsageError(
                f"--ledger {ledger} is inside --out {out}: replacing the run directory would"
                " delete the ledger"
            )
    try:
        check_replaceable(out)
    except UsageError as e:
        raise UsageError(f"--out: {e}") from None
    parent = o.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise UsageError(f"--out {out}: {parent} is a file, not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"--out {out}: no permission to write in {parent}")


def _check_as_of(as_of: str | None, lookback: int | None, policy: Path | None) -> None:
    """Parse ``--as-of`` before reading any data; its window must be a real time span."""
    from datetime import timedelta

    from graphrisk.context import parse_as_of
    from graphrisk.policy import Policy
    from graphrisk.schema import LATEST_TIME

    when = parse_as_of(as_of)
    if when is None:
        return
    if when >= LATEST_TIME:
        raise UsageError(f"--as-of {as_of}: must be before {LATEST_TIME:%Y-%m-%d}")
    days = lookback or Policy.load(policy).lookback_days
    try:
        when - timedelta(days=days)
    except OverflowError:
        raise UsageError(
            f"--as-of {as_of} with a lookback of {days} days starts before the year 1"
        ) from None


@cli.command()
@click.argument("data", type=click.Path(file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True)
def validate(data: Path, as_json: bool) -> None:
    """Check DATA against the input contract; exit 3 with every problem if it breaks it."""
    from graphrisk.io import load

    try:
        tables = load(data)
    except DataError as e:
        if as_json:
            click.echo(
                json.dumps(
                    {"valid": False, "problems": [p.to_dict() for p in e.problems]},
                    ensure_ascii=False,
                )
            )
            sys.exit(3)
        raise
    if as_json:
        click.echo(
            json.dumps(
                {
                    "valid": True,
                    "rows": tables.counts(),
                    "warnings": [w.to_dict() for w in tables.warnings],
                },
                ensure_ascii=False,
                default=str,
            )
        )
    else:
        click.echo("valid: " + ", ".join(f"{k} {v:,} rows" for k, v in tables.counts().items()))
        if tables.warnings:
            click.echo(f"warnings: {len(tables.warnings)}")
            for w in tables.warnings:
                click.echo("  - " + w.render())


@cli.command()
@click.argument("account_id")
@click.option("--run", "run", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--audience", type=click.Choice(["customer", "analyst"]), default="customer", show_default=True
)
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@click.option("--json", "as_json", is_flag=True)
def explain(account_id: str, run: Path, audience: str, lang: str, as_json: bool) -> None:
    """Explain the decision on ACCOUNT_ID in run RUN."""
    from graphrisk.explain import explain_account, render_explanation

    doc = explain_account(run, account_id, audience=audience, lang=lang)
    click.echo(
        json.dumps(doc, ensure_ascii=False, indent=2, default=str)
        if as_json
        else render_explanation(doc)
    )


@cli.command()
@click.argument("out", type=click.Path(path_type=Path))
@click.option(
    "--accounts",
    type=click.IntRange(min=2000),
    default=5000,
    show_default=True,
    help="accounts in the world (at least 2000, so every pattern fits)",
)
@click.option("--seed", type=int, default=0, show_default=True)
def generate(out: Path, accounts: int, seed: int) -> None:
    """Write a synthetic world with planted patterns and labels.parquet to OUT."""
    from graphrisk.generate import STAGES, generate_world

    bar = _StageBar(list(STAGES), "generate") if sys.stderr.isatty() else None
    with bar or contextlib.nullcontext():
        info = generate_world(out, accounts=accounts, seed=seed, progress=bar)
    click.echo(json.dumps(info, default=str, ensure_ascii=False))


@cli.command()
@click.argument("run", type=click.Path(file_okay=False, path_type=Path))
@click.option("--labels", required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True)
def evaluate(run: Path, labels: Path, as_json: bool) -> None:
    """Recall per planted pattern and suppression precision of RUN against LABELS."""
    from graphrisk.evaluate import evaluate as run_eval
    from graphrisk.evaluate import render

    result = run_eval(run, labels)
    click.echo(json.dumps(result, indent=2) if as_json else render(result))


@cli.group()
def policy() -> None:
    """Policy files."""


@policy.command("show")
@click.option(
    "--policy",
    "path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="show this policy merged over the default",
)
def policy_show(path: Path | None) -> None:
    """Print the default policy (TOML, with comments)."""
    from graphrisk.policy import Policy, render_toml

    click.echo(render_toml(Policy.load(path)))


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI and map errors to SPEC's exit codes."""
    try:
        cli.main(args=argv, prog_name="graphrisk", standalone_mode=False)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(1)
    except click.ClickException as e:
        e.show()
        sys.exit(2)
    except DataError as e:
        click.echo(e.render(), err=True)
        sys.exit(3)
    except UsageError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(2)
    except GraphriskError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(e.exit_code)
    except BrokenPipeError:
        sys.exit(0)
    except Exception as e:  # pragma: no cover - the last resort of SPEC's exit code 1
        if os.environ.get("GRAPHRISK_DEBUG"):
            traceback.print_exc()
        click.echo(
            f"internal error: {type(e).__name__}: {e} (set GRAPHRISK_DEBUG=1 for details)", err=True
        )
        sys.exit(1)
    sys.exit(0)


if __name__ == "__main__":
    main()
