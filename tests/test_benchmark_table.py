"""BENCHMARKS.md reads at a glance: ``tools.benchmark.render_markdown`` renders ``benchmarks.json`` as one summary
table (lecture, wall time, key figure and its anchor, date), the data and machines below it, then the rows of other
kinds in their own sections; the committed page is exactly what the committed results render."""

import json
import re
from pathlib import Path

from tools import benchmark
from tools.benchmark import key_figure, render_markdown, row_kind

ROOT = Path(__file__).resolve().parents[1]
WHEN = "2030-01-02, x86_64 Some CPU, 2 CPU cores, no GPU, Python 3.11, torch 2.x"


def _row(metrics, wall=12.5, data=("the subset",), when=WHEN):
    return {"wall_s": wall, "metrics": metrics, "data": list(data), "device": "cpu", "when": when}


RESULTS = {
    "date": "2030-01-02", "machine": WHEN.split(", ", 1)[1],
    "rows": {
        "02_cnn_classification": _row({"LeNet test accuracy": 0.98765}),
        "02_cnn_classification (full MNIST)": {**_row({"LeNet test accuracy": 0.9912}, wall=125.0), "load": [0.4, 2.1]},
        "03_pca_and_autoencoders": _row({"PCA-30 test error per image": 14.1}, wall=50.0),
        "03_pca_and_autoencoders (full MNIST)": {**_row({}, wall=1800.0), "stopped": "stopped after 1800 s in code "
                                                 "cell 40 of 60 (section '5 · Deep autoencoders')"},
        "07_generative_adversarial_networks": _row({"plain AE, random codes: digits covered / Frechet distance": "6/10",
                                                    "DCGAN: digits covered / Frechet distance": "9/10, 81.0"}),
        "07_generative_adversarial_networks (trained from scratch)": _row({"DCGAN: digits covered / Frechet "
                                                                          "distance": "9/10, 82.4"}, wall=356.8),
        "04_denoising_autoencoders (seeds)": {"seeds": [0, 1, 2], "arms": {"DAE PSNR": [18.7, 18.9, 18.5]},
                                              "code_hash": "abc", "wall_s": 40.0, "data": ["the subset"],
                                              "device": "cpu", "when": WHEN},
        "hw2_recipes": _row({"course recipe (HW2 solution): test mean IoU": 0.9444}, data=("synthetic shapes",)),
        "01_convolution_by_hand": _row({"kernel error, learned from noise": 1.2e-06, "unanchored": 3.0},
                                       when="2029-12-31, another machine"),
    },
}


def _section(markdown: str, heading: str) -> str:
    start = markdown.index(f"\n{heading}\n")
    following = re.search(r"\n#{1,3} ", markdown[start + len(heading) + 2 :])
    return markdown[start : start + len(heading) + 2 + following.start()] if following else markdown[start:]


def test_the_committed_benchmarks_md_is_what_benchmarks_json_renders():
    results = json.loads((ROOT / "benchmarks.json").read_text())
    assert (ROOT / "BENCHMARKS.md").read_text() == render_markdown(results), (
        "BENCHMARKS.md differs from what benchmarks.json renders: run `python -m tools.benchmark --rewrite`")


def test_the_summary_has_one_short_line_per_lecture_with_its_key_figure_next_to_its_anchor():
    summary = _section(render_markdown(RESULTS), "## Summary").split("\n\n")[1].splitlines()
    assert summary[0] == "| lecture | wall time | key figure | measured | anchor | date |"
    rows = summary[2:]
    assert [r.split(" | ")[0] for r in rows] == ["| 01 convolution by hand", "| 02 cnn classification",
                                                   "| 03 pca and autoencoders", "| 07 generative adversarial networks"]
    assert rows[1] == (f"| 02 cnn classification | 12.5 s | LeNet test accuracy | 0.9877 | "
                       f"{benchmark.ANCHORS['LeNet test accuracy']} | 2030-01-02 |")
    assert "| DCGAN: digits covered / Frechet distance | 9/10, 81.0 |" in rows[3]  # KEY_FIGURES picks it
    assert "| 2029-12-31 |" in rows[0] and "machine" not in "".join(rows), "the summary shows dates, not machines"


def test_each_kind_of_row_goes_to_its_own_section_and_keeps_all_its_content():
    kinds = {name: row_kind(name, row) for name, row in RESULTS["rows"].items()}
    assert kinds["02_cnn_classification"] == "summary" and kinds["hw2_recipes"] == "special"
    assert kinds["02_cnn_classification (full MNIST)"].startswith("Full MNIST")
    assert kinds["04_denoising_autoencoders (seeds)"] == "Claims over seeds"
    assert kinds["07_generative_adversarial_networks (trained from scratch)"] == "Trained from scratch"
    md = render_markdown(RESULTS)
    seeds = _section(md, "## Claims over seeds")
    assert "| 04_denoising_autoencoders | DAE PSNR | 18.7 | 18.5 to 18.9 | 18.7, 18.9, 18.5 | 2030-01-02 |" in seeds
    full = _section(md, "## Full MNIST (`COURSE_MNIST=full`)")
    assert "| 02_cnn_classification | 12.5 s | 125.0 s | 10.0x | 0.4 to 2.1 | 2030-01-02 |" in full
    assert ("| 03_pca_and_autoencoders | 50.0 s | stopped after 1800 s in code cell 40 of 60 (section "
            "'5 · Deep autoencoders') | > 36.0x | — | 2030-01-02 |") in full
    assert "| 02_cnn_classification (full MNIST) | 125.0 s | LeNet test accuracy | 0.9912 |" in full
    assert "- **All rows** (cpu): the subset" in full  # rows with the same data are described once
    scratch = _section(md, "## Trained from scratch")
    assert "| 07_generative_adversarial_networks (trained from scratch) | 356.8 s |" in scratch
    special = _section(md, "### hw2_recipes")
    assert "Data: synthetic shapes." in special
    assert "| course recipe (HW2 solution): test mean IoU | 0.9444 |" in special
    machines = _section(md, "### Machines")
    assert "- another machine: 01_convolution_by_hand\n" in machines  # every row's machine, named once
    assert "- x86_64 Some CPU, 2 CPU cores, no GPU, Python 3.11, torch 2.x: 02_cnn_classification, " in machines
    every = _section(md, "### Every figure")
    assert "| unanchored | 3 | — |" in every, "a figure that is not the key figure is still shown below the summary"


def test_the_key_figure_is_the_first_anchored_one_unless_the_lecture_names_its_own():
    row = RESULTS["rows"]["01_convolution_by_hand"]
    assert key_figure("01_convolution_by_hand", row) == "kernel error, learned from noise"
    assert key_figure("x", _row({"a": 1.0, "LeNet test accuracy": 0.9})) == "LeNet test accuracy"
    assert key_figure("x", _row({"a": 1.0})) == "a"
    assert key_figure("x", _row({})) is None



def test_full_mnist_rows_without_figures_get_no_empty_figure_table():
    """The stand-in's rows (Fashion-MNIST timing MNIST's size) record no figures: their section shows the times and
    the data, not a table of dashes."""
    rows = {"03_pca_and_autoencoders": RESULTS["rows"]["03_pca_and_autoencoders"],
            "03_pca_and_autoencoders (full MNIST)": RESULTS["rows"]["03_pca_and_autoencoders (full MNIST)"]}
    full = _section(render_markdown({**RESULTS, "rows": rows}), "## Full MNIST (`COURSE_MNIST=full`)")
    assert "| 03_pca_and_autoencoders | 50.0 s | stopped after 1800 s" in full
    assert "| row | wall time | figure |" not in full
    full = _section(render_markdown(RESULTS), "## Full MNIST (`COURSE_MNIST=full`)")
    assert "| row | wall time | figure |" in full


def test_a_stopped_runs_factor_is_a_lower_bound_rounded_down():
    rows = {"03_pca_and_autoencoders": {**RESULTS["rows"]["03_pca_and_autoencoders"], "wall_s": 60.1},
            "03_pca_and_autoencoders (full MNIST)": {**RESULTS["rows"]["03_pca_and_autoencoders (full MNIST)"],
                                                     "wall_s": 599.4, "data": ["other data"]}}
    full = _section(render_markdown({**RESULTS, "rows": rows}), "## Full MNIST (`COURSE_MNIST=full`)")
    assert "| > 9.9x |" in full, full  # 599.4 / 60.1 = 9.97: "> 10.0x" would claim more than was measured
    assert "- **03_pca_and_autoencoders (full MNIST)** (cpu): other data" in full


def test_readme_and_lectures_state_the_measured_full_mnist_cost():
    """README's sentence on the opt-in's cost is held to the committed full-MNIST rows, and every lecture that
    loads MNIST points its readers at them."""
    rows = json.loads((ROOT / "benchmarks.json").read_text())["rows"]
    full = {name.removesuffix(" (full MNIST)")[:3].rstrip("_"): row for name, row in rows.items()
            if name.endswith(" (full MNIST)")}
    readme = " ".join((ROOT / "README.md").read_text().split())
    claim = re.search(r"lecture 04 takes (\d+) minutes instead of (\d+) s, and lectures ([\db, and]+) were still "
                      r"running when the (\d+)-minute cap stopped them", readme)
    assert claim, "README's full-MNIST cost sentence changed: update this test with it"
    assert "stopped" not in full["04"] and round(full["04"]["wall_s"] / 60) == int(claim[1])
    assert abs(rows["04_denoising_autoencoders"]["wall_s"] - int(claim[2])) < 5
    stopped = re.findall(r"\d+b?", claim[3])
    assert sorted(stopped) == sorted(k for k, row in full.items() if "stopped" in row), stopped
    assert all(f"stopped after {int(claim[4]) * 60} s" in full[k]["stopped"] for k in stopped)
    for k in stopped[:1] + stopped[-1:]:
        section = re.search(rf"\({k} in its section (\d+)|, {k} in its section (\d+)", readme)
        if section:
            assert f"section '{section[1] or section[2]} ·" in full[k]["stopped"], (k, full[k]["stopped"])
    for path in sorted((ROOT / "notebooks").glob("0*.ipynb")):
        if "cu.load_mnist(" in path.read_text():
            prose = " ".join(" ".join(c["source"]) for c in json.loads(path.read_text())["cells"]
                             if c["cell_type"] == "markdown")
            assert 'are in `BENCHMARKS.md` (section "Full MNIST")' in " ".join(prose.split()), path.name
            assert path.stem[:3].rstrip("_") in full, f"{path.name} has no full-MNIST row"
