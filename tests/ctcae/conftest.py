"""Fixtures for the CTCAE grading tests: tiny LB builders and the shared reference paths.

Tests that read ``../shared`` skip cleanly where it is absent; everything else uses
the small extracts in ``tests/ctcae/data``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

DATA = Path(__file__).resolve().parent / "data"


def lab_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """An SDTM-like LB frame from dicts; missing columns default to empty."""
    defaults = {
        "USUBJID": "S1",
        "LBTESTCD": None,
        "LBSTRESN": np.nan,
        "LBSTRESU": None,
        "LBSTNRLO": np.nan,
        "LBSTNRHI": np.nan,
        "LBDTC": "2024-01-01",
        "LBBLFL": None,
    }
    return pd.DataFrame([{**defaults, **row} for row in rows])


@pytest.fixture
def data_dir() -> Path:
    """Small extracts copied into tests/ctcae/data (always present)."""
    return DATA


@pytest.fixture
def make_lb() -> Callable[[list[dict[str, Any]]], pd.DataFrame]:
    return lab_frame


@pytest.fixture
def grade_one() -> Callable[..., tuple[Any, Any]]:
    """Grade one LB record: returns (low grade, high grade) with None for not gradable."""
    from aewatch.ctcae.labs import grade_labs

    def run(
        testcd: str,
        value: float | None,
        unit: str | None = None,
        *,
        lln: float | None = None,
        uln: float | None = None,
        base: float | None = None,
        bnrind: str | None = None,
        base_unit: str | None = None,
        unit_system: str = "SI",
    ) -> tuple[Any, Any]:
        row = {
            "LBTESTCD": testcd,
            "LBSTRESN": np.nan if value is None else value,
            "LBSTRESU": unit,
            "LBSTNRLO": np.nan if lln is None else lln,
            "LBSTNRHI": np.nan if uln is None else uln,
        }
        if base is not None or bnrind is not None:
            row |= {
                "BASE": np.nan if base is None else base,
                "BNRIND": bnrind,
                "BASEU": base_unit or unit,
            }
        frame = lab_frame([row])
        out = grade_labs(frame, unit_system=unit_system).iloc[0]
        low, high = out["tox_grade_low"], out["tox_grade_high"]
        return (None if pd.isna(low) else int(low), None if pd.isna(high) else int(high))

    return run


@pytest.fixture
def grade_with_note() -> Callable[..., pd.Series]:
    """Grade one LB record and return the whole output row (grades, terms, note)."""
    from aewatch.ctcae.labs import grade_labs

    def run(**row: Any) -> pd.Series:
        return grade_labs(lab_frame([row])).iloc[0]

    return run
