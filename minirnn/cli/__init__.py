"""The ``minirnn`` command.

``minirnn train adding|binary-addition|series|classify|text|seq2seq [options]``,
``minirnn forecast|predict|sample|translate RUN_DIR ...`` (RUN_DIR may be a task's name:
its newest run), ``minirnn datasets``, ``minirnn sweep ...`` and ``minirnn gradcheck
[module:Class ...]``; ``--help`` on every subcommand. Errors in the
user's input (a bad CSV, a missing column, an impossible window) exit with status 2 and one
line on stderr, never a traceback.

One module per command: each adds its parser and sets ``run``, the function that executes it.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import importlib
import json
import os
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

__all__ = ["UsageError", "build_adding_model", "main", "parse_args"]

# Start-up: ``minirnn --help`` and ``--version`` import no command module (they import the
# whole application layer, scipy included); a command imports the modules that build its
# own parser, and the rest only when it runs. The top-level list of commands is therefore
# written here; tests/test_startup.py checks it against the parsers the modules build.
COMMANDS = {
    "train": "train a model on a built-in task",
    "predict": "forecast (or classify) with a model saved by 'train series' (or 'train "
               "classify')",
    "forecast": "forecast past the end of the data, with intervals",
    "sample": "generate text with a model from 'minirnn train text'",
    "translate": "translate a file with a model from 'minirnn train seq2seq'",
    "gradcheck": "gradient-check built-in cells and layers or your own",
    "datasets": "list the data sets shipped with minirnn (for --dataset NAME)",
    "sweep": "hyper-parameter sweep of a built-in task (Optuna: pip install 'minirnn[sweep]')",
}
# The command modules whose parsers a command needs (a command not listed: all of them).
_BUILDERS = {"predict": ("predict",), "forecast": ("series",), "sample": ("text",),
             "translate": ("seq2seq",), "gradcheck": ("gradcheck",), "datasets": ("datasets",)}
_ALL_BUILDERS = ("toy_tasks", "series", "predict", "classify", "text", "seq2seq", "gradcheck",
                 "datasets", "sweep")


def __getattr__(name: str) -> Any:
    """``UsageError`` and ``build_adding_model`` without importing them at start-up."""
    if name == "UsageError":
        from minirnn.cli._common import UsageError

        return UsageError
    if name == "build_adding_model":
        from minirnn.apps.tasks import build_adding_model

        return build_adding_model
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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

        from minirnn.nn.kernels.select import compiled_report
        from minirnn.nn.version import __version__
        from minirnn.train.threads import blas_report

        lines = [f"minirnn {__version__} (numpy {numpy.__version__}, scipy "
                 f"{scipy.__version__}, Python {platform.python_version()})", *blas_report(),
                 compiled_report()]
        print("\n".join(lines))
        parser.exit(0)


def _command(argv: Sequence[str]) -> str | None:
    """The command word of ``argv`` (None: only ``--help``/``--version`` or nothing): the
    top-level parser has no option that takes a value, so it is the first positional."""
    return next((token for token in argv if not token.startswith("-")), None)


def _parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of ``minirnn``, with the sub-parsers ``command`` needs ("": every
    command's; None: the list of commands only, for ``--help`` and ``--version``)."""
    fmt = _DefaultsHelpFormatter
    parser = argparse.ArgumentParser(prog="minirnn", description="minirnn: recurrent networks "
                                     "in numpy with checked gradients.")
    parser.add_argument("--version", action=_VersionAction,
                        help="show the versions of minirnn, numpy and scipy and the BLAS "
                             "they run (kernels, threads), then exit")
    commands = parser.add_subparsers(dest="command", required=True)
    if command is None:
        for name, text in COMMANDS.items():
            commands.add_parser(name, help=text)
        return parser
    builders = _BUILDERS.get(command, _ALL_BUILDERS)
    cli = {name: importlib.import_module(f"minirnn.cli.{name}") for name in builders}
    train = commands.add_parser("train", help=COMMANDS["train"], formatter_class=fmt)
    tasks = train.add_subparsers(dest="task", required=True)
    if "toy_tasks" in cli:
        cli["toy_tasks"].add_parsers(tasks, fmt)
    if "series" in cli:
        cli["series"].add_parsers(tasks, commands, fmt)
    if "predict" in cli:
        cli["predict"].add_parser(commands, fmt)
    if "classify" in cli:
        cli["classify"].add_parser(tasks, fmt)
    if "text" in cli:
        cli["text"].add_parsers(tasks, commands, fmt)
    if "seq2seq" in cli:
        cli["seq2seq"].add_parsers(tasks, commands, fmt)
    if "gradcheck" in cli:
        cli["gradcheck"].add_parser(commands, fmt)
    if "datasets" in cli:
        cli["datasets"].add_parser(commands, fmt)
    if "sweep" in cli:
        cli["sweep"].add_train_options(tasks)  # after every task: --seeds, --from-study
        cli["sweep"].add_parser(commands, tasks, fmt)
    return parser


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse a ``minirnn`` command line as ``main`` does, without running it.

    ``args.argv`` keeps the tokens (a ``--resume`` run gets its saved command line); ``--lr``
    left out stays None: the task chooses its rate. Raises UsageError for a bad ``--resume``.
    """
    from minirnn.cli._common import resume_argv

    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _parser(_command(argv) or "")
    args = parser.parse_args(argv)
    args.argv = argv
    if getattr(args, "resume", None):
        full = resume_argv(argv, args.resume)
        args = parser.parse_args(full)
        args.argv = full[:-4]  # reproducing the run does not resume it
    return args


#: command -> (the option holding its run folder, the tasks whose runs it reads)
RUN_COMMANDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "forecast": ("run_dir", ("series",)),
    "predict": ("model", ("series", "classify")),
    "sample": ("run_dir", ("text",)),
    "translate": ("run_dir", ("seq2seq",)),
}


def _resolve_runs(args: argparse.Namespace) -> None:
    """A task name as RUN_DIR (``minirnn forecast series``) stands for its newest run."""
    from minirnn.cli._common import resolve_run

    if args.command in RUN_COMMANDS:
        dest, tasks = RUN_COMMANDS[args.command]
        setattr(args, dest, resolve_run(getattr(args, dest), args.command, tasks))


def _print_folder(folder: Path, args: argparse.Namespace) -> None:
    """The last line of a command that wrote a run folder: where (and its latest link)."""
    from minirnn.apps.tasks.run_folder import latest_link

    task = str(getattr(args, "run_name", None) or getattr(args, "task", ""))
    link = latest_link(task, folder.parent)
    same = (link.is_symlink() and link.resolve() == folder.resolve()) or \
        (link.is_file() and link.read_text(encoding="utf-8").strip() == folder.name)
    print(f"run folder: {folder}" + (f" (also {link}; 'minirnn {RUN_NAMES[task]} {task}' "
                                     f"reads it)" if same and task in RUN_NAMES else
                                     f" (also {link})" if same else ""), flush=True)


#: task -> the command that reads its runs by the task's name
RUN_NAMES = {task: command for command, (_, tasks) in RUN_COMMANDS.items()
             for task in tasks[:1]} | {"classify": "predict"}


def _task_errors() -> ModuleType:
    """The task API's errors (imported when one may have been raised: they import the
    training layer, which ``minirnn datasets`` does not need)."""
    from minirnn.apps.tasks import errors

    return errors


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
            from minirnn.apps.tasks import Terminated

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
    from minirnn.apps.tasks.run_folder import write_json

    path = folder / "report.json"
    try:
        report = json.loads(path.read_text())
        if isinstance(report, dict) and report.get("status") == "running":
            write_json(path, {**report, "status": status, "error": error})
    except (OSError, ValueError):
        pass


#: The status of a command whose standard output was closed before it finished (``minirnn
#: datasets | head -2``): 128 + SIGPIPE, what the shell reports for any program a closed pipe
#: stops (``seq 100000 | head -1`` under ``set -o pipefail``), so scripts treat minirnn as
#: they treat coreutils; not 0, because the command did not finish (a training run piped to
#: ``head`` stops at the pipe, as ``yes`` does).
BROKEN_PIPE_STATUS = 141


def _quiet_after_broken_pipe() -> int:
    """Python's recipe for a closed standard output (docs of :mod:`signal`, *Note on
    SIGPIPE*): point it at devnull so the interpreter's last flush does not fail again and
    print "Exception ignored"; no message (the reader left on purpose)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # a stream without a file descriptor: nothing to flush
        pass
    return BROKEN_PIPE_STATUS


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``minirnn`` command; returns the exit status.

    0 success; 1 a failed check or a diverged run (its report and history are written);
    2 a user error (one line on stderr, never a traceback); 130 Ctrl-C and 143 SIGTERM (one
    line saying what was saved; report.json says ``"status": "interrupted"``); 141 standard
    output closed by its reader (``minirnn datasets | head -2``), quietly.
    """
    try:
        status = _main(argv)
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's last flush
        return status
    except BrokenPipeError:
        return _quiet_after_broken_pipe()
    except SystemExit:  # --help, --version, a usage error: argparse printed and exits
        try:
            sys.stdout.flush()
        except BrokenPipeError:
            raise SystemExit(_quiet_after_broken_pipe()) from None
        raise


def _main(argv: Sequence[str] | None) -> int:
    """:func:`main` but for a closed standard output."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if _command(argv) is None:  # --help, --version or a usage error: exits, importing little
        _parser(None).parse_args(argv)
    from minirnn.cli._common import UsageError, check_output_path, prepare_output

    created = None
    folder: Path | None = None
    # The CLI owns its process: the first training's thread decision stays for it.
    from minirnn.train.threads import keep_thread_policy

    keep_thread_policy()
    with _signal_policy() as signals:
        try:
            args = parse_args(argv)
            _resolve_runs(args)
            if hasattr(args, "overwrite"):  # a command that writes a run folder
                created = prepare_output(args)  # before any training, not after
                folder = Path(args.output)
            elif getattr(args, "output", None):
                check_output_path(args.output)
            status = int(args.run(args))
            if folder is not None and status == 0:
                _print_folder(folder, args)
            return status
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
        # (an ``except`` expression is evaluated only when an exception reaches it: the
        # task errors, which import the training layer, load only then)
        except _task_errors().RunDivergedError as exc:
            _error(f"training diverged: {exc}; wrote {exc.written}")
            return 1
        except _task_errors().RunInterrupted as exc:
            what = "terminated (SIGTERM)" if signals.status == 143 else "interrupted"
            print(f"minirnn: {what}; {exc.saved}", file=sys.stderr, flush=True)
            return signals.status
        except KeyboardInterrupt as exc:
            status = 143 if isinstance(exc, _task_errors().Terminated) else signals.status
            _close_report(folder, "interrupted", "stopped before anything was saved")
            what = "terminated (SIGTERM)" if status == 143 else "interrupted"
            print(f"minirnn: {what}; nothing was saved", file=sys.stderr, flush=True)
            return status
        except BrokenPipeError:  # standard output closed: main ends quietly
            _close_report(folder, "failed", "standard output was closed (broken pipe)")
            raise
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
