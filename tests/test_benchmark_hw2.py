"""tools.benchmark's HW2 rows (hw2_recipes, hw2_seeds) run the code of HW2's master notebook, not a copy of it:
what they rely on in the master is checked here (names), and one run in fast mode shows that it works."""

import ast

import pytest

from tools import benchmark


def _assigned(source: str) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(source)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(
            node, (ast.AnnAssign, ast.AugAssign, ast.For)) else []
        for target in targets:
            names |= {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}
    return names


def test_the_master_builds_model_before_optimizer_and_sets_test_mean_iou_in_the_cells_the_benchmark_runs():
    cells = benchmark.hw2_recipe_cells()
    first = {}
    for index, source in enumerate(cells):
        assert benchmark.OTTER_TEST_CELL not in source, "an otter test cell would be run as recipe code"
        for name in _assigned(source):
            first.setdefault(name, index)
    assert {"model", "optimizer", "test_mean_iou"} <= first.keys(), sorted(first)
    assert first["model"] < first["optimizer"] <= first["test_mean_iou"]
    assert not [s for s in cells if "otter.Notebook(" in s or "pip\", \"install" in s], "set-up cells are skipped"


@pytest.mark.slow
def test_the_master_recipe_trains_in_fast_mode_and_reports_its_test_mean_iou(monkeypatch):
    monkeypatch.setenv("COURSE_SEED", "5")
    seconds, iou, attempt = benchmark._hw2_train(0, "fast")
    assert seconds > 0 and 0.0 <= iou <= 1.0 and 1 <= attempt <= 3
    import os

    assert os.environ["COURSE_SEED"] == "5" and os.environ["COURSE_FAST"] == "1", "the environment is restored"
