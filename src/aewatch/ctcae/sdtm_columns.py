"""Column helpers shared by the lab modules: numbers, factor codes, test codes.

Factorizing a column once and working on its distinct values is what keeps lab grading
vectorised: text work happens per distinct test code or unit, never per row. A
categorical column (``grade-labs`` reads its export that way) is already factorized: its
codes and categories are used as they are, without a million Python strings.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd


def normalise_testcd(code: object) -> str:
    return code.strip().upper() if isinstance(code, str) else ""


def numeric_column(
    frame: pd.DataFrame, column: str, rows: npt.NDArray[np.intp] | None = None
) -> npt.NDArray[np.float64]:
    """The column as floats (unparseable text as NaN), at ``rows`` (positions) if given.
    Text columns are parsed once per distinct value: lab exports repeat their ranges and
    many of their results."""
    if column not in frame.columns:
        return np.full(len(frame) if rows is None else len(rows), np.nan)
    values = frame[column] if rows is None else frame[column].iloc[rows]
    if values.dtype == np.float64:  # parsed already
        return values.to_numpy(dtype=np.float64, copy=True)
    if isinstance(values.dtype, pd.CategoricalDtype):
        categories = pd.Series(values.cat.categories.to_numpy(dtype=object), dtype=object)
        parsed = np.append(_to_float(categories), np.nan)  # code -1 reads the NaN
        return parsed[values.cat.codes.to_numpy()]
    if pd.api.types.is_numeric_dtype(values.dtype) or len(values) < 1000:
        return _to_float(values)
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    parsed = np.append(_to_float(pd.Series(uniques)), np.nan)  # code -1 reads the NaN
    return parsed[codes]


def _to_float(values: pd.Series) -> npt.NDArray[np.float64]:
    return pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def factor_codes(values: pd.Series) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.object_]]:
    """Factorize; missing values get their own code (the last) instead of -1."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        small = values.cat.codes.to_numpy()  # int8/int16: cheap to scan for -1
        uniques_obj = np.append(values.cat.categories.to_numpy(dtype=object), None)
        codes = small.astype(np.intp)
        missing = small < 0
        if missing.any():
            codes[missing] = len(uniques_obj) - 1
        return codes, uniques_obj
    codes, uniques = pd.factorize(values.astype(object), use_na_sentinel=True)
    uniques_obj = np.append(np.asarray(uniques, dtype=object), None)
    codes = np.where(codes < 0, len(uniques_obj) - 1, codes)
    return codes, uniques_obj


def testcd_codes(lb: pd.DataFrame) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.object_]]:
    """Codes of normalised LBTESTCD (" alt" and "ALT" are one test)."""
    raw_codes, raw_uniques = factor_codes(lb["LBTESTCD"])
    normalised = np.asarray([normalise_testcd(u) for u in raw_uniques], dtype=object)
    norm_codes, norm_uniques = pd.factorize(normalised)
    return norm_codes[raw_codes], np.asarray(norm_uniques, dtype=object)


def categorical_text(values: pd.Series) -> pd.Series:
    """An Arrow-backed text column as a categorical (codes and distinct texts, in order of
    first appearance, as ``pd.factorize`` gives them), encoded by Arrow without making a
    Python string per row. Other columns are returned as they are."""
    dtype = values.dtype
    if not (isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow"):
        return values
    import pyarrow as pa
    import pyarrow.compute as pc

    text = pa.chunked_array(pa.array(values, from_pandas=True)).combine_chunks()
    encoded = pc.dictionary_encode(text)
    codes = pc.fill_null(encoded.indices, -1).to_numpy()
    categories = pd.Index(encoded.dictionary.to_numpy(zero_copy_only=False), dtype=object)
    coded = pd.Categorical.from_codes(codes, categories=categories)
    return pd.Series(coded, index=values.index, name=values.name)
