"""Regenerate the figures and results of docs/tutorials/adding-problem.md by running the
tutorial's own commands: ``minirnn train adding --cell CELL --grad-flow`` with every other
option at its default (a few minutes on 2 cores; needs matplotlib).

    python docs/tutorials/make_adding.py [--page-only]

Writes docs/figures/adding_defaults_curves.png, adding_defaults_grad_flow.png and
adding_defaults.json, and rewrites the part of adding-problem.md between the
``<!-- results -->`` markers (the table and the sentences that quote numbers), so nothing in
it is typed by hand.
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
from pathlib import Path

import numpy as np

from minirnn.apps.data import adding_problem
from minirnn.apps.tasks import AddingConfig
from minirnn.apps.tasks.toy import (
    ADDING_ADAM_LR,
    SOLVED_RATIO,
    adding_verdict,
    build_adding_model,
    task_splits,
)
from minirnn.check.diagnostics import gradient_flow
from minirnn.cli import main
from minirnn.train.plots import plot_grad_flow, plot_history

DOCS = Path(__file__).resolve().parent.parent
PAGE = DOCS / "tutorials" / "adding-problem.md"
FIGURES = DOCS / "figures"
CELLS = ("rnn", "lstm", "gru")
#: The extra run that shows why the task carries its own rate: the LSTM at Adam's own 1e-3.
ADAM_OWN = "lstm-lr1e-3"


def _first_epoch_below(values: list[float], level: float) -> int | None:
    return next((i + 1 for i, v in enumerate(values) if v < level), None)


def run(tmp: Path) -> dict[str, dict]:
    """Train each cell with the command's defaults; the numbers the page quotes."""
    results: dict[str, dict] = {}
    histories, flows_init, flows_trained = {}, {}, {}
    config = AddingConfig()
    dtype = np.dtype(config.dtype)
    _, _, (xt, yt) = task_splits(lambda n, **kw: adding_problem(n, config.seq_len, **kw),
                                 dtype, config)
    for cell in (*CELLS, ADAM_OWN):
        folder = tmp / cell
        extra = ["--lr", "1e-3"] if cell == ADAM_OWN else []
        status = main(["train", "adding", "--cell", cell.split("-")[0], "--grad-flow",
                       "--no-plot", "--output", str(folder), *extra])
        if status != 0:
            sys.exit(f"minirnn train adding --cell {cell} failed ({status})")
        report = json.loads((folder / "report.json").read_text())
        history = json.loads((folder / "history.json").read_text())
        constant = report["constant_mse"]
        flow = np.loadtxt(folder / "grad_flow.csv")
        if cell in CELLS:
            histories[cell.upper()] = history
            # The initial weights of the run (seed 0) on its probe (256 test sequences).
            init = build_adding_model(cell, config.hidden_size, dtype=dtype, seed=config.seed)
            flows_init[cell.upper()] = gradient_flow(init, xt[:256], yt[:256])
            flows_trained[cell.upper()] = flow
        results[cell] = {
            "test_mse": report["test_mse"], "constant_mse": constant,
            "ratio": report["ratio_to_constant"], "solved": report["solved"],
            "beats": report["beats_constant"], "epochs": report["epochs_run"],
            "lr": report["config"]["options"]["lr"],
            # The epoch where validation first falls below half the constant's MSE.
            "breakthrough_epoch": _first_epoch_below(history["val_loss"], constant / 2),
            "seconds": report["seconds"],
            # How much of the gradient reaches the first step: ||dL/dh_1|| / ||dL/dh_T||.
            "flow_first_over_last_init": None if cell not in CELLS else float(
                flows_init[cell.upper()][0] / flows_init[cell.upper()][-1]),
            "flow_first_over_last_trained": float(flow[0] / flow[-1]),
        }
        print(cell, results[cell], flush=True)
    plot_history(histories, FIGURES / "adding_defaults_curves.png",
                 title="adding problem, T = 50, 'minirnn train adding' defaults",
                 ylabel="MSE (target units²)")
    plot_grad_flow(flows_init, FIGURES / "adding_defaults_grad_flow_init.png",
                   title="||dL/dh_t|| at initialization (adding, T = 50)")
    plot_grad_flow(flows_trained, FIGURES / "adding_defaults_grad_flow_trained.png",
                   title="||dL/dh_t|| after training (adding, T = 50)")
    return results


def _epochs(n: int | None) -> str:
    return "never" if n is None else f"epoch {n}"


def results_text(results: dict[str, dict]) -> str:
    """The generated part of the page."""
    own = results[ADAM_OWN]
    rows = ["| cell | test MSE | share of always predicting 1 | verdict | validation below "
            "half the constant's | epochs run | seconds |", "|---|---:|---:|---|---|---:|---:|"]
    for cell in (*CELLS, ADAM_OWN):
        r = results[cell]
        verdict = "solved" if r["solved"] else "loses to the constant" if not r["beats"] \
            else "within 10% of the constant: not learned" if r["ratio"] >= 0.9 \
            else "beats the constant, not solved"
        label = "LSTM at Adam's own 1e-3 (`--lr 1e-3`)" if cell == ADAM_OWN else cell.upper()
        rows.append(f"| {label} | {r['test_mse']:.2g} | {r['ratio']:.1%} | {verdict} | "
                    f"{_epochs(r['breakthrough_epoch'])} | {r['epochs']} | "
                    f"{r['seconds']:.0f} |")
    constant = results["lstm"]["constant_mse"]
    gated = [c for c in ("lstm", "gru") if results[c]["solved"]]
    words = " and ".join(c.upper() for c in gated) or "No cell"
    first = [results[c]["breakthrough_epoch"] for c in gated]
    when = (f"break through at epochs {' and '.join(str(e) for e in first)} "
            f"(validation MSE below half the constant's)" if gated else "")
    rnn = results["rnn"]
    rnn_text = ("the tanh RNN stays at the constant predictor's level "
                f"({rnn['test_mse']:.3g} against {constant:.4f})" if not rnn["beats"] or
                rnn["ratio"] > 0.5 else f"the tanh RNN reaches {rnn['test_mse']:.3g}")
    shares = " and ".join(f"{results[c]['ratio']:.1%}" for c in gated)
    example = adding_verdict(results["lstm"]["test_mse"], constant)[0]
    return "\n".join([
        f"With the command's defaults (T = 50, 10,000 training sequences, 64 units, Adam at "
        f"the task's own rate {ADDING_ADAM_LR:g}, batch 32, clip-norm 1, at most 10 epochs), "
        f"each run is judged against always predicting 1 on its own test set "
        f"(MSE {constant:.4f}); \"solved\" means below {SOLVED_RATIO:.0%} of it:",
        "", *rows, "",
        f"The LSTM run's last line: `{example}`.", "",
        f"{words} {when} and end at {shares} "
        f"of the constant predictor's MSE; {rnn_text}. At Adam's own rate 1e-3 the LSTM "
        f"{'is solved too' if own['solved'] else 'is not solved'} after {own['epochs']} "
        f"epochs ({own['test_mse']:.2g}, {own['ratio']:.1%} of the constant), which is why "
        f"the task carries its own rate; `minirnn train adding --help` says so."
        if gated else f"{rnn_text}.",
        "", "Generated by `python docs/tutorials/make_adding.py` (one run per cell, seed 0); "
        "the raw numbers are in [adding_defaults.json](../figures/adding_defaults.json).",
    ])


def flow_text(results: dict[str, dict]) -> str:
    """The gradient-flow sentences: how much of dL/dh_T reaches h_1, before and after."""
    def share(cell: str, key: str) -> str:
        return f"{cell.upper()} {results[cell][key]:.2g}"

    return (f"The share of the gradient that reaches the first step, ||dL/dh_1|| / "
            f"||dL/dh_50||, at initialization: "
            f"{', '.join(share(c, 'flow_first_over_last_init') for c in CELLS)}; after "
            f"training: {', '.join(share(c, 'flow_first_over_last_trained') for c in CELLS)}.")


def write_page(results: dict[str, dict]) -> None:
    text = PAGE.read_text(encoding="utf-8")
    for name, body in (("results", results_text(results)), ("flow", flow_text(results))):
        start, end = f"<!-- {name}: generated by make_adding.py -->", f"<!-- end of {name} -->"
        pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.S)
        if not pattern.search(text):
            sys.exit(f"{PAGE.name} has no {start} ... {end} section")
        text = pattern.sub(lambda _, s=start, b=body, e=end: f"{s}\n{b}\n{e}", text)
    PAGE.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    if "--page-only" in sys.argv:  # the page again from the saved numbers, no training
        found = json.loads((FIGURES / "adding_defaults.json").read_text())
    else:
        with tempfile.TemporaryDirectory() as tmp:
            found = run(Path(tmp))
        (FIGURES / "adding_defaults.json").write_text(json.dumps(found, indent=1))
    write_page(found)
    print(f"wrote {PAGE} and the figures in {FIGURES}")
