"""Reading a forecasting table from CSV with checks, and continuing its dates.

Every problem is reported before any training, naming the file, line and column, and what
to do: missing values, non-numeric cells, unreadable, unsorted or duplicate dates.
"""

from __future__ import annotations

import csv
import itertools
import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from minirnn.apps.data.io import (
    check_cells,
    column_index,
    csv_delimiter,
    csv_errors,
    read_header,
    short,
)

__all__ = ["SeriesTable", "calendar_periods", "format_dates", "future_dates",
           "infer_frequency", "load_table", "parse_dates"]

#: A number with a decimal comma, read as such in files separated by ``;`` or tabs.
_DECIMAL_COMMA = re.compile(r"[+-]?\d+,\d+")
#: A number with thousands separators (refused, with a hint: 12,079 could be 12.079).
_THOUSANDS = re.compile(r"[+-]?\d{1,3}(,\d{3})+(\.\d+)?")

#: Header names taken as a date column when ``date_column="auto"``.
_DATE_NAMES = ("", "date", "time", "month", "year", "day", "week", "quarter", "timestamp",
               "datetime", "period", "ds")


@dataclass
class SeriesTable:
    """A target column, optional feature columns and optional dates, in file order.

    Attributes
    ----------
    values : ndarray, shape (T,)
    features : ndarray, shape (T, E) or None
    dates : ndarray of datetime64, shape (T,), or None
    column : str
    feature_names : list of str
    date_column : str or None
    inferred : list of str
        What was inferred about the columns (a date or index column), in words.
    index_column : str or None
        The first column when it holds whole numbers read as a row index or years, not
        dates (not a series to forecast either).
    """

    values: np.ndarray
    features: np.ndarray | None
    dates: np.ndarray | None
    column: str
    feature_names: list[str] = field(default_factory=list)
    date_column: str | None = None
    inferred: list[str] = field(default_factory=list)
    index_column: str | None = None


_MONTHS = {m: i + 1 for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul",
                                             "aug", "sep", "oct", "nov", "dec"))}
_QUARTER = re.compile(r"(\d{4})\s*[-/ ]?\s*Q([1-4])|Q([1-4])\s*[-/ ]?\s*(\d{4})", re.I)
_MONTH_NAME = re.compile(r"(\d{4})\s*[-/ ]?\s*([a-z]{3})[a-z]*\.?|([a-z]{3})[a-z]*\.?\s*[-/ ]?"
                         r"\s*(\d{4})", re.I)
_SLASHED = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?")


def _iso_texts(texts: list[str]) -> list[str]:
    """The column's dates as ISO 8601 when every cell has one of the common non-ISO forms:
    quarters (``1959Q1``, ``1959-Q1``, ``Q1 1959``), month names (``1991 Jul``,
    ``Jan-2015``), or slashes (``31/12/2020``, ``01/31/2015 00:30``: day first when a first
    field exceeds 12, month first when a second does; left as they are when no cell
    decides). Other columns are returned unchanged."""
    cells = [str(t).strip() for t in texts]
    if not cells:
        return cells
    quarters = [_QUARTER.fullmatch(c) for c in cells]
    if all(quarters):
        return [f"{m[1] or m[4]}-{3 * int(m[2] or m[3]) - 2:02d}"
                for m in quarters if m is not None]
    named = [_MONTH_NAME.fullmatch(c) for c in cells]
    if all(m is not None and (m[2] or m[3]).lower() in _MONTHS for m in named):
        return [f"{m[1] or m[4]}-{_MONTHS[(m[2] or m[3]).lower()]:02d}"
                for m in named if m is not None]
    slashed = [_SLASHED.fullmatch(c) for c in cells]
    if all(slashed):
        found = [m for m in slashed if m is not None]
        day_first = any(int(m[1]) > 12 for m in found)
        month_first = any(int(m[2]) > 12 for m in found)
        if day_first == month_first:  # undecided (or contradictory): not read as dates
            return cells
        out = []
        for m in found:
            day, month = (m[1], m[2]) if day_first else (m[2], m[1])
            clock = "" if m[4] is None else f"T{int(m[4]):02d}:{m[5]}:{m[6] or '00'}"
            out.append(f"{m[3]}-{int(month):02d}-{int(day):02d}{clock}")
        return out
    return cells


def parse_dates(texts: list[str] | np.ndarray, what: str = "dates") -> np.ndarray:
    """Date strings to ``datetime64``: ISO 8601 (``1949-01``, ``1981-01-31``, ``1821``,
    ``2020-01-01 00:30``), or a column wholly in one common other form: quarters
    (``1959Q1``, ``1959-Q1``), month names (``1991 Jul``, ``Jan-2015``) or slashed dates
    whose order a day above 12 decides (``31/12/2020``, ``01/31/2015 00:30``)."""
    out = []
    texts = _iso_texts(list(texts))
    for i, text in enumerate(texts):
        try:
            if str(text).strip().lower() in ("nat", "today", "now", ""):
                raise ValueError("not a date")  # numpy reads these, but they name no date
            with warnings.catch_warnings():  # an offset (Z, +0100) is converted to UTC
                warnings.filterwarnings("ignore", "no explicit representation of timezones")
                out.append(np.datetime64(str(text).strip()))
        except ValueError:
            raise ValueError(f"{what}: row {i + 1} has {text!r}, not an ISO 8601 date "
                             "(like 1949-01, 1981-01-31 or 1821) nor a quarter (1959Q1), "
                             "a month name (1991 Jul) or a slashed date") from None
    return np.array(out)  # numpy promotes mixed resolutions to the finest one


def infer_frequency(dates: np.ndarray) -> tuple[str, int]:
    """The step between dates as ``(unit, count)``: ``("M", 1)`` monthly, ``("D", 7)`` weekly.

    Calendar months (and years) are recognised when every date is the first of a month, or
    every date the last of a month, so ``1969-01-01, 1969-02-01`` and ``2015-01-31,
    2015-02-28`` are monthly. Irregular steps give the most common one.
    """
    d = np.asarray(dates)
    if len(d) < 2:
        raise ValueError("need at least two dates to infer their frequency")
    unit = np.datetime_data(d.dtype)[0]
    months = d.astype("datetime64[M]")
    if unit in ("Y", "M") or np.all(months.astype(d.dtype) == d) or _month_ends(d):
        steps = np.diff(months.astype(np.int64))
        unit = "M"
    else:
        days = d.astype("datetime64[D]")
        if np.all(days.astype(d.dtype) == d):
            steps, unit = np.diff(days.astype(np.int64)), "D"
        else:
            steps, unit = np.diff(d.astype("datetime64[s]").astype(np.int64)), "s"
    values, counts = np.unique(steps, return_counts=True)
    step = int(values[np.argmax(counts)])
    if unit == "M" and step % 12 == 0:
        return "Y", step // 12
    return unit, max(step, 1)


def calendar_periods(dates: np.ndarray) -> tuple[int, ...]:
    """The seasonal periods the calendar implies for dates of this frequency, shortest first:
    ``(12,)`` monthly, ``(4,)`` quarterly, ``(7, 365)`` daily, ``(52,)`` weekly,
    ``(24, 168)`` hourly, ``(48, 336)`` half-hourly; ``()`` for yearly or other steps."""
    if dates is None or len(dates) < 2:
        return ()
    unit, step = infer_frequency(dates)
    return {("M", 1): (12,), ("M", 3): (4,), ("D", 1): (7, 365), ("D", 7): (52,),
            ("s", 3600): (24, 168), ("s", 1800): (48, 336),
            ("s", 900): (96, 672)}.get((unit, step), ())


def _counts_up(texts: list[str]) -> bool:
    """True when every cell is a whole number and each is the one before plus 1."""
    try:
        ints = [int(t.strip()) for t in texts]
    except ValueError:
        return False
    return all(b - a == 1 for a, b in itertools.pairwise(ints))


def _whole_numbers(texts: list[str]) -> bool:
    stripped = [t.strip().lstrip("+-") for t in texts]
    return all(t.isdigit() for t in stripped)


def _month_ends(d: np.ndarray) -> bool:
    """Every date is midnight of the last day of its month."""
    days = d.astype("datetime64[D]")
    return bool(np.all(days.astype(d.dtype) == d)
                and np.all((days + 1).astype("datetime64[M]") != days.astype("datetime64[M]")))


def future_dates(dates: np.ndarray, steps: int) -> np.ndarray:
    """``steps`` dates after the last one, continuing the inferred frequency (same dtype;
    month ends stay month ends)."""
    d = np.asarray(dates)
    unit, step = infer_frequency(d)
    if unit in ("M", "Y") and np.datetime_data(d.dtype)[0] not in ("Y", "M") and _month_ends(d):
        months = step * (12 if unit == "Y" else 1) * np.arange(1, steps + 1)
        after = d[-1].astype("datetime64[M]") + months + 1  # the month after each target
        return (after.astype("datetime64[D]") - 1).astype(d.dtype)
    last = d[-1].astype(f"datetime64[{unit}]")
    ahead = last + step * np.arange(1, steps + 1)
    return ahead.astype(d.dtype)


def _fill_gaps(values: np.ndarray, names: list[str], lines: list[int], path: Path,
               inferred: list[str]) -> slice:
    """Fill the NaN of ``values`` (rows, columns; the target first) in place; returns the
    rows kept: from the target's first value to its last (a series cannot be forecast from
    or evaluated on rows without it)."""
    present = np.flatnonzero(~np.isnan(values[:, 0]))
    if present.size < 2:
        raise ValueError(f"{path}: column {names[0]!r} has {present.size} value(s) among "
                         f"{len(values)} rows; at least 2 are needed to interpolate")
    keep = slice(int(present[0]), int(present[-1]) + 1)
    dropped = len(values) - (keep.stop - keep.start)
    if dropped:
        inferred.append(f"{dropped} row(s) without a value of {names[0]!r} at the start or "
                        "end of the file left out")
    block = values[keep]
    steps = np.arange(len(block))
    for j, name in enumerate(names):
        gaps = np.isnan(block[:, j])
        if not gaps.any():
            continue
        if gaps.all() or (~gaps).sum() < 2:
            raise ValueError(f"{path}: column {name!r} has {int((~gaps).sum())} value(s) in "
                             f"lines {lines[keep.start]}..{lines[keep.stop - 1]}; at least 2 "
                             "are needed to interpolate")
        block[gaps, j] = np.interp(steps[gaps], steps[~gaps], block[~gaps, j])
        first = lines[keep.start + int(np.argmax(gaps))]
        inferred.append(f"{int(gaps.sum())} missing value(s) of {name!r} interpolated "
                        f"(first on line {first})")
    return keep


def _date_like(name: str) -> bool:
    """A header that names dates: one of :data:`_DATE_NAMES` (empty included) or a name
    holding "date" or "time" (``datetime_gmt``, ``Date_Time``)."""
    low = name.lower()
    return low in _DATE_NAMES or "date" in low or "time" in low


def format_dates(dates: np.ndarray) -> list[str]:
    """Dates as ISO strings at their own resolution (``1961-01``, ``1991-01-01``)."""
    return [str(v) for v in np.datetime_as_string(np.asarray(dates))]


def load_table(path: str | os.PathLike[str], column: str, *, features: list[str] | None = None,
               date_column: str | None = "auto", missing: str = "error") -> SeriesTable:
    """Read the target column, feature columns and dates of a CSV file, with checks.

    Parameters
    ----------
    path : str or path-like
        CSV with a header row; UTF-8 (BOM ignored); blank lines skipped.
    column : str
        The series to forecast.
    features : list of str, optional
        Extra numeric columns used as inputs.
    date_column : str or None
        The date column; ``"auto"`` takes the first column when its header looks like a date
        (Date, Month, Time, Year, ... or empty) and every cell is a text date (``1949-01``,
        ``1981-01-31``): a first column of whole numbers (``0, 1, 2``; ``1821, 1822``) is
        read as a row index, not as years, unless named here; None for no dates. What was
        inferred is in :attr:`SeriesTable.inferred`.
    missing : {"error", "interpolate"}
        Empty or ``NA``/``NaN``/``null``/``?`` cells: ``"error"`` stops at the first one;
        ``"interpolate"`` drops the rows before the target's first value and after its last,
        then fills the gaps linearly in row order (a feature's edges take its nearest
        value), and says how many in :attr:`SeriesTable.inferred`.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        Empty file, missing column, missing value (with ``missing="error"``; with
        ``"interpolate"``, a column with fewer than two values), non-numeric or non-finite
        cell, or dates that cannot be read, are not increasing, or repeat; the message names
        the line.
    """
    if missing not in ("error", "interpolate"):
        raise ValueError(f"missing must be 'error' or 'interpolate', got {missing!r}")
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"CSV file not found: {p}"
                                + (" (a folder, not a file)" if p.is_dir() else ""))
    delimiter = csv_delimiter(p)
    with csv_errors(p), p.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        header = read_header(reader, p)
        rows = [(reader.line_num, row) for row in reader
                if row and any(cell.strip() for cell in row)]
    for line, row in rows:
        check_cells(row, line, p)
    if not rows:
        raise ValueError(f"{p} has a header but no data rows")
    features = list(features or [])
    col = column_index(header, column, "column", p)
    feat = [column_index(header, f, "feature column", p) for f in features]
    if col in feat:
        raise ValueError(f"{p}: column {column!r} is the target; do not list it in --features")
    date_idx: int | None = None
    inferred: list[str] = []
    index_column: str | None = None
    if date_column == "auto" and col != 0 and 0 not in feat:
        first = header[0].strip()
        label = repr(first) if first else "the unnamed first column"
        cells = [r[0] if r else "" for _, r in rows]
        if _whole_numbers(cells) and (first.lower() in _DATE_NAMES or _counts_up(cells)):
            # Numbers are not dates: 0, 1, 2 would read as the years 0000, 0001, ...
            index_column = first
            inferred.append(f"{label} holds whole numbers"
                            + (" counting up by one: a row index" if _counts_up(cells)
                               else "") + ", not dates (name it with --date-column to read "
                            "them as years)")
        elif _date_like(first):
            try:
                parse_dates(cells)
                date_idx = 0
            except ValueError:
                inferred.append(f"{label} is not a column of dates: no dates used")
        second = header[1].strip() if len(header) > 1 else ""
        if index_column is not None and col != 1 and 1 not in feat and _date_like(second):
            # a saved row index first (pandas' to_csv), the dates after it
            try:
                parse_dates([r[1] if len(r) > 1 else "" for _, r in rows])
                date_idx = 1
            except ValueError:
                inferred.append(f"{second!r} is not a column of dates: no dates used")
    elif date_column not in (None, "auto"):
        assert date_column is not None
        date_idx = column_index(header, date_column, "date column", p)
    needed = max([col, *feat, -1 if date_idx is None else date_idx])
    values = np.empty((len(rows), 1 + len(feat)))
    for i, (line, row) in enumerate(rows):
        if len(row) <= needed:
            raise ValueError(f"{p}, line {line}: expected at least {needed + 1} fields, got "
                             f"{len(row)}")
        for j, c in enumerate([col, *feat]):
            text = row[c].strip()
            name = header[c].strip()
            if not text or text.lower() in ("na", "nan", "null", "none", "?"):
                if missing == "error":
                    raise ValueError(f"{p}, line {line}: column {name!r} has a missing value "
                                     f"({row[c]!r}); fill it in or drop the row before "
                                     "training (or let it be interpolated: --missing "
                                     "interpolate)")
                values[i, j] = np.nan
                continue
            if delimiter != "," and _DECIMAL_COMMA.fullmatch(text):
                text = text.replace(",", ".")  # 12,5 where the separator is ; or a tab
            try:
                v = float(text)
            except ValueError:
                hint = " (thousands separators? write 12079, not 12,079)" \
                    if _THOUSANDS.fullmatch(text) else ""
                raise ValueError(f"{p}, line {line}: column {name!r} has a non-numeric "
                                 f"value {short(row[c])}; expected a number{hint}") from None
            if not np.isfinite(v):
                raise ValueError(f"{p}, line {line}: column {name!r} has a non-finite value "
                                 f"{row[c]!r}")
            values[i, j] = v
    if missing == "interpolate" and np.isnan(values).any():
        keep = _fill_gaps(values, [header[c].strip() for c in [col, *feat]],
                          [line for line, _ in rows], p, inferred)
        rows = rows[keep]
        values = values[keep]
    dates = None
    if date_idx is not None:
        name = header[date_idx].strip()
        texts = [r[date_idx] for _, r in rows]
        try:
            dates = parse_dates(texts, f"{p}, date column {name!r}")
        except ValueError as exc:
            bad = int(str(exc).split("row ")[1].split()[0]) - 1 if "row " in str(exc) else 0
            raise ValueError(f"{p}, line {rows[bad][0]}: date column {name!r} has "
                             f"{texts[bad]!r}, not an ISO 8601 date (like 1949-01, "
                             f"1981-01-31 or 1821) nor a quarter (1959Q1), a month name "
                             f"(1991 Jul) or a slashed date") from None
        steps = np.diff(dates.astype("datetime64[s]").astype(np.int64))
        if np.any(steps == 0):
            k = int(np.argmax(steps == 0)) + 1
            raise ValueError(f"{p}, line {rows[k][0]}: date {texts[k].strip()!r} repeats the "
                             f"date of line {rows[k - 1][0]}; each row must be one time step "
                             "(aggregate or drop duplicates)")
        if np.any(steps < 0):
            k = int(np.argmax(steps < 0)) + 1
            raise ValueError(f"{p}, line {rows[k][0]}: date {texts[k].strip()!r} comes before "
                             f"{texts[k - 1].strip()!r} of line {rows[k - 1][0]}; sort the "
                             f"file by {name or 'its date column'!r} first")
        if len(dates) > 1:
            unit, step = infer_frequency(dates)
            every = {"Y": "year", "M": "month", "D": "day", "s": "second"}[unit]
            for size, name_of in ((3600, "hour"), (60, "minute")):  # 1800 s: 30 minutes
                if unit == "s" and step % size == 0:
                    step, every = step // size, name_of
                    break
            inferred.append(f"dates from {repr(name) if name else 'the unnamed first column'}"
                            f" ({'every ' + every if step == 1 else f'every {step} {every}s'})")
    return SeriesTable(values=values[:, 0].copy(),
                       features=values[:, 1:].copy() if feat else None,
                       dates=dates, column=header[col].strip(), feature_names=features,
                       date_column=None if date_idx is None else header[date_idx].strip(),
                       inferred=inferred, index_column=index_column)
