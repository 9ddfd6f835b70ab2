"""The ``minirnn`` command.

``minirnn train adding|binary-addition|series [options]``, ``minirnn predict MODEL --csv ...``
and ``minirnn gradcheck [module:Class ...]``; ``--help`` on every subcommand. Errors in the
user's input (a bad CSV, a missing column, an impossible window) exit with status 2 and one
line on stderr, never a traceback.

One module per command: each adds its parser and sets ``run``, the function that executes it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from minirnn.cli import gradcheck, series, toy_tasks
from minirnn.cli._common import (
    DivergedError,
    Interrupted,
    UsageError,
    check_output_file,
    check_output_folder,
    write_divergence,
)
from minirnn.cli.toy_tasks import build_adding_model

__all__ = ["UsageError", "build_adding_model", "main"]


def _parser() -> argparse.ArgumentParser:
    fmt = argparse.ArgumentDefaultsHelpFormatter
    parser = argparse.ArgumentParser(prog="minirnn", description="minirnn: recurrent networks "
                                     "in numpy with checked gradients.")
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser("train", help="train a model on a built-in task",
                                formatter_class=fmt)
    tasks = train.add_subparsers(dest="task", required=True)
    toy_tasks.add_parsers(tasks, fmt)
    series.add_parsers(tasks, commands, fmt)
    gradcheck.add_parser(commands, fmt)
    return parser


def _error(message: str) -> None:
    print(f"minirnn: error: {message}", file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``minirnn`` command; returns the exit status.

    0 success; 1 a failed check or a diverged run (its report and history are written);
    2 a user error (one line on stderr, never a traceback); 130 Ctrl-C (one line saying
    what was saved).
    """
    args = _parser().parse_args(argv)
    try:
        if args.command == "train":
            check_output_folder(args.output)  # before any training, not after
            if not hasattr(args, "lr"):
                args.lr = args.task_defaults["lr"][args.cell]
        elif getattr(args, "output", None):
            check_output_file(args.output)
        return int(args.run(args))
    except UsageError as exc:
        _error(str(exc))
        return 2
    except DivergedError as exc:
        written = write_divergence(Path(args.output), args, exc.error)
        _error(f"training diverged: {exc}; wrote {written}")
        return 1
    except Interrupted as exc:
        print(f"minirnn: interrupted; {exc.saved}", file=sys.stderr, flush=True)
        return 130
    except KeyboardInterrupt:
        print("minirnn: interrupted; nothing was saved", file=sys.stderr, flush=True)
        return 130
    except (ValueError, TypeError, OSError) as exc:
        # Raised by minirnn's own checks of the data (a series too short to split, values
        # that overflow) or by the file system: the message names the problem.
        _error(str(exc))
        return 2


if __name__ == "__main__":
    sys.exit(main())
