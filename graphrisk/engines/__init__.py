"""Engines: who reads and validates the input tables, and how.

The detectors say *what* to compute from :class:`~graphrisk.io.Tables`; an engine decides *how*
the tables are read and checked against :mod:`graphrisk.schema`. Every engine returns the same
``Tables`` (same rows, same types, same order) and raises the same
:class:`~graphrisk.errors.DataError` for the same bad input, so a scan gives the same flags and
decisions whichever engine loaded the data.

* :class:`LocalEngine` (``"local"``): polars and pyarrow in-process (:func:`graphrisk.io.load`).
* :class:`SparkEngine` (``"spark"``): a Spark session does the reading, the row rules
  (aggregations and joins), quarantine and type normalisation, then hands the clean tables to
  polars through Arrow (:func:`graphrisk.engines.spark.load_with_spark`). Needs
  ``pip install 'graphrisk[spark]'`` and Java 17.

Examples
--------
>>> get_engine("local").name
'local'
>>> sorted(ENGINES)
['local', 'spark']
>>> get_engine("duckdb")
Traceback (most recent call last):
...
graphrisk.errors.UsageError: --engine must be one of local, spark; got 'duckdb'
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

from graphrisk.errors import UsageError

if TYPE_CHECKING:
    from graphrisk.io import Tables

__all__ = ["ENGINES", "Engine", "LocalEngine", "SparkEngine", "get_engine"]


@runtime_checkable
class Engine(Protocol):
    """What an engine provides: a ``name`` and ``load(path, quarantine) -> Tables``."""

    name: str

    def load(self, path: str | os.PathLike, quarantine: bool = False) -> Tables:
        """Read and validate a data directory (see :func:`graphrisk.io.load`)."""
        ...


class LocalEngine:
    """Polars and pyarrow in this process: :func:`graphrisk.io.load`."""

    name: ClassVar[str] = "local"

    def load(self, path: str | os.PathLike, quarantine: bool = False) -> Tables:
        """Read and validate ``path`` in-process (see :func:`graphrisk.io.load`)."""
        from graphrisk.io import load

        return load(path, quarantine=quarantine)

    def __repr__(self) -> str:
        return "LocalEngine()"


class SparkEngine:
    """A Spark session reads and validates; the result is handed to polars through Arrow.

    Parameters
    ----------
    spark
        A ``pyspark.sql.SparkSession`` to use; by default a local one (``local[2]``) is
        started on first use and kept for the process. Either way the engine works in a
        ``newSession()`` of it, so its SQL settings (UTC time zone, ...) do not leak.
    """

    name: ClassVar[str] = "spark"

    def __init__(self, spark: Any | None = None) -> None:
        self.spark = spark

    def load(self, path: str | os.PathLike, quarantine: bool = False) -> Tables:
        """Read and validate ``path`` with Spark (see :func:`~.spark.load_with_spark`)."""
        from graphrisk.engines.spark import load_with_spark

        return load_with_spark(path, quarantine=quarantine, spark=self.spark)

    def __repr__(self) -> str:
        return f"SparkEngine(spark={self.spark!r})"


#: The engines by name, as accepted by ``--engine``.
ENGINES: dict[str, type[LocalEngine] | type[SparkEngine]] = {
    "local": LocalEngine,
    "spark": SparkEngine,
}


def get_engine(name: str | Engine) -> Engine:
    """The engine called ``name`` (an engine object is returned as it is).

    Raises
    ------
    UsageError
        If no engine has that name.
    """
    if not isinstance(name, str):
        return name
    try:
        return ENGINES[name]()
    except KeyError:
        raise UsageError(
            f"--engine must be one of {', '.join(sorted(ENGINES))}; got {name!r}"
        ) from None
