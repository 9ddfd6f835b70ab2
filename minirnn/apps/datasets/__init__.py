"""Small real series shipped with minirnn (see SOURCES.md in this folder for source and
licence of each): ``load("airline")`` returns a :class:`~minirnn.apps.forecasting.SeriesTable`.

>>> from minirnn.apps.datasets import load
>>> air = load("airline")
>>> air.values.shape, str(air.dates[0])
((144,), '1949-01')
"""

from __future__ import annotations

from pathlib import Path

from minirnn.apps.data.table import SeriesTable, load_table

__all__ = ["DATASETS", "load", "names", "path"]

_HERE = Path(__file__).resolve().parent

#: name -> (file, value column, feature columns)
DATASETS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "airline": ("airline.csv", "Passengers", ()),
    "temperatures": ("temperatures.csv", "Temp", ()),
    "lynx": ("lynx.csv", "0", ()),
    "shampoo": ("shampoo.csv", "Sales", ()),
    "seatbelts": ("seatbelts.csv", "KSI", ("label",)),
}


def names() -> list[str]:
    """The names :func:`load` accepts."""
    return sorted(DATASETS)


def _entry(name: str) -> tuple[str, str, tuple[str, ...]]:
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; available: {', '.join(names())}")
    return DATASETS[name]


def path(name: str) -> Path:
    """The CSV file of a shipped dataset (for ``--csv``)."""
    return _HERE / _entry(name)[0]


def column(name: str) -> str:
    """The value column of a shipped dataset."""
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
