"""Text: vocabularies, file encoding, batching, LanguageModel gradients, generation, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import minirnn.apps.data.text as text_mod
import minirnn.apps.language_model as lm_mod
from minirnn.apps.data.text import (
    EOS,
    UNK,
    TextError,
    Vocabulary,
    encode_file,
    ngram_baselines,
    random_windows,
    split_text,
    stream_batches,
)
from minirnn.apps.language_model import LanguageModel, TextSolver, bits_per_token, perplexity
from minirnn.check.gradcheck import numerical_gradient
from minirnn.cli import main
from minirnn.nn.io import load_model, save_model
from minirnn.nn.losses import CrossEntropy
from minirnn.nn.optim import Adam
from minirnn.train.callbacks import TimeLimit


@pytest.fixture(autouse=True)
def _blas_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Record TextSolver's BLAS thread choices instead of changing the test process's
    (a batch split is recorded as its negated thread count)."""
    calls: list[int] = []
    monkeypatch.setattr(lm_mod, "set_blas_threads", calls.append)
    monkeypatch.setattr(lm_mod, "set_batch_threads", lambda n: calls.append(-n))
    monkeypatch.delenv("MINIRNN_BLAS_THREADS", raising=False)
    return calls


TEXT = ("To be, or not to be, that is the question:\n"
        "Whether 'tis nobler in the mind to suffer\n"
        "The slings and arrows of outrageous fortune,\n") * 30


# ----------------------------------------------------------------------- vocabularies
def test_char_vocabulary_round_trip_with_non_ascii() -> None:
    text = "naïve café \u2013 日本 😀\nok"
    vocab = Vocabulary.from_text(text)
    assert vocab.tokens == sorted(set(text))
    codes = vocab.encode(text)
    assert codes.dtype == np.uint8 and len(codes) == len(text)
    assert vocab.decode(codes) == text
    assert Vocabulary.from_dict(json.loads(json.dumps(vocab.to_dict()))) == vocab


def test_large_char_vocabulary_uses_uint16() -> None:
    text = "".join(chr(0x4E00 + i) for i in range(300))
    vocab = Vocabulary.from_text(text)
    assert vocab.encode(text).dtype == np.uint16
    assert vocab.decode(vocab.encode(text[::-1])) == text[::-1]


def test_char_outside_vocabulary_is_named() -> None:
    vocab = Vocabulary.from_text("abc")
    with pytest.raises(TextError, match=r"'z' at position 2"):
        vocab.encode("abzz")


def test_word_vocabulary_cap_and_unknown() -> None:
    text = "a a a b b c\na b d\n"
    vocab = Vocabulary.from_text(text, level="word", max_size=3)
    assert vocab.tokens == [UNK, "a", "b"]  # <eos> (2x) and c, d fall out of the cap
    codes = vocab.encode("a c b\n")
    assert vocab.decode(codes) == f"a {UNK} b {UNK}"
    full = Vocabulary.from_text(text, level="word")
    assert EOS in full.tokens and full.decode(full.encode("a b\nc\n")) == "a b\nc\n"
    with pytest.raises(ValueError, match="max_size"):
        Vocabulary.from_text(text, level="word", max_size=1)


# ----------------------------------------------------------------------- files
def test_encode_file_in_small_chunks_splits_multibyte_characters(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = "héllo wörld ✓ 😀 " * 20
    path = tmp_path / "t.txt"
    path.write_text(text, encoding="utf-8")
    monkeypatch.setattr(text_mod, "_CHUNK", 5)  # chunk borders fall inside characters
    codes, vocab = encode_file(path)
    assert vocab == Vocabulary.from_text(text)
    assert vocab.decode(codes) == text
    words, wv = encode_file(path, level="word")
    assert wv.decode(words).split() == text.split()


def test_encode_file_memory_stays_below_twice_the_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tracemalloc

    monkeypatch.setattr(text_mod, "_CHUNK", 1 << 16)  # a 100 MB file against 256 KiB chunks
    alphabet = np.frombuffer(b"abcdefghij klmnop\nQRST.,", dtype=np.uint8)
    raw = alphabet[np.random.default_rng(0).integers(0, len(alphabet), 8_000_000)]
    path = tmp_path / "big.txt"
    path.write_bytes(raw.tobytes() + "é".encode())
    del raw
    tracemalloc.start()
    try:
        codes, vocab = encode_file(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert codes.dtype == np.uint8 and len(codes) == 8_000_001 and len(vocab) == 25
    assert peak < 1.5 * path.stat().st_size  # the codes (1x) + one chunk's temporaries


@pytest.mark.parametrize("chunk", [3, 1 << 18])
def test_non_utf8_names_the_byte_offset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        chunk: int) -> None:
    monkeypatch.setattr(text_mod, "_CHUNK", chunk)
    path = tmp_path / "bad.txt"
    path.write_bytes("aé".encode() + b"cd\xffxyz")  # a(1) é(2) c d -> offset 5
    with pytest.raises(TextError, match="byte offset 5"):
        encode_file(path)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.txt"
    path.write_bytes(b"")
    with pytest.raises(TextError, match="empty"):
        encode_file(path)


# ----------------------------------------------------------------------- batching
def test_stream_batches_continue_each_row() -> None:
    codes = np.arange(43)
    windows = list(stream_batches(codes, batch_size=3, seq_len=4))
    # 3 streams of 14 tokens: 13 predictions each -> windows of 4, 4, 4, 1.
    assert [x.shape for x, _ in windows] == [(3, 4), (3, 4), (3, 4), (3, 1)]
    x = np.concatenate([w[0] for w in windows], axis=1)
    y = np.concatenate([w[1] for w in windows], axis=1)
    np.testing.assert_array_equal(x, np.arange(42).reshape(3, 14)[:, :-1])
    np.testing.assert_array_equal(y, x + 1)


def test_random_windows_and_split() -> None:
    codes = np.arange(100)
    x, y = random_windows(codes, 5, 10, np.random.default_rng(0))
    assert x.shape == y.shape == (5, 10)
    np.testing.assert_array_equal(y, x + 1)
    np.testing.assert_array_equal(np.diff(x, axis=1), 1)
    train, val = split_text(codes)
    assert len(val) == 10 and val[0] == 90 and len(train) == 90
    with pytest.raises(TextError, match="shorter than one window"):
        random_windows(codes[:5], 2, 10, np.random.default_rng(0))


# ----------------------------------------------------------------------- the model
def _tiny(dtype: type = np.float64, cell: str = "lstm") -> LanguageModel:
    return LanguageModel(Vocabulary.from_text("abcde"), embedding_dim=3, hidden_size=4,
                         num_layers=2, cell=cell, dtype=dtype, seed=0)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_language_model_gradients(cell: str) -> None:
    model = _tiny(cell=cell)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 5, (2, 6))
    y = rng.integers(0, 5, (2, 6))
    loss = CrossEntropy()

    def f() -> float:
        return loss.forward(model.forward(x), y)

    model.zero_grad()
    f()
    model.backward(loss.backward())
    for name, param in model.named_parameters():
        numeric = numerical_gradient(f, param.data)
        scale = max(np.max(np.abs(numeric)), 1e-8)
        assert np.max(np.abs(param.grad - numeric)) / scale <= 1e-7, name


def test_pytorch_names() -> None:
    names = set(_tiny().state_dict())
    assert {"encoder.weight", "rnn.weight_ih_l0", "rnn.weight_hh_l1", "decoder.weight",
            "decoder.bias"} <= names


def test_cross_entropy_float32_is_stable_for_huge_logits() -> None:
    logits = np.zeros((2, 3, 4), np.float32)
    logits[..., 0] = 1e4
    logits[0, 0, 1] = -1e4
    target = np.array([[0, 1, 0], [3, 0, 0]])
    loss = CrossEntropy()
    value = loss.forward(logits, target)
    assert np.isfinite(value) and abs(value - 2 * 1e4 / 6) / value < 1e-3
    assert np.all(np.isfinite(loss.backward()))


def test_stateful_windows_equal_one_long_forward() -> None:
    model = _tiny()
    ids = np.random.default_rng(0).integers(0, 5, (3, 8))
    whole = model.forward(ids)
    model.rnn.stateful = True
    parts = [model.forward(ids[:, :5]), model.forward(ids[:, 5:])]
    np.testing.assert_allclose(np.concatenate(parts, axis=1), whole, atol=1e-12)
    model.reset_states()
    np.testing.assert_allclose(model.forward(ids[:, :5]), whole[:, :5], atol=1e-12)


def test_generate_steps_one_token_at_a_time() -> None:
    model = _tiny()
    calls: list[int] = []
    forward = model.rnn.forward

    def spy(x, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(x.shape[1])
        return forward(x, *args, **kwargs)

    model.rnn.forward = spy  # type: ignore[method-assign]
    out = model.generate("abca", 5, temperature=0)
    assert calls == [4, 1, 1, 1, 1, 1]  # the prime once, then one step per token
    # Greedy decoding equals re-running the whole prefix each time (the slow way).
    model.rnn.forward = forward  # type: ignore[method-assign]
    slow = "abca"
    for _ in range(5):
        logits = model.forward(model.vocab.encode(slow)[None, :].astype(np.intp))
        slow += model.vocab.tokens[int(np.argmax(logits[0, -1]))]
    assert out == slow


def test_generate_sampling_options() -> None:
    model = _tiny()
    a = model.generate("ab", 20, temperature=1.0, seed=3)
    assert a == model.generate("ab", 20, temperature=1.0, seed=3) and a.startswith("ab")
    assert len(a) == 22 and set(a) <= set("abcde")
    assert model.generate("ab", 8, top_k=1, seed=1) == model.generate("ab", 8, temperature=0)
    assert len(model.generate("", 4, seed=0)) == 5  # a drawn first token, then 4
    with pytest.raises(TextError, match="outside the vocabulary"):
        model.generate("abz", 3)
    with pytest.raises(ValueError, match="temperature"):
        model.generate("ab", 3, temperature=-0.5)
    with pytest.raises(ValueError, match="top_k"):
        model.generate("ab", 3, top_k=0)


def test_model_file_keeps_the_vocabulary(tmp_path: Path) -> None:
    model = _tiny(np.float32)
    save_model(tmp_path / "lm.npz", model)
    loaded = load_model(tmp_path / "lm.npz")
    assert isinstance(loaded, LanguageModel) and loaded.vocab == model.vocab
    assert loaded.generate("abc", 10, seed=0) == model.generate("abc", 10, seed=0)


def test_text_solver_learns_and_stops_at_a_time_limit() -> None:
    vocab = Vocabulary.from_text(TEXT)
    train, val = split_text(vocab.encode(TEXT))
    model = LanguageModel(vocab, 8, 32, seed=0)
    start = model.evaluate(val, 4, 20)
    assert abs(start - np.log(len(vocab))) < 0.5  # about uniform before training
    solver = TextSolver(model, batch_size=4, seq_len=20, epochs=8, seed=0,
                        optimizer=Adam(model, lr=1e-2), clip_norm=5.0)
    history = solver.fit_text(train, val)
    assert history["val_loss"][-1] < 0.6 * start
    assert solver.tokens_seen > 0 and model.rnn.stateful is False
    limit = TimeLimit(1e-6, restore_best_weights=False)
    solver = TextSolver(model, batch_size=4, seq_len=20, epochs=50, callbacks=[limit])
    history = solver.fit_text(train, val)
    assert limit.stopped and len(history) == 1 and solver.tokens_seen == 4 * 20
    with pytest.raises(TextError, match="shorter than one window"):
        TextSolver(model, batch_size=64, seq_len=100).fit_text(train)


def test_blas_threads_are_chosen_by_timing(_blas_calls: list[int],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    vocab = Vocabulary.from_text(TEXT)
    train = vocab.encode(TEXT)
    model = LanguageModel(vocab, 4, 8, seed=0)
    monkeypatch.setattr(lm_mod, "available_cores", lambda: 2)
    solver = TextSolver(model, batch_size=2, seq_len=5, epochs=1, steps_per_epoch=10)
    solver.fit_text(train)
    # Windows 0-3 on 1 thread, 4-7 on 2 (the first of each untimed), then the faster.
    assert _blas_calls[:2] == [1, 2]
    assert _blas_calls[2] == solver.blas_threads_used
    assert all(len(v) == 3 for v in solver._timings.values())
    expected = min(solver._timings, key=lambda n: float(np.median(solver._timings[n])))
    assert (solver.blas_threads_used, solver.batch_threads_used) == expected
    assert len(_blas_calls) == 3
    # A batch of SPLIT_MIN_BATCH streams also tries the split (1 BLAS thread, 2 halves).
    _blas_calls.clear()
    wide = TextSolver(model, batch_size=64, seq_len=2, epochs=1, steps_per_epoch=14)
    wide.fit_text(vocab.encode(TEXT * 2))
    assert _blas_calls[:4] == [1, 2, 1, -2]
    best = min(wide._timings, key=lambda n: float(np.median(wide._timings[n])))
    assert (wide.blas_threads_used, wide.batch_threads_used) == best
    _blas_calls.clear()
    TextSolver(model, batch_size=2, seq_len=5, epochs=1, steps_per_epoch=3,
               blas_threads=1).fit_text(train)
    assert _blas_calls == [1]
    _blas_calls.clear()
    monkeypatch.setenv("MINIRNN_BLAS_THREADS", "keep")
    TextSolver(model, batch_size=2, seq_len=5, epochs=1, steps_per_epoch=8).fit_text(train)
    assert _blas_calls == []
    with pytest.raises(ValueError, match="blas_threads"):
        TextSolver(model, blas_threads=0)


def test_loss_units() -> None:
    assert bits_per_token(np.log(2.0)) == pytest.approx(1.0)
    assert perplexity(np.log(7.0)) == pytest.approx(7.0)


# ----------------------------------------------------------------------- CLI
def _write(tmp_path: Path) -> Path:
    path = tmp_path / "corpus.txt"
    path.write_text(TEXT * 2, encoding="utf-8")
    return path


def test_cli_train_and_sample(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path)
    out = tmp_path / "run"
    code = main(["train", "text", "--file", str(path), "--hidden-size", "16",
                 "--embedding-dim", "8", "--seq-len", "20", "--batch-size", "8",
                 "--epochs", "2", "--eval-every", "20", "--output", str(out),
                 "--sample-length", "30"])
    assert code == 0
    *_, last, folder = capsys.readouterr().out.strip().splitlines()
    assert folder == f"run folder: {out}"
    assert "nats/char" in last and "bits/char" in last and "chars/s" in last
    report = json.loads((out / "report.json").read_text())
    nats = report["val_loss_nats"]
    assert f"{nats:.4f} nats/char {nats / np.log(2):.4f} bits/char" in last
    assert report["vocabulary_size"] == len(set(TEXT))
    assert report["config"]["options"]["seq_len"] == 20 and report["status"] == "finished"
    train, val = split_text(Vocabulary.from_text(TEXT * 2).encode(TEXT * 2))
    baselines = ngram_baselines(train, val, report["vocabulary_size"])
    assert report["baselines_val_loss_nats"] == pytest.approx(baselines)
    best = min(baselines.values())
    verdict = "beats" if nats < best else "does NOT beat"
    assert f"{verdict} the {min(baselines, key=baselines.__getitem__)} baseline {best:.4f}" in last
    assert main(["sample", str(out), "--length", "25", "--prime", "To be", "--seed",
                 "1"]) == 0
    sampled = capsys.readouterr().out
    assert sampled.startswith("To be") and len(sampled.rstrip("\n")) >= 30


def test_cli_word_level(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path)
    code = main(["train", "text", "--file", str(path), "--level", "word", "--hidden-size",
                 "8", "--embedding-dim", "4", "--seq-len", "10", "--batch-size", "4",
                 "--epochs", "1", "--output", str(tmp_path / "w"), "--sample-length", "5"])
    assert code == 0
    last = capsys.readouterr().out.strip().splitlines()[-2]  # then the run folder
    assert "nats/word" in last and "perplexity" in last


@pytest.mark.parametrize("content, words", [
    (b"abc\xc3\x28def" * 100, "not UTF-8 text: invalid continuation byte at byte offset 3"),
    (b"", "is empty"),
    (b"short text", "shorter than one window"),
])
def test_cli_bad_files(tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes,
                       words: str) -> None:
    path = tmp_path / "f.txt"
    path.write_bytes(content)
    assert main(["train", "text", "--file", str(path), "--output", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("minirnn: error:") and words in err and "\n" not in err
    assert not (tmp_path / "o").exists()


def test_cli_never_overwrites_an_earlier_run(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    out.mkdir()
    (out / "model.npz").write_bytes(b"earlier run")
    assert main(["train", "text", "--file", str(_write(tmp_path)), "--output", str(out)]) == 2
    assert "already holds files" in capsys.readouterr().err
    assert (out / "model.npz").read_bytes() == b"earlier run"


@pytest.mark.parametrize("option", [["--dropout", "1.5"], ["--sample-length", "-1"],
                                    ["--seq-len", "0"], ["--lr", "nan"], ["--seed", "-1"]])
def test_cli_bad_options(tmp_path: Path, option: list[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["train", "text", "--file", str(_write(tmp_path)), *option])
    assert exc.value.code == 2


def test_cli_sample_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = _tiny(np.float32)
    save_model(tmp_path / "model.npz", model)
    assert main(["sample", str(tmp_path), "--prime", "abz"]) == 2
    assert "outside the model's vocabulary: 'z'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["sample", str(tmp_path), "--temperature", "-1"])
    assert exc.value.code == 2
    assert main(["sample", str(tmp_path / "nowhere")]) == 2
    assert "no such run folder or model file" in capsys.readouterr().err
    assert main(["sample", str(tmp_path), "--temperature", "0", "--length", "3",
                 "--prime", "ab"]) == 0


@pytest.mark.parametrize(("lines", "batch", "lr"), [(25, 24, 3e-3), (80, 64, 5e-3)])
def test_cli_default_streams_fit_the_text(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                          lines: int, batch: int, lr: float) -> None:
    """64 streams and lr 5e-3 by default; a text too short for 64 windows trains on as many
    streams as it holds, with the rate measured for fewer streams (3e-3)."""
    path = tmp_path / "t.txt"
    path.write_text("abcdefgh ij\n" * lines, encoding="utf-8")  # 12 chars a line
    out = tmp_path / "o"
    assert main(["train", "text", "--file", str(path), "--seq-len", "10", "--hidden-size", "4",
                 "--embedding-dim", "2", "--epochs", "1", "--sample-length", "0",
                 "--output", str(out)]) == 0
    assert f"windows of 10 x batch {batch}" in capsys.readouterr().out
    options = json.loads((out / "report.json").read_text())["config"]["options"]
    assert options["batch_size"] == batch and options["lr"] == pytest.approx(lr)


@pytest.mark.parametrize(("options", "seq_len", "eval_every"), [
    ([], 100, 200),
    (["--time-limit", "60"], 50, 400),
    (["--time-limit", "300"], 100, 200),
    (["--time-limit", "60", "--seq-len", "20"], 20, 1000),
    (["--time-limit", "60", "--eval-every", "7"], 50, 7),
])
def test_cli_window_length_follows_the_time_budget(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], options: list[str], seq_len: int,
        eval_every: int) -> None:
    """Windows of 100 by default, of 50 under a time limit below 150 s (more updates per
    token pay off in a short budget); validation every 20,000 tokens per stream unless
    --seq-len / --eval-every are given."""
    path = tmp_path / "t.txt"
    path.write_text("abcdefgh ij\n" * 100, encoding="utf-8")
    out = tmp_path / "o"
    assert main(["train", "text", "--file", str(path), "--hidden-size", "4",
                 "--embedding-dim", "2", "--epochs", "1", "--sample-length", "0",
                 "--batch-size", "2", "--output", str(out), *options]) == 0
    assert f"windows of {seq_len} x batch 2" in capsys.readouterr().out
    config = json.loads((out / "report.json").read_text())["config"]["options"]
    assert config["seq_len"] == seq_len and config["eval_every"] == eval_every


def test_ngram_baselines_count_the_training_span() -> None:
    """Add-one unigram and bigram losses, fitted on the training codes only, by hand."""
    train = np.array([0, 1, 0, 1, 0], np.uint8)
    val = np.array([1, 2], np.uint8)  # 2 never occurs in training
    result = ngram_baselines(train, val, 3)
    unigram = np.array([3 + 1, 2 + 1, 0 + 1]) / 8  # counts + 1 over 5 + 3
    assert result["unigram"] == pytest.approx(-np.mean(np.log(unigram[[1, 2]])))
    # Training pairs: 0->1 twice, 1->0 twice. Validation pairs: 0->1 (after train's last
    # token), 1->2. Rows smoothed: after 0: (0, 2, 0) + 1 over 5; after 1: (2, 0, 0) + 1 over 5.
    assert result["bigram"] == pytest.approx(-np.mean(np.log([3 / 5, 1 / 5])))
    assert "bigram" not in ngram_baselines(train, val, 3000)  # 3000**2 cells: unigram only
    with pytest.raises(ValueError, match="non-empty 1-D"):
        ngram_baselines(train[:0], val, 3)
