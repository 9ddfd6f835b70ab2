"""``minirnn sweep TASK`` (Optuna studies) and ``minirnn train TASK --seeds K / --from-study``."""

from __future__ import annotations

import argparse
import contextlib
import functools
import hashlib
import io
import json
import os
import signal
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from minirnn.apps.sweeps.runner import SweepError, run_seeds, task_fields, train_tasks
from minirnn.apps.sweeps.space import make_space
from minirnn.apps.tasks.run_folder import write_json
from minirnn.cli._common import (
    UsageError,
    config_from_args,
    positive_float,
    positive_int,
    prepare_output,
    run_config,
)
from minirnn.cli.series import join_series_lists

__all__ = ["add_parser", "add_train_options"]

SWEEP_HELP = """\
Every option of 'minirnn train TASK' may follow TASK: it is fixed for all trials (and leaves
the search space). The search space defaults to the task's (see docs/sweeps.md); --space FILE
overrides it. Trials run until the study holds --trials finished trials: run the same command
again (or on another machine with the same --storage) to continue or to add workers."""

_INSTALL = "minirnn sweep needs Optuna: pip install 'minirnn[sweep]'"


def _sweep_options(parser: argparse.ArgumentParser, defaults: bool) -> None:
    """The sweep's own options (also parsed out of the tokens after TASK)."""
    d: Callable[[Any], Any] = (lambda v: v) if defaults else (lambda v: argparse.SUPPRESS)
    parser.add_argument("--trials", type=positive_int, default=d(20), metavar="N",
                        help="finished trials the study should hold")
    parser.add_argument("--timeout", type=positive_float, default=d(None), metavar="S",
                        help="stop starting trials after this many seconds (default: no "
                             "limit)%(default).0s")
    parser.add_argument("--n-jobs", type=positive_int, default=d(1), metavar="J",
                        help="worker processes on this machine (BLAS threads = cores // jobs)")
    parser.add_argument("--study", default=d(None), metavar="NAME",
                        help="study name (default: the task and a short hash of the fixed "
                             "options, space, pruner and sampler, e.g. adding-3f9a1c: another "
                             "sweep gets another study, the same command continues its "
                             "own)%(default).0s")
    parser.add_argument("--storage", default=d(None), metavar="URL",
                        help="database URL shared by workers, e.g. postgresql://user:pw@host/db "
                             "(default: sqlite:///OUTPUT/study.db)%(default).0s")
    parser.add_argument("--output", default=d(None), metavar="DIR",
                        help="sweep folder: trials/, summary.json, trials.csv, figures "
                             "(default: minirnn-sweeps/STUDY)%(default).0s")
    parser.add_argument("--space", default=d(None), metavar="FILE",
                        help="search space file, .toml or .json (default: the task's)"
                             "%(default).0s")
    parser.add_argument("--pruner", choices=["median", "hyperband", "none"], default=d("median"),
                        help="stop hopeless trials early (median: Optuna's MedianPruner)")
    parser.add_argument("--sampler", choices=["tpe", "random"], default=d("tpe"),
                        help="how trials choose values (tpe: Optuna's TPESampler)")
    parser.add_argument("--sampler-seed", type=int, default=d(None), metavar="SEED",
                        help="seed of the sampler, worker i uses seed + i (default: none)"
                             "%(default).0s")
    parser.add_argument("--heartbeat", type=positive_int, default=d(None), metavar="S",
                        help="seconds between a running trial's heartbeats (default: 10; a "
                             "study keeps the value it was created with)%(default).0s")
    parser.add_argument("--grace-period", type=positive_int, default=d(None), metavar="S",
                        help="seconds without a heartbeat after which a running trial is "
                             "failed and rerun, and for which a lost database connection is "
                             "retried (default: 60; a study keeps its own)%(default).0s")
    parser.add_argument("--top", type=positive_int, default=d(10), metavar="K",
                        help="rows of the table")
    parser.add_argument("--no-plot", action="store_true", default=d(False),
                        help="do not draw figures")


def add_parser(commands: Any, tasks: Any, fmt: type[argparse.HelpFormatter]) -> None:
    """Add the ``sweep`` command (``tasks``: the ``minirnn train`` subparsers, whose options
    a sweep fixes)."""
    sweep = commands.add_parser(
        "sweep", formatter_class=fmt, epilog=SWEEP_HELP,
        help="hyper-parameter sweep of a built-in task (Optuna: pip install 'minirnn[sweep]')",
        usage="minirnn sweep TASK [task options] [--trials N] [--timeout S] [--n-jobs J] "
              "[--study NAME] [--storage URL] [--space FILE]\n       minirnn sweep --show STUDY "
              "[--storage URL]")
    sweep.add_argument("task", nargs="?", help="a task of 'minirnn train'%(default).0s")
    sweep.add_argument("task_options", nargs=argparse.REMAINDER,
                       help="options of 'minirnn train TASK', fixed for every trial")
    sweep.add_argument("--show", metavar="STUDY", default=None,
                       help="print the results of a study and draw its figures%(default).0s")
    _sweep_options(sweep, defaults=True)
    sweep.set_defaults(run=run_sweep, sweep_parser=sweep, train_parsers=dict(tasks.choices))


def default_study_name(task: str, fixed: Mapping[str, Any], space: Mapping[str, Any],
                       pruner: str, sampler: str) -> str:
    """``<task>-<6 hex digits>``: the task and a short hash of what a study fixes when it is
    created (the fixed options of ``minirnn train TASK``, the search space, the pruner and
    the sampler). Two different sweeps get different studies, and the same command run
    again joins its own study (to continue it or add workers)."""
    text = json.dumps({"fixed": fixed, "space": space, "pruner": pruner, "sampler": sampler},
                      sort_keys=True, default=str)
    return f"{task}-{hashlib.sha256(text.encode()).hexdigest()[:6]}"


def _folder(args: argparse.Namespace, study: str) -> Path:
    return Path(args.output) if args.output else Path("minirnn-sweeps") / study


def _storage(args: argparse.Namespace, folder: Path, must_exist: bool) -> str:
    default_storage = _import_optuna().default_storage
    if args.storage:
        return str(args.storage)
    if must_exist and not (folder / "study.db").is_file():
        raise UsageError(f"no study database at {folder / 'study.db'}: give --storage URL "
                         "(or --output DIR of the sweep)")
    return default_storage(folder)


def _import_optuna() -> Any:
    import importlib

    try:  # import_module: the package's attribute may outlive a removed module
        return importlib.import_module("minirnn.apps.sweeps.study")
    except ImportError:
        raise UsageError(_INSTALL) from None


def _options(parser: argparse.ArgumentParser) -> dict[str, list[argparse.Action]]:
    """The options of a parser by destination name."""
    actions: dict[str, list[argparse.Action]] = {}
    for action in parser._actions:
        if action.option_strings and action.dest != "help":
            actions.setdefault(action.dest, []).append(action)
    return actions


def _given(parser: argparse.ArgumentParser, tokens: Sequence[str]) -> set[str]:
    """Destination names of the options given in ``tokens``."""
    given = {t.split("=", 1)[0] for t in tokens if t.startswith("-")}
    return {dest for dest, actions in _options(parser).items()
            if any(given & set(a.option_strings) for a in actions)}


def option_tokens(parser: argparse.ArgumentParser, values: Mapping[str, Any]) -> list[str]:
    """The command-line options of ``parser`` that give ``values`` (by destination name):
    ``{"hidden_size": 64, "bidirectional": False}`` -> ``["--hidden-size", "64",
    "--unidirectional"]`` for ``train classify``."""
    options = _options(parser)
    tokens: list[str] = []
    for dest, value in values.items():
        for action in options.get(dest, []):
            if isinstance(action, argparse.BooleanOptionalAction):
                tokens.append(action.option_strings[0 if value else 1])
            elif action.nargs == 0:  # store_true / store_false: the flag that stores value
                if action.const != value:
                    continue
                tokens.append(action.option_strings[0])
            elif value is not None or action.default is not None:
                text = "none" if value is None else repr(value) if isinstance(value, float) \
                    else str(value)
                tokens += [action.option_strings[0], text]
            break
    return tokens


def parse_quietly(parser: argparse.ArgumentParser, tokens: Sequence[str],
                  command: str) -> argparse.Namespace:
    """``parser.parse_args(tokens)`` with argparse's exit turned into a UsageError."""
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            return parser.parse_args(list(tokens))
    except SystemExit:
        lines = [ln for ln in err.getvalue().splitlines() if ln.strip()]
        message = lines[-1].split(" error: ", 1)[-1] if lines else "invalid options"
        raise UsageError(f"{command} {' '.join(tokens)}: {message}") from None


def run_sweep(args: argparse.Namespace) -> int:
    """``minirnn sweep``: 0 when this command finished its share, 1 when the database
    stopped answering or a worker was killed, 2 for a user error, 130 (143) for Ctrl-C
    (SIGTERM); always one line, never a traceback, the storage's password masked."""
    st = _import_optuna()
    if args.task is not None and args.task.startswith("-"):  # `sweep --trials 3` with no task
        args.task_options = [args.task, *args.task_options]
        args.task = None
    options_parser = argparse.ArgumentParser(prog="minirnn sweep", add_help=False)
    _sweep_options(options_parser, defaults=False)
    options_parser.add_argument("--show", default=argparse.SUPPRESS)
    _, rest = options_parser.parse_known_args(args.task_options, namespace=args)
    if {"-h", "--help"} & set(rest):
        args.sweep_parser.print_help()
        return 0
    url = args.storage
    with st.stop_signals() as received:
        try:
            return _sweep_command(args, rest, st)
        except (SweepError, UsageError) as exc:
            raise UsageError(st.mask_secret(str(exc), url)) from None
        except (st.StorageUnavailable, st.WorkerFailedError) as exc:
            _print_error(st.mask_secret(str(exc), url) + "; run the same command again to "
                         "continue the study")
            return 1
        except KeyboardInterrupt:
            status = 143 if received[:1] == [signal.SIGTERM] else 130
            what = "terminated (SIGTERM)" if status == 143 else "interrupted"
            print(f"minirnn: {what}: every worker stopped, its running trial recorded as "
                  "failed; finished trials are kept in the study: run the same command to "
                  "continue it", file=sys.stderr, flush=True)
            return status


def _print_error(message: str) -> None:
    print(f"minirnn: error: {message}", file=sys.stderr, flush=True)


def _sweep_command(args: argparse.Namespace, rest: list[str], st: Any) -> int:
    if args.show is not None:
        if args.task is not None:
            raise UsageError("--show STUDY takes no TASK")
        folder = _folder(args, args.show)
        study = st.load_study(args.show, _storage(args, folder, must_exist=True))
        st.report(study, folder, top=args.top, figures=not args.no_plot)
        return 0
    tasks = train_tasks()
    if args.task is None:
        raise UsageError(f"give a TASK to sweep ({', '.join(tasks)}) or --show STUDY")
    if args.task not in tasks:
        raise UsageError(f"unknown task {args.task!r}; expected one of {tasks}")
    given = {t.split("=", 1)[0] for t in rest}
    for option in ("--seeds", "--from-study", "--resume", "--overwrite"):
        if option in given:
            raise UsageError(f"{option} is not an option of a sweep's trials")
    train_parser = args.train_parsers[args.task]
    parsed = parse_quietly(train_parser, rest, f"minirnn train {args.task}")
    if args.task == "series":  # several files or columns given as lists
        join_series_lists(parsed)
    fields = task_fields(args.task)
    pinned = _given(train_parser, rest) & set(fields)
    fixed = {dest: getattr(parsed, dest) for dest in sorted(pinned)}
    try:
        space = make_space(args.task, fields, args.space, pinned)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    name = args.study or default_study_name(args.task, fixed, {n: asdict(p) for n, p in
                                                               space.items()},
                                            args.pruner, args.sampler)
    folder = _folder(args, name)
    spec = st.SweepSpec(
        task=args.task, fixed=fixed, trials=args.trials, study=name,
        folder=str(folder), storage="", timeout=args.timeout, pruner=args.pruner,
        sampler=args.sampler, seed=args.sampler_seed, heartbeat=args.heartbeat,
        grace=args.grace_period, space={n: asdict(p) for n, p in space.items()})
    st.check_spec(spec)
    folder.mkdir(parents=True, exist_ok=True)
    spec.storage = _storage(args, folder, must_exist=False)
    print(f"sweep {name!r}: minirnn train {args.task} {' '.join(rest)}".rstrip(), flush=True)
    print("space: " + "; ".join(p.describe() for p in space.values()), flush=True)
    print(f"{args.trials} trials, {args.n_jobs} worker(s), pruner {args.pruner}, "
          f"storage {st.safe_url(spec.storage)}", flush=True)
    study = st.sweep(spec, n_jobs=args.n_jobs)
    st.report(study, folder, top=args.top, figures=not args.no_plot)
    if args.storage:
        shown = st.safe_url(args.storage)
        hidden = " (password not shown: put it back, or keep it in ~/.pgpass)" \
            if shown != args.storage else ""
        hint = f" --storage '{shown}'{hidden}"
    else:
        hint = f" --storage {spec.storage}" if args.output else ""
    print(f"retrain the best: minirnn train {args.task} --from-study {name}{hint}", flush=True)
    return 0


# --------------------------------------------------------------- train --seeds / --from-study
_OURS = ("--seeds", "--n-jobs", "--from-study", "--storage")


def add_train_options(tasks: Any) -> None:
    """Add ``--seeds``, ``--n-jobs``, ``--from-study`` and ``--storage`` to every train task."""
    for parser in dict(tasks.choices).values():
        group = parser.add_argument_group("many seeds and sweeps")
        group.add_argument("--seeds", type=positive_int, default=1, metavar="K",
                           help="train K times with seeds SEED..SEED+K-1 (data, weights, "
                                "shuffling) and report mean, std, min and max of the test "
                                "metric")
        group.add_argument("--n-jobs", type=positive_int, default=1, metavar="J",
                           help="with --seeds: runs in this many processes at once")
        group.add_argument("--from-study", metavar="STUDY", default=None,
                           help="train the best configuration of a sweep (options given here "
                                "override it)%(default).0s")
        group.add_argument("--storage", default=None, metavar="URL",
                           help="with --from-study: the study's storage URL (default: "
                                "sqlite:///minirnn-sweeps/STUDY/study.db)%(default).0s")
        inner = parser.get_default("run")
        if inner is not None:
            parser.set_defaults(run=functools.partial(run_train, inner=inner, parser=parser))


def _strip(tokens: Sequence[str], names: Sequence[str]) -> list[str]:
    """Drop ``--name value`` and ``--name=value`` for the given option names."""
    out: list[str] = []
    skip = False
    for token in tokens:
        if skip:
            skip = False
            continue
        name = token.split("=", 1)[0]
        if name in names:
            skip = "=" not in token
            continue
        out.append(token)
    return out


def _task_tokens(args: argparse.Namespace) -> list[str]:
    argv = list(getattr(args, "argv", []))
    start = argv.index(args.task, argv.index("train") + 1) + 1 if "train" in argv else len(argv)
    return argv[start:]


def _mask_started_report(args: argparse.Namespace, st: Any) -> None:
    """The run folder's report.json, written before this command ran, records the command
    line: mask the storage's password in it (a later report replaces it anyway)."""
    output = getattr(args, "output", None)
    if not args.storage or not output:
        return
    path = Path(output) / "report.json"
    try:
        text = path.read_text()
        masked = st.mask_secret(text, args.storage)
        if masked != text:
            path.write_text(masked)
    except OSError:
        pass
    args.argv = [st.mask_secret(token, args.storage) for token in getattr(args, "argv", [])]


def run_train(args: argparse.Namespace, inner: Callable[[argparse.Namespace], int],
              parser: argparse.ArgumentParser) -> int:
    """``minirnn train TASK`` with ``--from-study`` and/or ``--seeds`` (``parser``: the task's
    own, ``inner``: its command)."""
    tokens = _strip(_task_tokens(args), _OURS)
    if args.from_study is not None:
        st = _import_optuna()
        folder = Path("minirnn-sweeps") / args.from_study
        _mask_started_report(args, st)
        try:
            study = st.load_study(args.from_study, _storage(args, folder, must_exist=True))
            task, fixed, params, best = st.best_options(study)
        except SweepError as exc:
            raise UsageError(st.mask_secret(str(exc), args.storage)) from None
        except st.StorageUnavailable as exc:
            _print_error(st.mask_secret(str(exc), args.storage))
            return 1
        if task != args.task:
            raise UsageError(f"study {args.from_study!r} swept {task!r}, not {args.task!r}")
        tokens = [*option_tokens(parser, {**fixed, **params}), *tokens]
        print(f"best trial {best.number} of study {args.from_study!r} (val_loss "
              f"{best.value:.5g}): minirnn train {task} {' '.join(tokens)}", flush=True)
        seeds, n_jobs, folder_now = args.seeds, args.n_jobs, getattr(args, "output", None)
        args = parse_quietly(parser, tokens, f"minirnn train {task}")
        args.command, args.task, args.argv = "train", task, ["train", task, *tokens]
        args.seeds, args.n_jobs = seeds, n_jobs
        if folder_now is not None and hasattr(args, "overwrite"):
            # main() made the run folder already; record this configuration in it.
            args.output, args.overwrite = folder_now, True
            prepare_output(args)
    elif args.storage is not None:
        raise UsageError("--storage goes with --from-study")
    if args.seeds == 1:
        if args.n_jobs != 1:
            raise UsageError("--n-jobs goes with --seeds K (K > 1)")
        return int(inner(args))
    if getattr(args, "resume", None):
        raise UsageError("--seeds cannot resume a run")
    seeds = [args.seed + i for i in range(args.seeds)]
    params = {k: v for k, v in config_from_args(args).as_dict().items() if k != "seed"}
    print(f"{args.task}: {len(seeds)} seeds ({seeds[0]}..{seeds[-1]}), {args.n_jobs} at a "
          f"time; each run in {os.path.join(args.output, 'seed-<s>')}", flush=True)
    try:
        summary = run_seeds(args.task, params, seeds, output=args.output, n_jobs=args.n_jobs)
    except SweepError as exc:
        raise UsageError(str(exc)) from exc
    except KeyboardInterrupt:
        print("interrupted", flush=True)
        return 130
    better = "lower" if summary.lower_is_better else "higher"
    print(f"{summary.metric} over {len(seeds)} seeds ({better} is better): mean "
          f"{summary.mean:.5g}, std {summary.std:.3g}, min {summary.min:.5g}, max "
          f"{summary.max:.5g}", flush=True)
    if hasattr(args, "overwrite"):  # the run folder's report: the summary and the command
        write_json(Path(args.output) / "report.json",
                   {**summary.as_dict(), "status": "finished", "config": run_config(args)})
    print(f"saved {Path(args.output) / 'seeds.json'}, report.json", flush=True)
    return 0
