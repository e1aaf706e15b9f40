"""Lazy package exports: a package lists where its public names live and imports each module on first use,
so that importing a stage's command line does not load torch or scikit-learn until a command runs."""

from __future__ import annotations

import importlib
from collections.abc import Callable


def lazy_getattr(package: str, homes: dict[str, str]) -> Callable[[str], object]:
    """A module ``__getattr__`` resolving ``name`` from ``package.<homes[name]>`` (PEP 562)."""

    def __getattr__(name: str):
        if name not in homes:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{homes[name]}"), name)

    return __getattr__
