"""Regenerate the figures in docs/figures/ (needs matplotlib; a few minutes on 2 cores).

    python docs/make_figures.py [--data ../shared/data]

Every figure in the docs comes from this script, with fixed seeds.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from minirnn import Solver  # noqa: E402
from minirnn.train.callbacks import EarlyStopping  # noqa: E402
from minirnn.cli import build_adding_model, main  # noqa: E402
from minirnn.apps.data import adding_problem  # noqa: E402
from minirnn.check.diagnostics import gradient_flow  # noqa: E402
from minirnn.nn.optim import Adam  # noqa: E402
from minirnn.train.plots import plot_grad_flow, plot_history  # noqa: E402

OUT = Path(__file__).resolve().parent / "figures"


def adding(out: Path) -> dict[str, float]:
    """RNN, LSTM and GRU on the adding problem, T=50: curves and gradient flow."""
    x, y = adding_problem(10000, 50, seed=0, dtype=np.float32)
    xv, yv = adding_problem(1000, 50, seed=1, dtype=np.float32)
    histories, flows_init, flows_trained, results = {}, {}, {}, {}
    for cell, lr in (("rnn", 1e-3), ("lstm", 3e-3), ("gru", 3e-3)):
        model = build_adding_model(cell, 64, seed=0)
        flows_init[cell.upper()] = gradient_flow(model, xv[:256], yv[:256])
        solver = Solver(model, optimizer=Adam(model, lr=lr), batch_size=32, epochs=8, seed=0,
                        clip_norm=1.0, callbacks=[EarlyStopping(patience=4,
                                                                restore_best_weights=True)])
        histories[cell.upper()] = solver.fit(x, y, validation_data=(xv, yv))
        flows_trained[cell.upper()] = gradient_flow(model, xv[:256], yv[:256])
        results[cell] = min(histories[cell.upper()]["val_loss"])
        print(cell, results[cell], flush=True)
    plot_history(histories, out / "adding_curves.png", title="adding problem, T = 50")
    plot_grad_flow(flows_init, out / "grad_flow_init.png",
                   title="||dL/dh_t|| at initialization (adding, T = 50)")
    plot_grad_flow(flows_trained, out / "grad_flow_trained.png",
                   title="||dL/dh_t|| after training (adding, T = 50)")
    return results


def binary_addition(out: Path, tmp: Path) -> dict[str, float]:
    main(["train", "binary-addition", "--no-plot", "--output", str(tmp / "ba")])
    history = json.loads((tmp / "ba" / "history.json").read_text())
    plot_history({"RNN, 16 units": history}, out / "binary_addition.png",
                 title="binary addition (8-bit operands)")
    return json.loads((tmp / "ba" / "report.json").read_text())


def temperatures(out: Path, tmp: Path, data: Path) -> dict[str, float] | None:
    csv = data / "daily-min-temperatures.csv"
    if not csv.exists():
        print(f"{csv} not found: skipping the temperature figure")
        return None
    main(["train", "series", "--csv", str(csv), "--column", "Temp", "--date-column", "Date",
          "--cell", "lstm", "--no-plot", "--output", str(tmp / "temp")])
    report = json.loads((tmp / "temp" / "report.json").read_text())
    main(["predict", str(tmp / "temp" / "model.npz"), "--csv", str(csv), "--output",
          str(tmp / "temp" / "pred.csv")])
    rows = np.loadtxt(tmp / "temp" / "pred.csv", delimiter=",", skiprows=1)
    test = rows[rows[:, 0] >= int(0.67 * 3650)][:180]
    fig, ax = plt.subplots(figsize=(7.5, 3.6), dpi=110)
    ax.plot(test[:, 0], test[:, 1], color="0.4", lw=1, label="actual")
    ax.plot(test[:, 0], test[:, 2], color="C1", lw=1.2, label="LSTM one day ahead")
    ax.set_xlabel("day index (test period)")
    ax.set_ylabel("min temperature (°C)")
    ax.set_title(f"Melbourne: test RMSE {report['test_rmse']:.2f} vs persistence "
                 f"{report['persistence_rmse']:.2f}, AR(30) {report['linear_ar_rmse']:.2f}")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "temperature_forecast.png")
    plt.close(fig)
    plot_history({"LSTM 32": json.loads((tmp / "temp" / "history.json").read_text())},
                 out / "temperature_curves.png", title="Melbourne temperatures (scaled MSE)")
    return report


def run() -> None:
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared"
                                              / "data"))
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        results = {"adding_best_val_mse": adding(OUT),
                   "binary_addition": binary_addition(OUT, Path(tmp)),
                   "temperatures": temperatures(OUT, Path(tmp), Path(args.data))}
    (OUT / "results.json").write_text(json.dumps(results, indent=1))
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    run()
