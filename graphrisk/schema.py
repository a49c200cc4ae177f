"""The input tables of SPEC.md: columns, types and rules, in one place.

Examples
--------
>>> from graphrisk.schema import TABLES
>>> [c.name for c in TABLES["loans"].columns if c.required]
['loan_id', 'account_id', 'lender_id', 'amount', 'issued_at']
>>> TABLES["applications"].optional, TABLES["lenders"].optional
(True, True)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import polars as pl


@dataclass(frozen=True)
class Column:
    """One column: name, logical type, whether required, and its row rule if any."""

    name: str
    kind: str  # string | timestamp | timestamp_or_date | number | integer
    required: bool
    doc: str = ""


@dataclass(frozen=True)
class Table:
    """One input table: its columns, primary key, references and row checks."""

    name: str
    columns: tuple[Column, ...]
    key: str | None = None
    optional: bool = False
    # (column, referenced table, referenced column)
    references: tuple[tuple[str, str, str], ...] = ()
    # (rule name, column, polars expression that is True for a BAD row, message)
    checks: tuple[tuple[str, str, pl.Expr, str], ...] = field(default_factory=tuple)

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


DTYPES: dict[str, pl.DataType] = {
    "string": pl.String(),
    "timestamp": pl.Datetime("us"),
    "timestamp_or_date": pl.Datetime("us"),
    "number": pl.Float64(),
    "integer": pl.Int64(),
}

C = Column


def _not_finite(column: str) -> tuple[str, str, pl.Expr, str]:
    """NaN and infinity pass ``< 0`` and ``<= 0`` (NaN sorts above every number in polars)."""
    return ("not_finite", column, ~pl.col(column).is_finite(), f"{column} is NaN or infinite")


def _non_positive(column: str) -> tuple[str, str, pl.Expr, str]:
    """``<= 0`` for finite values (-inf is reported once, by :func:`_not_finite`)."""
    return (
        "non_positive_amount",
        column,
        (pl.col(column) <= 0) & pl.col(column).is_finite(),
        f"{column} <= 0",
    )


#: Timestamps on or after this are placeholders (9999-12-31, 2999-01-01), not events: the
#: default as_of is the latest timestamp, so one such value would move the whole scan into
#: the future. Checked for every timestamp column the default as_of reads (not ``due_at``).
LATEST_TIME = datetime(2200, 1, 1)


TABLES: dict[str, Table] = {
    "accounts": Table(
        "accounts",
        (
            C("account_id", "string", True, "unique, not null"),
            C("opened_at", "timestamp_or_date", True),
            C("credit_limit", "number", True, ">= 0, the limit today"),
            C("customer_id", "string", False, "the person behind the account"),
            C("city", "string", False, "home city"),
            C(
                "monthly_income",
                "number",
                False,
                ">= 0, declared or verified monthly income; null = unknown",
            ),
        ),
        key="account_id",
        checks=(
            (
                "negative_limit",
                "credit_limit",
                (pl.col("credit_limit") < 0) & pl.col("credit_limit").is_finite(),
                "credit_limit < 0",
            ),
            _not_finite("credit_limit"),
            (
                "negative_income",
                "monthly_income",
                (pl.col("monthly_income") < 0) & pl.col("monthly_income").is_finite(),
                "monthly_income < 0",
            ),
            _not_finite("monthly_income"),
        ),
    ),
    "loans": Table(
        "loans",
        (
            C("loan_id", "string", True, "unique"),
            C("account_id", "string", True, "must exist in accounts"),
            C("lender_id", "string", True, "the platform or institution"),
            C("amount", "number", True, "> 0"),
            C("issued_at", "timestamp", True),
            C("due_at", "timestamp", False, ">= issued_at"),
            C("repaid_at", "timestamp", False, "null = outstanding; >= issued_at"),
            C("overdue_days", "integer", False, ">= 0, default 0"),
        ),
        key="loan_id",
        references=(("account_id", "accounts", "account_id"),),
        checks=(
            _non_positive("amount"),
            _not_finite("amount"),
            (
                "due_before_issue",
                "due_at",
                pl.col("due_at") < pl.col("issued_at"),
                "due_at < issued_at",
            ),
            (
                "repaid_before_issue",
                "repaid_at",
                pl.col("repaid_at") < pl.col("issued_at"),
                "repaid_at < issued_at",
            ),
            ("negative_overdue", "overdue_days", pl.col("overdue_days") < 0, "overdue_days < 0"),
        ),
    ),
    "transfers": Table(
        "transfers",
        (
            C("transfer_id", "string", True, "unique"),
            C("src_account", "string", True, "an id not in accounts is an external counterparty"),
            C("dst_account", "string", True, "differs from src_account"),
            C("amount", "number", True, "> 0"),
            C("ts", "timestamp", True),
        ),
        key="transfer_id",
        checks=(
            _non_positive("amount"),
            _not_finite("amount"),
            (
                "self_transfer",
                "dst_account",
                pl.col("src_account") == pl.col("dst_account"),
                "src_account == dst_account",
            ),
        ),
    ),
    "devices": Table(
        "devices",
        (
            C("account_id", "string", True, "must exist in accounts"),
            C("device_id", "string", True),
            C("ts", "timestamp", True),
            C("ip", "string", False),
            C("city", "string", False),
        ),
        references=(("account_id", "accounts", "account_id"),),
    ),
    "applications": Table(
        "applications",
        (
            C("account_id", "string", True, "must exist in accounts"),
            C("lender_id", "string", True),
            C("applied_at", "timestamp", True),
        ),
        optional=True,
        references=(("account_id", "accounts", "account_id"),),
    ),
    "lenders": Table(
        "lenders",
        (
            C("lender_id", "string", True, "unique"),
            C(
                "kind",
                "string",
                True,
                "bank, consumer_finance, microloan, online_platform, p2p, other (other strings"
                " kept as given)",
            ),
            C("name", "string", False, "never shown to customers"),
        ),
        key="lender_id",
        optional=True,
        checks=(("null_kind", "kind", pl.col("kind").is_null(), "kind is null"),),
    ),
}

#: Order in which tables are validated (references point backwards).
TABLE_ORDER = ("accounts", "loans", "transfers", "devices", "applications", "lenders")

#: The kinds of lender SPEC names (a ``lenders.kind`` outside them is kept as given).
LENDER_KINDS = ("bank", "consumer_finance", "microloan", "online_platform", "p2p", "other")

#: Event-time column of each table, used for as_of and lookback.
EVENT_TIME = {
    "loans": "issued_at",
    "transfers": "ts",
    "devices": "ts",
    "applications": "applied_at",
}


def empty_frame(table: str) -> pl.DataFrame:
    """An empty frame with the columns and types of ``table``."""
    return pl.DataFrame(schema={c.name: DTYPES[c.kind] for c in TABLES[table].columns})
