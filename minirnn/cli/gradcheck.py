"""``minirnn gradcheck``: gradient-check built-in classes or the user's own."""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path
from typing import Any

from minirnn.cli._common import UsageError, nonnegative_int, positive_float

__all__ = ["add_parser"]


def run_gradcheck(args: argparse.Namespace) -> int:
    from minirnn.check.gradcheck import builtin_gradcheck_targets, gradcheck_target

    targets: list[tuple[str, Any]] = []
    if args.targets:
        for spec in args.targets:
            module_name, _, attr = spec.partition(":")
            if not module_name or not attr:
                raise UsageError(f"{spec!r}: expected module:Class (e.g. mycells:MyCell)")
            sys.path.insert(0, str(Path.cwd()))
            try:
                obj = getattr(importlib.import_module(module_name), attr)
            except (ImportError, AttributeError, ValueError, TypeError) as exc:
                raise UsageError(f"cannot import {spec}: {exc}") from exc
            targets.append((spec, obj))
    else:
        targets = builtin_gradcheck_targets()
    print(f"{'class':<58} {'max rel err':>12}  result", flush=True)
    failed = 0
    for name, obj in targets:
        try:
            reports = gradcheck_target(obj, seed=args.seed, tolerance=args.tolerance)
        except (TypeError, ValueError) as exc:
            raise UsageError(f"{name}: {exc}") from exc
        for label, report in reports:
            ok = report.passed
            failed += not ok
            print(f"{name + label:<58} {report.max_relative_error:12.2e}  "
                  f"{'ok' if ok else 'FAIL'}", flush=True)
            if not ok:
                print(str(report), flush=True)
    print(f"{'all passed' if not failed else f'{failed} failed'} "
          f"(tolerance {args.tolerance:g}, float64)", flush=True)
    return 1 if failed else 0



def add_parser(commands: Any, fmt: type[argparse.HelpFormatter]) -> None:
    """Add the ``gradcheck`` command."""
    check = commands.add_parser("gradcheck", formatter_class=fmt,
                                help="gradient-check built-in cells and layers or your own")
    check.add_argument("targets", nargs="*", metavar="module:Class",
                       help="your Cell/Layer class (or a function returning an instance); "
                            "default: every built-in class")
    check.add_argument("--seed", type=nonnegative_int, default=0,
                       help="seed of the weights, inputs and upstream gradients checked")
    check.add_argument("--tolerance", type=positive_float, default=1e-7,
                       help="largest relative error (float64 central differences) that passes")
    check.set_defaults(run=run_gradcheck)
