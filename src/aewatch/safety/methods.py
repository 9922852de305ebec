"""Boundary method names, kept apart from the mathematics so that reading a config
does not import scipy (CLI start-up time)."""

from __future__ import annotations

METHODS = ("pocock", "obf", "bayes", "fixed")
_ALIASES = {
    "obrien-fleming": "obf",
    "obrien_fleming": "obf",
    "o'brien-fleming": "obf",
    "bayesian": "bayes",
}


def canonical_method(method: str) -> str:
    """Method name as used in config and CLI: pocock | obf | bayes | fixed."""
    name = str(method).strip().lower()
    name = _ALIASES.get(name, name)
    if name not in METHODS:
        raise ValueError(f"unknown method {method!r}: use one of {', '.join(METHODS)}")
    return name
