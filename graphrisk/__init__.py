"""graphrisk: find multi-lending (多头借贷) and the money and identity links behind it, and turn
what it finds into credit-limit decisions with specific, honest reasons.

The public API::

    import graphrisk
    tables = graphrisk.load("datasets/sample")          # validated polars tables
    result = graphrisk.scan(tables)                       # or scan("datasets/sample")
    result.flags, result.decisions, result.groups         # polars DataFrames
    result.to_networkx(group_id)                          # a networkx view of one group
    from graphrisk.detectors import MultiLender           # any detector, on its own
"""

__version__ = "0.1.0"

from graphrisk.context import ScanContext
from graphrisk.errors import DataError, GraphriskError, UsageError
from graphrisk.io import Tables, load
from graphrisk.policy import Policy
from graphrisk.scan import ScanResult, scan

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
