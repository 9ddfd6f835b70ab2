"""Small real data shipped with minirnn (see SOURCES.md in this folder for the source and
licence of each): series, a ``.ts`` classification pair, sentence pairs and a text.

``load("airline")`` returns a series as a :class:`~minirnn.apps.forecasting.SeriesTable`;
:func:`catalogue` describes everything that ships (``minirnn datasets`` prints it) and
:func:`files` gives the files of one data set for a task (``--dataset NAME``).

>>> from minirnn.apps.datasets import files, load
>>> air = load("airline")
>>> air.values.shape, str(air.dates[0])
((144,), '1949-01')
>>> [p.name for p in files("BasicMotions", "classify")]
['BasicMotions_TRAIN.ts', 'BasicMotions_TEST.ts']
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from minirnn.apps.data.table import SeriesTable, load_table

__all__ = ["DATASETS", "KINDS", "Dataset", "catalogue", "files", "info", "load", "names",
           "path"]

_HERE = Path(__file__).resolve().parent

#: name -> (file, value column, feature columns) of the shipped series
DATASETS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "airline": ("airline.csv", "Passengers", ()),
    "temperatures": ("temperatures.csv", "Temp", ()),
    "lynx": ("lynx.csv", "0", ()),
    "shampoo": ("shampoo.csv", "Sales", ()),
    "seatbelts": ("seatbelts.csv", "KSI", ("label",)),
}

#: name -> (kind, files) of everything shipped. The kind is the ``minirnn train`` task that
#: reads it; a classification or sentence-pair set is a training file and a test file.
KINDS: dict[str, tuple[str, tuple[str, ...]]] = {
    **{name: ("series", (entry[0],)) for name, entry in DATASETS.items()},
    "BasicMotions": ("classify", ("BasicMotions_TRAIN.ts", "BasicMotions_TEST.ts")),
    "eng-fra-tatoeba": ("seq2seq", ("eng-fra-tatoeba_TRAIN.tsv", "eng-fra-tatoeba_TEST.tsv")),
    "tinyshakespeare": ("text", ("tinyshakespeare.txt",)),
}


@dataclasses.dataclass(frozen=True)
class Dataset:
    """One shipped data set, as SOURCES.md describes it.

    Attributes
    ----------
    name : str
        What ``--dataset`` takes.
    kind : str
        The task that reads it: ``series``, ``classify``, ``seq2seq`` or ``text``.
    paths : tuple of Path
        Its files (training file first for a pair).
    size : str
        Rows, series, pairs or characters, as SOURCES.md counts them.
    what : str
        What the data is.
    source : str
        Where it comes from and its licence.
    """

    name: str
    kind: str
    paths: tuple[Path, ...]
    size: str
    what: str
    source: str

    @property
    def bytes(self) -> int:
        """Bytes of its files together."""
        return sum(p.stat().st_size for p in self.paths)


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def _sources() -> dict[str, tuple[str, str, str]]:
    """name -> (size, what, source) from the tables of SOURCES.md (a row per data set:
    name in backticks first; the count, what it is and the source are its last three
    cells; the count's unit is its column's header)."""
    rows: dict[str, tuple[str, str, str]] = {}
    header: list[str] = []
    for line in (_HERE / "SOURCES.md").read_text(encoding="utf-8").splitlines():
        if not line.startswith("|") or set(line) <= set("|-: "):
            continue
        cells = _cells(line)
        match = re.fullmatch(r"`([^`]+)`", cells[0])
        if match is None:
            header = cells
            continue
        count, unit = cells[-3], header[-3] if len(header) >= 3 else ""
        size = f"{count} {unit}" if not re.search(r"[A-Za-z]", count) else count
        rows[match.group(1)] = (size, cells[-2], cells[-1])
    return rows


def catalogue(kind: str | None = None) -> list[Dataset]:
    """Every shipped data set (of one ``kind`` if given), sorted by kind then name."""
    sources = _sources()
    missing = sorted(set(KINDS) - set(sources))
    if missing:  # a shipped file without its attribution is a packaging bug
        raise RuntimeError(f"SOURCES.md has no row for {missing}")
    entries = [Dataset(name, k, tuple(_HERE / f for f in fs), *sources[name])
               for name, (k, fs) in KINDS.items() if kind is None or k == kind]
    return sorted(entries, key=lambda d: (d.kind, d.name.lower()))


def info(name: str) -> Dataset:
    """The description of one shipped data set; a ValueError lists the names."""
    if name not in KINDS:
        raise ValueError(f"unknown dataset {name!r}; available: {', '.join(sorted(KINDS))}")
    return next(d for d in catalogue() if d.name == name)


def files(name: str, kind: str) -> tuple[Path, ...]:
    """The files of the shipped data set ``name`` for the task ``kind`` (a pair: training
    file, test file). A ValueError names the data sets of that kind when ``name`` is not
    one of them."""
    if KINDS.get(name, ("", ()))[0] != kind:
        known = sorted(n for n, (k, _) in KINDS.items() if k == kind)
        other = f" ({name} is a {KINDS[name][0]} data set)" if name in KINDS else ""
        raise ValueError(f"--dataset {name}: not a shipped {kind} data set{other}; "
                         f"expected one of {', '.join(known)}")
    return tuple(_HERE / f for f in KINDS[name][1])


def names() -> list[str]:
    """The series :func:`load` accepts."""
    return sorted(DATASETS)


def _entry(name: str) -> tuple[str, str, tuple[str, ...]]:
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; available: {', '.join(names())}")
    return DATASETS[name]


def path(name: str) -> Path:
    """The CSV file of a shipped series (for ``--csv``)."""
    return _HERE / _entry(name)[0]


def column(name: str) -> str:
    """The value column of a shipped series."""
    return _entry(name)[1]


def load(name: str, *, with_features: bool = False) -> SeriesTable:
    """Load a shipped series: values (T,), dates, and with ``with_features`` its extra columns.

    Parameters
    ----------
    name : str
        One of :func:`names`: airline, lynx, seatbelts, shampoo, temperatures.
    with_features : bool
        Also read the dataset's feature columns (seatbelts: ``label``).
    """
    file, col, feats = _entry(name)
    return load_table(_HERE / file, col, features=list(feats) if with_features else None)
