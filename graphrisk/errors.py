"""Errors that map to the exit codes of SPEC.md (2 usage, 3 invalid input data)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Problem:
    """One problem found in the input: which table, column, how many rows, a few examples."""

    table: str
    column: str | None
    rule: str
    count: int
    message: str
    examples: list[dict] = field(default_factory=list)

    def render(self) -> str:
        where = self.table + (f".{self.column}" if self.column else "")
        text = f"{where}: {self.message}"
        if self.count or self.column:  # a missing table or unreadable file has no rows to count
            text += f" ({self.count} row{'s' if self.count != 1 else ''})"
        if self.examples:
            text += "\n    e.g. " + "\n         ".join(_row(e) for e in self.examples)
        return text

    def to_dict(self) -> dict:
        return {
            "table": self.table,
            "column": self.column,
            "rule": self.rule,
            "count": self.count,
            "message": self.message,
            "examples": [{k: _plain(v) for k, v in e.items()} for e in self.examples],
        }


def _plain(v: object) -> object:
    return v if isinstance(v, (int, float, str, bool)) or v is None else str(v)


#: Longest value shown in a rendered example; longer ones are cut (JSON keeps them whole).
MAX_SHOWN = 80


def _shown(v: object) -> str:
    text = repr(v if isinstance(v, bytes) else _plain(v))
    if len(text) <= MAX_SHOWN:
        return text
    n = len(v) if isinstance(v, (str, bytes)) else len(text)
    return f"{text[: MAX_SHOWN - 1]}… ({n:,} {'bytes' if isinstance(v, bytes) else 'characters'})"


def _row(example: dict) -> str:
    return ", ".join(f"{k}={_shown(v)}" for k, v in example.items())


class GraphriskError(Exception):
    """Base class of the errors graphrisk reports to users."""

    exit_code = 1


class UsageError(GraphriskError):
    """A wrong argument, option, policy value or path: exit code 2."""

    exit_code = 2


class DataError(GraphriskError):
    """The input data breaks the contract of SPEC.md: exit code 3.

    ``problems`` lists every problem found (not just the first).
    """

    exit_code = 3

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__(self.render())

    def render(self) -> str:
        n = len(self.problems)
        head = f"invalid input data: {n} problem{'s' if n != 1 else ''}"
        return head + "\n" + "\n".join("  - " + p.render() for p in self.problems)
