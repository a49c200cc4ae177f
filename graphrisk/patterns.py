"""The vocabulary of ``labels.parquet``: planted patterns, look-alikes and what finds them.

The generator (:mod:`graphrisk.generate`) writes one ``labels.parquet`` row per
(account, pattern) it planted; an account may carry several patterns.
:mod:`graphrisk.evaluate` reads the same table and scores a run against it.

* ``planted`` patterns are risky behaviour. ``codes`` are the reason codes that count as
  finding it (recall). ``suppress`` says whether the default policy should cut the limit
  (reduce or suspend) for it: linkage-only patterns must not be cut.
* ``lookalike`` patterns are legitimate behaviour that shares a shape with a risky one;
  they must stay unsuppressed (at most 1% of each).
* ``clean`` is every other account.

Examples
--------
>>> from graphrisk.patterns import PATTERNS
>>> PATTERNS["multi_lender"].codes
('MULTI_LENDER',)
>>> PATTERNS["household_shared_device"].kind
'lookalike'
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Pattern:
    """One label value: what it is, which codes find it, whether it should be suppressed."""

    name: str
    kind: str  # "planted", "lookalike" or "clean"
    codes: tuple[str, ...]
    suppress: bool
    description: str


_P = Pattern
PATTERNS: dict[str, Pattern] = {
    p.name: p
    for p in [
        # --- planted: one account -------------------------------------------------------
        _P(
            "multi_lender",
            "planted",
            ("MULTI_LENDER",),
            True,
            "borrows from 5-8 distinct lenders within 2-4 weeks",
        ),
        _P(
            "loan_stacking",
            "planted",
            ("LOAN_STACKING",),
            True,
            "4-6 loans from different lenders outstanding together, taken over 1-3 months",
        ),
        _P(
            "small_loan_burst",
            "planted",
            ("SMALL_LOAN_BURST",),
            True,
            "6-12 small loans within a week",
        ),
        _P(
            "application_burst",
            "planted",
            ("APPLICATION_BURST",),
            False,
            "10-25 credit applications to many lenders within a week",
        ),
        _P(
            "ip_hopping", "planted", ("IP_HOPPING",), False, "logins from 5+ cities within two days"
        ),
        _P(
            "overdue_history",
            "planted",
            ("OVERDUE_HISTORY",),
            True,
            "a loan 30+ days past due inside the lookback",
        ),
        _P(
            "loan_recycling",
            "planted",
            ("LOAN_RECYCLING",),
            True,
            "new loans repay old ones, repeatedly, directly or through a linked account",
        ),
        _P(
            "fan_out_after_loan",
            "planted",
            ("FAN_OUT_AFTER_LOAN",),
            True,
            "loan money sent to 5+ new accounts within days of payout",
        ),
        _P(
            "unstable_income",
            "planted",
            ("UNSTABLE_INCOME",),
            True,
            "income swinging in each of the last 3 months after a steady run (variants swing,"
            " swing_gig), or stopping / fading to a trickle for the last 2 (stop, fade)",
        ),
        _P(
            "large_outflow",
            "planted",
            ("LARGE_OUTFLOW",),
            True,
            "loan money of 4.5-12 months' pay spent within days: one payment (single) or"
            " several from 2-3 loans over 5 days (spread)",
        ),
        _P(
            "high_debt_ratio",
            "planted",
            ("HIGH_DEBT_RATIO",),
            True,
            "15-22 months of income owed, built over months (stock), or 7.5-11 months of"
            " income borrowed in the last 25 days (fresh)",
        ),
        # --- planted: groups ------------------------------------------------------------
        _P(
            "group_multi_lender",
            "planted",
            ("GROUP_MULTI_LENDER",),
            True,
            "4-8 linked accounts, each with 2-3 lenders, together 8+ lenders in a month",
        ),
        _P(
            "shared_device_ring",
            "planted",
            ("SHARED_DEVICE_RING",),
            True,
            "8-30 accounts logging in from the same 1-3 devices",
        ),
        _P(
            "transfer_cycle",
            "planted",
            ("TRANSFER_CYCLE",),
            True,
            "money goes round 3-8 new counterparties and comes back within days",
        ),
        _P(
            "fan_in_collector",
            "planted",
            ("FAN_IN_COLLECTOR",),
            True,
            "collector and the linked borrowers who pass it their loan money",
        ),
        _P(
            "scatter_gather",
            "planted",
            ("SCATTER_GATHER",),
            True,
            "source, intermediaries and sink of a scatter-gather layering",
        ),
        _P(
            "associated_transfer",
            "planted",
            ("ASSOCIATED_TRANSFER",),
            False,
            "heavy transfers of loan money to an account on the same device",
        ),
        _P(
            "risk_proximity",
            "planted",
            ("RISK_PROXIMITY",),
            False,
            "linked by device or transfers to 2+ accounts in default, otherwise clean",
        ),
        # --- look-alikes: legitimate behaviour with a risky shape ---------------------------
        _P(
            "household_shared_device",
            "lookalike",
            (),
            False,
            "2-4 family members sharing one device, small transfers among them",
        ),
        _P(
            "office_shared_ip",
            "lookalike",
            (),
            False,
            "20-60 colleagues logging in through one office IP, own devices",
        ),
        _P(
            "payroll_employer",
            "lookalike",
            (),
            False,
            "pays monthly salaries to the same 10-50 employees (fan-out), may hold a business loan",
        ),
        _P("payroll_employee", "lookalike", (), False, "receives a monthly salary"),
        _P(
            "merchant",
            "lookalike",
            (),
            False,
            "collects payments from many unrelated customers (fan-in)",
        ),
        _P("traveller", "lookalike", (), False, "logins from 2-4 cities over a two-week trip"),
        _P(
            "reformed_borrower",
            "lookalike",
            (),
            False,
            "multi-borrowed 4-6 months ago, repaid everything, clean since",
        ),
        _P(
            "friends_cycle",
            "lookalike",
            (),
            False,
            "friends who have paid each other back and forth for months (old, repeated relations)",
        ),
        _P(
            "refinance_once", "lookalike", (), False, "one loan refinanced once with another lender"
        ),
        _P(
            "regular_borrower",
            "lookalike",
            (),
            False,
            "a new loan from the same lender each month, always repaid on time",
        ),
        _P(
            "salary_bonus",
            "lookalike",
            (),
            False,
            "steady salary plus one yearly bonus of 1.5-3 months' pay",
        ),
        _P(
            "seasonal_earner",
            "lookalike",
            (),
            False,
            "income in a season that repeats every 2-3 months",
        ),
        _P(
            "saved_purchase",
            "lookalike",
            (),
            False,
            "one payment of 3.5-5.5 months' pay saved up from a steady salary (a watch at most)",
        ),
        _P(
            "high_earner_loans",
            "lookalike",
            (),
            False,
            "income of 20k-150k a month with large loans of 2-3.5 months of it",
        ),
        _P(
            "no_income_data",
            "lookalike",
            (),
            False,
            "no declared income and no salary seen; a loan spent within days",
        ),
        _P("clean", "clean", (), False, "ordinary account"),
    ]
}

PLANTED = tuple(p for p in PATTERNS.values() if p.kind == "planted")
LOOKALIKES = tuple(p for p in PATTERNS.values() if p.kind == "lookalike")
