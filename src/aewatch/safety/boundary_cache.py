"""Stopping boundaries kept on disk, one small JSON file per design.

A boundary depends only on its design (method and parameters) and on the arithmetic
that builds it, so the daemon builds each configured design once and files it under
``<data_dir>/boundaries/``, keyed by a hash of both; a restart, ``aewatch status`` and
``aewatch rules`` read the table back instead of recomputing it. A file is trusted only
when it names the same design and its table still hashes to the digest stored with it;
anything else (a changed design, a damaged or hand-edited file) is built afresh.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aewatch.safety.boundaries import Boundary

log = logging.getLogger("aewatch.boundaries")

# Bump when the boundary arithmetic changes: every cached table is then rebuilt.
ARITHMETIC = "exact-integer binomial tails, clinfun 1.1.5 toxbdry port; v1"

Design = tuple[tuple[str, Any], ...]


def _plain(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def _tupled(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_tupled(v) for v in value)
    return value


def design_key(method: str, design: Design) -> str:
    """The file name stem for a design: method, parameters and arithmetic, hashed."""
    document = {"method": method, "design": _plain(dict(design)), "arithmetic": ARITHMETIC}
    text = json.dumps(document, sort_keys=True, allow_nan=False)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def load(folder: Path, method: str, design: Design) -> Boundary | None:
    """The cached boundary for this design, or None (missing, other design, damaged)."""
    from aewatch.safety.boundaries import Boundary

    path = folder / f"{design_key(method, design)}.json"
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.warning("boundary cache %s unreadable (%s); rebuilding", path, exc)
        return None
    try:
        if (
            document["method"] != method
            or document["design"] != _plain(dict(design))
            or document["arithmetic"] != ARITHMETIC
        ):
            return None
        table = document["boundary"]
        boundary = Boundary(
            method=table["method"],
            n_max=int(table["n_max"]),
            looks=tuple(table["looks"]),
            stop_at=tuple(table["stop_at"]),
            params={k: _tupled(v) for k, v in table["params"].items()},
        )
    except (KeyError, TypeError, ValueError) as exc:
        log.warning("boundary cache %s damaged (%s); rebuilding", path, exc)
        return None
    if boundary.digest != document.get("digest"):
        log.warning("boundary cache %s does not match its digest; rebuilding", path)
        return None
    return boundary


def store(folder: Path, method: str, design: Design, boundary: Boundary) -> None:
    """File the boundary atomically (write a temporary file, then rename)."""
    document = {
        "method": method,
        "design": _plain(dict(design)),
        "arithmetic": ARITHMETIC,
        "digest": boundary.digest,
        "boundary": {
            "method": boundary.method,
            "n_max": boundary.n_max,
            "looks": list(boundary.looks),
            "stop_at": list(boundary.stop_at),
            "params": {k: _plain(v) for k, v in boundary.params.items()},
        },
    }
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{design_key(method, design)}.json"
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".boundary-", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(document, out, indent=1, sort_keys=True, allow_nan=False)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
