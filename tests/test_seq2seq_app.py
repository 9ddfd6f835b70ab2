"""The seq2seq application: the pair reader, ``minirnn train seq2seq`` end to end, the model
file (round trip, refused vocabularies), ``minirnn translate``, one-line CLI errors, resume,
Ctrl-C, and the shell blocks of docs/seq2seq.md."""

import contextlib
import json
import os
import random
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import minirnn
from minirnn.apps.data.pairs import (
    PairsError,
    batch_padding,
    bucket_batches,
    build_vocabulary,
    read_pairs,
    tokenize,
)
from minirnn.apps.seq2seq import (
    bleu_available,
    corpus_bleu,
    exact_match,
    load_translator,
    nearest_neighbour_baseline,
    translate,
)
from minirnn.cli import main
from minirnn.nn.io import ModelFileError, load_metadata, read_file, write_file
from minirnn.nn.seq2seq import EncoderDecoder, decode_ids, encode_tokens

ROOT = Path(__file__).resolve().parent.parent
DATASETS = ROOT / "minirnn" / "apps" / "datasets"


def cli(args, cwd, check=True, timeout=120):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-m", "minirnn", *args], cwd=cwd, env=env,
                            capture_output=True, text=True, timeout=timeout)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def reversal_files(folder, n_train=800, n_test=100, seed=0):
    """Word sequences of 2-5 symbols out of 6 -> the same words reversed."""
    rng = random.Random(seed)
    words = ["red", "green", "blue", "cyan", "pink", "gold"]

    def write(path, n):
        with open(path, "w", encoding="utf-8") as handle:
            for _ in range(n):
                seq = [rng.choice(words) for _ in range(rng.randint(2, 5))]
                handle.write(f"{' '.join(seq)}\t{' '.join(reversed(seq))}\textra column\n")
        return str(path)

    return write(folder / "train.tsv", n_train), write(folder / "test.tsv", n_test)


SMALL = ["--hidden-size", "48", "--embedding-dim", "16", "--epochs", "12", "--lr", "0.005",
         "--no-plot"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One tiny ``minirnn train seq2seq`` run on the reversal set, shared by several tests."""
    folder = tmp_path_factory.mktemp("seq2seq")
    train, test = reversal_files(folder)
    result = cli(["train", "seq2seq", "--train", train, "--test", test, *SMALL,
                  "--output", str(folder / "run")], folder)
    return folder, result


# ------------------------------------------------------------------ the reader
def test_tokens_words_and_characters():
    assert tokenize("Va !", "word") == ["Va", "!"]
    assert tokenize("I_JUMP twice", "word") == ["I_JUMP", "twice"]
    assert tokenize("J'ai 12 ans.", "word") == ["J", "'", "ai", "12", "ans", "."]
    assert tokenize("1 +2", "char") == ["1", " ", "+", "2"]
    with pytest.raises(ValueError, match="tokens must be one of"):
        tokenize("x", "byte")


def test_reads_pairs_ignores_extra_columns_blank_lines_and_a_bom(tmp_path):
    path = tmp_path / "p.tsv"
    path.write_text("\ufeffGo.\tVa !\tCC-BY 2.0 (France) Attribution: tatoeba.org #1\n\n"
                    "Hi.\tSalut.\n", encoding="utf-8")
    pairs = read_pairs(path)
    assert pairs.sources == [["Go", "."], ["Hi", "."]]
    assert pairs.targets == [["Va", "!"], ["Salut", "."]]
    assert pairs.lines == [1, 3]
    assert read_pairs(path, "char").targets[0] == list("Va !")


@pytest.mark.parametrize("text, message", [
    ("a\tb\nno tab here\n", r"p\.tsv, line 2: expected source<TAB>target, found no tab"),
    ("a\tb\nc\t  \n", r"p\.tsv, line 2: expected a non-empty target"),
    ("\tb\n", r"p\.tsv, line 1: expected a non-empty source"),
    ("\n\n", r"p\.tsv: no pairs \(expected lines source<TAB>target\)"),
])
def test_bad_files_give_one_line_with_the_line_number(tmp_path, text, message):
    path = tmp_path / "p.tsv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PairsError, match=message) as info:
        read_pairs(path)
    assert "\n" not in str(info.value)


def test_not_utf8_missing_and_too_long(tmp_path):
    path = tmp_path / "p.tsv"
    path.write_bytes(b"caf\xe9\tx\n")
    with pytest.raises(PairsError, match=r"p\.tsv: not a UTF-8 text file"):
        read_pairs(path)
    with pytest.raises(PairsError, match="no such file"):
        read_pairs(tmp_path / "missing.tsv")
    path.write_text("a b c\tx\n", encoding="utf-8")
    with pytest.raises(PairsError, match=r"line 1: the source has 3 word tokens, more than "
                                         r"the 2 allowed"):
        read_pairs(path, max_length=2)


def test_vocabulary_minimum_frequency_and_specials_first():
    vocab = build_vocabulary([["a", "b", "a"], ["c", "a", "b"]], min_freq=2)
    assert vocab == ["<pad>", "<unk>", "<bos>", "<eos>", "a", "b"]
    assert encode_tokens(["a", "c"], vocab) == [4, 1]  # c is rarer: <unk>
    assert build_vocabulary([["a", "b"]], max_size=5) == ["<pad>", "<unk>", "<bos>", "<eos>", "a"]


def test_length_buckets_cover_every_pair_once_and_carry_little_padding():
    rng = np.random.default_rng(0)
    src = rng.integers(1, 40, 1000)
    tgt = rng.integers(1, 40, 1000)
    batches = bucket_batches(src, tgt, 32, np.random.default_rng(1))
    assert sorted(np.concatenate(batches).tolist()) == list(range(1000))
    assert all(len(b) <= 32 for b in batches)
    random_batches = [rng.permutation(1000)[i:i + 32] for i in range(0, 1000, 32)]
    bucketed, unsorted = batch_padding(src, batches), batch_padding(src, random_batches)
    assert bucketed < 0.05 < 0.3 < unsorted
    again = bucket_batches(src, tgt, 32, np.random.default_rng(2))
    assert [b.tolist() for b in again] != [b.tolist() for b in batches]  # reshuffled


def test_shipped_pairs_keep_their_attribution():
    for name in ("eng-fra-tatoeba_TRAIN.tsv", "eng-fra-tatoeba_TEST.tsv"):
        lines = (DATASETS / name).read_text(encoding="utf-8").splitlines()
        assert all(line.split("\t")[2].startswith("CC-BY 2.0 (France) Attribution: tatoeba.org")
                   for line in lines)
        assert len(read_pairs(DATASETS / name)) == len(lines)
    assert "eng-fra-tatoeba" in (DATASETS / "SOURCES.md").read_text()


# ------------------------------------------------------------------ metrics and baselines
def test_exact_match_bleu_and_nearest_neighbour():
    assert exact_match([["a", "b"], ["c"]], [["a", "b"], ["d"]]) == 0.5
    hyps = nearest_neighbour_baseline([["go", "home"], ["eat", "now"]], [["x"], ["y"]],
                                      [["go", "home", "now"], ["eat"]])
    assert hyps == [["x"], ["y"]]
    bleu = corpus_bleu([["le", "chat", "est", "noir"]], [["le", "chat", "est", "noir"]], "word")
    assert bleu is None if not bleu_available() else bleu == pytest.approx(100.0)


# ------------------------------------------------------------------ train and translate
def test_the_solver_trains_the_encoder_decoder_on_pair_arrays(tmp_path):
    """The app's own loop uses length buckets; Solver.fit takes the same data as one padded
    tuple (docs/seq2seq.md compares the two)."""
    from minirnn import Solver
    from minirnn.apps.seq2seq import PairData
    from minirnn.nn.losses import CrossEntropy
    from minirnn.nn.optim import Adam

    train, _ = reversal_files(tmp_path, 128, 1)
    pairs = read_pairs(train)
    sv, tv = build_vocabulary(pairs.sources), build_vocabulary(pairs.targets)
    x, y, mask = PairData.encode(pairs, sv, tv).arrays()
    assert x[0].shape == (128, 5) and mask.sum() == sum(len(t) + 1 for t in pairs.targets)
    model = EncoderDecoder(len(sv), len(tv), 8, 16, attention="additive", seed=0)
    solver = Solver(model, loss=CrossEntropy(), optimizer=Adam(model, lr=0.02), batch_size=32,
                    epochs=4, seed=0)
    history = solver.fit(x, y, mask=mask)
    assert history["loss"][-1] < 0.8 * history["loss"][0]


def test_train_seq2seq_learns_to_reverse_and_beats_the_baselines(trained):
    folder, result = trained
    out = result.stdout
    em = float(re.search(r"^test exact match (\S+)", out, re.M).group(1))
    assert em >= 0.9, out  # copy and retrieval get about 0.15 and 0.5 here
    baselines = re.search(r"copy exact match (\S+) BLEU \S+, nearest-neighbour exact match "
                          r"(\S+)", out)
    assert float(baselines.group(1)) < 0.5 and float(baselines.group(2)) < 0.8
    if bleu_available():
        assert re.search(r"^test BLEU \d+\.\d\d  \(copy", out, re.M), out
    else:
        assert "test BLEU not computed: sacrebleu is not installed" in out
    report = json.loads((folder / "run" / "report.json").read_text())
    assert report["status"] == "finished" and report["test_exact_match"] == em
    options = report["config"]["options"]
    assert options["hidden_size"] == 48 and options["attention"] == "additive"
    assert options["cell"] == "gru" and report["config"]["argv"][:2] == ["train", "seq2seq"]
    assert report["config"]["files"]["train"]["sha256"]
    for name in ("model.npz", "history.csv", "test_translations.tsv", "checkpoint.npz"):
        assert (folder / "run" / name).is_file()


def test_translations_identical_after_minirnn_load_and_through_translate(trained):
    folder, _ = trained
    run = folder / "run"
    rows = [line.split("\t") for line in
            (run / "test_translations.tsv").read_text(encoding="utf-8").splitlines()]
    sources = [r[0] for r in rows]
    before = [r[2] for r in rows]  # decoded by the trained model before it was saved
    model = minirnn.load(run / "model.npz")
    assert isinstance(model, EncoderDecoder)
    ids = [encode_tokens(s.split(), model.src_vocab) for s in sources]
    max_length = load_metadata(run / "model.npz")["max_length"]
    after = [" ".join(decode_ids(h.tokens, model.tgt_vocab))
             for h in translate(model, ids, max_length=max_length)]
    assert after == before
    (folder / "sources.txt").write_text("\n".join(sources) + "\n", encoding="utf-8")
    result = cli(["translate", str(run), "--input", str(folder / "sources.txt"), "--output",
                  str(folder / "out.txt")], folder)
    assert (folder / "out.txt").read_text(encoding="utf-8").splitlines() == before
    beam = cli(["translate", str(run / "model.npz"), "--input", str(folder / "sources.txt"),
                "--beam", "3"], folder)
    assert len(beam.stdout.splitlines()) == len(sources)
    assert result.stderr.strip() == f"wrote {len(sources)} translation(s) to {folder / 'out.txt'}"


def _rewrite(path, target, change):
    header, arrays = read_file(path, "model")
    change(header)
    write_file(target, {k: v for k, v in header.items() if k != "arrays"}, arrays)
    return target


@pytest.mark.parametrize("change, message", [
    (lambda h: h["model"]["config"]["tgt_vocab"].__setitem__(5, "<eos>"),
     "more than once"),
    (lambda h: h["model"]["config"]["tgt_vocab"].reverse(), "special tokens"),
    (lambda h: h["model"]["config"]["src_vocab"].__setitem__(
        slice(4, 6), h["model"]["config"]["src_vocab"][5:3:-1]),
     "not those the model was trained with"),
    (lambda h: h["model"]["config"]["src_vocab"].pop(), "tokens but the embedding"),
    (lambda h: h["metadata"].__setitem__("tokens", "bytes"), "unknown tokenisation"),
    (lambda h: h.__setitem__("metadata", {}), "not a model of 'minirnn train seq2seq'"),
])
def test_corrupt_or_foreign_vocabularies_are_refused(trained, tmp_path, capsys, change,
                                                      message):
    folder, _ = trained
    bad = _rewrite(folder / "run" / "model.npz", tmp_path / "bad.npz", change)
    with pytest.raises(ModelFileError, match=message):
        load_translator(bad)
    (tmp_path / "in.txt").write_text("red blue\n", encoding="utf-8")
    assert main(["translate", str(bad), "--input", str(tmp_path / "in.txt")]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("minirnn: error: ") and message in lines[0]


# ------------------------------------------------------------------ errors, resume, Ctrl-C
def test_cli_errors_are_one_line_with_status_2(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    train, test = reversal_files(tmp_path, 50, 10)
    bad = tmp_path / "bad.tsv"
    bad.write_text("a\tb\nc d e\n", encoding="utf-8")
    cases = [
        (["train", "seq2seq", "--train", str(tmp_path / "nope.tsv"), "--test", test],
         "--train " + str(tmp_path / "nope.tsv") + ": no such file"),
        (["train", "seq2seq", "--train", str(bad), "--test", test],
         f"{bad}, line 2: expected source<TAB>target, found no tab"),
        (["train", "seq2seq", "--train", train], "--test (a file of pairs) is required"),
        (["train", "seq2seq", "--train", train, "--test", test, "--attention", "dot"],
         "attention 'dot' needs a unidirectional encoder"),
        (["translate", str(tmp_path), "--input", test], "no model.npz"),
    ]
    for args, message in cases:
        with contextlib.suppress(SystemExit):  # argparse's own errors exit 2
            assert main(args) == 2, args
        err = capsys.readouterr().err
        lines = err.strip().splitlines()
        assert message in lines[-1], (args, err)
        assert not any("Traceback" in line for line in lines)
    assert not (tmp_path / "minirnn-runs").exists() or not any(
        (tmp_path / "minirnn-runs").iterdir())


def test_resume_continues_the_run(tmp_path):
    train, test = reversal_files(tmp_path, 200, 20)
    run = tmp_path / "run"
    args = ["train", "seq2seq", "--train", train, "--test", test, "--hidden-size", "16",
            "--embedding-dim", "8", "--no-plot", "--output", str(run)]
    cli([*args, "--epochs", "2"], tmp_path)
    cli(["train", "seq2seq", "--resume", str(run), "--epochs", "4"], tmp_path)
    history = json.loads((run / "history.json").read_text())
    assert history["epoch"] == [1, 2, 3, 4]
    assert json.loads((run / "report.json").read_text())["epochs_run"] == 4


def test_ctrl_c_keeps_the_best_weights_and_writes_the_run(tmp_path, monkeypatch, capsys):
    from minirnn.apps import seq2seq as app
    from minirnn.apps.tasks import RunInterrupted, make_config, run

    train, test = reversal_files(tmp_path, 200, 20)
    calls = {"n": 0}
    step = app.Seq2SeqTrainer._step

    def interrupted_step(self, x, y):
        calls["n"] += 1
        if calls["n"] == 9:  # in the second epoch (6 batches an epoch)
            raise KeyboardInterrupt
        return step(self, x, y)

    monkeypatch.setattr(app.Seq2SeqTrainer, "_step", interrupted_step)
    config = make_config("seq2seq", {"train": train, "test": test, "hidden_size": 16,
                                     "embedding_dim": 8, "no_plot": True})
    with pytest.raises(RunInterrupted, match="model: the best epoch's weights"):
        run(config, output=tmp_path / "run")
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert report["status"] == "interrupted" and report["epochs_run"] == 1
    assert (tmp_path / "run" / "model.npz").is_file()
    assert "interrupted: keeping the best weights so far" in capsys.readouterr().out


class _Recorder:
    """A callback that records the hooks called, stops training or raises on demand."""

    def __init__(self, stop_after_batches=None, raise_at_epoch=None):
        from minirnn.train.callbacks import Callback

        outer = self

        class Recorder(Callback):
            def on_train_begin(self, logs):
                outer.calls.append(("train_begin",))

            def on_epoch_begin(self, epoch, logs):
                outer.calls.append(("epoch_begin", epoch))

            def on_batch_end(self, batch, logs):
                outer.batches += 1
                outer.losses.append(logs["loss"])
                if outer.stop_after_batches and outer.batches >= outer.stop_after_batches:
                    self.solver.stop_training = True

            def on_epoch_end(self, epoch, logs):
                outer.calls.append(("epoch_end", epoch, sorted(logs)))
                if outer.raise_at_epoch == epoch:
                    raise _PrunedError(f"epoch {epoch}")

            def on_train_end(self, logs):
                outer.calls.append(("train_end", logs["interrupted"]))

        self.callback = Recorder()
        self.calls, self.losses, self.batches = [], [], 0
        self.stop_after_batches, self.raise_at_epoch = stop_after_batches, raise_at_epoch


class _PrunedError(Exception):
    pass


def test_the_task_calls_the_callbacks_as_the_solver_does(tmp_path):
    """run() hands the task's callbacks to the seq2seq trainer: every hook is called, a
    callback's stop_training ends the epoch after that batch (validated, then stopped), and
    an exception from a callback (a sweep's pruning) ends the run at once."""
    from minirnn.apps.tasks import make_config, run

    train, test = reversal_files(tmp_path, 200, 20)  # 180 training pairs: 6 batches of 32
    options = {"train": train, "test": test, "hidden_size": 16, "embedding_dim": 8,
               "no_plot": True, "epochs": 3}
    rec = _Recorder()
    result = run(make_config("seq2seq", options), callbacks=[rec.callback],
                 output=tmp_path / "a")
    keys = ["loss", "time", "tokens_per_second", "val_loss"]
    assert rec.calls == [("train_begin",), ("epoch_begin", 0), ("epoch_end", 0, keys),
                         ("epoch_begin", 1), ("epoch_end", 1, keys), ("epoch_begin", 2),
                         ("epoch_end", 2, keys), ("train_end", False)]
    assert rec.batches == 18 and all(np.isfinite(rec.losses))
    assert result.epochs == 3

    stop = _Recorder(stop_after_batches=7)  # in the second epoch
    report = run(make_config("seq2seq", options), callbacks=[stop.callback],
                 output=tmp_path / "b").report
    assert stop.batches == 7 and report["epochs_run"] == 2
    assert [c[0] for c in stop.calls][-2:] == ["epoch_end", "train_end"]

    pruned = _Recorder(raise_at_epoch=0)
    with pytest.raises(_PrunedError, match="epoch 0"):
        run(make_config("seq2seq", options), callbacks=[pruned.callback],
            output=tmp_path / "c")
    assert pruned.batches == 6 and ("epoch_begin", 1) not in pruned.calls


def test_the_time_limit_is_the_projects_timelimit_callback(tmp_path):
    """--time-limit is a TimeLimit among the trainer's callbacks: it ends the epoch after
    the batch that crosses the limit (validated), and the run reports it."""
    from minirnn.apps.seq2seq import PairData, Seq2SeqTrainer
    from minirnn.train.callbacks import TimeLimit

    train, _ = reversal_files(tmp_path, 200, 1)
    pairs = read_pairs(train)
    sv, tv = build_vocabulary(pairs.sources), build_vocabulary(pairs.targets)
    data = PairData.encode(pairs, sv, tv)
    model = EncoderDecoder(len(sv), len(tv), 8, 16, attention="additive", seed=0)
    trainer = Seq2SeqTrainer(model, epochs=5, time_limit=150.0)
    limit = [cb for cb in trainer.callbacks if isinstance(cb, TimeLimit)]
    assert len(limit) == 1
    ticks = iter(range(10**6))
    limit[0]._clock = lambda: float(next(ticks)) * 100.0  # 100 s per reading
    trainer.fit(data.subset(range(160)), data.subset(range(160, 200)))
    assert trainer.time_limit_reached and len(trainer.history) == 1
    assert not trainer.history[0].complete  # stopped within the first epoch
    assert trainer.best_epoch == 0


def test_the_learning_rate_halves_after_an_epoch_without_a_lower_validation_loss(
        tmp_path, monkeypatch):
    from minirnn.apps.seq2seq import PairData, Seq2SeqTrainer

    train, _ = reversal_files(tmp_path, 100, 1)
    pairs = read_pairs(train)
    sv, tv = build_vocabulary(pairs.sources), build_vocabulary(pairs.targets)
    data = PairData.encode(pairs, sv, tv)
    model = EncoderDecoder(len(sv), len(tv), 8, 16, attention="additive", seed=0)
    losses = iter([2.0, 1.5, 1.7, 1.4, 1.45, 1.46])
    monkeypatch.setattr(Seq2SeqTrainer, "evaluate", lambda self, data, batch_size=128:
                        next(losses))
    seen = []
    trainer = Seq2SeqTrainer(model, lr=0.01, lr_decay=0.5, epochs=6, patience=5,
                             on_epoch=lambda log: seen.append(trainer.optimizer.lr))
    trainer.fit(data, data)
    # on_epoch runs before the callbacks' epoch end: the rate each epoch trained with
    assert seen == [0.01, 0.01, 0.01, 0.005, 0.005, 0.0025]
    assert trainer.optimizer.lr == 0.00125 and trainer.best_epoch == 3
    with pytest.raises(ValueError, match="lr_decay must be greater than 0"):
        from minirnn.apps.tasks import make_config

        make_config("seq2seq", {"train": train, "test": train, "lr_decay": 0.0})


def test_minirnn_data_reexports_the_pair_reader():
    import minirnn.data
    from minirnn.apps.data import pairs

    for name in ("read_pairs", "PairSet", "PairsError", "build_vocabulary", "bucket_batches",
                 "tokenize", "detokenize", "batch_padding"):
        assert name in minirnn.data.__all__
        assert getattr(minirnn.data, name) is getattr(pairs, name)


def test_a_resumed_trainer_keeps_the_decayed_rate_and_the_plateau_counter(tmp_path,
                                                                           monkeypatch):
    from minirnn.apps.seq2seq import PairData, Seq2SeqTrainer

    train, _ = reversal_files(tmp_path, 100, 1)
    pairs = read_pairs(train)
    sv, tv = build_vocabulary(pairs.sources), build_vocabulary(pairs.targets)
    data = PairData.encode(pairs, sv, tv)
    losses = iter([2.0, 2.1, 1.9, 1.95])
    monkeypatch.setattr(Seq2SeqTrainer, "evaluate", lambda self, data, batch_size=128:
                        next(losses))

    def trainer(epochs):
        model = EncoderDecoder(len(sv), len(tv), 8, 16, attention="additive", seed=0)
        return Seq2SeqTrainer(model, lr=0.01, lr_decay=0.5, epochs=epochs,
                              checkpoint=tmp_path / "checkpoint.npz")

    first = trainer(3)
    first.fit(data, data)  # 2.0, 2.1 (halved), 1.9
    assert first.optimizer.lr == 0.005
    again = trainer(4)
    again.fit(data, data, resume=True)  # 1.95: not below 1.9, so halved again
    assert again.optimizer.lr == 0.0025 and again._plateau.best == 1.9
    assert len(again.history) == 4 and again.best_epoch == 2
