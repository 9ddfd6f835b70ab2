"""The ``minirnn`` command.

``minirnn train adding|binary-addition|series|classify [options]``,
``minirnn predict MODEL --csv ...``
and ``minirnn gradcheck [module:Class ...]``; ``--help`` on every subcommand. Errors in the
user's input (a bad CSV, a missing column, an impossible window) exit with status 2 and one
line on stderr, never a traceback.

One module per command: each adds its parser and sets ``run``, the function that executes it.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from minirnn.apps.tasks import RunDivergedError, RunInterrupted, Terminated, build_adding_model
from minirnn.apps.tasks.run_folder import write_json
from minirnn.cli import classify, gradcheck, predict, seq2seq, series, sweep, text, toy_tasks
from minirnn.cli._common import UsageError, check_output_path, prepare_output, resume_argv
from minirnn.nn.version import __version__

__all__ = ["UsageError", "build_adding_model", "main", "parse_args"]


class _DefaultsHelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Appends ``(default: X)`` to an option's help unless the help already states its
    default (an option whose default is computed, e.g. from the data, has ``None`` as its
    argparse default, and "(default: None)" after the explanation would contradict it), and
    for required options."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "default" in text or action.required:
            return text
        return super()._get_help_string(action) or ""


class _VersionAction(argparse.Action):
    """``--version``: minirnn's, numpy's and scipy's versions, the BLAS (computed when
    asked: threadpoolctl inspects the loaded libraries) and whether ``kernel="compiled"``
    runs compiled kernels (and why not)."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS,
                 default: str = argparse.SUPPRESS, help: str | None = None) -> None:
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        import platform

        import numpy
        import scipy

        from minirnn.nn.kernels.select import compiled_available
        from minirnn.train.threads import blas_report

        lines = [f"minirnn {__version__} (numpy {numpy.__version__}, scipy "
                 f"{scipy.__version__}, Python {platform.python_version()})", *blas_report(),
                 compiled_available()[1]]
        print("\n".join(lines))
        parser.exit(0)


def _parser() -> argparse.ArgumentParser:
    fmt = _DefaultsHelpFormatter
    parser = argparse.ArgumentParser(prog="minirnn", description="minirnn: recurrent networks "
                                     "in numpy with checked gradients.")
    parser.add_argument("--version", action=_VersionAction,
                        help="show the versions of minirnn, numpy and scipy and the BLAS "
                             "they run (kernels, threads), then exit")
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser("train", help="train a model on a built-in task",
                                formatter_class=fmt)
    tasks = train.add_subparsers(dest="task", required=True)
    toy_tasks.add_parsers(tasks, fmt)
    series.add_parsers(tasks, commands, fmt)
    predict.add_parser(commands, fmt)
    classify.add_parser(tasks, fmt)
    text.add_parsers(tasks, commands, fmt)
    seq2seq.add_parsers(tasks, commands, fmt)
    gradcheck.add_parser(commands, fmt)
    sweep.add_train_options(tasks)  # after every task: --seeds, --from-study
    sweep.add_parser(commands, tasks, fmt)
    return parser


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse a ``minirnn`` command line as ``main`` does, without running it.

    ``args.argv`` keeps the tokens (a ``--resume`` run gets its saved command line); ``--lr``
    left out stays None: the task chooses its rate. Raises UsageError for a bad ``--resume``.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _parser()
    args = parser.parse_args(argv)
    args.argv = argv
    if getattr(args, "resume", None):
        full = resume_argv(argv, args.resume)
        args = parser.parse_args(full)
        args.argv = full[:-4]  # reproducing the run does not resume it
    return args


def _error(message: str) -> None:
    print(f"minirnn: error: {message}", file=sys.stderr, flush=True)


class _Signals:
    """The one signal policy of every command: the first Ctrl-C (SIGINT) or SIGTERM raises
    ``KeyboardInterrupt`` (:class:`~minirnn.apps.tasks.Terminated` for SIGTERM) where the
    run is, so training stops everywhere (every ensemble member) and the task saves what is
    consistent; later signals are ignored so that saving is not cut short. ``received``
    is the first signal's number (None: none)."""

    def __init__(self) -> None:
        self.received: int | None = None

    def handle(self, signum: int, frame: Any) -> None:
        if self.received is not None:
            return  # already stopping: let the files be written
        self.received = signum
        if signum == signal.SIGTERM:
            raise Terminated()
        raise KeyboardInterrupt

    @property
    def status(self) -> int:
        """130 for Ctrl-C, 143 for SIGTERM (128 + the signal's number, as shells report)."""
        return 143 if self.received == signal.SIGTERM else 130


@contextlib.contextmanager
def _signal_policy() -> Iterator[_Signals]:
    policy = _Signals()
    if threading.current_thread() is not threading.main_thread():
        yield policy  # signals are only delivered to the main thread
        return
    previous = {sig: signal.signal(sig, policy.handle) for sig in (signal.SIGINT,
                                                                   signal.SIGTERM)}
    try:
        yield policy
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _close_report(folder: Path | None, status: str, error: str) -> None:
    """A report.json still saying "running" after the run failed or was stopped says so."""
    if folder is None:
        return
    path = folder / "report.json"
    try:
        report = json.loads(path.read_text())
        if isinstance(report, dict) and report.get("status") == "running":
            write_json(path, {**report, "status": status, "error": error})
    except (OSError, ValueError):
        pass


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``minirnn`` command; returns the exit status.

    0 success; 1 a failed check or a diverged run (its report and history are written);
    2 a user error (one line on stderr, never a traceback); 130 Ctrl-C and 143 SIGTERM (one
    line saying what was saved; report.json says ``"status": "interrupted"``).
    """
    created = None
    folder: Path | None = None
    # The CLI owns its process: the first training's thread decision stays for it.
    from minirnn.train.threads import keep_thread_policy

    keep_thread_policy()
    with _signal_policy() as signals:
        try:
            args = parse_args(argv)
            if hasattr(args, "overwrite"):  # a command that writes a run folder
                created = prepare_output(args)  # before any training, not after
                folder = Path(args.output)
            elif getattr(args, "output", None):
                check_output_path(args.output)
            return int(args.run(args))
        except UsageError as exc:
            if created is not None and created.is_dir() and [p.name for p in
                                                             created.iterdir()] \
                    == ["report.json"]:  # nothing but the started report: leave no clutter
                (created / "report.json").unlink()
                created.rmdir()
            else:
                _close_report(folder, "failed", str(exc))
            _error(str(exc))
            return 2
        except RunDivergedError as exc:
            _error(f"training diverged: {exc}; wrote {exc.written}")
            return 1
        except RunInterrupted as exc:
            what = "terminated (SIGTERM)" if signals.status == 143 else "interrupted"
            print(f"minirnn: {what}; {exc.saved}", file=sys.stderr, flush=True)
            return signals.status
        except KeyboardInterrupt as exc:
            status = 143 if isinstance(exc, Terminated) else signals.status
            _close_report(folder, "interrupted", "stopped before anything was saved")
            what = "terminated (SIGTERM)" if status == 143 else "interrupted"
            print(f"minirnn: {what}; nothing was saved", file=sys.stderr, flush=True)
            return status
        except MemoryError:
            message = "out of memory (the input or an option asks for more than this " \
                      "machine has)"
            _close_report(folder, "failed", message)
            _error(message)
            return 2
        except (ValueError, TypeError, OSError, ArithmeticError, csv.Error) as exc:
            # Raised by minirnn's own checks of the data (a series too short to split, values
            # that overflow) or by the file system: the message names the problem.
            _close_report(folder, "failed", str(exc))
            _error(str(exc))
            return 2


if __name__ == "__main__":
    sys.exit(main())
