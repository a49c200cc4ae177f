"""graphrisk: find multi-lending (多头借贷) and the money and identity links behind it, and turn
what it finds into credit-limit decisions with specific, honest reasons.

The public API::

    import graphrisk
    tables = graphrisk.load("datasets/sample")          # validated polars tables
    result = graphrisk.scan(tables)                       # or scan("datasets/sample")
    result.flags, result.decisions, result.groups         # polars DataFrames
    result.to_networkx(group_id)                          # a networkx view of one group
    from graphrisk.detectors import MultiLender           # any detector, on its own

Most names are imported on first use; the graph kernels load when a scan needs them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "ScanContext": "graphrisk.context",
    "DataError": "graphrisk.errors",
    "GraphriskError": "graphrisk.errors",
    "UsageError": "graphrisk.errors",
    "Tables": "graphrisk.io",
    "load": "graphrisk.io",
    "Policy": "graphrisk.policy",
}

# ``scan`` is both a submodule and the function: import it eagerly so the function wins
# (a lazy import would let ``import graphrisk.scan`` rebind the name to the module).
from graphrisk.scan import ScanResult, scan  # noqa: E402

if TYPE_CHECKING:
    from graphrisk.context import ScanContext
    from graphrisk.errors import DataError, GraphriskError, UsageError
    from graphrisk.io import Tables, load
    from graphrisk.policy import Policy


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'graphrisk' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*_EXPORTS, "__version__"])


__all__ = [
    "DataError",
    "GraphriskError",
    "Policy",
    "ScanContext",
    "ScanResult",
    "Tables",
    "UsageError",
    "__version__",
    "load",
    "scan",
]
