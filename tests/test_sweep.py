"""Sweeps on Optuna (SQLite and a real PostgreSQL server), many-seed runs, search spaces."""

import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from sweep_processes import start_and_stop_mid_trial as _start_and_stop_mid_trial
from sweep_processes import sweep_cmd as _sweep_cmd
from sweep_processes import sweep_env as _env

from minirnn.apps.sweeps.space import load_space_file, make_space, parse_param
from minirnn.cli import main

ROOT = Path(__file__).resolve().parents[1]
# A tiny adding problem: a trial takes a fraction of a second.
TINY = ["--seq-len", "6", "--train-size", "96", "--test-size", "32", "--epochs", "2"]


def _trials(storage, study=None):
    """The trials of ``study`` (None: the one study in ``storage``)."""
    optuna = pytest.importorskip("optuna")
    from minirnn.apps.sweeps.study import load_study

    if study is None:
        (study,) = optuna.get_all_study_names(storage)
    return load_study(study, storage).get_trials()


# ------------------------------------------------------------------------- search spaces
def test_space_defaults_pinned_and_file_override(tmp_path):
    from minirnn.apps.sweeps.runner import task_fields

    fields = task_fields("adding")
    space = make_space("adding", fields, None, pinned={"cell"})
    assert "cell" not in space and "look_back" not in space  # pinned; not an adding option
    assert space["lr"].log and space["lr"].low < space["lr"].high
    assert space["hidden_size"].integer
    toml = tmp_path / "space.toml"
    toml.write_text('lr = {low = 1e-3, high = 1e-2, log = true}\ncell = ["gru"]\n'
                    'hidden-size = 32\n')
    space = make_space("adding", fields, toml, pinned=set())
    assert space["lr"].low == 1e-3 and space["cell"].choices == ("gru",)
    assert space["hidden_size"].fixed and space["hidden_size"].value == 32
    assert "batch_size" in space  # defaults kept for names the file does not mention
    only = tmp_path / "only.json"
    only.write_text(json.dumps({"defaults": False, "layers": {"low": 1, "high": 3}}))
    assert list(make_space("adding", fields, only, pinned=set())) == ["layers"]
    assert load_space_file(only)["layers"] == {"low": 1, "high": 3}


@pytest.mark.parametrize("text, message", [
    ('lr = {low = 1e-2, high = 1e-3}', "low < high"),
    ('lr = {low = 0.0, high = 1e-3, log = true}', "log range needs low > 0"),
    ('lr = {lo = 1.0, high = 2.0}', "expected a table with low, high"),
    ('cell = []', "empty"),
    ('look_back = [5, 10]', "not an option of minirnn train adding"),
    ('lr = [1e-3', "not valid TOML"),
])
def test_space_file_errors_name_the_problem(tmp_path, text, message):
    from minirnn.apps.sweeps.runner import task_fields

    path = tmp_path / "space.toml"
    path.write_text(text + "\n")
    with pytest.raises(ValueError, match=message):
        make_space("adding", task_fields("adding"), path, pinned=set())


def test_param_parsing_infers_kinds():
    assert parse_param("x", {"low": 1, "high": 5}, "f").integer
    assert not parse_param("x", {"low": 1, "high": 5.0}, "f").integer
    assert parse_param("x", ["a", "b"], "f").choices == ("a", "b")
    assert parse_param("x", 3, "f").fixed


# --------------------------------------------------------------------------- many seeds
def test_seeds_report_mean_std_min_max(tmp_path, capsys):
    out = tmp_path / "seeds"
    assert main(["train", "adding", *TINY, "--seeds", "3", "--n-jobs", "2", "--seed", "5",
                 "--output", str(out), "--no-plot"]) == 0
    summary = json.loads((out / "seeds.json").read_text())
    values = [run["test_mse"] for run in summary["runs"]]
    assert [run["seed"] for run in summary["runs"]] == [5, 6, 7]
    for run in summary["runs"]:  # each number is the one that seed's run wrote
        report = json.loads((out / f"seed-{run['seed']}" / "report.json").read_text())
        assert report["test_mse"] == run["test_mse"]
    assert len(set(values)) == 3  # different seeds: different data and weights
    assert summary["mean"] == pytest.approx(sum(values) / 3)
    assert summary["min"] == min(values) and summary["max"] == max(values)
    mean = sum(values) / 3
    std = (sum((v - mean) ** 2 for v in values) / 2) ** 0.5
    assert summary["std"] == pytest.approx(std)
    assert "test_mse over 3 seeds" in capsys.readouterr().out


def test_seeds_bad_combinations(tmp_path, capsys):
    out = ["--output", str(tmp_path / "run")]
    assert main(["train", "adding", *TINY, *out, "--n-jobs", "2"]) == 2
    assert main(["train", "adding", *TINY, *out, "--storage", "sqlite:///x.db"]) == 2
    err = capsys.readouterr().err
    assert err.count("minirnn: error:") == 2 and "Traceback" not in err


# ------------------------------------------------------------------------ SQLite sweeps
def test_sweep_without_optuna_names_the_extra(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "optuna", None)
    monkeypatch.delitem(sys.modules, "minirnn.apps.sweeps.study", raising=False)
    assert main(["sweep", "adding", "--trials", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["minirnn: error: minirnn sweep needs Optuna: pip install 'minirnn[sweep]'"]


def test_sweep_end_to_end_show_and_retrain(tmp_path, capsys):
    pytest.importorskip("optuna")
    out = tmp_path / "sw"
    assert main(["sweep", "adding", *TINY, "--trials", "4", "--output", str(out),
                 "--sampler-seed", "0", "--study", "tiny"]) == 0
    text = capsys.readouterr().out
    storage = f"sqlite:///{out / 'study.db'}"
    trials = _trials(storage, "tiny")
    assert len(trials) == 4 and {t.state.name for t in trials} <= {"COMPLETE", "PRUNED"}
    summary = json.loads((out / "summary.json").read_text())
    best = min((t for t in trials if t.state.name == "COMPLETE"), key=lambda t: t.value)
    assert summary["best"]["trial"] == best.number and summary["best"]["params"] == best.params
    assert "best parameters:" in text and "top " in text
    rows = (out / "trials.csv").read_text().splitlines()
    assert len(rows) == 5 and rows[0].startswith("number,state,value")
    for t in trials:  # every complete trial's test metric came from its own run folder
        if t.state.name == "COMPLETE":
            report = json.loads((Path(t.user_attrs["output"]) / "report.json").read_text())
            assert report["test_mse"] == t.user_attrs["test_mse"]
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        pass
    else:
        assert (out / "history.png").stat().st_size > 0
    assert main(["sweep", "--show", "tiny", "--output", str(out), "--no-plot"]) == 0
    assert f"best: trial {best.number}" in capsys.readouterr().out
    run = tmp_path / "retrain"
    assert main(["train", "adding", "--from-study", "tiny", "--storage", storage,
                 "--output", str(run), "--no-plot"]) == 0
    assert f"best trial {best.number}" in capsys.readouterr().out
    from minirnn.nn.io import load_model

    recurrent = load_model(run / "model.npz").layers[0]
    assert recurrent.hidden_size == best.params["hidden_size"]
    assert type(recurrent).__name__.lower() == best.params["cell"]
    history = json.loads((run / "history.json").read_text())
    assert len(history["epoch"]) == 2  # the study's fixed --epochs 2 came along


def test_second_process_joins_and_mismatch_is_refused(tmp_path, capsys):
    pytest.importorskip("optuna")
    out = tmp_path / "sw"
    common = ["adding", *TINY, "--output", str(out), "--no-plot", "--pruner", "none",
              "--study", "adding"]
    assert main(["sweep", *common, "--trials", "2"]) == 0
    capsys.readouterr()
    proc = subprocess.run(_sweep_cmd(*common, "--trials", "4"), env=_env(),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    ran = sorted(int(n) for n in re.findall(r"^trial (\d+) \[", proc.stdout, re.M))
    assert ran == [2, 3]  # only what was left, continuing the numbering
    trials = _trials(f"sqlite:///{out / 'study.db'}", "adding")
    assert [t.number for t in trials] == [0, 1, 2, 3]
    assert all(t.state.name == "COMPLETE" for t in trials)
    assert {t.user_attrs["pid"] for t in trials[2:]} == {proc_pid(proc, trials)}
    assert main(["sweep", "adding", "--seeds", "3", "--output", str(out)]) == 2
    assert "--seeds is not an option" in capsys.readouterr().err
    # Another task configuration cannot be mixed into this study.
    assert main(["sweep", "adding", "--seq-len", "7", "--output", str(out),
                 "--trials", "5", "--study", "adding"]) == 2
    assert "give another --study" in capsys.readouterr().err


def proc_pid(proc, trials):
    """The process id the second command recorded (it differs from this test's)."""
    pids = {t.user_attrs["pid"] for t in trials[2:]}
    assert os.getpid() not in pids and len(pids) == 1
    return pids.pop()


# Trials that never end on their own (the signal must land mid-trial: a Ctrl-C that arrives
# after a command has finished is Python's -2, not the command's 130) ...
ENDLESS = ["adding", "--seq-len", "6", "--train-size", "96", "--test-size", "32",
           "--epochs", "100000", "--patience", "100000", "--no-plot", "--pruner", "none"]
# ... and trials that end after 3 s of training.
TIMED = [*ENDLESS, "--time-limit", "3"]


def test_interrupted_and_killed_workers_leave_a_study_a_new_command_continues(tmp_path):
    pytest.importorskip("optuna")
    out = tmp_path / "sw"
    storage = f"sqlite:///{out / 'study.db'}"
    args = [*TIMED, "--output", str(out), "--study", "k", "--trials", "1",
            "--heartbeat", "1", "--grace-period", "3"]
    # Ctrl-C: exit status 130, one line, the running trial is recorded as failed.
    code, stdout, stderr, _ = _start_and_stop_mid_trial(args, out, signal.SIGINT)
    assert code == 130, stderr
    assert stderr.strip().count("\n") == 0 and "interrupted" in stderr
    assert "Traceback" not in stdout + stderr
    (first,) = _trials(storage, "k")
    assert first.state.name == "FAIL" and "interrupted" in first.user_attrs["error"]
    # kill -9: the trial stays RUNNING, the database stays whole.
    shutil.rmtree(out / "trials")
    code, _, _, _ = _start_and_stop_mid_trial(args, out, signal.SIGKILL)
    assert code == -signal.SIGKILL
    with sqlite3.connect(out / "study.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    killed = _trials(storage, "k")[1]
    assert killed.state.name == "RUNNING"
    # The same command again, at once: it waits for the dead trial's heartbeat to be older
    # than the grace period, fails it and runs its parameters again.
    done = subprocess.run(_sweep_cmd(*args), env=_env(), capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert "trial 1: no heartbeat for more than 3 s" in done.stdout
    assert "run again as trial 2" in done.stdout and "Traceback" not in done.stderr
    trials = _trials(storage, "k")
    assert [t.state.name for t in trials] == ["FAIL", "FAIL", "COMPLETE"]
    assert trials[2].params == killed.params  # the lost trial's parameters, rerun
    rows = (out / "trials.csv").read_text()
    assert "no heartbeat (its worker died or lost the database); run again as trial 2" in rows


def test_a_user_error_in_a_sweep_is_one_line(tmp_path):
    """Issue 29's sweep cases: a series too short for the space's look-backs, a space that
    reaches hidden_size 1e8, another program's SQLite file as --storage."""
    pytest.importorskip("optuna")
    csv_path = tmp_path / "short.csv"
    csv_path.write_text("value\n" + "\n".join(str(i % 7) for i in range(40)) + "\n")
    big = tmp_path / "big.json"
    big.write_text(json.dumps({"hidden_size": {"low": 8, "high": 100000000, "log": True}}))
    other = tmp_path / "app.db"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
        db.execute("INSERT INTO invoices VALUES (1, 9.5)")
    before = other.read_bytes()
    cases = [
        (["series", "--csv", str(csv_path), "--column", "value", "--epochs", "1",
          "--space", str(tmp_path / "lb.json")], "trials in a row failed (do the fixed options "
         "and the search space suit the data?); the last: series too short"),
        (["adding", *TINY, "--space", str(big)], "more than this machine's"),
        (["adding", *TINY, "--storage", f"sqlite:///{other}"], "database of another program"),
    ]
    (tmp_path / "lb.json").write_text(json.dumps({"look_back": {"low": 30, "high": 60}}))
    for number, (args, message) in enumerate(cases):
        done = subprocess.run(_sweep_cmd(*args, "--trials", "3", "--no-plot", "--output",
                                         str(tmp_path / f"o{number}")),
                              env=_env(), capture_output=True, text=True, timeout=120)
        assert done.returncode == 2, done.stderr
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], done.stderr
        assert "Traceback" not in done.stdout + done.stderr
    assert other.read_bytes() == before  # no Optuna tables added
    with sqlite3.connect(other) as db:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master")}
    assert tables == {"invoices"}


def test_options_are_compared_as_a_set(tmp_path, capsys):
    """The same fixed options in another order join the study; another space, pruner or
    sampler does not (each difference is named)."""
    pytest.importorskip("optuna")
    out = tmp_path / "sw"
    common = ["--output", str(out), "--no-plot", "--study", "adding"]
    assert main(["sweep", "adding", "--seq-len", "6", "--train-size", "96", "--test-size",
                 "32", "--epochs", "2", "--trials", "1", "--pruner", "none", *common]) == 0
    assert main(["sweep", "adding", "--epochs", "2", "--test-size", "32", "--train-size",
                 "96", "--pruner", "none", "--seq-len", "6", "--trials", "2", *common]) == 0
    capsys.readouterr()
    assert len(_trials(f"sqlite:///{out / 'study.db'}", "adding")) == 2
    space = tmp_path / "space.json"
    space.write_text(json.dumps({"cell": ["gru"]}))
    for extra, named in [
            (["--pruner", "none", "--sampler", "random"],
             "--sampler tpe (this command: --sampler random)"),
            (["--pruner", "none", "--space", str(space)], "space "),
            (["--pruner", "median"], "--pruner none (this command: --pruner median)"),
            (["--pruner", "none", "--seq-len", "7"], "--seq-len 6 (this command: --seq-len 7)")]:
        argv = ["sweep", "adding", *TINY, "--trials", "3", *common, *extra]
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert named in err and "give another --study" in err


def test_sweep_with_two_jobs_runs_trials_in_worker_processes(tmp_path):
    pytest.importorskip("optuna")
    out = tmp_path / "sw"
    assert main(["sweep", "binary-addition", "--bits", "3", "--train-size", "64",
                 "--test-size", "16", "--epochs", "2", "--trials", "4", "--n-jobs", "2",
                 "--output", str(out), "--no-plot"]) == 0
    trials = _trials(f"sqlite:///{out / 'study.db'}")
    # Each worker checks the count before a trial: at most one extra with two workers.
    assert 4 <= len(trials) <= 5
    assert sorted(t.number for t in trials) == list(range(len(trials)))
    assert os.getpid() not in {t.user_attrs["pid"] for t in trials}
    assert {t.user_attrs["worker"] for t in trials} <= {0, 1}


# PostgreSQL, several machines and their faults: tests/test_sweep_faults.py


def _classify_files(tmp_path):
    from minirnn.apps.data import CBF_CLASSES, cylinder_bell_funnel, save_ts

    for name, n, seed in (("TRAIN", 24, 0), ("TEST", 12, 1)):
        x, y = cylinder_bell_funnel(n, 32, seed=seed)
        save_ts(tmp_path / f"CBF_{name}.ts", x, None, y, CBF_CLASSES, problem_name="CBF")
    return ["--train", str(tmp_path / "CBF_TRAIN.ts"), "--test", str(tmp_path / "CBF_TEST.ts"),
            "--epochs", "2", "--dtw", "no", "--max-steps", "16"]


def _text_file(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("To be, or not to be, that is the question:\n" * 60, encoding="utf-8")
    return ["--file", str(path), "--seq-len", "16", "--epochs", "1", "--eval-every", "10",
            "--sample-length", "5"]


@pytest.mark.parametrize("task, metric", [("classify", "test_accuracy"),
                                          ("text", "val_perplexity")])
def test_sweep_classify_and_text(tmp_path, task, metric):
    pytest.importorskip("optuna")
    options = _classify_files(tmp_path) if task == "classify" else _text_file(tmp_path)
    space = tmp_path / "space.json"  # small models: the test is about the plumbing
    space.write_text(json.dumps({"hidden_size": {"low": 4, "high": 8}, "layers": 1,
                                 "batch_size": [8]}))
    out = tmp_path / "sw"
    assert main(["sweep", task, *options, "--trials", "2", "--pruner", "none", "--space",
                 str(space), "--output", str(out), "--no-plot"]) == 0
    trials = _trials(f"sqlite:///{out / 'study.db'}")
    assert [t.state.name for t in trials] == ["COMPLETE", "COMPLETE"]
    for t in trials:
        assert 4 <= t.params["hidden_size"] <= 8 and t.user_attrs["metric"] == metric
        assert t.intermediate_values  # the pruning callback reported every epoch
        report = json.loads((Path(t.user_attrs["output"]) / "report.json").read_text())
        assert report[metric] == t.user_attrs[metric]


def test_default_study_names_differ_by_fixed_options_and_repeat_for_the_same(tmp_path,
                                                                              monkeypatch,
                                                                              capsys):
    """Sweeps with other fixed options get their own study by default (the commands of
    docs/sweeps.md run one after another); the same command continues its own."""
    pytest.importorskip("optuna")
    monkeypatch.chdir(tmp_path)
    sweep = ["sweep", "adding", *TINY, "--pruner", "none", "--no-plot"]
    assert main([*sweep, "--trials", "1"]) == 0
    name = re.search(r"^sweep '(adding-[0-9a-f]{6})'", capsys.readouterr().out, re.M).group(1)
    assert main([*sweep, "--hidden-size", "5", "--trials", "1"]) == 0
    out = capsys.readouterr().out
    other = re.search(r"^sweep '(adding-[0-9a-f]{6})'", out, re.M).group(1)
    assert other != name and f"--from-study {other}" in out
    assert sorted(p.name for p in (tmp_path / "minirnn-sweeps").iterdir()) == \
        sorted([name, other])
    assert main([*sweep, "--trials", "2"]) == 0  # the same command joins its own study
    assert len(_trials(f"sqlite:///{tmp_path / 'minirnn-sweeps' / name / 'study.db'}")) == 2


def test_figures_have_readable_tick_labels(tmp_path):
    """The history's loss axis is labelled in plain numbers at 1, 2 and 5 of each decade
    (Optuna's default: 10^-2 and nothing between), trials in whole numbers; the importance
    values fit in the figure."""
    optuna = pytest.importorskip("optuna")
    pytest.importorskip("matplotlib")
    from optuna.visualization import matplotlib as ovm

    from minirnn.apps.sweeps.study import _readable_history, _readable_importance

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # (pytest restores)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(lambda t: t.suggest_float("lr", 1e-4, 1e-1, log=True)
                   * t.suggest_int("hidden_size", 1, 9), n_trials=12)
    ax = ovm.plot_optimization_history(study)
    _readable_history(ax)
    ax.figure.canvas.draw()
    low, high = ax.get_ylim()
    labels = [t.get_text() for t in ax.get_yticklabels()
              if low <= t.get_position()[1] <= high and t.get_text()]
    assert len(labels) >= 3 and all(re.fullmatch(r"[0-9.]+(e-[0-9]+)?", s) for s in labels), \
        labels
    left, right = ax.get_xlim()
    assert all(float(t.get_text().replace("\u2212", "-")).is_integer()
               for t in ax.get_xticklabels() if t.get_text()
               and left <= t.get_position()[0] <= right)
    ax = ovm.plot_param_importances(study)
    _readable_importance(ax)
    widest = max(p.get_width() for p in ax.patches)
    assert ax.get_xlim()[1] >= 1.1 * widest
    assert ax.get_title(loc="left") == "" and "importances" in ax.get_title()
