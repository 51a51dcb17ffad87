"""Spec of tools/seed_claims.py and the benchmark's multi-seed rows: how prose comparisons are held to several seeds."""

import json

import pytest

from tools import benchmark, seed_claims
from tools.notebook_code import code_hash

LECTURE = "01_convolution_by_hand"  # any committed notebook: the rows below are made up for it


@pytest.fixture
def rows(monkeypatch, tmp_path):
    """Write made-up multi-seed rows into a temporary benchmarks.json that seed_claims reads."""
    path = tmp_path / "benchmarks.json"
    monkeypatch.setattr(seed_claims, "RESULTS_JSON", path)

    def write(arms: dict, seeds=(0, 1, 2), code=None):
        row = {"seeds": list(seeds), "arms": arms, "code_hash": code or code_hash(LECTURE), "wall_s": 1.0}
        path.write_text(json.dumps({"rows": {f"{LECTURE} (seeds)": row}}))

    return write


def test_a_comparison_that_holds_at_every_seed_passes_and_one_that_flips_fails(rows):
    rows({"A": [1.0, 2.0, 3.0], "B": [2.0, 3.0, 4.0], "C": [0.5, 3.5, 2.5]})
    seed_claims.assert_beats(LECTURE, "A", "B", lower_is_better=True)
    seed_claims.assert_beats(LECTURE, "B", "A", lower_is_better=False)
    with pytest.raises(AssertionError, match="within the seed spread"):
        seed_claims.assert_beats(LECTURE, "C", "B", lower_is_better=True)  # C is lower at seeds 0 and 1, not 2
    seed_claims.assert_ranking(LECTURE, ["A", "B"], lower_is_better=True)


def test_within_spread_needs_overlapping_ranges(rows):
    rows({"A": [1.0, 1.2, 1.1], "B": [1.15, 1.5, 1.4], "C": [2.0, 2.1, 2.2]})
    seed_claims.assert_within_spread(LECTURE, "A", "B")
    with pytest.raises(AssertionError, match="do not overlap"):
        seed_claims.assert_within_spread(LECTURE, "A", "C")
    assert seed_claims.spread(LECTURE, "A") == pytest.approx((1.0, 1.1, 1.2))


def test_a_row_with_fewer_than_three_seeds_is_refused(rows):
    rows({"A": [1.0, 2.0], "B": [2.0, 3.0]}, seeds=(0, 1))
    with pytest.raises(AssertionError, match="at least 3"):
        seed_claims.arm(LECTURE, "A")


def test_a_row_measured_on_other_code_is_refused_with_the_command_to_rerun(rows):
    rows({"A": [1.0, 2.0, 3.0]}, code="0" * 16)
    with pytest.raises(AssertionError, match="make benchmark ONLY=01"):
        seed_claims.arm(LECTURE, "A")


def test_a_row_where_no_arm_moved_with_the_seed_is_refused(rows):
    rows({"A": [1.0, 1.0, 1.0], "B": [2.0, 2.0, 2.0]})
    with pytest.raises(AssertionError, match="did not reach the comparison"):
        seed_claims.arm(LECTURE, "A")


def test_a_missing_row_or_arm_says_how_to_make_it(rows):
    rows({"A": [1.0, 2.0, 3.0]})
    with pytest.raises(LookupError, match="its arms: A"):
        seed_claims.arm(LECTURE, "Z")
    with pytest.raises(LookupError, match="SEED_ARMS"):
        seed_claims.arm("02_cnn_classification", "A")


def test_the_code_hash_ignores_the_setup_cell_but_not_the_lesson_code(monkeypatch, tmp_path):
    import nbformat

    from tools import notebook_code

    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("!pip install x", metadata={"tags": ["setup"]}),
        nbformat.v4.new_code_cell("print(1)"),
        nbformat.v4.new_markdown_cell("prose")])
    monkeypatch.setattr(notebook_code, "NOTEBOOKS", tmp_path)
    nbformat.write(nb, tmp_path / "x.ipynb")
    before = notebook_code.code_hash("x")
    nb.cells[0].source, nb.cells[2].source = "!pip install y", "other prose"
    nbformat.write(nb, tmp_path / "x.ipynb")
    assert notebook_code.code_hash("x") == before
    nb.cells[1].source = "print(2)"
    nbformat.write(nb, tmp_path / "x.ipynb")
    assert notebook_code.code_hash("x") != before


def test_seed_rows_are_rendered_as_their_own_table_with_mean_and_range(monkeypatch, tmp_path):
    out = tmp_path / "BENCHMARKS.md"
    monkeypatch.setattr(benchmark, "OUTPUT_MD", out)
    benchmark.write_markdown({"date": "2026-12-06", "machine": "m", "rows": {
        "03_x": {"wall_s": 1.0, "metrics": {"m": 1.0}, "data": ["d"], "when": "w"},
        "03_x (seeds)": {"seeds": [0, 1, 2], "arms": {"conv AE error": [5.0, 6.0, 7.0]}, "wall_s": 2.0,
                         "when": "w"}}})
    text = out.read_text()
    assert "| 03_x | conv AE error | 6 | 5 to 7 | 5, 6, 7 | w |" in text
    summary = text.split("## Summary", 1)[1].split("\n## ", 1)[0]
    assert "03 x" in summary and "seeds" not in summary.split("### Machines")[0]  # not among the lecture rows
