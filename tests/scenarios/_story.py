"""A borrower's story as a real data directory, scanned month after month with a ledger.

Every step writes the whole history known so far (events up to that month, limits as the
lender holds them) with :func:`graphrisk.testing.write`, scans it like ``graphrisk scan DATA
--out RUN --ledger L`` does (library: scan, write the run, append the ledger), and returns
the decision of the account under study with its explanations in both languages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from graphrisk.explain import explain_account
from graphrisk.scan import commit_ledger, scan
from graphrisk.testing import tables, write


def day(s: str, hours: float = 0) -> datetime:
    """``"2026-01-05"`` (plus hours) as a datetime."""
    return datetime.fromisoformat(s) + timedelta(hours=hours)


@dataclass
class Step:
    """One month's outcome for the account under study."""

    as_of: datetime
    run: Path
    decision: dict[str, Any]
    trace: dict[str, Any]
    zh: str
    en: str
    analyst: dict[str, Any]

    @property
    def action(self) -> str:
        return self.decision["action"]

    @property
    def limit(self) -> float:
        return self.decision["limit_after"]

    @property
    def codes(self) -> list[str]:
        return list(self.decision["reason_codes"])

    def __repr__(self) -> str:  # shown by pytest on failure
        d = self.decision
        return (
            f"Step({self.as_of:%Y-%m-%d} {d['action']} {d['limit_before']:.0f}->"
            f"{d['limit_after']:.0f} inc={d['increase_allowed']} {self.codes} "
            f"{self.trace.get('situation')!r} {self.trace.get('rule')!r}\n  zh: {self.zh}\n"
            f"  en: {self.en})"
        )


class Story:
    """Loans, logins, transfers, applications and accounts that grow month by month."""

    def __init__(self, root: Path, account: str, limit: float, others: dict[str, float] = {}):  # noqa: B006
        self.root = root
        self.account = account
        self.limits = {account: limit, **others}
        self.incomes: dict[str, float] = {}  # accounts.monthly_income (declared)
        self.loans: list[dict] = []
        self.devices: list[dict] = []
        self.transfers: list[dict] = []
        self.applications: list[dict] = []
        self.ledger = root / "ledger"
        self.steps: list[Step] = []

    # -- events ---------------------------------------------------------------------------
    def loan(
        self,
        lender: str,
        amount: float,
        issued: datetime,
        due: datetime | None = None,
        repaid: datetime | None = None,
        overdue_days: int = 0,
        account: str | None = None,
    ) -> None:
        self.loans.append(
            {
                "account_id": account or self.account,
                "lender_id": lender,
                "amount": amount,
                "issued_at": issued,
                "due_at": due,
                "repaid_at": repaid,
                "overdue_days": overdue_days,
                "loan_id": f"LN{len(self.loans):04d}",
            }
        )

    def login(self, device: str, ts: datetime, ip: str, city: str, account: str | None = None):
        self.devices.append(
            {
                "account_id": account or self.account,
                "device_id": device,
                "ts": ts,
                "ip": ip,
                "city": city,
            }
        )

    def transfer(self, src: str, dst: str, amount: float, ts: datetime) -> None:
        self.transfers.append({"src_account": src, "dst_account": dst, "amount": amount, "ts": ts})

    def apply(self, lender: str, ts: datetime, account: str | None = None) -> None:
        self.applications.append(
            {"account_id": account or self.account, "lender_id": lender, "applied_at": ts}
        )

    # -- scanning -------------------------------------------------------------------------
    def scan(self, as_of: str, lender_applies: bool = True) -> Step:
        """Scan as of ``as_of`` (a date: the end of that day) with the story's ledger.

        ``lender_applies``: the data's ``credit_limit`` follows our last decision (the
        lender acted on it), as it would in production.
        """
        when = day(as_of, 23.99)
        n = len(self.steps)
        accounts = [
            {
                "account_id": a,
                "opened_at": datetime(2019, 1, 1),
                "credit_limit": lim,
                "city": "杭州",
                "monthly_income": self.incomes.get(a),
            }
            for a, lim in sorted(self.limits.items())
        ]
        data = write(
            tables(
                loans=self.loans,
                transfers=self.transfers,
                devices=self.devices,
                applications=self.applications or None,
                accounts=accounts,
            ),
            self.root / f"data{n:02d}",
        )
        run = self.root / f"run{n:02d}"
        result = scan(data, as_of=when, ledger=self.ledger)
        result.write(run)
        commit_ledger(result)
        dec = pl.read_parquet(run / "decisions.parquet")
        assert dec.height == len(self.limits)  # exactly one decision per account
        if lender_applies:
            self.limits = dict(zip(dec["account_id"], dec["limit_after"], strict=True))
        row = dec.filter(pl.col("account_id") == self.account).row(0, named=True)
        tr = pl.read_parquet(run / "decision_trace.parquet").filter(
            pl.col("account_id") == self.account
        )
        en = explain_account(run, self.account, lang="en")["text"]
        step = Step(
            as_of=when,
            run=run,
            decision=row,
            trace=tr.row(0, named=True),
            zh=row["explanation"],
            en=en,
            analyst=explain_account(run, self.account, audience="analyst", lang="en"),
        )
        assert explain_account(run, self.account)["text"] == step.zh  # explain == decisions
        self.check_private(step)
        self.steps.append(step)
        return step

    def check_private(self, step: Step) -> None:
        """No customer text names another account, a device or an IP of the data."""
        secret = {a for a in self.limits if a != self.account}
        secret |= {d["device_id"] for d in self.devices} | {d["ip"] for d in self.devices}
        secret |= {t["dst_account"] for t in self.transfers} | {
            t["src_account"] for t in self.transfers
        }
        secret -= {self.account}
        for text in (step.zh, step.en):
            for s in secret:
                assert s not in text, (s, text)
            assert not re.search(r"\d+\.\d+\.\d+\.\d+", text), text


def other(step: Step, account: str) -> dict[str, Any]:
    """Another account's decision in the same run, with its trace's situation."""
    dec = pl.read_parquet(step.run / "decisions.parquet").filter(pl.col("account_id") == account)
    tr = pl.read_parquet(step.run / "decision_trace.parquet").filter(
        pl.col("account_id") == account
    )
    row = dec.row(0, named=True)
    row["situation"] = tr["situation"][0]
    row["en"] = explain_account(step.run, account, lang="en")["text"]
    return row
