"""Regenerate docs/figures/binary_addition.png (needs matplotlib; about a minute on 2 cores).

    python docs/make_figures.py

The adding problem's figures come from docs/tutorials/make_adding.py; the airline forecast
and the attention heat map are the figures the commands themselves write (`forecast.png` of
`minirnn train series --dataset airline`, `attention.png` of `minirnn train seq2seq`).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from minirnn.cli import main
from minirnn.train.plots import plot_history

OUT = Path(__file__).resolve().parent / "figures"


def binary_addition(out: Path, tmp: Path) -> dict[str, float]:
    """Train ``minirnn train binary-addition`` with its defaults; plot its loss curves."""
    main(["train", "binary-addition", "--no-plot", "--output", str(tmp / "ba")])
    history = json.loads((tmp / "ba" / "history.json").read_text())
    plot_history({"RNN, 16 units": history}, out / "binary_addition.png",
                 title="binary addition (8-bit operands)")
    return json.loads((tmp / "ba" / "report.json").read_text())


def run() -> None:
    OUT.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        report = binary_addition(OUT, Path(tmp))
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    run()
