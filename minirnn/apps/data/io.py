"""Read one numeric column of a CSV file (standard library ``csv``; no pandas)."""

from __future__ import annotations

import contextlib
import csv
import datetime
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal, overload

import numpy as np

from minirnn.nn._validation import check_float_dtype

__all__ = ["check_cells", "column_index", "csv_delimiter", "csv_errors", "load_csv_column",
           "read_header", "short"]

#: Dates numpy reads that name no date in the file ("NaT", "today", "now"): refused.
_NOT_DATES = ("nat", "today", "now", "")


def short(text: str, limit: int = 40) -> str:
    """``repr`` of a cell for an error message, cut to ``limit`` characters."""
    return repr(text if len(text) <= limit else text[:limit] + "...")


@contextlib.contextmanager
def csv_errors(path: Path) -> Iterator[None]:
    """Turn what ``csv`` and ``codecs`` raise while a CSV file is read into one
    ``ValueError`` naming the file (and the encoding expected), never a ``_csv.Error`` or a
    bare "'utf-8' codec can't decode"."""
    try:
        yield
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not a UTF-8 text file (byte 0x{exc.object[exc.start]:02x} "
                         f"at position {exc.start} is not UTF-8); save it as UTF-8, e.g. "
                         f"iconv -f latin1 -t utf-8") from None
    except csv.Error as exc:
        hint = " (is a quote left unclosed?)" if "field" in str(exc) or "quot" in str(exc) \
            else ""
        raise ValueError(f"{path}: not a readable CSV file ({exc}){hint}") from None


def check_cells(row: list[str], line: int, path: Path) -> None:
    """Refuse a row whose cell spans lines: a quote opened and never closed swallows the
    rest of the file into one cell."""
    for cell in row:
        if "\n" in cell or "\r" in cell:
            raise ValueError(f"{path}, line {line}: a quoted field runs over several lines "
                             f"({short(cell)}); is a quote left unclosed?")


def csv_delimiter(path: Path) -> str:
    """The field separator of a CSV file from its first non-empty line: ``,`` when the line
    holds one, else ``;`` (spreadsheets in locales with a decimal comma) or a tab, else
    ``,`` (a file of one column)."""
    with path.open(newline="", encoding="utf-8-sig", errors="replace") as handle:
        first = next((line for line in handle if line.strip()), "")
    for sep in (",", ";", "\t"):
        if sep in first:
            return sep
    return ","


def read_header(reader: Any, path: Path) -> list[str]:
    """The first non-empty row of a ``csv.reader``: the header, its cells checked."""
    header: list[str] | None = next((row for row in reader if row), None)
    if header is None:
        raise ValueError(f"{path} is empty: expected a header row and data rows")
    check_cells(header, reader.line_num, path)
    return header


def column_index(header: list[str], column: str | int, what: str, path: Path) -> int:
    """The index of ``column`` in a CSV header: the one rule of every CSV reader.

    A name matches a header entry with surrounding spaces ignored on both sides, case
    sensitive, and must occur once; an int is a 0-based index. Raises ValueError naming
    ``what`` (e.g. ``"column"``), the file and the available columns.
    """
    names = [name.strip() for name in header]
    if isinstance(column, bool) or not isinstance(column, (str, int)):
        raise TypeError(
            f"{what} must be a column name (str) or a 0-based index (int), "
            f"got {type(column).__name__}"
        )
    if isinstance(column, int):
        if not 0 <= column < len(names):
            raise ValueError(
                f"{what}={column} is out of range: {path} has {len(names)} columns {names}"
            )
        return column
    matches = [i for i, name in enumerate(names) if name == column.strip()]
    if not matches:
        raise ValueError(f"{what} {column!r} not found in {path}; available columns: {names}")
    if len(matches) > 1:
        raise ValueError(f"{what} {column!r} appears {len(matches)} times in the header of {path}")
    return matches[0]


def _parse_date(text: str, date_format: str | None, line: int, path: Path) -> Any:
    try:
        if date_format is None:
            if text.strip().lower() in _NOT_DATES:
                raise ValueError("not a date")
            return np.datetime64(text.strip())
        return datetime.datetime.strptime(text.strip(), date_format)
    except ValueError as exc:
        expected = "an ISO 8601 date" if date_format is None else f"format {date_format!r}"
        hint = " (pass date_format=...)" if date_format is None else ""
        raise ValueError(
            f"{path}, line {line}: cannot read date {text!r} as {expected}{hint}"
        ) from exc


@overload
def load_csv_column(
    path: str | os.PathLike[str],
    column: str | int,
    *,
    date_column: str | int | None = None,
    date_format: str | None = None,
    dtype: Any = np.float64,
    return_dates: Literal[False] = False,
) -> np.ndarray: ...


@overload
def load_csv_column(
    path: str | os.PathLike[str],
    column: str | int,
    *,
    date_column: str | int | None = None,
    date_format: str | None = None,
    dtype: Any = np.float64,
    return_dates: Literal[True],
) -> tuple[np.ndarray, np.ndarray]: ...


def load_csv_column(
    path: str | os.PathLike[str],
    column: str | int,
    *,
    date_column: str | int | None = None,
    date_format: str | None = None,
    dtype: Any = np.float64,
    return_dates: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Load one numeric column of a CSV file with a header row, optionally sorted by date.

    Parameters
    ----------
    path : str or path-like
        A comma-separated file whose first non-blank row is the header; UTF-8 (a BOM is
        ignored), quoted fields allowed. Blank lines are skipped.
    column : str or int
        The column to read: a header name (surrounding spaces ignored) or a 0-based index.
    date_column : str or int, optional
        A column of dates to sort the rows by (stable: equal dates keep the file's order).
    date_format : str, optional
        ``datetime.strptime`` format of the dates; by default they must be ISO 8601
        (``1981-01-31``, ``1949-01``, ``1981-01-31T06:00``), read with ``numpy.datetime64``.
    dtype : float32 or float64
    return_dates : bool
        Also return the dates (needs ``date_column``).

    Returns
    -------
    values : ndarray, shape (T,)
        The column's values, in date order when ``date_column`` is given, else in file order.
    dates : ndarray of str, shape (T,)
        Only with ``return_dates=True``: the date strings as written, in the same order.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is empty or has no data rows, a column is missing (the message lists the
        available ones), or a value is empty, not a number, NaN/Inf, or a date cannot be read
        (the message gives the line number and the value).

    Examples
    --------
    >>> temps = load_csv_column("daily-min-temperatures.csv", "Temp", date_column="Date")
    ... # doctest: +SKIP
    """
    dt = check_float_dtype(dtype, "dtype")
    if return_dates and date_column is None:
        raise ValueError("return_dates=True needs date_column")
    if date_format is not None and date_column is None:
        raise ValueError("date_format is only used with date_column")
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"CSV file not found: {p}")
    values: list[float] = []
    raw_dates: list[str] = []
    parsed_dates: list[Any] = []
    with csv_errors(p), p.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = read_header(reader, p)
        col = column_index(header, column, "column", p)
        date_col = None if date_column is None else column_index(
            header, date_column, "date_column", p
        )
        needed = max(col, -1 if date_col is None else date_col)
        for row in reader:
            if not row or all(not field.strip() for field in row):
                continue
            line = reader.line_num
            check_cells(row, line, p)
            if len(row) <= needed:
                raise ValueError(
                    f"{p}, line {line}: expected at least {needed + 1} fields, got {len(row)}: "
                    f"{row}"
                )
            text = row[col].strip()
            if not text:
                raise ValueError(
                    f"{p}, line {line}: column {header[col].strip()!r} has an empty value"
                )
            try:
                value = float(text)
            except ValueError:
                raise ValueError(
                    f"{p}, line {line}: column {header[col].strip()!r} has a non-numeric "
                    f"value {short(row[col])}"
                ) from None
            if not np.isfinite(value):
                raise ValueError(
                    f"{p}, line {line}: column {header[col].strip()!r} has a non-finite "
                    f"value {row[col]!r}"
                )
            values.append(value)
            if date_col is not None:
                raw_dates.append(row[date_col].strip())
                parsed_dates.append(_parse_date(row[date_col], date_format, line, p))
    if not values:
        raise ValueError(f"{p} has a header but no data rows")
    out = np.asarray(values, dtype=dt)
    if date_col is None:
        return out
    order = np.argsort(np.array(parsed_dates), kind="stable")
    out = out[order]
    if return_dates:
        return out, np.asarray(raw_dates, dtype=str)[order]
    return out
