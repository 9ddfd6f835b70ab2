"""``minirnn datasets``: what ships with minirnn (name, kind, size, source), from the files of
:mod:`minirnn.apps.datasets` and its SOURCES.md."""

from __future__ import annotations

import argparse
from typing import Any

from minirnn.apps import datasets
from minirnn.cli._common import UsageError

__all__ = ["add_parser", "dataset_files"]


def dataset_files(name: str, kind: str) -> tuple[str, ...]:
    """The shipped files of ``--dataset NAME`` for ``minirnn train KIND`` as strings
    (UsageError naming the data sets of that kind otherwise)."""
    try:
        return tuple(str(p) for p in datasets.files(name, kind))
    except ValueError as exc:
        raise UsageError(str(exc)) from exc


def _short_source(source: str) -> str:
    """The source's first clause (the licence details are in SOURCES.md)."""
    return source.split(";")[0].replace("`", "")


def list_datasets(args: argparse.Namespace) -> int:
    entries = datasets.catalogue(args.kind)
    rows = [(d.name, d.kind, f"{d.size} ({d.bytes / 1024:,.0f} KB)", _short_source(d.source))
            for d in entries]
    head = ("name", "kind", "size", "source")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(3)]
    for row in [head, *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row[:3], widths, strict=True))
              + "  " + row[3], flush=True)
    print("train on one: minirnn train KIND --dataset NAME (e.g. minirnn train classify "
          "--dataset BasicMotions); sources and licences: minirnn/apps/datasets/SOURCES.md",
          flush=True)
    return 0


def add_parser(commands: Any, fmt: type[argparse.HelpFormatter]) -> None:
    """Add the ``datasets`` command."""
    parser = commands.add_parser("datasets", formatter_class=fmt,
                                 help="list the data sets shipped with minirnn "
                                      "(for --dataset NAME)")
    parser.add_argument("--kind", choices=sorted({k for k, _ in datasets.KINDS.values()}),
                        default=None, help="only the data sets of this task (default: all)")
    parser.set_defaults(run=list_datasets)


def apply_dataset(args: argparse.Namespace, kind: str, *fields: str) -> None:
    """``--dataset NAME`` of ``minirnn train KIND``: set the file options ``fields`` (e.g.
    ``train``, ``test``) to the shipped files, refusing a mix with those options."""
    if not getattr(args, "dataset", None):
        return
    given = [f"--{f}" for f in fields if getattr(args, f, None)]
    if given:
        raise UsageError(f"give --dataset or {' and '.join(given)}, not both")
    for field, value in zip(fields, dataset_files(args.dataset, kind), strict=True):
        setattr(args, field, value)


def dataset_option(parser: argparse.ArgumentParser, kind: str, instead: str) -> None:
    """Add ``--dataset NAME`` (the shipped data sets of ``kind``) to a parser."""
    choices = sorted((n for n, (k, _) in datasets.KINDS.items() if k == kind), key=str.lower)
    parser.add_argument("--dataset", choices=choices, default=None, metavar="NAME",
                        help=f"a data set shipped with minirnn instead of {instead}: "
                             f"{', '.join(choices)} (see 'minirnn datasets')")
