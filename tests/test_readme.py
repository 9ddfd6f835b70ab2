"""The README's set-up commands, its measured table, the extras list, links between docs, and
the figures' labelling."""

import importlib.util
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def _installed_extras(line: str) -> set[str]:
    match = re.search(r'pip install "\.\[([\w,-]+)\]"', line)
    return set(match.group(1).split(",")) if match else set()


def test_readme_starts_with_a_two_command_setup_that_installs_every_documented_extra():
    """The set-up comes first and is two commands: a virtual environment, then one install
    holding every extra that a shell block of the docs installs (so nothing later asks for
    another install); it is marked as not run (it installs from PyPI)."""
    first_block = re.search(r"```bash\n(.*?)```", README, re.S).group(1).strip().splitlines()
    assert first_block[0].startswith("# not run: "), first_block
    venv, install = first_block[1:]
    assert venv.startswith("python3 -m venv ") and "activate" in venv
    extras = _installed_extras(install)
    assert install.startswith("pip install ") and "test" in extras, install
    documented = set()
    for page in DOCS:
        for block in re.findall(r"```\w*\n(.*?)```", page.read_text(), re.S):
            for line in block.splitlines():
                documented |= _installed_extras(line)
    assert documented <= extras, f"the set-up misses {sorted(documented - extras)}"
    # the set-up comes before any other section's content
    assert README.index(venv) < README.index("## Measured")


def test_readme_shows_the_test_command_ci_runs():
    command = "python -m pytest --durations=25"
    assert f"\n{command}\n" in README
    assert command in (ROOT / ".ci" / "run").read_text()


def _measure_module():
    spec = importlib.util.spec_from_file_location("measure_readme",
                                                  ROOT / "docs" / "measure_readme.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_table_is_what_the_measuring_script_wrote():
    measure = _measure_module()
    results = json.loads((ROOT / "docs" / "readme_results.json").read_text())
    assert [row["command"] for row in results["rows"]] == [f"minirnn {c}" for c, *_ in
                                                           measure.ROWS]
    table = README.split(measure.BEGIN, 1)[1].split(measure.END, 1)[0].strip()
    assert table == measure.render(results).strip()
    # every measured command is shown as it was run
    for row in results["rows"]:
        assert f"`{row['command']}`" in README


def test_every_extra_is_listed_with_what_it_enables():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]
    for name in extras:
        row = re.search(rf"^\| `{re.escape(name)}` \|(.+)\|(.+)\|$", README, re.M)
        assert row, f"extra [{name}] is not in the README's extras table"
        assert row.group(2).strip(), name


# Pages whose every mentioned repository path must exist (other pages may name files that
# their commands write, such as benchmark results).
SETUP_PAGES = {"README.md", "getting-started.md"}


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_docs_refer_only_to_files_that_exist(path):
    text = path.read_text()
    missing = []
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
        if re.match(r"[a-z]+:", target):
            continue  # a web address
        if not (path.parent / target).exists():
            missing.append(target)
    for name in re.findall(r"(?<![\w/.-])([A-Za-z][\w-]*\.md)\b", text):
        if not any(p.name == name for p in DOCS):
            missing.append(name)
    if path.name in SETUP_PAGES:
        # repository files named in prose or code: docs/x.py, benchmarks/, .ci/run ...
        for target in re.findall(r"(?<![\w/.-])((?:docs|benchmarks|tests|minirnn|\.ci)/"
                                 r"[\w./-]*)", text):
            is_file_name = target.endswith("/") or "." in target.rsplit("/", 1)[-1]
            if (is_file_name or target == ".ci/run") and not (ROOT / target).exists():
                missing.append(target)
    assert not missing, f"{path.name} refers to files that do not exist: {sorted(set(missing))}"


def test_loss_figure_has_title_units_integer_epochs_and_automatic_log_scale():
    pytest.importorskip("matplotlib")
    from matplotlib.ticker import MaxNLocator

    from minirnn.train.plots import history_figure

    wide = {"run": {"loss": [1.0, 0.1, 0.01, 0.005], "val_loss": [1.2, 0.2, 0.02, 0.01]}}
    fig = history_figure(wide, title="adding: loss", ylabel="MSE, target units²")
    ax = fig.axes[0]
    assert ax.get_title() == "adding: loss"
    assert ax.get_xlabel().startswith("epoch") and "MSE, target units²" in ax.get_ylabel()
    assert ax.get_yscale() == "log" and "log scale" in ax.get_ylabel()
    assert isinstance(ax.xaxis.get_major_locator(), MaxNLocator)
    assert all(float(t).is_integer() for t in ax.get_xticks())
    narrow = history_figure({"run": {"loss": [0.5, 0.4, 0.35]}})
    assert narrow.axes[0].get_yscale() == "linear" and narrow.axes[0].get_title()
