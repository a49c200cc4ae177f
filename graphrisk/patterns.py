"""The vocabulary of ``labels.parquet``: planted patterns, look-alikes and what finds them.

The generator (:mod:`graphrisk.generate`) writes one ``labels.parquet`` row per
(account, pattern) it planted; an account may carry several patterns.
:mod:`graphrisk.evaluate` reads the same table and scores a run against it.

* ``planted`` patterns are risky behaviour. ``codes`` are the reason codes that count as
  finding it (recall). ``suppress`` says whether the default policy should cut the limit
  (reduce or suspend) for it: linkage-only patterns must not be cut.
* ``lookalike`` patterns are legitimate behaviour that shares a shape with a risky one;
  they must stay unsuppressed (at most 1% of each). Their ``codes`` are the reason codes
  of the risky shapes they resemble: a look-alike cut for one of those was mistaken for
  the risk it imitates (:mod:`graphrisk.evaluate` counts those apart from cuts for
  unrelated reasons, which any account can get).
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
            "borrows from many distinct lenders: 4-6 within a week (fast), 5-8 within 2-4 weeks"
            " (month), 7-9 over 2-3 months (slow), 10-16 within a month (large)",
        ),
        _P(
            "loan_stacking",
            "planted",
            ("LOAN_STACKING",),
            True,
            "loans from different lenders outstanding together: 4 taken within 3-10 days (fast), 4-6"
            " over 1-3 months (quarter), 8-12 over 2-4 months (large)",
        ),
        _P(
            "small_loan_burst",
            "planted",
            ("SMALL_LOAN_BURST",),
            True,
            "small loans: 3-5 within hours (hours), 6-12 within a week (week), 8-14 over 3-4"
            " weeks (month), 15-25 within a week (large)",
        ),
        _P(
            "application_burst",
            "planted",
            ("APPLICATION_BURST",),
            False,
            "credit applications to many lenders: 5-9 within hours (hours), 10-25 within a week"
            " (week), 16-30 over 3-4 weeks (month)",
        ),
        _P(
            "ip_hopping",
            "planted",
            ("IP_HOPPING",),
            False,
            "logins from 4-5 cities within hours (hours), 5-8 within two days (two_days), 6-10"
            " within a week (week)",
        ),
        _P(
            "overdue_history",
            "planted",
            ("OVERDUE_HISTORY",),
            True,
            "a loan 90+ days past due, unrepaid (default), one repaid 30-75 days late (late), 2-3"
            " repaid 30-60 days late (several)",
        ),
        _P(
            "loan_recycling",
            "planted",
            ("LOAN_RECYCLING",),
            True,
            "new loans repay old ones, repeatedly: monthly (chain), two-week loans (chain_fast), or"
            " through a linked account (linked)",
        ),
        _P(
            "fan_out_after_loan",
            "planted",
            ("FAN_OUT_AFTER_LOAN",),
            True,
            "loan money sent to new accounts: 6-8 within hours (hours), 5-15 within 3 days (days),"
            " 20-40 within 3 days (large)",
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
            "4-8 accounts linked by shared devices (device), shared addresses (ip) or transfers"
            " (money), each with 2-3 lenders, together 8+ lenders in a month",
        ),
        _P(
            "shared_device_ring",
            "planted",
            ("SHARED_DEVICE_RING",),
            True,
            "6-7 (small), 8-30 (typical) or 31-45 (large) accounts on the same 1-3 devices",
        ),
        _P(
            "transfer_cycle",
            "planted",
            ("TRANSFER_CYCLE",),
            True,
            "money goes round 3-8 new counterparties and comes back within hours (hours), about"
            " 6 days (days) or 8-13 days (week)",
        ),
        _P(
            "fan_in_collector",
            "planted",
            ("FAN_IN_COLLECTOR",),
            True,
            "collector and the 4 (small), 5-15 (typical) or 20-30 (large) linked borrowers who"
            " pass it their loan money",
        ),
        _P(
            "scatter_gather",
            "planted",
            ("SCATTER_GATHER",),
            True,
            "source, intermediaries and sink of a scatter-gather layering: scattered within 6 hours"
            " (fast), a day (days) or 2-6 days and gathered up to 18 days later (slow)",
        ),
        _P(
            "associated_transfer",
            "planted",
            ("ASSOCIATED_TRANSFER",),
            False,
            "loan money sent to accounts on the borrower's device (device), behind its home address"
            " (ip), or to 3-4 accounts on its device (several)",
        ),
        _P(
            "risk_proximity",
            "planted",
            ("RISK_PROXIMITY",),
            False,
            "linked to 2+ accounts in default by devices (device), transfers (money) or both"
            " (mixed), otherwise clean",
        ),
        # --- look-alikes: legitimate behaviour with a risky shape ---------------------------
        _P(
            "household_shared_device",
            "lookalike",
            (
                "SHARED_DEVICE_RING",
                "RISK_PROXIMITY",
                "ASSOCIATED_TRANSFER",
                "GROUP_MULTI_LENDER",
                "TRANSFER_CYCLE",
            ),
            False,
            "2-4 family members sharing one device (family) or one home address (shared_ip), small"
            " transfers among them; a relative on a defaulter's phone, no money (defaulter_relative)",
        ),
        _P(
            "office_shared_ip",
            "lookalike",
            ("SHARED_DEVICE_RING", "GROUP_MULTI_LENDER", "RISK_PROXIMITY"),
            False,
            "colleagues logging in through one office IP, own devices: 20-60 on workdays (office),"
            " 5-9 (small_office), 61-120 in shifts round the clock (call_centre)",
        ),
        _P(
            "payroll_employer",
            "lookalike",
            ("FAN_OUT_AFTER_LOAN", "SCATTER_GATHER"),
            False,
            "pays monthly salaries to the same 10-50 employees (fan-out), may hold a business loan",
        ),
        _P(
            "payroll_employee",
            "lookalike",
            ("FAN_IN_COLLECTOR", "SCATTER_GATHER"),
            False,
            "receives a monthly salary",
        ),
        _P(
            "merchant",
            "lookalike",
            ("FAN_IN_COLLECTOR",),
            False,
            "collects payments from many unrelated customers (fan-in)",
        ),
        _P(
            "traveller",
            "lookalike",
            ("IP_HOPPING",),
            False,
            "logins from 2-4 cities over a two-week trip (two_weeks), 3 cities in a week"
            " (three_in_a_week), one other city for a few hours (day_trip)",
        ),
        _P(
            "reformed_borrower",
            "lookalike",
            ("MULTI_LENDER", "LOAN_STACKING"),
            False,
            "multi-borrowed 4-6 months ago within 3 weeks (month), 5 days (fast) or 2 months"
            " (slow), repaid everything, clean since",
        ),
        _P(
            "friends_cycle",
            "lookalike",
            ("TRANSFER_CYCLE",),
            False,
            "friends paying each other round a loop for months (months), weekly (weekly), or once"
            " along pairs that paid each other before (one_round)",
        ),
        _P(
            "refinance_once",
            "lookalike",
            ("LOAN_RECYCLING",),
            False,
            "one loan refinanced once with another lender: days before due (days), on the due day"
            " (same_day), 10-20 days early (early)",
        ),
        _P(
            "regular_borrower",
            "lookalike",
            ("LOAN_RECYCLING", "SMALL_LOAN_BURST", "MULTI_LENDER"),
            False,
            "a new loan from the same lender each month (monthly) or fortnight (fortnightly), always"
            " repaid on time; once repaid with another lender's loan (refinanced_once)",
        ),
        _P(
            "salary_bonus",
            "lookalike",
            ("UNSTABLE_INCOME",),
            False,
            "steady salary plus one yearly bonus of 1.5-3 months' pay",
        ),
        _P(
            "seasonal_earner",
            "lookalike",
            ("UNSTABLE_INCOME",),
            False,
            "income in a season that repeats every 2-3 months",
        ),
        _P(
            "saved_purchase",
            "lookalike",
            ("LARGE_OUTFLOW",),
            False,
            "one payment of 3.5-5.5 months' pay saved up from a steady salary (a watch at most)",
        ),
        _P(
            "high_earner_loans",
            "lookalike",
            ("HIGH_DEBT_RATIO",),
            False,
            "income of 20k-150k a month with large loans of 2-3.5 months of it",
        ),
        _P(
            "no_income_data",
            "lookalike",
            ("HIGH_DEBT_RATIO", "LARGE_OUTFLOW"),
            False,
            "no declared income and no salary seen; a loan spent within days",
        ),
        _P("clean", "clean", (), False, "ordinary account"),
    ]
}

PLANTED = tuple(p for p in PATTERNS.values() if p.kind == "planted")
LOOKALIKES = tuple(p for p in PATTERNS.values() if p.kind == "lookalike")
