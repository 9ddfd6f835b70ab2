"""Regenerate the outputs shown in docs/estimators.md (they are never typed).

    python docs/make_estimators.py      (needs scikit-learn, the sklearn extra; ~1 minute)

Runs the page's ```python blocks in order in one namespace (as tests/test_docs.py does) and
writes what each prints into the ```text block that follows it; then runs scikit-learn's
check_estimator on RNNClassifier and rewrites the lines between the page's
``<!-- check_estimator -->`` markers: the counts and the table of listed failures.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import tempfile
from pathlib import Path

PAGE = Path(__file__).resolve().parent / "estimators.md"
# a python block, blank lines, then the text block that shows its output
PAIR = re.compile(r"(```python\n(.*?)```\n\s*```text\n)(.*?)(```)", re.S)
MARKED = re.compile(r"(<!-- check_estimator -->\n)(.*?)(<!-- /check_estimator -->)", re.S)


def run_blocks(text: str) -> str:
    namespace = {"__name__": "__docs__"}

    def fill(match: re.Match[str]) -> str:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(match.group(2), str(PAGE), "exec"), namespace)
        return f"{match.group(1)}{out.getvalue().rstrip()}\n{match.group(4)}"

    return PAIR.sub(fill, text)


def check_summary() -> str:
    import sklearn
    from sklearn.utils.estimator_checks import check_estimator

    from minirnn.estimators import EXPECTED_FAILED_CHECKS, RNNClassifier

    results = check_estimator(RNNClassifier(epochs=5, n_models=1, hidden_size=8,
                                            dtype="float64"),
                              on_fail=None, on_skip=None,
                              expected_failed_checks=EXPECTED_FAILED_CHECKS)
    count = {s: sum(r["status"] == s for r in results)
             for s in ("passed", "xfail", "skipped", "failed")}
    skipped = "; ".join(f"`{r['check_name']}`: {r['exception']}" for r in results
                        if r["status"] == "skipped")
    others = "no other check fails" if not count["failed"] else \
        f"{count['failed']} other check(s) FAIL"
    rows = "\n".join(f"| `{name}` | {why} |" for name, why in EXPECTED_FAILED_CHECKS.items())
    return (f"With scikit-learn {sklearn.__version__}: {len(results)} checks, "
            f"{count['passed']} pass, {count['xfail']} fail as listed, {count['skipped']} "
            f"skipped by scikit-learn itself ({skipped or 'none'}), and {others}.\n\n"
            f"| check | why it fails |\n|---|---|\n{rows}\n")


def main() -> None:
    text = PAGE.read_text()
    here = os.getcwd()
    with tempfile.TemporaryDirectory() as tmp:  # examples that write files write them here
        os.chdir(tmp)
        try:
            text = run_blocks(text)
        finally:
            os.chdir(here)
    summary = check_summary()
    text = MARKED.sub(lambda m: f"{m.group(1)}{summary}{m.group(3)}", text)
    PAGE.write_text(text)
    print(f"wrote {PAGE}")


if __name__ == "__main__":
    main()
