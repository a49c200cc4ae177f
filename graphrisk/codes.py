"""The reason codes of SPEC.md, in one place.

Each code has a stable name, a one-line meaning (from SPEC.md) and a *kind*:
``behaviour`` codes describe what the account itself did and may cut a limit;
``linkage`` codes describe who the account is linked to and never cut a limit
on their own (SPEC: "Linkage alone (RISK_PROXIMITY, IP_HOPPING) never cuts a limit").

Examples
--------
>>> from graphrisk.codes import CODES, LINKAGE_CODES
>>> CODES["MULTI_LENDER"].kind
'behaviour'
>>> sorted(LINKAGE_CODES)
['IP_HOPPING', 'RISK_PROXIMITY']
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Code:
    """A reason code: its name, meaning and kind."""

    name: str
    meaning: str
    kind: str  # "behaviour" or "linkage"


_TABLE = [
    ("MULTI_LENDER", "borrowed from many distinct lenders inside a short window", "behaviour"),
    (
        "LOAN_STACKING",
        "many loans from different lenders outstanding at the same time",
        "behaviour",
    ),
    ("SMALL_LOAN_BURST", "many small loans in a short window", "behaviour"),
    ("APPLICATION_BURST", "many credit applications in a short window", "behaviour"),
    (
        "GROUP_MULTI_LENDER",
        "linked accounts borrow from many lenders together, though each alone looks ordinary",
        "behaviour",
    ),
    ("SHARED_DEVICE_RING", "many accounts on the same device(s)", "behaviour"),
    ("IP_HOPPING", "logins from many cities or addresses in a short time", "linkage"),
    (
        "LOAN_RECYCLING",
        "a new loan repays an old one, directly or through linked accounts",
        "behaviour",
    ),
    ("TRANSFER_CYCLE", "money goes round a cycle of accounts and comes back", "behaviour"),
    ("FAN_OUT_AFTER_LOAN", "loan money scattered to many accounts soon after payout", "behaviour"),
    (
        "FAN_IN_COLLECTOR",
        "an account collects loan money from many linked borrowers soon after their loans",
        "behaviour",
    ),
    (
        "SCATTER_GATHER",
        "money spread through several accounts and gathered again into one",
        "behaviour",
    ),
    ("ASSOCIATED_TRANSFER", "heavy transfers to accounts linked by device or address", "behaviour"),
    ("RISK_PROXIMITY", "closely linked to accounts in default", "linkage"),
    ("OVERDUE_HISTORY", "own recent overdue record", "behaviour"),
    (
        "UNSTABLE_INCOME",
        "money coming in from outside the account's own circle swings widely month to month,"
        " or falls away",
        "behaviour",
    ),
    (
        "LARGE_OUTFLOW",
        "money leaving far above the account's usual income within a short window",
        "behaviour",
    ),
    (
        "HIGH_DEBT_RATIO",
        "debt outstanding, or newly borrowed, too high against income",
        "behaviour",
    ),
]

CODES: dict[str, Code] = {name: Code(name, meaning, kind) for name, meaning, kind in _TABLE}
LINKAGE_CODES: frozenset[str] = frozenset(c.name for c in CODES.values() if c.kind == "linkage")
