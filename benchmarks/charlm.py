"""Character language model: validation loss at equal wall time, minirnn vs PyTorch.

Each framework trains in its OWN process (one after the other, the order alternating
between rounds) on the same text with the same configuration -- by default the one of
issue 13: embedding 64, 1-layer LSTM 256, windows of 100 characters, 32 contiguous
streams with the state carried from window to window (truncated BPTT), Adam 3e-3,
gradient-norm clip 5, the last 10 % of the text for validation. Training runs for
``--seconds`` of wall time (checked after every window); then the validation loss is
computed once, the same way in both (32 streams, windows of 100, state carried).

Usage::

    python -m benchmarks.charlm --text tinyshakespeare --seconds 60 --rounds 1
    python -m benchmarks.charlm --text pydoc --seconds 60
    python -m benchmarks.charlm --cli --seconds 300      # `minirnn train text` defaults
    python -m benchmarks.charlm --torch-threads 1        # PyTorch on one thread too
    python -m benchmarks.charlm --micro                  # embedding backward, lookup table

``--text`` is ``tinyshakespeare`` (``tinyshakespeare.txt`` in ``--data-dir``, default
../shared/data next to the repository; or ``--file PATH``) or ``pydoc``: the documentation
topics shipped with Python itself (``pydoc_data.topics``, PSF licence, ~465k characters, 103
distinct), written to a temporary file that is removed at the end.

Prerequisites (PyTorch, the text) are checked before anything trains; a missing one, or a
worker that fails, is one line on stderr and exit status 2 (1 for a failed worker).

``--cli`` runs ``python -m minirnn train text --file F --time-limit S`` with its defaults
(periodic validation included in the budget, best weights kept) against PyTorch's loop
above given the same seconds. The machine is shared: the load average is printed with
every run; compare the two numbers of one round, not runs of different rounds.

Every worker runs with ``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE`` unset together
(:func:`benchmarks.run.worker_env`, as ``benchmarks.run``'s workers: set on some machines,
they hold a current OpenBLAS to older kernels) and records its native thread pools
(threadpoolctl: the BLAS libraries and the kernels they ran), printed with its result and
kept in ``--json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
#: --data-dir's default, relative to the repository (as shown in messages).
DATA_DIR = "../shared/data"
CONFIG = {"embedding_dim": 64, "hidden_size": 256, "seq_len": 100, "batch_size": 32,
          "lr": 3e-3, "clip_norm": 5.0}


def pydoc_text() -> str:
    import pydoc_data.topics as topics

    return "\n".join(topics.topics[k] for k in sorted(topics.topics))


class MissingPrerequisiteError(Exception):
    """A prerequisite of the benchmark is missing: one line, before anything trains."""


def text_file(name: str, given: str | None, data_dir: str, tmp: Path) -> Path:
    """The text to train on (``--file``, tinyshakespeare from ``data_dir``, or pydoc's topics
    written into ``tmp``); MissingPrerequisiteError when it is missing or not UTF-8 text."""
    if given:
        path, shown = Path(given), f"--file {given}"
    elif name == "tinyshakespeare":
        folder = Path(data_dir)
        path = (folder if folder.is_absolute() else ROOT / folder) / "tinyshakespeare.txt"
        shown = f"--data-dir {data_dir}: no tinyshakespeare.txt there (give --data-dir DIR " \
                "holding it, --file PATH or --text pydoc)"
        if not path.is_file():
            raise MissingPrerequisiteError(shown)
    else:
        path = tmp / "pydoc-topics.txt"
        path.write_text(pydoc_text(), encoding="utf-8")
        return path
    if not path.is_file():
        raise MissingPrerequisiteError(f"{shown}: no such file")
    try:
        with open(path, encoding="utf-8") as handle:
            handle.read(1 << 16)
    except (OSError, UnicodeDecodeError) as exc:
        raise MissingPrerequisiteError(f"{shown}: not a readable UTF-8 text ({exc})") from None
    return path


def check_torch() -> None:
    """PyTorch is the reference: without it nothing is compared."""
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        raise MissingPrerequisiteError("PyTorch is not installed: pip install torch (CPU is "
                                       "enough); the benchmark compares against it")


# ------------------------------------------------------------------------- workers
def worker_minirnn(path: Path, seconds: float, cfg: dict[str, Any], seed: int) -> dict[str, Any]:
    import numpy as np

    from minirnn.apps.data.text import encode_file, split_text
    from minirnn.apps.language_model import LanguageModel, TextSolver
    from minirnn.nn.optim import Adam
    from minirnn.train.callbacks import TimeLimit

    codes, vocab = encode_file(path)
    train, val = split_text(codes)
    model = LanguageModel(vocab, cfg["embedding_dim"], cfg["hidden_size"], dtype=np.float32,
                          seed=seed)
    limit = TimeLimit(seconds, restore_best_weights=False)
    solver = TextSolver(model, seq_len=cfg["seq_len"], batch_size=cfg["batch_size"],
                        epochs=10**6, optimizer=Adam(model, lr=cfg["lr"]),
                        clip_norm=cfg["clip_norm"], callbacks=[limit], seed=seed)
    start = time.perf_counter()
    solver.fit_text(train)
    trained = time.perf_counter() - start
    val_loss = model.evaluate(val, 32, 100)
    return {"val_loss": val_loss, "chars": solver.tokens_seen, "train_seconds": trained,
            "chars_per_second": solver.tokens_seen / trained,
            "blas_threads": solver.blas_threads_used,
            "batch_threads": solver.batch_threads_used,
            "sample": model.generate("\n", 400, temperature=0.8, seed=seed)
            if "\n" in vocab.tokens else model.generate("", 400, temperature=0.8, seed=seed)}


def worker_torch(path: Path, seconds: float, cfg: dict[str, Any], seed: int) -> dict[str, Any]:
    import numpy as np
    import torch

    from minirnn.apps.data.text import encode_file, split_text, stream_batches

    torch.manual_seed(seed)
    if cfg.get("torch_threads"):
        torch.set_num_threads(int(cfg["torch_threads"]))
    codes, vocab = encode_file(path)
    train, val = split_text(codes)
    V, E, H = len(vocab), cfg["embedding_dim"], cfg["hidden_size"]

    class Model(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = torch.nn.Embedding(V, E)
            self.rnn = torch.nn.LSTM(E, H, batch_first=True)
            self.decoder = torch.nn.Linear(H, V)

        def forward(self, x: Any, state: Any) -> Any:
            y, state = self.rnn(self.encoder(x), state)
            return self.decoder(y), state

    model = Model()
    opt = torch.optim.Adam(model.parameters(), lr=cfg["lr"])

    def windows(codes: np.ndarray, streams: int) -> Any:
        for x, y in stream_batches(codes, streams, cfg["seq_len"]):
            yield (torch.from_numpy(x.astype(np.int64)), torch.from_numpy(y.astype(np.int64)))

    chars = 0
    start = time.perf_counter()
    done = False
    while not done:
        state = None
        for x, y in windows(train, cfg["batch_size"]):
            if state is not None:
                state = tuple(s.detach() for s in state)
            logits, state = model(x, state)
            loss = torch.nn.functional.cross_entropy(logits.reshape(-1, V), y.reshape(-1))
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg["clip_norm"])
            opt.step()
            chars += y.numel()
            if time.perf_counter() - start >= seconds:
                done = True
                break
    trained = time.perf_counter() - start
    total, count = 0.0, 0
    with torch.no_grad():
        state = None
        for x, y in windows(val, max(1, min(32, len(val) // 101))):
            logits, state = model(x, state)
            total += float(torch.nn.functional.cross_entropy(
                logits.reshape(-1, V), y.reshape(-1), reduction="sum"))
            count += y.numel()
    return {"val_loss": total / count, "chars": chars, "train_seconds": trained,
            "chars_per_second": chars / trained, "threads": torch.get_num_threads()}


def worker_cli(path: Path, seconds: float, cfg: dict[str, Any], seed: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="minirnn-charlm-cli-") as tmp:
        out = Path(tmp) / "run"
        cmd = [sys.executable, "-m", "minirnn", "train", "text", "--file", str(path),
               "--time-limit", str(seconds), "--output", str(out), "--seed", str(seed),
               "--progress-every", "1000", "--sample-length", "0", *cfg.get("cli_args", [])]
        done = subprocess.run(cmd, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no message"])[-1]
            raise RuntimeError(f"minirnn train text failed (exit {done.returncode}): {last}")
        report = json.loads((out / "report.json").read_text())
    return {"val_loss": report["val_loss_nats"], "chars": report["tokens_seen"],
            "train_seconds": report["elapsed_seconds"],
            "chars_per_second": report["tokens_per_second"]}


WORKERS = {"minirnn": worker_minirnn, "torch": worker_torch, "cli": worker_cli}


def worker_threadpools(which: str) -> list[dict[str, Any]]:
    """The native thread pools (threadpoolctl) of this worker after its run: the BLAS
    libraries and the kernels they ran. The ``cli`` worker trains in a child process with
    this environment; it loads numpy (and scipy's BLAS, which the compiled kernels use) to
    report the same libraries."""
    if which == "cli":
        import contextlib

        import numpy  # noqa: F401
        with contextlib.suppress(ImportError):
            import scipy.linalg.cython_blas  # noqa: F401
    from benchmarks._worker import threadpools

    return threadpools()


def _embedding_backward_times(V: int, E: int, M: int, rng: Any, best: Any) -> dict[str, float]:
    import numpy as np

    from minirnn.nn.layers.embedding import scatter_rows

    ids = rng.integers(0, V, M)
    dy = rng.standard_normal((M, E)).astype(np.float32)

    def add_at() -> None:
        np.add.at(np.zeros((V, E), np.float32), ids, dy)

    def bincount() -> None:
        flat = (ids[:, None] * E + np.arange(E)).ravel()
        np.bincount(flat, weights=dy.ravel(), minlength=V * E)

    def onehot() -> None:
        oh = np.zeros((V, M), np.float32)
        oh[ids, np.arange(M)] = 1
        oh @ dy

    def sort() -> None:
        scatter_rows(ids, dy, np.zeros((V, E), np.float32))

    return {name: best(f, 5 if name == "one-hot GEMM" and V > 1000 else 20)
            for name, f in (("np.add.at", add_at), ("bincount", bincount),
                            ("one-hot GEMM", onehot), ("sort+reduceat", sort))}


# ------------------------------------------------------------------------- micro
def micro() -> None:
    """Embedding backward variants, and an Embedding feeding an LSTM's input projection
    as a GEMM vs as a lookup into a precomputed (V, 4H) table."""
    import numpy as np

    from minirnn.nn.layers.embedding import scatter_rows

    rng = np.random.default_rng(0)

    def best(f: Any, n: int = 20) -> float:
        f()
        times = []
        for _ in range(n):
            t = time.perf_counter()
            f()
            times.append(time.perf_counter() - t)
        return min(times) * 1e3

    print(f"load average {os.getloadavg()[0]:.2f}")
    for V, E, M in ((65, 64, 3200), (10000, 64, 3200), (10000, 200, 14000)):
        row = _embedding_backward_times(V, E, M, rng, best)
        print(f"embedding backward V={V} E={E} M={M}: " +
              ", ".join(f"{k} {v:.2f} ms" for k, v in row.items()))
    V, E, G, M = 65, 64, 1024, 3200
    ids = rng.integers(0, V, M)
    W = rng.standard_normal((V, E)).astype(np.float32)
    Wih = rng.standard_normal((G, E)).astype(np.float32)
    dA = rng.standard_normal((M, G)).astype(np.float32)
    x = W[ids]
    gemm_f = best(lambda: x @ Wih.T)
    gemm_b = best(lambda: (dA.T @ x, dA @ Wih))
    look_f = best(lambda: np.take(W @ Wih.T, ids, axis=0))

    def look_backward() -> None:
        table_grad = np.zeros((V, G), np.float32)
        scatter_rows(ids, dA, table_grad)
        table_grad.T @ W, table_grad @ Wih

    look_b = best(look_backward)
    print(f"input projection (M={M}, E={E}, 4H={G}): GEMM forward {gemm_f:.2f} ms + backward "
          f"{gemm_b:.2f} ms = {gemm_f + gemm_b:.2f} ms; (V, 4H) table lookup forward "
          f"{look_f:.2f} ms + scatter backward {look_b:.2f} ms = {look_f + look_b:.2f} ms")


# ------------------------------------------------------------------------- driver
class WorkerFailedError(Exception):
    """A worker process ended with an error (its last line is the message)."""


def run_worker(which: str, path: Path, seconds: float, cfg: dict[str, Any],
               seed: int) -> dict[str, Any]:
    from benchmarks.run import worker_env

    cmd = [sys.executable, "-m", "benchmarks.charlm", "--worker", which, "--file", str(path),
           "--seconds", str(seconds), "--seed", str(seed), "--config", json.dumps(cfg)]
    load = os.getloadavg()[0]
    # OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset together, as for benchmarks.run's workers
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=worker_env())
    if out.returncode != 0:  # one line: the worker's last line of error, no traceback here
        last = (out.stderr.strip().splitlines() or ["no message"])[-1]
        raise WorkerFailedError(f"the {which} worker failed (exit {out.returncode}): {last}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    result.update(framework=which, load_before=load, load_after=os.getloadavg()[0])
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--text", choices=["tinyshakespeare", "pydoc"],
                        default="tinyshakespeare")
    parser.add_argument("--file", help="any UTF-8 text instead of --text")
    parser.add_argument("--data-dir", default=DATA_DIR,
                        help="folder holding tinyshakespeare.txt (relative paths from the "
                             "repository; default: %(default)s)")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cli", action="store_true",
                        help="minirnn side: `minirnn train text` with its defaults")
    parser.add_argument("--cli-args", default="",
                        help="with --cli: more options for `minirnn train text`, one string "
                             "(e.g. \"--batch-size 32 --lr 3e-3\")")
    parser.add_argument("--torch-threads", type=int, default=None,
                        help="torch.set_num_threads for PyTorch (default: its own choice)")
    parser.add_argument("--config", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    parser.add_argument("--micro", action="store_true")
    parser.add_argument("--json", help="append the results to this JSON-lines file")
    args = parser.parse_args(argv)
    cfg: dict[str, Any] = dict(CONFIG, **json.loads(args.config)) if args.config else dict(CONFIG)
    if args.torch_threads:
        cfg["torch_threads"] = args.torch_threads
    if args.cli_args:
        cfg["cli_args"] = shlex.split(args.cli_args)
    if args.micro:
        micro()
        return 0
    if args.worker:
        result = WORKERS[args.worker](Path(args.file), args.seconds, cfg, args.seed)
        result["threadpools"] = worker_threadpools(args.worker)
        from benchmarks._worker import thread_env

        result["thread_env"] = thread_env()
        print(json.dumps(result))
        return 0
    with tempfile.TemporaryDirectory(prefix="minirnn-charlm-") as tmp:
        try:
            check_torch()
            path = text_file(args.text, args.file, args.data_dir, Path(tmp))
            compare(args, cfg, path)
        except MissingPrerequisiteError as exc:
            print(f"charlm: error: {exc}", file=sys.stderr, flush=True)
            return 2
        except WorkerFailedError as exc:
            print(f"charlm: error: {exc}", file=sys.stderr, flush=True)
            return 1
    return 0


def compare(args: argparse.Namespace, cfg: dict[str, Any], path: Path) -> None:
    """The rounds: minirnn (or the CLI) and PyTorch, each in its own process."""
    from benchmarks.run import blas_kernels

    ours = "cli" if args.cli else "minirnn"
    for r in range(args.rounds):
        order = [ours, "torch"] if r % 2 == 0 else ["torch", ours]
        results = {w: run_worker(w, path, args.seconds, cfg, args.seed + r) for w in order}
        a, b = results[ours], results["torch"]
        for res in (a, b):
            print(f"{path.name} {args.seconds:g}s round {r + 1} {res['framework']:8s} val "
                  f"{res['val_loss']:.4f} nats/char  {res['chars_per_second']:,.0f} chars/s  "
                  f"({res['chars']:,} chars; load {res['load_before']:.1f}->"
                  f"{res['load_after']:.1f}; BLAS: {blas_kernels(res['threadpools'])})",
                  flush=True)
        print(f"  loss ratio minirnn/torch {a['val_loss'] / b['val_loss']:.3f}, speed ratio "
              f"{a['chars_per_second'] / b['chars_per_second']:.2f}", flush=True)
        if args.json:
            with open(args.json, "a") as handle:
                for res in (a, b):
                    handle.write(json.dumps({"text": path.name, "seconds": args.seconds,
                                             "round": r + 1, **res}) + "\n")


if __name__ == "__main__":
    sys.exit(main())
