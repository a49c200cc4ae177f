"""LOAN_RECYCLING (以贷养贷): new loans repay old ones, directly or through a linked account.

**Direct.** A *refinance* is a pair of the account's own loans: an old loan repaid inside the
lookback and a newer loan from a *different* lender issued at most ``max_gap_days`` before
that repayment (or at the very moment), for an amount within ``amount_tolerance`` of the old
one, when the old loan had already run ``min_age_days`` (a refinance replaces a loan that
has run its course; loans taken days apart in one burst do not refinance each other). The
pairs come from an equi-join of the account's loans with itself, on candidate accounts only
(enough loans, two lenders), filtered by the time and amount bounds. One refinance is
ordinary; ``min_repeats`` distinct old loans refinanced this way (each by a distinct new
loan) raise the flag.

**Through a linked account.** Loan money of account X is followed for ``transfer_days``
after the payout: every internal transfer X makes is attached to each of X's loans issued
at most that long before it (an as-of join by account finds these transfers, a join bounded
by account and time attaches them), and the transfers to each receiver Y are summed per
loan. When they reach ``min_share`` of X's loan, and Y repays one of its own older loans
within ``repay_days`` of receiving the money, with the money covering at least
``min_share`` of that loan, the step is a *linked recycle* - if X and Y are linked: they
log in on a common device (one used by at most ``max_device_accounts`` accounts) or
transferred money between them before one of their steps (so a repeated pair is linked by
its own earlier recycle). A pair (X, Y) that recycles ``min_repeats_linked`` times flags
both accounts; a single recycle flags them at ``single_severity`` (watch) only when it is
tight: a shared device and the money matching Y's loan within ``amount_tolerance``. Pairs
that recycle are joined into connected chains, returned as groups of kind
``recycling_chain`` with roles ``borrower`` (X) and ``repayer`` (Y).

One flag per account: the evidence names the refinanced loans, lenders, amounts and gaps in
days (``direct``), and the linked steps with the transfers, the linked accounts and how
they are linked (``linked``); the window runs from the first step's new loan to the last
step's repayment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, ClassVar

import numpy as np
import polars as pl
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from graphrisk.context import ScanContext
from graphrisk.detectors import _links
from graphrisk.detectors._loans import accounts_with
from graphrisk.detectors.base import (
    Detector,
    Findings,
    empty_flags,
    empty_groups,
    evidence,
    group_id,
    param,
    severity_param,
    window_json,
)

_DAY_US = 86_400_000_000


def _days(a: pl.Expr, b: pl.Expr) -> pl.Expr:
    """Days from ``a`` to ``b`` as a float rounded to 0.01."""
    return ((b - a).dt.total_microseconds() / _DAY_US).round(2)


@dataclass
class LoanRecycling(Detector):
    """New loans repay old ones: repeatedly with the account's own loans, or via a linked account.

    Examples
    --------
    Three loans from three lenders, each new one taken a day before the previous one is
    repaid, for about the same amount; account ``b`` refinances once:

    >>> from graphrisk.testing import world
    >>> ctx = world(loans=[
    ...     ("a", "L1", 5000, "2026-01-01", None, "2026-02-01"),
    ...     ("a", "L2", 5100, "2026-01-31", None, "2026-03-01"),
    ...     ("a", "L3", 5000, "2026-02-28"),
    ...     ("b", "L1", 5000, "2026-01-01", None, "2026-02-01"),
    ...     ("b", "L2", 5000, "2026-01-31"),
    ... ])
    >>> flags = LoanRecycling().detect(ctx).flags
    >>> flags.select("account_id", "code", "severity", "score").rows()
    [('a', 'LOAN_RECYCLING', 3, 1.0)]
    >>> import json
    >>> [s["gap_days"] for s in json.loads(flags["evidence"][0])["direct"]["steps"]]
    [1.0, 1.0]
    """

    name: ClassVar[str] = "loan_recycling"
    codes: ClassVar[tuple[str, ...]] = ("LOAN_RECYCLING",)
    tables: ClassVar[tuple[str, ...]] = ("loans",)

    max_gap_days: float = param(3.0, "new loan at most this many days before the old repayment",
                                min=0)  # fmt: skip
    amount_tolerance: float = param(0.15, "new loan within this fraction of the old amount",
                                    min=0, max=1)  # fmt: skip
    min_age_days: float = param(7.0, "the old loan had run at least this long when refinanced",
                                min=0)  # fmt: skip
    min_repeats: int = param(2, "own refinances that raise the flag (one is ordinary)", min=1)
    transfer_days: float = param(2.0, "loan money followed this many days after payout", min=0)
    min_share: float = param(0.7, "share of the loan passed on (and of the loan it repays)",
                             min=0, max=1)  # fmt: skip
    repay_days: float = param(3.0, "receiver repays within this many days of the money", min=0)
    min_repeats_linked: int = param(2, "linked recycles of one pair that raise the flag", min=1)
    max_device_accounts: int = param(10, "a device links accounts if used by at most this many",
                                     min=2)  # fmt: skip
    severity: int = severity_param(3, "repeated recycling")
    single_severity: int = severity_param(1, "one tight linked recycle on a shared device")

    def run(self, ctx: ScanContext) -> Findings:
        loans = ctx.loans.select(
            "loan_id", "account_id", "lender_id", "amount", "issued_at", "repaid_at"
        )
        direct = self._direct(ctx, loans)
        linked, groups = self._linked(ctx, loans)
        if direct.height == 0 and linked.height == 0:
            return Findings(empty_flags(), groups)
        acc = direct.join(linked, on="account_id", how="full", coalesce=True)
        d_sev = pl.when(pl.col("d_steps").is_not_null()).then(pl.lit(self.severity))
        sev = pl.max_horizontal(d_sev, pl.col("l_severity"))
        score = pl.max_horizontal(
            pl.col("d_repeats") / self.min_repeats,
            pl.col("l_repeats") / self.min_repeats_linked,
        )
        direct_ev = pl.when(pl.col("d_steps").is_not_null()).then(
            pl.struct(
                pl.col("d_repeats").alias("repeats"),
                pl.col("d_lenders").alias("lenders"),
                pl.col("d_steps").alias("steps"),
            )
        )
        linked_ev = pl.when(pl.col("l_steps").is_not_null()).then(
            pl.struct(
                pl.col("l_repeats").alias("repeats"),
                pl.col("l_roles").alias("roles"),
                pl.col("l_accounts").alias("linked_accounts"),
                pl.col("l_steps").alias("steps"),
            )
        )
        start = pl.min_horizontal("d_start", "l_start")
        end = pl.max_horizontal("d_end", "l_end")
        flags = acc.select(
            "account_id",
            pl.lit("LOAN_RECYCLING").alias("code"),
            sev.alias("severity"),
            score.alias("score"),
            pl.col("group_id"),
            evidence(
                direct=direct_ev,
                linked=linked_ev,
                window=window_json(start, end),
                threshold=self.threshold(
                    "min_repeats",
                    "min_age_days",
                    "max_gap_days",
                    "amount_tolerance",
                    "min_repeats_linked",
                    "transfer_days",
                    "repay_days",
                    "min_share",
                ),
            ).alias("evidence"),
            start.alias("window_start"),
            end.alias("window_end"),
        )
        return Findings(flags, groups)

    # -- (a) direct --------------------------------------------------------------------------
    def _direct(self, ctx: ScanContext, loans: pl.DataFrame) -> pl.DataFrame:
        cand = accounts_with(loans, self.min_repeats + 1, 2)
        own = loans.filter(pl.col("account_id").is_in(cand.implode()))
        old = own.filter(pl.col("repaid_at") >= ctx.start)
        gap = timedelta(days=self.max_gap_days)
        age = timedelta(days=max(self.min_age_days, 1e-6))
        pairs = (
            old.join(own, on="account_id", suffix="_new")
            .filter(
                (pl.col("lender_id_new") != pl.col("lender_id"))
                & (pl.col("issued_at_new") >= pl.col("issued_at") + age)
                & (pl.col("issued_at_new") <= pl.col("repaid_at"))
                & (pl.col("issued_at_new") >= pl.col("repaid_at") - gap)
                & (
                    (pl.col("amount_new") - pl.col("amount")).abs()
                    <= self.amount_tolerance * pl.col("amount")
                )
            )
            # per old loan, the new loan issued closest to its repayment
            .sort("account_id", "loan_id", "issued_at_new", "loan_id_new")
            .group_by("account_id", "loan_id", maintain_order=True)
            .last()
        )
        per = (
            pairs.sort("account_id", "issued_at_new", "loan_id")
            .group_by("account_id", maintain_order=True)
            .agg(
                pl.min_horizontal(
                    pl.col("loan_id").n_unique(), pl.col("loan_id_new").n_unique()
                ).alias("d_repeats"),
                pl.concat_list("lender_id", "lender_id_new")
                .explode()
                .unique()
                .sort()
                .alias("d_lenders"),
                pl.struct(
                    pl.col("loan_id").alias("old_loan"),
                    pl.col("lender_id").alias("old_lender"),
                    pl.col("amount").alias("old_amount"),
                    pl.col("repaid_at").dt.to_string("%Y-%m-%dT%H:%M:%S").alias("old_repaid_at"),
                    pl.col("loan_id_new").alias("new_loan"),
                    pl.col("lender_id_new").alias("new_lender"),
                    pl.col("amount_new").alias("new_amount"),
                    pl.col("issued_at_new")
                    .dt.to_string("%Y-%m-%dT%H:%M:%S")
                    .alias("new_issued_at"),
                    _days(pl.col("issued_at_new"), pl.col("repaid_at")).alias("gap_days"),
                ).alias("d_steps"),
                pl.col("issued_at_new").min().alias("d_start"),
                pl.col("repaid_at").max().alias("d_end"),
            )
            .filter(pl.col("d_repeats") >= self.min_repeats)
        )
        return per

    # -- (b) through linked accounts ---------------------------------------------------------
    def _moved(self, ctx: ScanContext, loans: pl.DataFrame) -> pl.DataFrame | None:
        """Loan money an account passed on within ``transfer_days`` to an account that
        repays a loan: one row per (sender ``x``, loan, receiver ``y``); ``None`` if none."""
        tw = timedelta(days=self.transfer_days)
        x_loans = (
            loans.filter(pl.col("issued_at") >= ctx.start - tw)
            .select(
                pl.col("account_id").alias("x"),
                pl.col("loan_id"),
                pl.col("lender_id"),
                pl.col("amount").alias("x_amount"),
                pl.col("issued_at"),
            )
            .sort("issued_at")
        )
        repayers = loans.filter(pl.col("repaid_at") >= ctx.start)["account_id"].unique()
        tr = ctx.transfers.filter(
            pl.col("src_account").is_in(x_loans["x"].unique().implode())
            & pl.col("dst_account").is_in(repayers.implode())
            & (pl.col("src_account") != pl.col("dst_account"))
        ).select(
            pl.col("transfer_id"),
            pl.col("src_account").alias("x"),
            pl.col("dst_account").alias("y"),
            pl.col("amount"),
            pl.col("ts"),
        )
        if tr.height == 0 or x_loans.height == 0:
            return None
        # the transfers made at most transfer_days after one of the sender's loans (an as-of
        # join finds them cheaply), then attached to every such loan (a bounded join)
        after_loan = (
            tr.sort("ts")
            .join_asof(
                x_loans.select("x", "issued_at"),
                left_on="ts",
                right_on="issued_at",
                by="x",
                strategy="backward",
                check_sortedness=False,
                tolerance=tw,
            )
            .filter(pl.col("issued_at").is_not_null())
            .drop("issued_at")
        )
        moved = (
            after_loan.join(x_loans, on="x")
            .filter(
                (pl.col("ts") >= pl.col("issued_at")) & (pl.col("ts") <= pl.col("issued_at") + tw)
            )
            .sort("ts", "transfer_id")
            .group_by("x", "loan_id", "y", maintain_order=True)
            .agg(
                pl.col("lender_id").first(),
                pl.col("x_amount").first(),
                pl.col("issued_at").first(),
                pl.col("transfer_id").alias("transfers"),
                pl.col("amount").sum().round(2).alias("moved"),
                pl.col("ts").min().alias("first_ts"),
                pl.col("ts").max().alias("last_ts"),
            )
            .filter(pl.col("moved") >= self.min_share * pl.col("x_amount"))
        )
        return moved

    def link_plan(self, inp: Any) -> Any:
        """Loan money passed to repayers (:func:`graphrisk.linkplan.pass_on_edges`)."""
        from graphrisk import linkplan

        return linkplan.pass_on_edges(inp, self.transfer_days, self.min_share)

    def links(self, ctx: ScanContext) -> pl.DataFrame | None:
        """Sender -- receiver of loan money passed on to an account that repays a loan."""
        loans = ctx.loans.select(
            "loan_id", "account_id", "lender_id", "amount", "issued_at", "repaid_at"
        )
        moved = self._moved(ctx, loans)
        if moved is None:
            return None
        nodes = ctx.graph.nodes["id"]
        from graphrisk.context import positions

        pairs = moved.select("x", "y").unique()
        return pl.DataFrame({"u": positions(pairs["x"], nodes), "v": positions(pairs["y"], nodes)})

    def _linked(self, ctx: ScanContext, loans: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
        none = pl.DataFrame(
            schema={
                "account_id": pl.String,
                "l_repeats": pl.Int64,
                "l_severity": pl.Int32,
                "l_roles": pl.List(pl.String),
                "l_accounts": pl.List(pl.String),
                "l_steps": pl.List(pl.Struct({"x": pl.String})),
                "l_start": pl.Datetime("us"),
                "l_end": pl.Datetime("us"),
                "group_id": pl.String,
            }
        )
        rw = timedelta(days=self.repay_days)
        moved = self._moved(ctx, loans)
        if moved is None:
            return none, empty_groups()
        if moved.height == 0:
            return none, empty_groups()
        y_loans = loans.filter(
            pl.col("account_id").is_in(moved["y"].unique().implode())
            & pl.col("repaid_at").is_not_null()
        ).select(
            pl.col("account_id").alias("y"),
            pl.col("loan_id").alias("y_loan"),
            pl.col("lender_id").alias("y_lender"),
            pl.col("amount").alias("y_amount"),
            pl.col("issued_at").alias("y_issued_at"),
            pl.col("repaid_at").alias("y_repaid_at"),
        )
        steps = (
            moved.join(y_loans, on="y")
            .filter(
                (pl.col("y_issued_at") < pl.col("first_ts"))
                & (pl.col("y_repaid_at") >= pl.col("first_ts"))
                & (pl.col("y_repaid_at") <= pl.col("last_ts") + rw)
                & (pl.col("moved") >= self.min_share * pl.col("y_amount"))
            )
            # per passed-on loan, the receiver's loan repaid first
            .sort("x", "loan_id", "y", "y_repaid_at", "y_loan")
            .group_by("x", "loan_id", "y", maintain_order=True)
            .first()
        )
        if steps.height == 0:
            return none, empty_groups()
        steps = self._link(ctx, steps)
        if steps.height == 0:
            return none, empty_groups()

        tight = pl.col("device") & (
            (pl.col("moved") - pl.col("y_amount")).abs()
            <= self.amount_tolerance * pl.col("y_amount")
        )
        pairs = (
            steps.with_columns(tight.alias("tight"))
            .group_by("x", "y")
            .agg(
                pl.min_horizontal(pl.col("loan_id").n_unique(), pl.col("y_loan").n_unique()).alias(
                    "repeats"
                ),
                pl.col("tight").any().alias("tight"),
            )
            .with_columns(
                pl.when(pl.col("repeats") >= self.min_repeats_linked)
                .then(pl.lit(self.severity))
                .when(pl.col("tight"))
                .then(pl.lit(self.single_severity))
                .alias("sev")
            )
            .filter(pl.col("sev").is_not_null())
        )
        if pairs.height == 0:
            return none, empty_groups()
        steps = steps.join(pairs.select("x", "y", "repeats", "sev"), on=["x", "y"])

        # connected chains of recycling pairs -> groups
        ids = pl.concat([pairs["x"], pairs["y"]]).unique().sort()
        pos = pl.DataFrame({"id": ids}).with_row_index("i")
        yi = pairs.join(pos, left_on="y", right_on="id", maintain_order="left")["i"].to_numpy()
        xi = pairs.join(pos, left_on="x", right_on="id", maintain_order="left")["i"].to_numpy()
        n = ids.len()
        adj = coo_matrix((np.ones(xi.size), (xi, yi)), shape=(n, n))
        _, comp = connected_components(adj, directed=False)
        members = pl.DataFrame({"account_id": ids, "comp": comp})
        gids = (
            members.group_by("comp")
            .agg(pl.col("account_id").alias("m"))
            .with_columns(group_id("recycling_chain", pl.col("m")).alias("group_id"))
            .select("comp", "group_id")
        )
        members = members.join(gids, on="comp").drop("comp")
        borrowers = pairs["x"].unique()

        step = pl.struct(
            pl.col("x").alias("borrower"),
            pl.col("y").alias("repayer"),
            pl.col("loan_id").alias("loan"),
            pl.col("lender_id").alias("lender"),
            pl.col("x_amount").alias("loan_amount"),
            pl.col("issued_at").dt.to_string("%Y-%m-%dT%H:%M:%S").alias("issued_at"),
            pl.col("transfers"),
            pl.col("moved").alias("transferred"),
            _days(pl.col("issued_at"), pl.col("first_ts")).alias("transfer_gap_days"),
            pl.col("y_loan").alias("repaid_loan"),
            pl.col("y_lender").alias("repaid_lender"),
            pl.col("y_amount").alias("repaid_amount"),
            pl.col("y_repaid_at").dt.to_string("%Y-%m-%dT%H:%M:%S").alias("repaid_at"),
            _days(pl.col("last_ts"), pl.col("y_repaid_at")).alias("repay_gap_days"),
            pl.col("device").alias("shared_device"),
            pl.col("prior_transfers"),
        )
        both = pl.concat(
            [
                steps.with_columns(
                    pl.col("x").alias("account_id"),
                    pl.lit("borrower").alias("role"),
                    pl.col("y").alias("other"),
                ),
                steps.with_columns(
                    pl.col("y").alias("account_id"),
                    pl.lit("repayer").alias("role"),
                    pl.col("x").alias("other"),
                ),
            ]
        ).sort("account_id", "issued_at", "loan_id", "y_loan")
        linked = (
            both.group_by("account_id", maintain_order=True)
            .agg(
                pl.col("repeats").max().alias("l_repeats"),
                pl.col("sev").max().cast(pl.Int32).alias("l_severity"),
                pl.col("role").unique().sort().alias("l_roles"),
                pl.col("other").unique().sort().alias("l_accounts"),
                step.alias("l_steps"),
                pl.col("issued_at").min().alias("l_start"),
                pl.col("y_repaid_at").max().alias("l_end"),
            )
            .join(members, on="account_id", how="left")
        )
        groups = members.select(
            "group_id",
            pl.lit("recycling_chain").alias("kind"),
            "account_id",
            pl.when(pl.col("account_id").is_in(borrowers.implode()))
            .then(pl.lit("borrower"))
            .otherwise(pl.lit("repayer"))
            .alias("role"),
        )
        return linked, groups

    def _link(self, ctx: ScanContext, steps: pl.DataFrame) -> pl.DataFrame:
        """Keep the steps of pairs (x, y) that share a device or transferred before a step."""
        pairs = steps.select("x", "y").unique()
        people = pl.concat([pairs["x"], pairs["y"]]).unique()
        dev = ctx.devices.filter(pl.col("account_id").is_in(people.implode()))
        dev_ids = dev["device_id"].unique()
        crowded = _links.device_accounts(ctx, dev_ids).filter(
            pl.col("k") > self.max_device_accounts
        )["device_id"]
        own = (
            dev.filter(~pl.col("device_id").is_in(crowded.implode()))
            .select("account_id", "device_id")
            .unique()
        )
        shared = (
            pairs.join(own, left_on="x", right_on="account_id")
            .join(own, left_on=["y", "device_id"], right_on=["account_id", "device_id"])
            .select("x", "y")
            .unique()
            .with_columns(pl.lit(True).alias("device"))
        )
        tr = ctx.transfers.filter(
            pl.col("src_account").is_in(people.implode())
            & pl.col("dst_account").is_in(people.implode())
        ).select("src_account", "dst_account", "ts")
        fwd = pairs.join(tr, left_on=["x", "y"], right_on=["src_account", "dst_account"])
        back = pairs.join(tr, left_on=["y", "x"], right_on=["src_account", "dst_account"])
        before = (
            steps.select("x", "y", "loan_id", "issued_at")
            .join(pl.concat([fwd, back]), on=["x", "y"])
            .filter(pl.col("ts") < pl.col("issued_at"))
            .group_by("x", "y", "loan_id")
            .agg(pl.len().alias("prior_transfers"))
        )
        return (
            steps.join(shared, on=["x", "y"], how="left")
            .join(before, on=["x", "y", "loan_id"], how="left")
            .with_columns(
                pl.col("device").fill_null(False),
                pl.col("prior_transfers").fill_null(0).cast(pl.Int64),
            )
            # a pair is linked when it shares a device or had transferred before one of its
            # steps (for a repeated pair, the earlier step's own transfers count)
            .filter((pl.col("device") | (pl.col("prior_transfers") > 0)).any().over("x", "y"))
        )
