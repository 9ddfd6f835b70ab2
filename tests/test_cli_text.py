"""``minirnn train text`` on the command line: the progress lines (a total and the time
left) and the default time limit."""

import io
import re
import types

import pytest

from minirnn.apps.tasks import TextConfig
from minirnn.cli import parse_args
from minirnn.cli.text import TextProgress, _duration
from minirnn.train.callbacks import TimeLimit


def _progress(limit=None):
    out = io.StringIO()
    progress = TextProgress("char", every=0.0, stream=out)
    solver = types.SimpleNamespace(epochs=4, steps_per_epoch=10, batch_size=8, seq_len=25,
                                   callbacks=[TimeLimit(limit)] if limit else [])
    progress.set_solver(solver)
    progress.on_train_begin({})
    return progress, out


def test_progress_lines_show_the_total_its_share_and_the_time_left():
    progress, out = _progress()
    for batch in range(3):
        progress.on_batch_end(batch, {"tokens": 200, "loss": 2.0})
    progress.on_epoch_end(0, {"loss": 2.0, "tokens_per_second": 1000.0, "val_loss": 1.9})
    lines = out.getvalue().splitlines()
    assert lines[0] == "training: at most 8,000 chars (4 evaluations of 10 windows)"
    assert re.fullmatch(r" +\d+s +200 / 8,000 \(2%\) chars  train loss 2\.0000  [\d,]+ "
                        r"chars/s  ETA \S+", lines[1]), lines[1]
    assert "600 / 8,000 (8%)" in lines[3]
    assert re.search(r"validation 1\.9000 nats/char .* ETA \S+$", lines[-1]), lines[-1]


def test_the_time_limit_bounds_the_time_left():
    progress, out = _progress(limit=90)
    assert out.getvalue().splitlines()[0].endswith("; stops after 1m30s (--time-limit)")
    progress._tokens = 1  # a very slow start: the planned total would take days
    assert progress.eta(30.0) == "ETA 1m00s"


def test_durations_read_as_time():
    assert [_duration(s) for s in (0.4, 59, 75, 3725)] == ["0s", "59s", "1m15s", "1h02m"]


def test_text_training_stops_after_five_minutes_by_default():
    assert TextConfig(file="x.txt").time_limit == 300.0
    args = parse_args(["train", "text", "--dataset", "tinyshakespeare"])
    assert args.time_limit == 300.0
    assert parse_args(["train", "text", "--file", "a.txt", "--time-limit", "none"]).time_limit \
        is None
    assert parse_args(["train", "text", "--file", "a.txt", "--time-limit", "0"]).time_limit \
        is None


def test_help_says_the_default_limit(capsys):
    with pytest.raises(SystemExit):
        parse_args(["train", "text", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "(default: 300, so that a run on a 1 MB text does not take the ~45 minutes of " \
           "--epochs 50; 0 or 'none': train every epoch)" in text
