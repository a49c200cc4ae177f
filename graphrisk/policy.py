"""Policy: TOML -> rules; flags (+ ledger) -> one decision per account.

The default policy is shipped in ``default_policy.toml`` (``graphrisk policy show`` prints it
with every detector's parameters). A user policy file overrides any key; unknown keys, wrong
types and out-of-range values are rejected with the key named (:class:`UsageError`).

Examples
--------
>>> p = Policy.default()
>>> p.action_for(3), p.action_for(2), p.action_for(1), p.action_for(0)
('suspend', 'reduce', 'freeze_increase', 'keep')
>>> Policy.from_dict({"actions": {"reduce_fraction": 2}})
Traceback (most recent call last):
...
graphrisk.errors.UsageError: policy: actions.reduce_fraction must be between 0 and 1, got 2
"""

from __future__ import annotations

import copy
import json
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from graphrisk.codes import CODES, LINKAGE_CODES
from graphrisk.errors import UsageError

ACTIONS = ("keep", "freeze_increase", "reduce", "suspend", "restore")
CUT_ACTIONS = ("reduce", "suspend")


def default_text() -> str:
    """The shipped default policy, as TOML text with comments."""
    return resources.files("graphrisk").joinpath("default_policy.toml").read_text(encoding="utf-8")


def _merge(base: dict, override: dict, path: str = "") -> dict:
    """``base`` updated by ``override``; keys unknown to ``base`` are refused, except the
    free-form sections ``codes`` and ``detectors`` (checked by :meth:`Policy.validate`)."""
    out = copy.deepcopy(base)
    free = path.startswith(("codes.", "detectors."))
    for k, v in override.items():
        if k not in base and not free:
            raise UsageError(f"policy: unknown key {path + k!r}")
        if isinstance(out.get(k), dict) and not isinstance(v, dict) and not free:
            raise UsageError(f"policy: {path + k} must be a table ([{path + k}]), got {v!r}")
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v, f"{path}{k}.")
        else:
            out[k] = copy.deepcopy(v)
    return out


@dataclass
class Policy:
    """A validated policy. Build with :meth:`default`, :meth:`load` or :meth:`from_dict`."""

    data: dict[str, Any]

    # -- construction ---------------------------------------------------------------------

    @classmethod
    def default(cls) -> Policy:
        return cls.from_dict({})

    @classmethod
    def load(cls, path: str | Path | None) -> Policy:
        """Read a policy TOML file (``None`` gives the default)."""
        if path is None:
            return cls.default()
        p = Path(path)
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise UsageError(f"policy file not found: {p}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise UsageError(f"policy file {p} is not valid TOML: {exc}") from exc
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, override: dict[str, Any]) -> Policy:
        base = tomllib.loads(default_text())
        base.setdefault("codes", {})
        base.setdefault("detectors", {})
        merged = _merge(base, override)
        policy = cls(merged)
        policy.validate()
        return policy

    # -- validation -------------------------------------------------------------------------

    def validate(self) -> None:
        from graphrisk.detectors import REGISTRY

        d = self.data
        _int(d, "lookback_days", lo=1)
        acts = d["actions"]
        for s in (1, 2, 3):
            v = acts[f"severity_{s}"]
            if v not in ("keep", "freeze_increase", "reduce", "suspend"):
                raise UsageError(
                    f"policy: actions.severity_{s} must be keep, freeze_increase, "
                    f"reduce or suspend, got {v!r}"
                )
        for k in ("reduce_fraction", "reduce_fraction_repeat"):
            _frac(acts, k, "actions.")
        if acts["reduce_fraction_repeat"] < acts["reduce_fraction"]:
            raise UsageError(
                "policy: actions.reduce_fraction_repeat must be >= actions.reduce_fraction "
                f"(a repeat cuts deeper), got {acts['reduce_fraction_repeat']} < "
                f"{acts['reduce_fraction']}"
            )
        _num(acts, "round_to", "actions.", lo=0)
        _int(d["recency"], "recent_days", "recency.", lo=0)
        _int(d["recency"], "stale_days", "recency.", lo=d["recency"]["recent_days"])
        if not isinstance(d["recency"]["settled_keep"], bool):
            raise UsageError("policy: recency.settled_keep must be true or false")
        _int(d["repetition"], "escalate_at_codes", "repetition.", lo=2)
        _int(d["repetition"], "relapse_days", "repetition.", lo=0)
        _int(d["restore"], "clean_days", "restore.", lo=0)
        _frac(d["restore"], "step_fraction", "restore.")
        if d["restore"]["step_fraction"] <= 0:
            raise UsageError("policy: restore.step_fraction must be above 0, got 0")
        _int(d["restore"], "min_days_between_steps", "restore.", lo=0)
        for a in ACTIONS:
            _int(d["review"], a, "review.", lo=0)
        if not isinstance(d["caps"]["enabled"], bool):
            raise UsageError("policy: caps.enabled must be true or false")
        _num(d["caps"], "income_share", "caps.", lo=0)
        _num(d["caps"], "absolute", "caps.", lo=0)
        for code, rule in d["codes"].items():
            if code not in CODES:
                raise UsageError(f"policy: unknown reason code [codes.{code}]")
            if not isinstance(rule, dict):
                raise UsageError(f"policy: [codes.{code}] must be a table")
            for k in rule:
                if k not in ("severity", "enabled"):
                    raise UsageError(f"policy: unknown key codes.{code}.{k}")
            if "severity" in rule:
                _int(rule, "severity", f"codes.{code}.", lo=1, hi=3)
                if code in LINKAGE_CODES and rule["severity"] > 1:
                    raise UsageError(
                        f"policy: codes.{code}.severity: linkage alone never cuts a "
                        f"limit, so {code} cannot be above 1"
                    )
            if "enabled" in rule and not isinstance(rule["enabled"], bool):
                raise UsageError(f"policy: codes.{code}.enabled must be true or false")
        for name, params in d["detectors"].items():
            if name not in REGISTRY:
                raise UsageError(
                    f"policy: unknown detector [detectors.{name}]; known: "
                    + ", ".join(sorted(REGISTRY))
                )
            if not isinstance(params, dict):
                raise UsageError(f"policy: [detectors.{name}] must be a table")
            known = {p.name for p in REGISTRY[name].params()} | {"enabled"}
            for k in params:
                if k not in known:
                    raise UsageError(
                        f"policy: unknown parameter detectors.{name}.{k}; known: "
                        + ", ".join(sorted(known))
                    )
            self.detector(name)  # type and range checks by the detector itself

    # -- accessors ------------------------------------------------------------------------------

    @property
    def lookback_days(self) -> int:
        return int(self.data["lookback_days"])

    def action_for(self, severity: int) -> str:
        return "keep" if severity <= 0 else self.data["actions"][f"severity_{min(severity, 3)}"]

    def detector(self, name: str):
        """The detector ``name`` built with this policy's parameters."""
        from graphrisk.detectors import REGISTRY

        params = {k: v for k, v in self.data["detectors"].get(name, {}).items() if k != "enabled"}
        return REGISTRY[name](**params)

    def detectors(self) -> list:
        """Every enabled detector, built with this policy's parameters, in name order."""
        from graphrisk.detectors import REGISTRY

        return [
            self.detector(n)
            for n in sorted(REGISTRY)
            if self.data["detectors"].get(n, {}).get("enabled", True)
        ]

    def code_rule(self, code: str) -> dict[str, Any]:
        return self.data["codes"].get(code, {})

    def to_json(self) -> str:
        """The policy as canonical JSON (for summary.json and the run id)."""
        return json.dumps(self.data, sort_keys=True, ensure_ascii=False)

    def to_toml(self) -> str:
        """The effective policy as TOML: default text with comments, then every detector."""
        return render_toml(self)


def _int(d: dict, k: str, prefix: str = "", lo: int | None = None, hi: int | None = None) -> None:
    v = d.get(k)
    if not isinstance(v, int) or isinstance(v, bool):
        raise UsageError(f"policy: {prefix}{k} must be a whole number, got {v!r}")
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        rng = f"between {lo} and {hi}" if hi is not None else f">= {lo}"
        raise UsageError(f"policy: {prefix}{k} must be {rng}, got {v}")


def _num(d: dict, k: str, prefix: str = "", lo: float | None = None) -> None:
    v = d.get(k)
    if not isinstance(v, (int, float)) or isinstance(v, bool):
        raise UsageError(f"policy: {prefix}{k} must be a number, got {v!r}")
    if lo is not None and v < lo:
        raise UsageError(f"policy: {prefix}{k} must be >= {lo}, got {v}")


def _frac(d: dict, k: str, prefix: str = "") -> None:
    _num(d, k, prefix)
    if not 0 <= d[k] <= 1:
        raise UsageError(f"policy: {prefix}{k} must be between 0 and 1, got {d[k]}")


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    return repr(v)


def _with_values(text: str, data: dict[str, Any]) -> str:
    """The default policy text with each ``key = value`` line showing ``data``'s value."""
    out = []
    section: dict[str, Any] = data
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            section = data
            for part in stripped.strip("[]").split("."):
                section = section.get(part, {}) if isinstance(section, dict) else {}
        elif stripped and not stripped.startswith("#") and "=" in stripped:
            key = stripped.split("=", 1)[0].strip()
            if isinstance(section, dict) and key in section:
                line = f"{key} = {_toml_value(section[key])}"
        out.append(line)
    return "\n".join(out)


def render_toml(policy: Policy | None = None) -> str:
    """The default policy text followed by a commented ``[detectors.NAME]`` section per detector.

    Values in ``policy`` that differ from the defaults replace them.
    """
    from graphrisk.detectors import all_detectors

    policy = policy or Policy.default()
    lines = [_with_values(default_text().rstrip(), policy.data), ""]
    for code, rule in sorted(policy.data["codes"].items()):
        lines.append(f"[codes.{code}]")
        lines += [f"{k} = {_toml_value(v)}" for k, v in sorted(rule.items())]
        lines.append("")
    for cls in all_detectors():
        over = policy.data["detectors"].get(cls.name, {})
        doc = (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""
        lines.append(f"# {cls.name}: {', '.join(cls.codes)}. {doc}")
        lines.append(f"[detectors.{cls.name}]")
        lines.append(f"enabled = {_toml_value(over.get('enabled', True))}")
        for p in cls.params():
            lines.append(f"# {p.doc}")
            lines.append(f"{p.name} = {_toml_value(over.get(p.name, p.default))}")
        lines.append("")
    return "\n".join(lines)
