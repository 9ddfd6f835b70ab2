"""Sequence to sequence at equal wall time: minirnn vs a PyTorch model of the same architecture.

Both train a GRU encoder-decoder with additive attention (bidirectional GRU encoder over
source embeddings, a dense tanh bridge from the encoder's final states to the decoder's
initial state, a GRU decoder fed ``[embedding ; previous attentional vector]`` (input
feeding), Bahdanau's score ``v . tanh(W_q h_t + W_k m_s + b)``, ``a_t = tanh(W_c [c_t ;
h_t] + b_c)``, logits ``W_o a_t + b_o``) with the ``minirnn train seq2seq`` defaults:
embedding 64, hidden 128, Adam 2e-3 halved after every epoch without a lower validation
loss, gradient-norm clip 5, batches of 32 pairs of similar lengths (length buckets),
validation after every epoch, the weights of the lowest validation loss kept, early
stopping after 5 epochs without improvement. Each framework
runs in its OWN process (one after the other, the order alternating between sets) for the
same ``--seconds`` of wall time, checked after every batch (validation included, as the
task's ``--time-limit``), on the same files; then the test sources are decoded greedily
and both are scored the same way: exact match (token for token) and corpus BLEU
(sacrebleu), and the training speed in target tokens per second.

Sets: ``tatoeba`` (../shared/data/eng-fra-tatoeba.tsv, English -> French, word tokens,
a seeded 4,000 / 500 / 500 split), ``addition`` ("123+45" -> "168", characters),
``reverse`` (a sequence of 3-8 words from 20 -> the same words in reverse order) and
``commands`` (SCAN's instruction -> action grammar: "jump twice after walk left" ->
"I_TURN_LEFT I_WALK I_JUMP I_JUMP", distinct commands), generated with a seed: 10,000 /
500 / 1,000 pairs.

Usage::

    python -m benchmarks.seq2seq --seconds 60                 # every set, both frameworks
    python -m benchmarks.seq2seq --sets addition --seconds 30
    python -m benchmarks.seq2seq --torch-threads default 1    # PyTorch as it comes and on one
                                                              # thread (the default)

Every worker runs with ``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE`` unset (together: the
machine's own kernels and cache size) and reports the BLAS kernels it ran (threadpoolctl).
Results go to ``benchmarks/results/seq2seq.json``. The machine is shared: the load average
is recorded with every run.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = ROOT.parent / "shared" / "data"
TATOEBA_FILE = "eng-fra-tatoeba.tsv"
SETS = ("tatoeba", "addition", "reverse", "commands")
TOKENS = {"tatoeba": "word", "addition": "char", "reverse": "word", "commands": "word"}
#: The defaults of ``minirnn train seq2seq`` (minirnn.apps.tasks.Seq2SeqConfig).
CONFIG = {"embedding_dim": 64, "hidden_size": 128, "batch_size": 32, "lr": 2e-3,
          "lr_decay": 0.5, "clip_norm": 5.0, "patience": 5, "epochs": 1000}
UNSET = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


# ------------------------------------------------------------------ data
def _write(path: Path, pairs: list[tuple[str, str]]) -> None:
    path.write_text("".join(f"{s}\t{t}\n" for s, t in pairs), encoding="utf-8")


def make_sets(folder: Path, seed: int = 0, data_dir: Path = DATA_DIR
              ) -> dict[str, dict[str, str]]:
    """Write train/valid/test files of every set into ``folder``; returns their paths.

    ``data_dir`` holds ``eng-fra-tatoeba.tsv``."""
    import random

    rng = random.Random(seed)
    out: dict[str, dict[str, str]] = {}
    tatoeba_file = Path(data_dir) / TATOEBA_FILE
    text = tatoeba_file.read_text(encoding="utf-8")
    lines = [line.split("\t")[:2] for line in text.splitlines() if line.count("\t") >= 1]
    rng.shuffle(lines)
    tatoeba = [(s, t) for s, t in lines]
    splits = {"train": tatoeba[:4000], "valid": tatoeba[4000:4500], "test": tatoeba[4500:5000]}
    out["tatoeba"] = {}
    for name, pairs in splits.items():
        _write(folder / f"tatoeba_{name}.tsv", pairs)
        out["tatoeba"][name] = str(folder / f"tatoeba_{name}.tsv")

    def addition() -> tuple[str, str]:
        a, b = rng.randrange(1000), rng.randrange(1000)
        return f"{a}+{b}", str(a + b)

    words = [f"w{i}" for i in range(20)]

    def reverse() -> tuple[str, str]:
        seq = [rng.choice(words) for _ in range(rng.randint(3, 8))]
        return " ".join(seq), " ".join(reversed(seq))

    for name, make in (("addition", addition), ("reverse", reverse)):
        out[name] = {}
        for split, n in (("train", 10000), ("valid", 500), ("test", 1000)):
            path = folder / f"{name}_{split}.tsv"
            _write(path, [make() for _ in range(n)])
            out[name][split] = str(path)
    # Instructions -> actions (SCAN's grammar, Lake & Baroni 2018), distinct commands
    # split at random as SCAN's "simple" split; its own generator so that the sets above
    # stay those of earlier results files.
    crng = random.Random(f"commands-{seed}")
    commands: dict[str, str] = {}
    while len(commands) < 11500:
        command, actions = scan_command(crng)
        commands[command] = actions
    pairs = list(commands.items())
    crng.shuffle(pairs)
    out["commands"] = {}
    for split, part in (("train", pairs[:10000]), ("valid", pairs[10000:10500]),
                        ("test", pairs[10500:11500])):
        path = folder / f"commands_{split}.tsv"
        _write(path, part)
        out["commands"][split] = str(path)
    return out


def scan_command(rng: Any) -> tuple[str, str]:
    """A random command of SCAN's grammar and its action sequence.

    ``C -> S | S and S | S after S``; ``S -> V | V twice | V thrice``; ``V -> U | U D |
    U opposite D | U around D | turn D | turn opposite D | turn around D`` with ``U`` one
    of walk, run, jump, look and ``D`` left or right. ``x and y`` is x's actions then
    y's, ``x after y`` y's then x's ("jump around left twice after walk" -> I_WALK, then
    eight times I_TURN_LEFT I_JUMP).
    """
    def verb() -> tuple[str, list[str]]:
        u = rng.choice(["walk", "run", "jump", "look", "turn"])
        act = [] if u == "turn" else [f"I_{u.upper()}"]
        form = rng.choice(["", "D", "opposite D", "around D"] if u != "turn"
                          else ["D", "opposite D", "around D"])
        if not form:
            return u, act
        d = rng.choice(["left", "right"])
        turn = [f"I_TURN_{d.upper()}"]
        if form == "D":
            return f"{u} {d}", turn + act
        if form == "opposite D":
            return f"{u} opposite {d}", turn + turn + act
        return f"{u} around {d}", (turn + act) * 4

    def single() -> tuple[str, list[str]]:
        text, act = verb()
        times = rng.choice([1, 2, 3])
        return text + {1: "", 2: " twice", 3: " thrice"}[times], act * times

    first, a1 = single()
    join = rng.choice(["", "and", "after"])
    if not join:
        return first, " ".join(a1)
    second, a2 = single()
    actions = a1 + a2 if join == "and" else a2 + a1
    return f"{first} {join} {second}", " ".join(actions)


# ------------------------------------------------------------------ shared by the workers
def _bleu(hyps: list[list[str]], refs: list[list[str]], tokens: str) -> float | None:
    try:
        import sacrebleu
    except ImportError:
        return None
    join = "" if tokens == "char" else " "  # as minirnn.apps.seq2seq.corpus_bleu
    return float(sacrebleu.corpus_bleu([join.join(h) for h in hyps],
                                       [[join.join(r) for r in refs]],
                                       tokenize="char" if tokens == "char" else "13a").score)


def _blas() -> list[dict[str, Any]]:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    keep = ("user_api", "internal_api", "version", "num_threads", "architecture")
    return [{k: p.get(k) for k in keep} for p in threadpool_info()]


def _result(em: float, hyps: list[list[str]], refs: list[list[str]], tokens: str,
            tokens_seen: int, train_s: float, epochs: int, best_epoch: int,
            wall: float) -> dict[str, Any]:
    return {"exact_match": em, "bleu": _bleu(hyps, refs, tokens), "n_test": len(refs),
            "tokens_seen": tokens_seen,
            "train_seconds": train_s, "tokens_per_second": tokens_seen / max(train_s, 1e-9),
            "epochs": epochs, "best_epoch": best_epoch, "wall_seconds": wall,
            "blas": _blas(), "loadavg": list(os.getloadavg()),
            "env": {k: v for k, v in os.environ.items() if k.startswith(("OPENBLAS_", "OMP_"))},
            "sample": [" ".join(h) for h in hyps[:3]]}


# ------------------------------------------------------------------ the minirnn worker
def worker_minirnn(task: dict[str, Any]) -> dict[str, Any]:
    """Train and test with minirnn's seq2seq application (the task's trainer)."""
    import numpy as np

    from minirnn.apps.data.pairs import build_vocabulary, read_pairs
    from minirnn.apps.seq2seq import (
        PairData,
        Seq2SeqTrainer,
        decode_tokens,
        exact_match,
        translate,
    )
    from minirnn.nn.seq2seq import EncoderDecoder

    t0 = time.perf_counter()
    c, tokens = task["config"], task["tokens"]
    train, valid, test = (read_pairs(task["files"][k], tokens) for k in ("train", "valid",
                                                                         "test"))
    sv, tv = build_vocabulary(train.sources), build_vocabulary(train.targets)
    model = EncoderDecoder(len(sv), len(tv), c["embedding_dim"], c["hidden_size"],
                           attention="additive", src_vocab=sv, tgt_vocab=tv,
                           dtype=np.float32, seed=task["seed"])
    trainer = Seq2SeqTrainer(model, lr=c["lr"], lr_decay=c["lr_decay"],
                             batch_size=c["batch_size"],
                             clip_norm=c["clip_norm"], epochs=c["epochs"],
                             patience=c["patience"], time_limit=task["seconds"],
                             seed=task["seed"])
    trainer.fit(PairData.encode(train, sv, tv), PairData.encode(valid, sv, tv))
    test_data = PairData.encode(test, sv, tv)
    max_length = 2 * max(len(t) for t in train.targets) + 10
    hyps = [decode_tokens(h, tv) for h in translate(model, test_data.src_ids,
                                                    max_length=max_length)]
    em = exact_match(hyps, test.targets)
    # Training time without validation, as the PyTorch worker counts it.
    train_s = sum(h.tokens / h.tokens_per_second for h in trainer.history
                  if h.tokens_per_second > 0)
    return _result(em, hyps, test.targets, tokens, trainer.tokens_seen, train_s,
                   len(trainer.history),
                   trainer.best_epoch + 1, time.perf_counter() - t0)


# ------------------------------------------------------------------ the PyTorch worker
def worker_torch(task: dict[str, Any]) -> dict[str, Any]:
    """The same architecture, training loop and decoding written in PyTorch."""
    import random

    import torch
    from torch import nn

    from minirnn.apps.data.pairs import build_vocabulary, read_pairs

    t0 = time.perf_counter()
    if task.get("torch_threads"):
        torch.set_num_threads(int(task["torch_threads"]))
    torch.manual_seed(task["seed"])
    rng = random.Random(task["seed"])
    c, tokens = task["config"], task["tokens"]
    train, valid, test = (read_pairs(task["files"][k], tokens) for k in ("train", "valid",
                                                                         "test"))
    sv, tv = build_vocabulary(train.sources), build_vocabulary(train.targets)
    si, ti = {t: i for i, t in enumerate(sv)}, {t: i for i, t in enumerate(tv)}
    PAD, UNK, BOS, EOS = 0, 1, 2, 3
    E, H = c["embedding_dim"], c["hidden_size"]

    def enc(pairs: Any) -> list[tuple[list[int], list[int]]]:
        return [([si.get(t, UNK) for t in s], [ti.get(t, UNK) for t in g])
                for s, g in zip(pairs.sources, pairs.targets, strict=True)]

    class Model(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.src_emb = nn.Embedding(len(sv), E, padding_idx=PAD)
            self.encoder = nn.GRU(E, H, batch_first=True, bidirectional=True)
            self.bridge = nn.Linear(2 * H, H)
            self.tgt_emb = nn.Embedding(len(tv), E, padding_idx=PAD)
            self.cell = nn.GRUCell(E + H, H)
            self.w_q = nn.Linear(H, H, bias=False)
            self.w_k = nn.Linear(2 * H, H, bias=True)
            self.v = nn.Linear(H, 1, bias=False)
            self.combine = nn.Linear(2 * H + H, H)
            self.out = nn.Linear(H, len(tv))

        def encode(self, src: Any, lengths: Any) -> tuple[Any, Any, Any, Any]:
            packed = nn.utils.rnn.pack_padded_sequence(self.src_emb(src), lengths,
                                                       batch_first=True,
                                                       enforce_sorted=False)
            out, h = self.encoder(packed)
            memory, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True,
                                                         total_length=src.shape[1])
            h0 = torch.tanh(self.bridge(torch.cat([h[0], h[1]], dim=1)))
            keys = self.w_k(memory)
            mask = src != PAD
            return memory, keys, mask, h0

        def step(self, y: Any, h: Any, feed: Any, memory: Any, keys: Any, mask: Any
                 ) -> tuple[Any, Any, Any, Any]:
            h = self.cell(torch.cat([self.tgt_emb(y), feed], dim=1), h)
            e = self.v(torch.tanh(self.w_q(h)[:, None, :] + keys)).squeeze(2)
            w = torch.softmax(e.masked_fill(~mask, float("-inf")), dim=1)
            ctx = torch.bmm(w[:, None, :], memory).squeeze(1)
            a = torch.tanh(self.combine(torch.cat([ctx, h], dim=1)))
            return self.out(a), h, a, w

        def forward(self, src: Any, lengths: Any, tgt_in: Any) -> Any:
            memory, keys, mask, h = self.encode(src, lengths)
            feed = memory.new_zeros(src.shape[0], H)
            logits = []
            for t in range(tgt_in.shape[1]):
                lg, h, feed, _ = self.step(tgt_in[:, t], h, feed, memory, keys, mask)
                logits.append(lg)
            return torch.stack(logits, dim=1)

    def batch(pairs: list[tuple[list[int], list[int]]]) -> tuple[Any, Any, Any, Any]:
        S = max(len(s) for s, _ in pairs)
        T = max(len(t) for _, t in pairs) + 1
        src = torch.zeros(len(pairs), S, dtype=torch.long)
        tin = torch.zeros(len(pairs), T, dtype=torch.long)
        tout = torch.zeros(len(pairs), T, dtype=torch.long)
        for n, (s, t) in enumerate(pairs):
            src[n, :len(s)] = torch.tensor(s)
            tin[n, :len(t) + 1] = torch.tensor([BOS, *t])
            tout[n, :len(t) + 1] = torch.tensor([*t, EOS])
        lengths = torch.tensor([len(s) for s, _ in pairs])
        return src, lengths, tin, tout

    def buckets(data: list[tuple[list[int], list[int]]], size: int, shuffle: bool
                ) -> list[list[int]]:
        keys = [(len(s), len(t), rng.random() if shuffle else 0.0) for s, t in data]
        order = sorted(range(len(data)), key=lambda i: keys[i])
        out = [order[i:i + size] for i in range(0, len(order), size)]
        if shuffle:
            rng.shuffle(out)
        return out

    tr, va, te = enc(train), enc(valid), enc(test)
    model = Model()
    opt = torch.optim.Adam(model.parameters(), lr=c["lr"])
    # minirnn's ReduceLROnPlateau(factor, patience=1, min_delta=1e-4): torch's patience
    # counts the epochs tolerated, minirnn's the epochs that trigger
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(
        opt, factor=c["lr_decay"], patience=0, threshold=1e-4, threshold_mode="abs")
    loss_fn = nn.CrossEntropyLoss(ignore_index=PAD, reduction="sum")

    def val_loss() -> float:
        model.eval()
        total, count = 0.0, 0
        with torch.no_grad():
            for idx in buckets(va, 128, False):
                src, lengths, tin, tout = batch([va[i] for i in idx])
                logits = model(src, lengths, tin)
                total += float(loss_fn(logits.reshape(-1, len(tv)), tout.reshape(-1)))
                count += int((tout != PAD).sum())
        return total / max(count, 1)

    start = time.perf_counter()
    best, best_epoch, best_state = math.inf, -1, None
    tokens_seen, train_s, epochs, done = 0, 0.0, 0, False
    while epochs < c["epochs"] and not done:
        if best_epoch >= 0 and epochs - 1 - best_epoch >= c["patience"]:
            break
        model.train()
        e0 = time.perf_counter()
        for idx in buckets(tr, c["batch_size"], True):
            src, lengths, tin, tout = batch([tr[i] for i in idx])
            opt.zero_grad()
            logits = model(src, lengths, tin)
            n = int((tout != PAD).sum())
            loss = loss_fn(logits.reshape(-1, len(tv)), tout.reshape(-1)) / n
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), c["clip_norm"])
            opt.step()
            tokens_seen += n
            if time.perf_counter() - start >= task["seconds"]:
                done = True
                break
        train_s += time.perf_counter() - e0
        v = val_loss()
        plateau.step(v)
        if v < best:
            best, best_epoch = v, epochs
            best_state = {k: x.clone() for k, x in model.state_dict().items()}
        epochs += 1
    if best_state is not None:
        model.load_state_dict(best_state)

    model.eval()
    max_length = 2 * max(len(t) for t in train.targets) + 10
    outputs: list[list[str]] = [[] for _ in te]
    with torch.no_grad():
        for idx in buckets(te, 64, False):
            src, lengths, _, _ = batch([te[i] for i in idx])
            memory, keys, mask, h = model.encode(src, lengths)
            feed = memory.new_zeros(len(idx), H)
            y = torch.full((len(idx),), BOS, dtype=torch.long)
            finished = torch.zeros(len(idx), dtype=torch.bool)
            gen: list[list[int]] = [[] for _ in idx]
            for _ in range(max_length):
                lg, h, feed, _ = model.step(y, h, feed, memory, keys, mask)
                lg[:, PAD] = float("-inf")
                lg[:, BOS] = float("-inf")
                y = lg.argmax(dim=1)
                for n in range(len(idx)):
                    if not finished[n]:
                        if int(y[n]) == EOS:
                            finished[n] = True
                        else:
                            gen[n].append(int(y[n]))
                if bool(finished.all()):
                    break
            for n, i in enumerate(idx):
                outputs[i] = [tv[k] for k in gen[n]]
    em = sum(o == r for o, r in zip(outputs, test.targets, strict=True)) / len(te)
    return _result(float(em), outputs, test.targets, tokens, tokens_seen, train_s, epochs,
                   best_epoch + 1, time.perf_counter() - t0)


# ------------------------------------------------------------------ orchestration
def baselines(files: dict[str, str], tokens: str) -> dict[str, dict[str, Any]]:
    """Copy-the-source and nearest-neighbour retrieval on a set's test pairs (the
    baselines of ``minirnn train seq2seq``), scored as the frameworks are."""
    from minirnn.apps.data.pairs import read_pairs
    from minirnn.apps.seq2seq import copy_baseline, exact_match, nearest_neighbour_baseline

    train, test = read_pairs(files["train"], tokens), read_pairs(files["test"], tokens)
    out = {}
    for label, hyps in (("copy", copy_baseline(test.sources)),
                        ("nearest_neighbour", nearest_neighbour_baseline(
                            train.sources, train.targets, test.sources))):
        out[label] = {"exact_match": exact_match(hyps, test.targets),
                      "bleu": _bleu(hyps, test.targets, tokens)}
    return out


def run_worker(framework: str, task: dict[str, Any]) -> dict[str, Any]:
    """One worker in its own process, ``OPENBLAS_CORETYPE`` / ``OPENBLAS_L2_SIZE`` unset."""
    env = {k: v for k, v in os.environ.items() if k not in UNSET}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    proc = subprocess.run([sys.executable, "-m", "benchmarks.seq2seq", "--worker", framework],
                          input=json.dumps(task), capture_output=True, text=True, cwd=ROOT,
                          env=env, timeout=task["seconds"] * 10 + 600, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{framework} worker failed (exit {proc.returncode}):\n"
                           f"{proc.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def _kernels(result: dict[str, Any]) -> str:
    return ", ".join(f"{p.get('internal_api')} {p.get('architecture') or ''} x"
                     f"{p.get('num_threads')}".replace("  ", " ")
                     for p in result.get("blas", []))


def render(results: dict[str, Any]) -> str:
    """The Markdown table of docs/seq2seq.md from a results file."""
    rows = ["| set | framework | exact match | BLEU | target tokens/s | epochs (best) | load |",
            "|---|---|---|---|---|---|---|"]
    for name, runs in results["sets"].items():
        for label in results["variants"]:
            if label not in runs:
                continue
            r = runs[label]
            bleu = "n/a" if r["bleu"] is None else f"{r['bleu']:.2f}"
            rows.append(f"| {name} | {label} | {r['exact_match']:.4f} | {bleu} | "
                        f"{r['tokens_per_second']:,.0f} | {r['epochs']} ({r['best_epoch']}) | "
                        f"{r['loadavg'][0]:.1f} |")
        for label, b in results.get("baselines", {}).get(name, {}).items():
            bleu = "n/a" if b["bleu"] is None else f"{b['bleu']:.2f}"
            rows.append(f"| {name} | baseline: {label.replace('_', '-')} | "
                        f"{b['exact_match']:.4f} | {bleu} | - | - | - |")
    return "\n".join(rows)


def gaps(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Per set, minirnn against the best PyTorch run of that set (by exact match, then
    BLEU): the differences and a verdict. Exact match counts when the two differ by at least
    one test pair, BLEU when by 0.5 or more: ``ahead`` (better on one, not worse on the
    other), ``BEHIND`` (worse on one, not better on the other), ``mixed`` (better on one,
    worse on the other) or ``level``."""
    out = []
    for name, runs in results["sets"].items():
        torch_runs = {k: v for k, v in runs.items() if k != "minirnn"}
        if "minirnn" not in runs or not torch_runs:
            continue
        ours = runs["minirnn"]
        label, best = max(torch_runs.items(),
                          key=lambda kv: (kv[1]["exact_match"], kv[1]["bleu"] or 0.0))
        d_em = ours["exact_match"] - best["exact_match"]
        d_bleu = None if ours["bleu"] is None or best["bleu"] is None \
            else ours["bleu"] - best["bleu"]
        one_pair = 1.0 / ours.get("n_test", 500)  # older results files: 500
        signs = {0 if abs(d_em) < one_pair - 1e-12 else (1 if d_em > 0 else -1),
                 0 if d_bleu is None or abs(d_bleu) < 0.5 else (1 if d_bleu > 0 else -1)}
        verdict = ("mixed" if {1, -1} <= signs else "ahead" if 1 in signs
                   else "BEHIND" if -1 in signs else "level")
        out.append({"set": name, "torch": label, "minirnn_exact_match": ours["exact_match"],
                    "torch_exact_match": best["exact_match"], "exact_match_gap": d_em,
                    "bleu_gap": d_bleu,
                    "speed_ratio": ours["tokens_per_second"] /
                    max(best["tokens_per_second"], 1e-9),
                    "verdict": verdict})
    return out


def render_gaps(results: dict[str, Any]) -> str:
    """One line per set: the gap to the best PyTorch run, as the docs quote it."""
    lines = []
    for g in gaps(results):
        bleu = "n/a" if g["bleu_gap"] is None else f"{g['bleu_gap']:+.2f}"
        lines.append(f"{g['set']:9s} minirnn {g['minirnn_exact_match']:.4f} vs "
                     f"{g['torch']} {g['torch_exact_match']:.4f}: exact match "
                     f"{g['exact_match_gap']:+.4f}, BLEU {bleu}, speed x{g['speed_ratio']:.2f}"
                     f"  -> {g['verdict']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", nargs="+", choices=SETS, default=list(SETS))
    parser.add_argument("--seconds", type=float, default=60.0,
                        help="wall-clock training budget per framework and set")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", default=str(DATA_DIR),
                        help=f"folder holding {TATOEBA_FILE} (default: ../shared/data)")
    parser.add_argument("--torch-threads", nargs="+", default=["default", "1"],
                        help="PyTorch runs, one per value: 'default' (torch's own thread "
                             "count) or N for torch.set_num_threads(N)")
    parser.add_argument("--output", default=str(ROOT / "benchmarks" / "results" /
                                                "seq2seq.json"))
    parser.add_argument("--table", action="store_true",
                        help="print the Markdown table of --output and exit")
    parser.add_argument("--baselines", action="store_true",
                        help="compute the baselines of --sets (no training) into --output "
                             "and exit")
    parser.add_argument("--worker", choices=["minirnn", "torch"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.table:
        saved = json.loads(Path(args.output).read_text())
        print(render(saved))
        print()
        print(render_gaps(saved))
        return 0
    if args.baselines:
        saved = json.loads(Path(args.output).read_text())
        with tempfile.TemporaryDirectory() as tmp:
            files = make_sets(Path(tmp), int(saved.get("seed", args.seed)),
                              Path(args.data_dir))
            for name in args.sets:
                saved.setdefault("baselines", {})[name] = baselines(files[name], TOKENS[name])
        saved["gaps"] = gaps(saved)
        Path(args.output).write_text(json.dumps(saved, indent=1))
        print(render(saved))
        return 0
    if args.worker:
        task = json.loads(sys.stdin.read())
        worker = worker_minirnn if args.worker == "minirnn" else worker_torch
        print(json.dumps(worker(task)))
        return 0
    variants = [("minirnn", None)] + [
        ("torch" if t == "default" else f"torch-{t}thread", None if t == "default" else int(t))
        for t in args.torch_threads]
    results: dict[str, Any] = {"seconds": args.seconds, "seed": args.seed, "config": CONFIG,
                               "sets": {},
                               "variants": [v for v, _ in variants]}
    previous = Path(args.output)
    if previous.is_file():  # keep the other sets of an earlier run with the same settings
        earlier = json.loads(previous.read_text())
        earlier.setdefault("seed", 0)  # files written before the seed was recorded
        same = ("seconds", "seed", "config", "variants")
        if {k: earlier.get(k) for k in same} == {k: results[k] for k in same}:
            results["sets"] = {k: v for k, v in earlier.get("sets", {}).items()
                               if k not in args.sets}
            results["baselines"] = {k: v for k, v in earlier.get("baselines", {}).items()
                                    if k not in args.sets}
    with tempfile.TemporaryDirectory() as tmp:
        files = make_sets(Path(tmp), args.seed, Path(args.data_dir))
        for k, name in enumerate(args.sets):
            order = variants if k % 2 == 0 else variants[::-1]
            results["sets"][name] = {}
            for label, threads in order:
                task = {"files": files[name], "tokens": TOKENS[name], "config": CONFIG,
                        "seconds": args.seconds, "seed": args.seed, "torch_threads": threads}
                res = run_worker("minirnn" if label == "minirnn" else "torch", task)
                results["sets"][name][label] = res
                bleu = "n/a (no sacrebleu)" if res["bleu"] is None else f"{res['bleu']:.2f}"
                print(f"{name:9s} {label:14s} exact match {res['exact_match']:.4f}  BLEU "
                      f"{bleu}  {res['tokens_per_second']:,.0f} target tokens/s  "
                      f"{res['epochs']} epochs (best {res['best_epoch']})  load "
                      f"{res['loadavg'][0]:.1f}  BLAS: {_kernels(res)}", flush=True)
            base = baselines(files[name], TOKENS[name])
            results.setdefault("baselines", {})[name] = base
            print(f"{name:9s} baselines      " + ", ".join(
                f"{k.replace('_', '-')} exact match {b['exact_match']:.4f} BLEU "
                f"{'n/a' if b['bleu'] is None else format(b['bleu'], '.2f')}"
                for k, b in base.items()), flush=True)
    results["gaps"] = gaps(results)
    print("gap to the best PyTorch run of each set:")
    print(render_gaps(results))
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(results, indent=1))
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
