"""Every ```python block in README.md and docs/*.md runs (blocks of one file share a namespace,
in order, as a reader would run them)."""

import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
FILES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def _blocks(path):
    return re.findall(r"```python\n(.*?)```", path.read_text(), re.S)


def test_there_are_examples():
    assert sum(len(_blocks(p)) for p in FILES) >= 6


@pytest.mark.parametrize("path", [p for p in FILES if _blocks(p)], ids=lambda p: p.name)
def test_docs_code_blocks_run(path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # examples that write files write them here
    namespace = {"__name__": "__docs__"}
    for i, code in enumerate(_blocks(path)):
        exec(compile(code, f"<{path.name} block {i}>", "exec"), namespace)


def test_api_reference_is_up_to_date():
    """docs/api.md is what docs/make_api.py renders from today's docstrings (it fell behind
    them once). Regenerate with ``python docs/make_api.py``."""
    import importlib.util

    pytest.importorskip("matplotlib")  # the page documents minirnn.train.plots, which needs it
    spec = importlib.util.spec_from_file_location("make_api", ROOT / "docs" / "make_api.py")
    make_api = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_api)
    assert make_api.render() == (ROOT / "docs" / "api.md").read_text(), (
        "docs/api.md is stale: run `python docs/make_api.py`")
