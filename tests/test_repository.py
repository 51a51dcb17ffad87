"""The repository keeps its promises: one package list, no torch pins, notebooks committed clean and in sync."""

import re
from pathlib import Path

import nbformat
import pytest
import tomllib

from course_utils.colab import REPOSITORY, SETUP_CELL, colab_url
from tools import sync_notebooks

ROOT = Path(__file__).resolve().parents[1]

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
LECTURES = [p for p in NOTEBOOKS if not p.name.startswith("hw")]  # homework is committed unexecuted, for students
HOMEWORK = [p for p in NOTEBOOKS if p.name.startswith("hw")]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~;\[ ]", requirement.strip(), maxsplit=1)[0].lower()


def _environment_yml_pip_packages() -> list[str]:
    lines = (ROOT / "environment.yml").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "- pip:")
    return [line.strip()[2:] for line in lines[start + 1 :] if line.strip().startswith("- ")]


def test_environment_yml_lists_the_same_packages_as_pyproject():
    project = PYPROJECT["project"]
    declared = set(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        declared |= set(extra)
    conda_pip = [p for p in _environment_yml_pip_packages() if p != "-e ."]
    assert "-e ." in _environment_yml_pip_packages(), "environment.yml must install the course package itself"
    assert sorted(map(_name, conda_pip)) == sorted(map(_name, declared))
    assert len(conda_pip) == len(set(conda_pip)), "environment.yml lists a package twice"


@pytest.mark.parametrize("package", ["torch", "torchvision"])
def test_torch_is_never_pinned_so_colab_keeps_its_own(package):
    project = PYPROJECT["project"]
    everywhere = list(project["dependencies"]) + [r for e in project["optional-dependencies"].values() for r in e]
    everywhere += _environment_yml_pip_packages()
    specs = [r for r in everywhere if _name(r) == package]
    assert specs, f"{package} is not listed"
    assert all(s == package for s in specs), f"{package} must be listed bare (no version), found {specs}"


def test_there_is_at_least_one_notebook():
    assert NOTEBOOKS, "notebooks/ holds no notebook"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_badge_and_setup_cell_match_course_utils_colab(path):
    problems = sync_notebooks.sync(path, write=False)
    assert not problems, "; ".join(problems) + " -- run `make sync`"
    nb = nbformat.read(path, as_version=4)
    assert colab_url(f"notebooks/{path.name}") in nb.cells[0].source
    assert nb.cells[1].source == SETUP_CELL


@pytest.mark.parametrize("path", LECTURES, ids=lambda p: p.name)
def test_notebook_was_committed_executed_top_to_bottom_without_errors(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    counts = [c.execution_count for c in code]
    assert counts == list(range(1, len(code) + 1)), (
        f"execution counts {counts} are not 1..{len(code)} in order: re-run `make refresh NB={path}`"
    )
    for i, cell in enumerate(code):
        for out in cell.outputs:
            assert out.output_type != "error", f"code cell {i} holds an error: {out.get('ename')}"
            if out.output_type == "stream" and out.name == "stderr":
                text = out.text.lower()
                assert "warning" not in text and "traceback" not in text, f"code cell {i} prints: {out.text[:200]}"


@pytest.mark.parametrize("path", LECTURES, ids=lambda p: p.name)
def test_notebook_outputs_are_from_full_mode_with_figures(path):
    nb = nbformat.read(path, as_version=4)
    texts = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "Mode: full" in texts, "the stored outputs must come from full mode (make refresh)"
    assert "Mode: fast" not in texts
    assert re.search(r"^Data: \S", texts, flags=re.M), "the notebook must print a `Data: ...` line saying what it used"
    figures = sum("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert figures >= 3, f"only {figures} figures stored"


@pytest.mark.parametrize("path", LECTURES, ids=lambda p: p.name)
def test_notebook_has_learning_goals_and_check_your_understanding(path):
    text = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown")
    assert "## Learning goals" in text
    assert "Check your understanding" in text


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_readme_lists_the_notebook_with_its_colab_badge(path):
    readme = (ROOT / "README.md").read_text()
    assert colab_url(f"notebooks/{path.name}") in readme


@pytest.mark.parametrize("path", HOMEWORK, ids=lambda p: p.name)
def test_homework_notebook_is_committed_without_outputs_for_students(path):
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, "clear the outputs of the student notebook"


def test_pyproject_homepage_is_the_repository_of_course_utils_colab():
    assert PYPROJECT["project"]["urls"]["Homepage"] == f"https://github.com/{REPOSITORY}"


def test_ci_runs_exactly_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    assert "make test" in readme and "make lab" in readme
    ci = [line for line in (ROOT / ".ci" / "run").read_text().splitlines() if line and not line.startswith("#")]
    assert ci[-1].strip() == "make test"


def test_benchmark_table_is_committed_with_a_filled_row_for_every_notebook():
    import json

    results = json.loads((ROOT / "benchmarks.json").read_text())
    table = (ROOT / "BENCHMARKS.md").read_text()
    expected = [p.stem for p in LECTURES] + ["hw2_unet_segmentation (solution)", "hw2_recipes", "hw2_seeds",
                                             "data_pipeline"]
    for name in expected:
        row = results["rows"].get(name)
        assert row is not None, f"BENCHMARKS.md has no row {name!r}: run `make benchmark ONLY={name[:2]}`"
        assert isinstance(row["wall_s"], (int, float)) and row["metrics"], f"row {name!r} is empty"
        assert "error" not in row["metrics"], f"row {name!r} failed: {row['metrics']['error']}"
        assert row["data"], f"row {name!r} does not say which data it used"
        assert name.replace("_", " ") in table or name in table, "BENCHMARKS.md lacks it: re-render it (--rewrite)"
    assert f"last run {results['date']}" in table, "BENCHMARKS.md's header must say when it was produced"


# ------------------------------------------------------------------------------------- the map in CONTRIBUTING.md

IGNORED_TOP_LEVEL = {".git", ".gitignore"}  # plus whatever .gitignore names (virtual environment, build outputs)


def _map_of_the_repository() -> str:
    text = (ROOT / "CONTRIBUTING.md").read_text()
    start = text.index("## Map of the repository")
    return text[start : text.index("\n## ", start + 1)]


def _tracked_top_level() -> list[str]:
    ignored = {line.strip().rstrip("/") for line in (ROOT / ".gitignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")}
    names = []
    for path in sorted(ROOT.iterdir()):
        if path.name in IGNORED_TOP_LEVEL or any(path.match(pattern) for pattern in ignored):
            continue
        if path.name.startswith(".") and path.name != ".ci":  # editor and tool caches
            continue
        names.append(path.name + ("/" if path.is_dir() else ""))
    return names


def test_contributing_map_names_every_top_level_folder_and_file():
    table = _map_of_the_repository()
    missing = [name for name in _tracked_top_level() if f"`{name}`" not in table]
    assert not missing, f"add to the map in CONTRIBUTING.md: {missing}"


def test_every_path_and_command_in_the_contributing_map_exists():
    table = _map_of_the_repository()
    folders = re.findall(r"^\| `([^`|]+/)`", table, flags=re.M)
    assert {"notebooks/", "course_utils/", "tests/", "tools/"} <= set(folders)
    for folder in folders:
        assert (ROOT / folder).is_dir(), f"CONTRIBUTING.md maps {folder}, which does not exist"
    for helper in re.findall(r"`(\w+\.py)`", table):
        found = [p for p in (ROOT / "tests", ROOT / "tools", ROOT / "course_utils") if (p / helper).is_file()]
        assert found or helper.startswith(("test_", "__init__")), f"CONTRIBUTING.md names {helper}: no such file"
    makefile = (ROOT / "Makefile").read_text()
    for target in set(re.findall(r"`make ([a-z-]+)", table)):
        assert re.search(rf"^{target}:", makefile, flags=re.M), f"CONTRIBUTING.md names `make {target}`"
    for module in set(re.findall(r"`(?:python -m )?tools\.(\w+)`", table)):
        assert (ROOT / "tools" / f"{module}.py").is_file(), f"CONTRIBUTING.md names tools.{module}"


def test_every_tests_helper_is_in_the_map_and_no_helper_looks_like_a_test_file():
    table = _map_of_the_repository()
    helpers = [p.name for p in (ROOT / "tests").glob("*.py") if not p.name.startswith("test_")]
    assert not [h for h in helpers if h != "conftest.py" and f"`{h}`" not in table], "map the helpers in tests/"


@pytest.mark.parametrize("package", ["course_utils", "tools"])
def test_package_docstring_lists_every_module(package):
    import importlib

    doc = importlib.import_module(package).__doc__
    modules = sorted(p.stem for p in (ROOT / package).glob("*.py") if p.stem != "__init__")
    missing = [m for m in modules if f"``{m}``" not in doc]
    assert not missing, f"{package}/__init__.py: its docstring should say what {missing} do"


# ------------------------------------------------------------------------- hide-input: plotting code folded away

HIDE_INPUT = "hide-input"  # CONTRIBUTING.md: a code cell whose code only draws a figure or formats a table


def hidden_cells_without_output(nb) -> list[str]:
    """Cells tagged hide-input that show nothing in its place (or are not code): the reader would lose the code
    for nothing. Returns one line per such cell."""
    problems = []
    for i, cell in enumerate(nb.cells):
        if HIDE_INPUT not in cell.metadata.get("tags", []):
            continue
        if cell.cell_type != "code":
            problems.append(f"cell {i} is {cell.cell_type}, not code: only a code cell's input can be hidden")
        elif not cell.outputs:
            problems.append(f"cell {i} has no stored output: nothing would stand in for its hidden code")
    return problems


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_a_cell_whose_code_is_hidden_has_an_output_to_show(path):
    problems = hidden_cells_without_output(nbformat.read(path, as_version=4))
    assert not problems, f"{path.name}: " + "; ".join(problems) + " (remove the tag, or `make refresh`)"


def test_the_hidden_cell_check_finds_a_hidden_cell_without_output_and_a_hidden_markdown_cell():
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("fig = draw()", metadata={"tags": [HIDE_INPUT]}),
        nbformat.v4.new_markdown_cell("text", metadata={"tags": [HIDE_INPUT]}),
        nbformat.v4.new_code_cell("x = 1"),
    ])
    assert len(hidden_cells_without_output(nb)) == 2
    nb.cells[0].outputs = [nbformat.v4.new_output("display_data", data={"image/png": "iVBORw0KGgo="})]
    del nb.cells[1]
    assert hidden_cells_without_output(nb) == []


def test_lecture_01_folds_its_plotting_cells_and_keeps_its_teaching_code_in_view():
    """The browser tests (test_site.py, test_slides.py) need marked cells; lecture 01's are its drawing cells."""
    nb = nbformat.read(ROOT / "notebooks" / "01_convolution_by_hand.ipynb", as_version=4)
    hidden = [c for c in nb.cells if HIDE_INPUT in c.metadata.get("tags", [])]
    assert len(hidden) >= 3
    assert not [c for c in hidden if "export" in c.metadata.get("tags", [])], "exported lesson code is never hidden"
