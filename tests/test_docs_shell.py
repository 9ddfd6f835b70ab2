"""Every shell command of README.md and docs/**/*.md runs as written, so the pages cannot go
stale (tests/test_docs.py does the same for the ```python blocks).

The convention, for every page:

- a ```bash block runs: the test runs all ```bash blocks of a page in order, in one
  ``bash -e``, in a fresh copy of the checkout (the files git tracks, as a clone has them,
  with no ``../shared`` beside it), with this interpreter's ``minirnn`` and ``python`` first
  on the PATH. So a command there must run as written, quickly: a command that trains passes
  a small ``--epochs`` or ``--time-limit``.
- a block that cannot run on a fresh checkout (it installs packages, needs data that does
  not ship, a PostgreSQL server, or runs for minutes) says so in its first line,
  ``# not run: <why>``, whatever its fence; the test checks that every such block gives a
  reason, and that no block of commands is fenced as something else to escape the test.
- where a page shows a command's output, a script generates it (docs/measure_readme.py for
  the README's tables, checked by tests/test_readme.py); outputs are never typed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
FENCE = re.compile(r"^```([\w-]*)[^\n]*\n(.*?)^```", re.S | re.M)
NOT_RUN = re.compile(r"#\s*not run:\s*(.*)")
# A line that is a command a reader would type (possibly after a "$ " prompt).
COMMAND = re.compile(r"^\s*(\$ )?([A-Z_]+=\S+ )*(minirnn|python3?|pip|pytest|bash|cd|cp|mv|"
                     r"rm|mkdir|export|curl|wget|git)( |$)")
# Expected in a page's output besides a zero exit status (the page's point).
EXPECT = {"seq2seq.md": ["test exact match"]}


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def blocks(path: Path) -> list[tuple[str, str, int]]:
    """Every fenced block of ``path`` but ```python: (language, body, line number)."""
    text = path.read_text(encoding="utf-8")
    return [(m.group(1), m.group(2), text.count("\n", 0, m.start()) + 1)
            for m in FENCE.finditer(text) if m.group(1) != "python"]


def not_run_reason(body: str) -> str | None:
    """The reason of a ``# not run: <why>`` first line (None: the block runs)."""
    first = body.strip().splitlines()[0] if body.strip() else ""
    match = NOT_RUN.fullmatch(first.strip())
    return match.group(1).strip() if match else None


def run_blocks(path: Path) -> list[tuple[str, int]]:
    """The ```bash blocks of ``path`` that run: (body, line number)."""
    return [(body, line) for lang, body, line in blocks(path)
            if lang == "bash" and not_run_reason(body) is None]


def script(path: Path) -> str:
    """The page's run blocks as one script, each announced (so a failure names its block)."""
    parts = []
    for body, line in run_blocks(path):
        parts.append(f"echo '=== {_rel(path)} block at line {line}'\n{body}")
    return "\n".join(parts)


# ------------------------------------------------------------------ the convention (fast)
@pytest.mark.parametrize("path", PAGES, ids=_rel)
def test_every_block_that_is_not_run_says_why(path):
    problems = []
    for lang, body, line in blocks(path):
        reason = not_run_reason(body)
        has_commands = any(COMMAND.match(row) for row in body.splitlines())
        if reason is not None and len(reason.split()) < 2:
            problems.append(f"line {line}: '# not run:' needs a reason, got {reason!r}")
        if lang in ("sh", "shell", "console", "zsh"):
            problems.append(f"line {line}: fence ```{lang}: use ```bash (it runs) or say "
                            "'# not run: <why>' in its first line")
        elif lang != "bash" and has_commands and reason is None:
            problems.append(f"line {line}: a ```{lang or '(plain)'} block of commands escapes "
                            "the test: fence it ```bash, or start it with '# not run: <why>'")
    assert not problems, f"{_rel(path)}:\n" + "\n".join(problems)


@pytest.mark.parametrize("path", PAGES, ids=_rel)
def test_run_blocks_are_bash_and_need_nothing_outside_the_checkout(path):
    code = script(path)
    if not code:
        return
    syntax = subprocess.run(["bash", "-n", "-c", code], capture_output=True, text=True)
    assert syntax.returncode == 0, f"{_rel(path)}: {syntax.stderr}"
    for body, line in run_blocks(path):
        outside = re.findall(r"(?:\.\./shared|/work/|~/|\$HOME)\S*", body)
        assert not outside, (f"{_rel(path)} line {line} names {outside}: a fresh checkout "
                             "has nothing there (ship small files in minirnn/apps/datasets)")


def test_there_are_shell_blocks_to_run():
    assert sum(len(run_blocks(p)) for p in PAGES) >= 5


# ------------------------------------------------------------------ running them (slow)
TIMEOUT = 300  # seconds for one page's blocks


def _last_block(output: str) -> str:
    """The block that was running: the last one the script announced."""
    return output.rsplit("=== ", 1)[-1].splitlines()[0] if "=== " in output else "?"


def _fresh_checkout(dest: Path) -> Path:
    """A copy of the files a clone would have (tracked, plus new files not ignored)."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others",
                             "--exclude-standard"], cwd=ROOT, capture_output=True, check=True)
    checkout = dest / "minirnn-checkout"
    for name in filter(None, listed.stdout.decode().split("\0")):
        source = ROOT / name
        if source.is_file():  # a tracked file deleted in the working tree is not copied
            target = checkout / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return checkout


@pytest.mark.slow
@pytest.mark.parametrize("path", [p for p in PAGES if run_blocks(p)], ids=_rel)
def test_shell_blocks_run_as_written(path, tmp_path):
    """The page's ```bash blocks, in order, in one ``bash -e``, in a fresh copy of the
    checkout, with this interpreter's ``minirnn`` and ``python`` first on the PATH."""
    checkout = _fresh_checkout(tmp_path)
    assert not (checkout.parent / "shared").exists()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, module in (("minirnn", "-m minirnn"), ("python", ""), ("python3", "")):
        (bin_dir / name).write_text(f'#!/bin/sh\nexec "{sys.executable}" {module} "$@"\n')
        (bin_dir / name).chmod(0o755)
    path_dirs = [str(bin_dir), str(Path(sys.executable).parent), os.environ.get("PATH", "")]
    (tmp_path / "home").mkdir()
    env = {**os.environ, "PYTHONPATH": str(checkout), "PATH": os.pathsep.join(path_dirs),
           "MPLBACKEND": "Agg", "HOME": str(tmp_path / "home")}
    start = time.perf_counter()
    try:
        result = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", script(path)],
                                cwd=checkout, env=env, capture_output=True, text=True,
                                timeout=TIMEOUT, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else exc.stdout or ""
        pytest.fail(f"{_last_block(out)} did not finish within {TIMEOUT} s (a page's blocks "
                    "must run in seconds: small --epochs/--time-limit, or '# not run: <why>')"
                    f":\n{out[-2000:]}")
    seconds = time.perf_counter() - start
    assert result.returncode == 0, (
        f"{_last_block(result.stdout)} failed (exit {result.returncode}, {seconds:.0f} s):\n"
        f"{result.stdout[-2500:]}\n--- stderr\n{result.stderr[-2500:]}")
    for text in EXPECT.get(path.name, []):
        assert text in result.stdout, f"{_rel(path)}: {text!r} not in the output"
