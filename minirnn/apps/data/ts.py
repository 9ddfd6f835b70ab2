"""Labelled sequences from files: the sktime/aeon ``.ts`` format and one-series-a-row CSV.

The ``.ts`` format is the native format of the UEA/UCR time-series classification archive
(see sktime's "ts File Format v1.0" and aeon's ``load_from_ts_file``)::

    # comment lines (also '%') describe the data set
    @problemName JapaneseVowels
    @timeStamps false
    @missing false
    @univariate false
    @dimensions 12
    @equalLength false
    @classLabel true 1 2 3 4 5 6 7 8 9
    @data
    1.86,1.89,1.93:-0.20,-0.19,-0.23: ... :1

One case a line: dimensions separated by ``:``, values by ``,``, the class label last; ``?``
(or ``NaN``) marks a missing value. Tags are case-insensitive and may come in any order before
``@data``. Every error names the file and line.
"""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from minirnn.apps.data.io import column_index, csv_errors

__all__ = [
    "MAX_PADDED_BYTES", "LabelledSequences", "fill_missing", "load_csv_sequences", "load_ts",
    "load_ts_header", "pad_sequences", "padded_bytes", "save_ts",
]

_MISSING = {"?", "nan"}
_BOOLEAN_TAGS = ("timestamps", "missing", "univariate", "equallength", "targetlabel")


class LabelledSequences(NamedTuple):
    """Padded sequences with their lengths and labels: ``x, lengths, y, classes = load_ts(p)``.

    Attributes
    ----------
    x : ndarray, shape (N, T, D), float64
        Sequence i holds ``x[i, :lengths[i]]``; later steps are zero padding. Missing values
        in the file are NaN (see :func:`fill_missing`).
    lengths : ndarray of int64, shape (N,)
    y : ndarray of int64, shape (N,), or None
        Index of each label in ``classes``; None for a file without labels.
    classes : list of str
        Class names in the file's declared order (``@classLabel true A B C``).
    """

    x: np.ndarray
    lengths: np.ndarray
    y: np.ndarray | None
    classes: list[str]


def _fail(path: Path, line: int | None, message: str) -> ValueError:
    where = f"{path}, line {line}" if line is not None else f"{path}"
    return ValueError(f"{where}: {message}")


def _read_lines(path: str | os.PathLike[str]) -> tuple[Path, list[str]]:
    p = Path(path)
    if p.is_dir():
        raise ValueError(f"{p} is a folder, expected a file")
    try:
        text = p.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise FileNotFoundError(f"{p}: no such file") from None
    except UnicodeDecodeError as exc:
        raise ValueError(f"{p}: not a UTF-8 text file ({exc.reason} at byte {exc.start})") \
            from None
    return p, text.splitlines()


def _parse_header(p: Path, lines: list[str]) -> tuple[dict[str, Any], int]:
    """The header tags and the index of the first line after ``@data``."""
    meta: dict[str, Any] = {"problemname": None, "timestamps": False, "missing": None,
                            "univariate": None, "dimensions": None, "equallength": None,
                            "serieslength": None, "classlabel": None, "classes": None,
                            "targetlabel": False}
    for i, raw in enumerate(lines):
        line = raw.strip()
        number = i + 1
        if not line or line[0] in "#%":
            continue
        if line[0] != "@":
            raise _fail(p, number, f"expected a header tag (@...) or a comment (#) before "
                        f"@data, got {line[:40]!r}")
        tokens = line.split()
        tag, values = tokens[0][1:].lower(), tokens[1:]
        if tag == "data":
            if values:
                raise _fail(p, number, f"@data takes no value, got {' '.join(values)!r}")
            return meta, i + 1
        if tag in _BOOLEAN_TAGS:
            if len(values) != 1 or values[0].lower() not in ("true", "false"):
                raise _fail(p, number, f"@{tokens[0][1:]} takes true or false, "
                            f"got {' '.join(values)!r}")
            meta[tag] = values[0].lower() == "true"
        elif tag in ("dimension", "dimensions", "serieslength"):
            key = "serieslength" if tag == "serieslength" else "dimensions"
            if len(values) != 1 or not values[0].isdigit() or int(values[0]) < 1:
                raise _fail(p, number, f"@{tokens[0][1:]} takes a positive integer, "
                            f"got {' '.join(values)!r}")
            meta[key] = int(values[0])
        elif tag == "classlabel":
            if not values or values[0].lower() not in ("true", "false"):
                raise _fail(p, number, "@classLabel takes true followed by the labels, or "
                            f"false; got {' '.join(values)!r}")
            meta["classlabel"] = values[0].lower() == "true"
            if meta["classlabel"] and values[1:]:
                if len(set(values[1:])) != len(values[1:]):
                    raise _fail(p, number, f"@classLabel repeats a label: {values[1:]}")
                meta["classes"] = list(values[1:])
        elif tag == "problemname":
            meta["problemname"] = " ".join(values)
        # Other tags (@description and the like) carry no structure: ignored, as aeon does.
    if not any(line.strip() for line in lines):
        raise _fail(p, None, "the file is empty")
    raise _fail(p, None, "no @data line: expected header tags, then @data, then one case "
                "a line")


def load_ts_header(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The header tags of a ``.ts`` file, without reading its data.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.ts`` file.

    Returns
    -------
    dict
        One entry per tag, keys lower case without the ``@`` (``problemname``,
        ``univariate``, ``dimensions``, ``equallength``, ``serieslength``, ...);
        ``classes`` holds the declared class labels as a list of strings.
    """
    p, lines = _read_lines(path)
    return _parse_header(p, lines)[0]


def _sort_labels(labels: set[str]) -> list[str]:
    try:
        return sorted(labels, key=float)
    except ValueError:
        return sorted(labels)


def _parse_value(text: str, p: Path, number: int, dim: int, step: int,
                 missing_allowed: bool) -> float:
    token = text.strip()
    if token.lower() in _MISSING:
        if not missing_allowed:
            raise _fail(p, number, f"missing value {token!r} at dimension {dim + 1}, step "
                        f"{step + 1}, but the header declares @missing false")
        return math.nan
    try:
        value = float(token)
    except ValueError:
        hint = " (timestamps are not supported)" if "(" in token else ""
        raise _fail(p, number, f"dimension {dim + 1}, step {step + 1}: cannot read "
                    f"{token!r} as a number{hint}") from None
    if not math.isfinite(value):
        raise _fail(p, number, f"dimension {dim + 1}, step {step + 1}: {token!r} is not a "
                    "finite number")
    return value


#: The most a padded batch (N x longest T x D values) may take: one very long case among
#: short ones would otherwise pad every case to its length (3,000 cases with one of
#: 1,000,000 steps asked for 22 GiB).
MAX_PADDED_BYTES = 2 * 2**30


def padded_bytes(lengths: np.ndarray, dims: int, dtype: Any = np.float64) -> int:
    """Bytes of the zero-padded array (N, max length, dims) of sequences of ``lengths``."""
    return len(lengths) * int(np.max(lengths)) * int(dims) * np.dtype(dtype).itemsize


def pad_sequences(series: list[np.ndarray], dtype: Any = np.float64) -> tuple[np.ndarray,
                                                                               np.ndarray]:
    """Stack sequences of shape (T_i, D) into one zero-padded batch.

    Parameters
    ----------
    series : list of ndarray
        N sequences, each of shape (T_i, D) with the same D.
    dtype : dtype, optional
        dtype of the padded array.

    Returns
    -------
    x : ndarray, shape (N, max T_i, D)
        The sequences, zeros after each one's last valid step.
    lengths : ndarray of int64, shape (N,)
        T_i of each sequence.

    Raises
    ------
    ValueError
        No sequences, different numbers of dimensions, or a padded array larger than
        :data:`MAX_PADDED_BYTES` (checked before anything is allocated).
    """
    if not series:
        raise ValueError("pad_sequences needs at least one sequence, got none")
    dims = {s.shape[1] for s in series}
    if len(dims) != 1:
        raise ValueError(f"all sequences must have the same number of dimensions, got "
                         f"{sorted(dims)}")
    lengths = np.array([len(s) for s in series], dtype=np.int64)
    need = padded_bytes(lengths, next(iter(dims)), dtype)
    if need > MAX_PADDED_BYTES:
        longest = int(np.argmax(lengths))
        raise ValueError(f"padding {len(series)} sequences to the longest (sequence "
                         f"{longest + 1}, {int(lengths[longest]):,} steps; the median has "
                         f"{int(np.median(lengths)):,}) would take {need / 2**30:.1f} GiB, "
                         f"more than the {MAX_PADDED_BYTES / 2**30:g} GiB allowed; shorten, "
                         "split or drop the longest sequences")
    x = np.zeros((len(series), int(lengths.max()), dims.pop()), dtype=dtype)
    for i, s in enumerate(series):
        x[i, :len(s)] = s
    return x, lengths


def _pad(p: Path, series: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    try:
        return pad_sequences(series)
    except ValueError as exc:
        raise _fail(p, None, str(exc)) from None


def load_ts(path: str | os.PathLike[str], *, classes: list[str] | None = None
            ) -> LabelledSequences:
    """Read a ``.ts`` file (sktime/aeon, UEA/UCR archive): univariate or multivariate,
    equal or unequal lengths, string or numeric labels, ``?`` for missing values.

    Parameters
    ----------
    path : str or PathLike
    classes : list of str, optional
        Class names to index the labels by (e.g. the training file's, when reading the test
        file); a label outside them is an error. Default: the file's ``@classLabel`` list
        (sorted labels found in the data if the header lists none).

    Returns
    -------
    LabelledSequences
        ``x`` (N, T, D) float64 zero-padded, ``lengths`` (N,), ``y`` (N,) int64 or None,
        ``classes``.

    Raises
    ------
    ValueError
        Naming the file and line: a malformed tag, timestamps (not supported), a regression
        file (``@targetLabel``), a value that is not a number, a case whose number of
        dimensions or length differs from the header or the other cases, a label not
        declared, a missing value where ``@missing false``, an empty file.
    FileNotFoundError
    """
    p, lines = _read_lines(path)
    meta, start = _parse_header(p, lines)
    if meta["timestamps"]:
        raise _fail(p, None, "@timeStamps true is not supported: minirnn reads value lists "
                    "(equally spaced steps) only")
    if meta["targetlabel"]:
        raise _fail(p, None, "@targetLabel true marks a regression file; load_ts reads "
                    "classification files (@classLabel)")
    labelled = meta["classlabel"] is not False
    missing_allowed = meta["missing"] is not False
    dims = meta["dimensions"]
    if meta["univariate"] is True:
        if dims not in (None, 1):
            raise _fail(p, None, f"@univariate true contradicts @dimensions {dims}")
        dims = 1
    series: list[np.ndarray] = []
    labels: list[str] = []
    label_lines: list[int] = []
    for i in range(start, len(lines)):
        line = lines[i].strip()
        number = i + 1
        if not line or line[0] in "#%":
            continue
        if "(" in line:
            raise _fail(p, number, "timestamps '(t, value)' are not supported: minirnn "
                        "reads value lists only")
        parts = line.split(":")
        if labelled:
            if len(parts) < 2:
                raise _fail(p, number, "expected values then ':label', got no ':'")
            labels.append(parts[-1].strip())
            label_lines.append(number)
            parts = parts[:-1]
        if dims is None:
            dims = len(parts)
        if len(parts) != dims:
            declared = "the header" if meta["dimensions"] or meta["univariate"] else \
                "the first case"
            raise _fail(p, number, f"{len(parts)} dimensions, but {declared} says {dims}"
                        + (" (is the label missing?)" if labelled and len(parts) == dims - 1
                           else ""))
        channels = []
        for d, part in enumerate(parts):
            tokens = part.split(",")
            if tokens and not tokens[-1].strip() and len(tokens) > 1:
                tokens = tokens[:-1]  # tolerate a trailing comma
            if not part.strip():
                raise _fail(p, number, f"dimension {d + 1} has no values")
            channels.append([_parse_value(t, p, number, d, s, missing_allowed)
                             for s, t in enumerate(tokens)])
        sizes = {len(c) for c in channels}
        if len(sizes) != 1:
            raise _fail(p, number, f"the dimensions of one case must have the same length, got "
                        f"{[len(c) for c in channels]}")
        length = sizes.pop()
        if meta["serieslength"] is not None and meta["equallength"] is not False and \
                length != meta["serieslength"]:
            raise _fail(p, number, f"{length} steps, but @seriesLength is "
                        f"{meta['serieslength']}")
        if meta["equallength"] is True and series and length != len(series[0]):
            raise _fail(p, number, f"{length} steps, but the header declares @equalLength "
                        f"true and the first case has {len(series[0])}")
        series.append(np.array(channels, dtype=np.float64).T)
    if not series:
        raise _fail(p, None, "no cases after @data")
    x, lengths = _pad(p, series)
    y = None
    names = list(classes) if classes is not None else meta["classes"]
    if labelled:
        if names is None:
            names = _sort_labels(set(labels))
        index = {name: k for k, name in enumerate(names)}
        y = np.empty(len(labels), dtype=np.int64)
        for k, (label, number) in enumerate(zip(labels, label_lines, strict=True)):
            if label not in index:
                source = "training classes" if classes is not None else \
                    "labels declared by @classLabel"
                raise _fail(p, number, f"label {label!r} is not one of the {source} {names}")
            y[k] = index[label]
    return LabelledSequences(x, lengths, y, list(names or []))


def load_csv_sequences(path: str | os.PathLike[str], *, label_column: int | str | None = 0,
                       header: bool | None = None, delimiter: str | None = None,
                       classes: list[str] | None = None) -> LabelledSequences:
    """Read univariate sequences stored one a row with a label column (the UCR CSV/TSV layout).

    Rows may differ in length (trailing empty or ``NaN`` cells are padding); ``?``, ``NaN``
    or an empty cell inside a row is a missing value (NaN).

    Parameters
    ----------
    path : str or PathLike
    label_column : int, str or None
        0-based index (negative counts from the end) or header name of the label column;
        None for a file without labels (``y`` is then None).
    header : bool, optional
        Whether the first row is a header; default: yes if it is not all numbers.
    delimiter : str, optional
        Default: tab if the first line has one, else comma.
    classes : list of str, optional
        Class names to index labels by (e.g. the training file's); default: the sorted
        labels found (numerically when they are all numbers).

    Returns
    -------
    LabelledSequences
        ``x`` (N, T, 1).
    """
    p, lines = _read_lines(path)
    content = [(i + 1, line) for i, line in enumerate(lines) if line.strip()]
    if not content:
        raise _fail(p, None, "the file is empty")
    if delimiter is None:
        delimiter = "\t" if "\t" in content[0][1] else ","
    with csv_errors(p):
        rows = [(n, next(csv.reader([line], delimiter=delimiter))) for n, line in content]

    def numeric(cell: str) -> bool:
        try:
            float(cell)
        except ValueError:
            return cell.strip().lower() in _MISSING or not cell.strip()
        return True

    first = rows[0][1]
    if header is None:
        if isinstance(label_column, str):
            header = True
        elif label_column is None:
            header = not all(numeric(c) for c in first)
        else:
            skip = label_column % len(first) if -len(first) <= label_column < len(first) \
                else -1
            header = not all(numeric(c) for k, c in enumerate(first) if k != skip)
    if header:
        rows = rows[1:]
    col: int | None
    if isinstance(label_column, str):  # a header is read for a named column (above)
        col = column_index(first, label_column, "label column", p)
    else:
        col = label_column
    if not rows:
        raise _fail(p, None, "no data rows")
    series, labels, label_lines = [], [], []
    for number, row in rows:
        if col is None:
            cells = list(row)
            while cells and (not cells[-1].strip() or cells[-1].strip().lower() == "nan"):
                cells.pop()
            if not cells:
                raise _fail(p, number, "the row has no values")
            series.append(np.array([_parse_value(c if c.strip() else "?", p, number, 0, s, True)
                                    for s, c in enumerate(cells)])[:, None])
            continue
        if not -len(row) <= col < len(row):
            raise _fail(p, number, f"label column {label_column} is out of range for a row "
                        f"of {len(row)} cells")
        k = col % len(row)
        labels.append(row[k].strip())
        label_lines.append(number)
        cells = row[:k] + row[k + 1:]
        while cells and (not cells[-1].strip() or cells[-1].strip().lower() == "nan"):
            cells.pop()  # trailing padding of a shorter series
        if not cells:
            raise _fail(p, number, "the row has a label but no values")
        values = [_parse_value(c if c.strip() else "?", p, number, 0, s, True)
                  for s, c in enumerate(cells)]
        series.append(np.array(values, dtype=np.float64)[:, None])
    x, lengths = _pad(p, series)
    if col is None:
        return LabelledSequences(x, lengths, None, list(classes or []))
    names_out = list(classes) if classes is not None else _sort_labels(set(labels))
    index = {name: i for i, name in enumerate(names_out)}
    y = np.empty(len(labels), dtype=np.int64)
    for i, (label, number) in enumerate(zip(labels, label_lines, strict=True)):
        if label not in index:
            raise _fail(p, number, f"label {label!r} is not one of the training classes "
                        f"{names_out}")
        y[i] = index[label]
    return LabelledSequences(x, lengths, y, names_out)


def fill_missing(x: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Remove trailing all-missing steps and interpolate the other missing values.

    Parameters
    ----------
    x : ndarray, shape (N, T, D), NaN where a value is missing
    lengths : ndarray of int, shape (N,)

    Returns
    -------
    x : ndarray, shape (N, T, D)
        A copy without NaN: steps where every dimension is missing at the end of a
        sequence become padding (zeros, shorter length); other gaps are filled by linear
        interpolation in time (the nearest value at the edges).
    lengths : ndarray, shape (N,)
    filled : int
        Number of values interpolated.

    Raises
    ------
    ValueError
        A sequence, or one dimension of it, has no value at all.
    """
    x = np.array(x, dtype=np.float64)
    lengths = np.array(lengths, dtype=np.int64)
    filled = 0
    for i in range(len(x)):
        n = int(lengths[i])
        seq = x[i, :n]
        present = ~np.isnan(seq)
        keep = np.flatnonzero(present.any(axis=1))
        if keep.size == 0:
            raise ValueError(f"sequence {i} has no values (all {n} steps are missing)")
        n = int(keep[-1]) + 1
        x[i, n:] = 0.0
        lengths[i] = n
        for d in range(x.shape[2]):
            column = x[i, :n, d]
            gaps = np.isnan(column)
            if gaps.all():
                raise ValueError(f"sequence {i}, dimension {d + 1} has no values")
            if gaps.any():
                steps = np.arange(n)
                column[gaps] = np.interp(steps[gaps], steps[~gaps], column[~gaps])
                filled += int(gaps.sum())
    return x, lengths, filled


def save_ts(path: str | os.PathLike[str], x: np.ndarray, lengths: np.ndarray | None,
            y: np.ndarray | None, classes: list[str] | None = None, *,
            problem_name: str = "minirnn", comment: str = "") -> None:
    """Write sequences in the ``.ts`` format that :func:`load_ts` (and sktime/aeon) read.

    Parameters
    ----------
    path : str or PathLike
    x : ndarray, shape (N, T, D); NaN is written as ``?``
    lengths : ndarray of int, shape (N,), optional (default: all T)
    y : ndarray of int, shape (N,), optional
        Indices into ``classes`` (default class names: ``"0"``, ``"1"``...).
    classes : list of str, optional
    problem_name : str
    comment : str
        Written as ``#`` lines at the top.

    Returns
    -------
    None
        The file at ``path`` is (over)written.
    """
    x = np.asarray(x, dtype=np.float64)
    n, t, d = x.shape
    lengths = np.full(n, t) if lengths is None else np.asarray(lengths)
    if y is not None and classes is None:
        classes = [str(c) for c in range(int(np.max(y)) + 1)]
    equal = bool(np.all(lengths == lengths[0]))
    lines = [f"# {line}" for line in comment.splitlines()]
    lines += [f"@problemName {problem_name.replace(' ', '_')}", "@timeStamps false",
              f"@missing {'true' if np.isnan(x).any() else 'false'}",
              f"@univariate {'true' if d == 1 else 'false'}"]
    if d > 1:
        lines.append(f"@dimensions {d}")
    lines.append(f"@equalLength {'true' if equal else 'false'}")
    if equal:
        lines.append(f"@seriesLength {int(lengths[0])}")
    lines.append("@classLabel " + ("true " + " ".join(classes) if y is not None and classes
                                   else "false"))
    lines.append("@data")
    for i in range(n):
        dims = [",".join("?" if math.isnan(v) else repr(float(v)) for v in x[i, :lengths[i], k])
                for k in range(d)]
        if y is not None and classes:
            dims.append(classes[int(y[i])])
        lines.append(":".join(dims))
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")
