"""Run folders a user can name (``minirnn sample text``: the newest text run), the
``<task>-latest`` link, and the shipped data sets (``minirnn datasets``, ``--dataset``)."""

import argparse
from pathlib import Path

import pytest

from minirnn.apps import datasets
from minirnn.apps.tasks import TextConfig, make_config, run
from minirnn.apps.tasks.run_folder import newest_run, task_runs, update_latest
from minirnn.cli import main
from minirnn.cli._common import UsageError, resolve_run
from minirnn.cli.datasets import apply_dataset


def _run(root: Path, name: str, model: bool = True) -> Path:
    folder = root / "minirnn-runs" / name
    folder.mkdir(parents=True)
    if model:
        (folder / "model.npz").write_bytes(b"")
    return folder


def test_a_task_name_stands_for_its_newest_run_with_a_model(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    _run(tmp_path, "series-20261207-100000")
    _run(tmp_path, "series-20261207-110000")
    _run(tmp_path, "series-20261207-110000-2")  # same second: the later one
    _run(tmp_path, "series-20261207-120000", model=False)  # failed: no model
    _run(tmp_path, "seriesx-20261207-130000")  # another name
    assert [f.name for f in task_runs("series")] == [
        "series-20261207-100000", "series-20261207-110000", "series-20261207-110000-2",
        "series-20261207-120000"]
    assert resolve_run("series", "forecast", ("series",)) == \
        str(Path("minirnn-runs/series-20261207-110000-2"))
    assert "minirnn-runs/series-20261207-110000-2" in capsys.readouterr().err
    # An existing path wins over the task's name.
    Path("series").mkdir()
    assert resolve_run("series", "forecast", ("series",)) == "series"


def test_a_missing_run_folder_names_the_newest_matching_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UsageError, match=r"no run of 'train text' in minirnn-runs/"):
        resolve_run("minirnn-runs/text", "sample", ("text",))
    with pytest.raises(UsageError, match=r"no run of 'minirnn train text' with a model.npz"):
        resolve_run("text", "sample", ("text",))
    _run(tmp_path, "text-20261207-100000")
    _run(tmp_path, "classify-20261207-100000")
    _run(tmp_path, "series-20261207-090000")
    with pytest.raises(UsageError) as info:  # the old documented form
        resolve_run("minirnn-runs/text", "sample", ("text",))
    assert str(info.value) == ("minirnn-runs/text: no such run folder or model file; the "
                               "newest text run is minirnn-runs/text-20261207-100000 "
                               "('minirnn sample text' reads it)")
    with pytest.raises(UsageError) as info:  # the guess comes from the name typed
        resolve_run("minirnn-runs/classify/model.npz", "predict", ("series", "classify"))
    assert "newest classify run is minirnn-runs/classify-20261207-100000" in str(info.value)
    assert "series" not in str(info.value)
    with pytest.raises(UsageError, match="'minirnn sample' reads a run of 'train text', not "
                                         "of 'train adding'"):
        resolve_run("adding", "sample", ("text",))


def test_latest_is_a_link_or_a_pointer_file_and_names_the_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    old = _run(tmp_path, "text-20261207-100000")
    new = _run(tmp_path, "text-20261207-090000")  # finished last, started first
    assert update_latest(_run(tmp_path, "text-20261207-080000", model=False), "text") is None
    assert update_latest(tmp_path / "elsewhere", "text") is None  # not a default folder
    link = update_latest(new, "text")
    assert link == tmp_path / "minirnn-runs" / "text-latest" and link.is_symlink()
    assert newest_run("text") == Path("minirnn-runs/text-20261207-090000")

    def no_links(*args, **kwargs):
        raise OSError("links are not allowed here")

    monkeypatch.setattr(Path, "symlink_to", no_links)
    update_latest(old, "text")
    assert not link.is_symlink() and link.read_text() == "text-20261207-100000\n"
    assert newest_run("text") == Path("minirnn-runs/text-20261207-100000")
    # The pointer file itself is accepted as RUN_DIR.
    assert resolve_run("minirnn-runs/text-latest", "sample", ("text",)) == \
        str(Path("minirnn-runs/text-20261207-100000"))


def test_train_then_sample_by_the_task_name(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["train", "text", "--dataset", "tinyshakespeare", "--time-limit", "1",
                 "--hidden-size", "8", "--embedding-dim", "4", "--sample-length", "5",
                 "--eval-tokens", "2000"]) == 0
    out = capsys.readouterr().out
    folder = next(f for f in (tmp_path / "minirnn-runs").iterdir() if not f.is_symlink())
    assert out.splitlines()[-1].startswith(f"run folder: minirnn-runs/{folder.name} (also "
                                           "minirnn-runs/text-latest; 'minirnn sample text'")
    assert "tinyshakespeare (shipped, tinyshakespeare.txt): 99,843 chars" in out
    assert main(["sample", "text", "--length", "40", "--seed", "1"]) == 0
    captured = capsys.readouterr()
    assert len(captured.out) >= 40 and f"minirnn-runs/{folder.name}" in captured.err


def test_datasets_lists_every_shipped_file_with_its_source(capsys):
    assert main(["datasets"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["name", "kind", "size", "source"]
    listed = {line.split()[0]: line for line in lines[1:-1]}
    assert set(listed) == set(datasets.KINDS)
    assert "99,843 characters" in listed["tinyshakespeare"]
    assert "144 rows" in listed["airline"] and "Box & Jenkins" in listed["airline"]
    shipped = {p.name for p in Path(datasets.__file__).parent.iterdir()
               if p.suffix not in (".py", ".md") and p.is_file()}
    named = {p.name for d in datasets.catalogue() for p in d.paths}
    assert shipped == named  # nothing ships without an entry in SOURCES.md
    assert main(["datasets", "--kind", "text"]) == 0
    assert [line.split()[0] for line in capsys.readouterr().out.splitlines()[1:-1]] == \
        ["tinyshakespeare"]


@pytest.mark.parametrize(("kind", "name", "fields"), [
    ("classify", "BasicMotions", ("train", "test")),
    ("seq2seq", "eng-fra-tatoeba", ("train", "test")),
])
def test_dataset_sets_the_shipped_training_and_test_files(kind, name, fields):
    args = argparse.Namespace(dataset=name, train=None, test=None)
    apply_dataset(args, kind, *fields)
    assert Path(args.train).name.endswith(("_TRAIN.ts", "_TRAIN.tsv"))
    assert Path(args.test).is_file() and Path(args.test).name.endswith(("_TEST.ts",
                                                                        "_TEST.tsv"))
    args = argparse.Namespace(dataset=name, train="mine.ts", test=None)
    with pytest.raises(UsageError, match="give --dataset or --train, not both"):
        apply_dataset(args, kind, *fields)


def test_dataset_errors_are_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as info:  # argparse: the names of that kind
        main(["train", "classify", "--dataset", "airline"])
    assert info.value.code == 2
    assert "invalid choice: 'airline' (choose from 'BasicMotions')" in capsys.readouterr().err
    assert main(["train", "classify", "--epochs", "1"]) == 2
    assert capsys.readouterr().err.strip() == (
        "minirnn: error: --train FILE and --test FILE (or --dataset NAME, see 'minirnn "
        "datasets') are required")
    assert main(["train", "text", "--dataset", "tinyshakespeare", "--file", "x.txt"]) == 2
    assert "give file or dataset, not both" in capsys.readouterr().err
    assert not (tmp_path / "minirnn-runs").exists() or not any(
        p for p in (tmp_path / "minirnn-runs").iterdir())
    with pytest.raises(ValueError, match="file .* or dataset .* is required"):
        TextConfig()


def test_predict_on_a_classifier_without_a_file_asks_for_ts(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    train, test = datasets.files("BasicMotions", "classify")
    config = make_config("classify", {
        "train": str(train), "test": str(test), "epochs": 1, "ensemble": 1, "hidden_size": 4,
        "no_plot": True, "dtw": "no", "rocket": "no", "neighbors": 0.0, "max_steps": 20})
    run(config, output="minirnn-runs/classify-20261207-100000")  # as 'train classify' does
    assert (tmp_path / "minirnn-runs" / "classify-latest").is_symlink()
    capsys.readouterr()
    assert main(["predict", "classify"]) == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        "minirnn: error: a classifier predicts from a file: pass --ts FILE (.ts, or CSV one "
        "series a row)")
    assert main(["predict", "classify", "--dataset", "BasicMotions"]) == 0
    out = capsys.readouterr().out
    assert "accuracy on the labelled file BasicMotions (shipped test file)" in out
    assert (tmp_path / "BasicMotions_TEST_predictions.csv").is_file()
