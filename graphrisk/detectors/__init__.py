"""Detectors: one module per detector, one interface (:class:`~graphrisk.detectors.base.Detector`).

Every module in this package that defines a :class:`Detector` subclass with a ``name`` is
registered automatically: a new detector is one new file (plus its test file).

Examples
--------
>>> from graphrisk.detectors import REGISTRY
>>> "multi_lender" in REGISTRY
True
>>> REGISTRY["multi_lender"].codes
('MULTI_LENDER',)
"""

from __future__ import annotations

import importlib
import pkgutil

from graphrisk.detectors.base import Detector, Findings, ParamInfo, param

REGISTRY: dict[str, type[Detector]] = {}


def _discover() -> None:
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_") or info.name == "base":
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        for obj in vars(module).values():
            if (
                isinstance(obj, type)
                and issubclass(obj, Detector)
                and obj is not Detector
                and obj.name
                and obj.__module__ == module.__name__
            ):
                if obj.name in REGISTRY:
                    raise RuntimeError(f"two detectors named {obj.name!r}")
                REGISTRY[obj.name] = obj
                globals()[obj.__name__] = obj


_discover()


def all_detectors() -> list[type[Detector]]:
    """Every registered detector class, by name."""
    return [REGISTRY[k] for k in sorted(REGISTRY)]


__all__ = [
    "REGISTRY",
    "Detector",
    "Findings",
    "ParamInfo",
    "all_detectors",
    "param",
    *sorted(c.__name__ for c in REGISTRY.values()),
]
