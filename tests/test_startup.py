"""Start-up stays light: ``import minirnn`` and ``minirnn --help`` / ``--version`` import no
heavy library and no application module; the lazy names and modules of the package root
resolve to the real objects; ``minirnn.load`` still reads every model file. How long start-up
takes is measured by benchmarks/startup.py, not here (no timed tests)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import minirnn

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("scipy.optimize", "matplotlib", "torch", "numba", "optuna", "sklearn", "pandas",
         "hypothesis", "tqdm")


def _modules_after(code: str) -> set[str]:
    """The modules a fresh interpreter holds after running ``code`` (which may exit)."""
    script = textwrap.dedent("""
        import atexit, json, sys
        atexit.register(lambda: print("\\nMODULES " + json.dumps(sorted(sys.modules))))
    """) + textwrap.dedent(code)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=120, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    line = out.stdout.rsplit("MODULES ", 1)
    assert len(line) == 2, out.stdout[-1000:] + out.stderr[-2000:]
    return set(json.loads(line[1]))


def _heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))


def test_import_minirnn_imports_no_heavy_library_and_no_layer():
    modules = _modules_after("import minirnn")
    assert not _heavy(modules)
    # the names are imported on first use: a bare import loads none of the framework
    assert "minirnn.nn.layers" not in modules and "minirnn.apps" not in modules


def test_the_public_names_import_no_heavy_library():
    modules = _modules_after("from minirnn import Sequential, Solver, load\n"
                             "import minirnn.layers, minirnn.data, minirnn.optim")
    assert not _heavy(modules), _heavy(modules)
    assert "minirnn.apps.classification" not in modules


@pytest.mark.parametrize("argv", [["--help"], ["--version"], []], ids=str)
def test_top_level_help_and_version_import_no_command_module(argv):
    modules = _modules_after(f"from minirnn.cli import main\nmain({argv!r})")
    assert not [m for m in modules if m.startswith(("minirnn.apps", "minirnn.cli."))]
    assert not _heavy(modules), _heavy(modules)  # numba among them: --version reads metadata
    assert "minirnn.nn.kernels.jit" not in modules


def test_the_version_line_without_numba_imported_agrees_with_the_loaded_kernels(monkeypatch):
    """``--version`` reports the compiled kernels from numba's package metadata; once the
    kernels are loaded, from them: the same verdict, version and kernels."""
    from minirnn.nn.kernels import numba_status, select

    loaded_ok, loaded = select.compiled_available()  # imports numba where installed
    assert select.compiled_report() == loaded
    from minirnn.nn.kernels.compiled import COMPILED_KERNELS

    monkeypatch.delitem(sys.modules, "minirnn.nn.kernels.compiled")  # restored after
    light = select.compiled_report()
    assert light.split(" (")[0] == loaded.split(" (")[0]  # "available" or "off" alike
    if loaded_ok:
        assert light.split(";")[0] == loaded.split(";")[0]  # "... (numba <version>"
        assert set(COMPILED_KERNELS) == select.COMPILED_NAMES
        assert light.endswith("; GRU, LSTM, RNN, beam search; compiled at first use)"), light
    monkeypatch.setenv(numba_status.DISABLE_ENV, "1")
    assert select.compiled_report() == \
        "compiled kernels: off (switched off by MINIRNN_NO_COMPILED)"
    monkeypatch.setenv(numba_status.DISABLE_ENV, "0")
    assert select.compiled_report() == light


def test_the_version_line_says_why_numba_would_not_import(monkeypatch):
    """numba installed under a numpy it does not support refuses to import: the metadata
    says so before any import; numba not installed names the extra."""
    import importlib.metadata
    import importlib.util

    from minirnn.nn.kernels import numba_status

    pytest.importorskip("packaging")
    monkeypatch.delenv(numba_status.DISABLE_ENV, raising=False)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: object())
    monkeypatch.setattr(importlib.metadata, "version",
                        lambda name: {"numba": "9.1", "numpy": "3.0.0"}[name])
    monkeypatch.setattr(importlib.metadata, "requires",
                        lambda name: ["llvmlite<1", "numpy<2.4,>=1.22"])
    assert numba_status.numba_installed() == (
        None, "numba 9.1 needs numpy <2.4,>=1.22, numpy 3.0.0 is installed")
    monkeypatch.setattr(importlib.metadata, "requires", lambda name: ["numpy>=1.22"])
    assert numba_status.numba_installed() == ("9.1", None)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    version, why = numba_status.numba_installed()
    assert version is None and why is not None and 'pip install "minirnn[fast]"' in why


def test_a_command_builds_only_its_own_parsers():
    modules = _modules_after("from minirnn.cli import main\nmain(['gradcheck', '--help'])")
    assert "minirnn.cli.gradcheck" in modules
    assert not {"minirnn.cli.series", "minirnn.cli.classify", "minirnn.cli.text"} & modules


def test_top_level_command_list_matches_the_commands_the_modules_build():
    """``minirnn --help`` lists the commands from a table in minirnn/cli/__init__.py (so it
    imports no command module): it must name every command the full parser has, with the
    help its module gives."""
    import argparse

    from minirnn import cli

    def commands(parser: argparse.ArgumentParser) -> dict[str, str | None]:
        action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        return {choice.dest: choice.help for choice in action._choices_actions}

    full = commands(cli._parser(""))
    assert commands(cli._parser(None)) == full, (
        "update COMMANDS in minirnn/cli/__init__.py to the commands' own help")
    assert set(cli.COMMANDS) == set(full)


def test_a_command_reached_through_its_own_parsers_parses_as_with_all_of_them():
    from minirnn import cli

    argv = ["gradcheck", "--seed", "3"]
    alone = vars(cli._parser("gradcheck").parse_args(argv))
    everything = vars(cli._parser("").parse_args(argv))
    assert alone.keys() == everything.keys()
    assert {k: v for k, v in alone.items() if k != "run"} == \
        {k: v for k, v in everything.items() if k != "run"}


def test_lazy_names_are_the_defining_modules_objects():
    from minirnn.nn.layers.base import Layer, no_grad
    from minirnn.nn.model import Sequential
    from minirnn.train.solver import Solver

    assert minirnn.Sequential is Sequential and minirnn.Solver is Solver
    assert minirnn.Layer is Layer and minirnn.no_grad is no_grad
    for name in minirnn.__all__:
        assert getattr(minirnn, name) is not None, name
    assert set(minirnn.__all__) <= set(dir(minirnn)) and "layers" in dir(minirnn)
    with pytest.raises(AttributeError, match="has no attribute 'Nope'"):
        minirnn.Nope  # noqa: B018


def test_public_modules_are_reachable_after_a_bare_import():
    script = "import minirnn\nprint(minirnn.layers.LSTM.__name__, minirnn.data.__name__)"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=120, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.stdout.split() == ["LSTM", "minirnn.data"], out.stderr


def test_load_reads_language_model_and_encoder_decoder_files_in_a_fresh_process(tmp_path):
    """minirnn.load imports the modules whose model classes register themselves, so a file
    of either loads after nothing but ``import minirnn``."""
    from minirnn.apps.data.text import Vocabulary
    from minirnn.apps.language_model import LanguageModel
    from minirnn.nn.io import save_model
    from minirnn.nn.seq2seq.model import EncoderDecoder

    save_model(tmp_path / "lm.npz", LanguageModel(Vocabulary(list("abc")), embedding_dim=3,
                                                  hidden_size=4, seed=0))
    save_model(tmp_path / "s2s.npz", EncoderDecoder(6, 6, 2, 2, attention_dim=2, seed=0))
    script = (f"import minirnn\nfor f in ('lm', 's2s'):\n"
              f"    print(type(minirnn.load({str(tmp_path)!r} + f'/{{f}}.npz')).__name__)")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=120, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.stdout.split() == ["LanguageModel", "EncoderDecoder"], out.stderr


def test_the_task_api_imports_a_task_module_when_one_of_its_names_is_used():
    """``minirnn.apps.tasks`` loads its names on first use: a configuration class brings
    its own task's module, not the classifier's (nor the registry, which imports all)."""
    modules = _modules_after("import minirnn.apps.tasks\n"
                             "from minirnn.apps.tasks import TextConfig, TaskError")
    tasks = {m for m in modules if m.startswith("minirnn.apps.tasks.")}
    assert "minirnn.apps.tasks.text" in tasks
    assert not tasks & {"minirnn.apps.tasks.registry", "minirnn.apps.tasks.classify",
                        "minirnn.apps.tasks.series", "minirnn.apps.tasks.toy"}, tasks
    assert "minirnn.apps.classification" not in modules


def test_the_lazy_task_names_are_the_defining_modules_objects():
    import minirnn.apps.tasks as api
    from minirnn.apps.tasks import registry, toy

    for name in api.__all__:
        assert getattr(api, name) is not None, name
    assert api.TASKS is registry.TASKS and api.run is registry.run
    assert api.AddingConfig is toy.AddingConfig is api.config_class("adding")
    assert set(api.__all__) <= set(dir(api))
    with pytest.raises(AttributeError, match="has no attribute 'Nope'"):
        api.Nope  # noqa: B018
