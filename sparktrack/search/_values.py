"""Reading one column of a runs frame as numpy arrays, for filtering and sorting alike.

What is missing is what pandas' ``isna`` says: in a plain ``float64`` column NaN is
missing; in an Arrow-backed one (``double[pyarrow]``, as ``search_runs`` builds them)
only null is, and a logged NaN is a value. Text (params) that is not a number reads
as NaN when numbers are wanted. Work that depends only on a value (parsing, regex
matching) is done once per distinct value, since params and tags repeat a lot.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt
import pandas as pd

__all__ = [
    "BoolArray",
    "Distinct",
    "FloatArray",
    "as_numbers",
    "as_texts",
    "present",
    "to_bools",
]

BoolArray: TypeAlias = npt.NDArray[np.bool_]
FloatArray: TypeAlias = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Distinct:
    """A factorized column: the distinct present values and each row's code (-1 if missing)."""

    codes: npt.NDArray[np.intp]
    values: pd.Index

    @staticmethod
    def of(series: pd.Series) -> Distinct:
        codes, values = pd.factorize(series)
        return Distinct(np.asarray(codes, dtype=np.intp), pd.Index(values))

    def spread(self, per_value: npt.NDArray[Any], missing: Any) -> npt.NDArray[Any]:
        """One result per row from one result per distinct value; ``missing`` where missing."""
        # Code -1 indexes the appended last element, which holds the missing marker.
        return np.append(per_value, missing)[self.codes]


def present(series: pd.Series) -> BoolArray:
    """Where the column has a value (pandas' ``notna``)."""
    return np.asarray(series.notna().to_numpy(dtype=bool), dtype=np.bool_)


def as_numbers(series: pd.Series) -> FloatArray:
    """Float values with NaN for missing; text (params) that is not a number becomes NaN."""
    if pd.api.types.is_numeric_dtype(series.dtype):
        return np.asarray(series.to_numpy(dtype=float, na_value=np.nan), dtype=np.float64)
    # Parsing text is the slow part, so parse each distinct value once.
    distinct = Distinct.of(series)
    parsed = pd.to_numeric(pd.Series(distinct.values, dtype=object), errors="coerce")
    numbers = np.asarray(parsed.to_numpy(dtype=float, na_value=np.nan), dtype=np.float64)
    return np.asarray(distinct.spread(numbers, missing=np.nan), dtype=np.float64)


def as_texts(series: pd.Series) -> pd.Series:
    """The column as strings with missing values, whatever dtype it was loaded with."""
    if pd.api.types.is_string_dtype(series.dtype) or series.dtype == object:
        return series
    # e.g. an all-missing tag column that pandas inferred as float64.
    return series.astype("string")


def to_bools(mask: pd.Series) -> BoolArray:
    """A boolean Series (possibly nullable) as a plain numpy mask, NA counting as False."""
    return np.asarray(mask.to_numpy(dtype=bool, na_value=False), dtype=np.bool_)
