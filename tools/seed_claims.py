"""Hold a lecture's comparisons to the benchmark's multi-seed rows: does "X beats Y" survive another seed?

`make benchmark` reruns every lecture that names comparison arms in ``tools.benchmark.SEED_ARMS`` with its seeds
shifted (``COURSE_SEED=1, 2, ...``) and stores each arm's value per seed in ``benchmarks.json`` (row
"<lecture> (seeds)"). A lecture's tests read them here::

    from tools import seed_claims
    seed_claims.assert_beats("03_pca_and_autoencoders", "conv AE test error", "MLP AE test error", lower_is_better=True)
    seed_claims.assert_within_spread("08_diffusion_models", "best GAN", "diffusion, unconditional")

and check that the prose says what the rows allow: "X beats Y" only when X is better at every seed, otherwise the
prose must call the gap within the seed spread and show that spread (a cell that prints it, or a link to the row).
"""

from __future__ import annotations

import json
from pathlib import Path

from tools.notebook_code import code_hash

ROOT = Path(__file__).resolve().parents[1]
RESULTS_JSON = ROOT / "benchmarks.json"
MIN_SEEDS = 3


def seed_row(lecture: str) -> dict:
    """The multi-seed row of ``lecture`` (a notebook stem), checked: at least 3 seeds, measured on the code the
    notebook has now, and the seed changed at least one arm (else the rerun proved nothing)."""
    rows = json.loads(RESULTS_JSON.read_text())["rows"]
    name = f"{lecture} (seeds)"
    if name not in rows:
        raise LookupError(f"benchmarks.json has no row {name!r}: name the lecture's comparison arms in "
                          f"tools/benchmark.py's SEED_ARMS and run `make benchmark ONLY={lecture.split('_')[0]}`")
    row = rows[name]
    if len(row["seeds"]) < MIN_SEEDS:
        raise AssertionError(f"{name} has {len(row['seeds'])} seeds; a claim needs at least {MIN_SEEDS}")
    if row.get("code_hash") != code_hash(lecture):
        raise AssertionError(f"{name} was measured on other code than the notebook has now: rerun "
                             f"`make benchmark ONLY={lecture.split('_')[0]}` and commit benchmarks.json")
    if all(len(set(values)) == 1 for values in row["arms"].values()):
        raise AssertionError(f"{name}: no arm changed between seeds, so COURSE_SEED did not reach the comparison")
    return row


def arm(lecture: str, label: str) -> list[float]:
    """The values of one arm, one per seed (seed 0 first: the lecture's own run)."""
    arms = seed_row(lecture)["arms"]
    if label not in arms:
        raise LookupError(f"{lecture} (seeds) has no arm {label!r}; its arms: {', '.join(arms)}")
    return arms[label]


def beats_at_every_seed(lecture: str, better: str, worse: str, *, lower_is_better: bool) -> bool:
    """True when arm ``better`` is strictly better than arm ``worse`` at every seed."""
    pairs = zip(arm(lecture, better), arm(lecture, worse))
    return all((b < w) if lower_is_better else (b > w) for b, w in pairs)


def assert_beats(lecture: str, better: str, worse: str, *, lower_is_better: bool) -> None:
    """The prose may say "``better`` beats ``worse``": it does at every seed."""
    if not beats_at_every_seed(lecture, better, worse, lower_is_better=lower_is_better):
        raise AssertionError(f"{lecture}: {better!r} does not beat {worse!r} at every seed "
                             f"({arm(lecture, better)} vs {arm(lecture, worse)}; lower is "
                             f"{'better' if lower_is_better else 'worse'}): the prose must call it within the "
                             "seed spread")


def assert_ranking(lecture: str, best_to_worst: list[str], *, lower_is_better: bool) -> None:
    """The prose may rank these arms in this order: every neighbouring pair holds at every seed."""
    for better, worse in zip(best_to_worst, best_to_worst[1:]):
        assert_beats(lecture, better, worse, lower_is_better=lower_is_better)


def assert_within_spread(lecture: str, a: str, b: str) -> None:
    """The prose calls the gap between ``a`` and ``b`` within the seed spread: their ranges over the seeds
    overlap (if they did not, the prose would hide a difference that holds)."""
    (a_low, _, a_high), (b_low, _, b_high) = spread(lecture, a), spread(lecture, b)
    if a_high < b_low or b_high < a_low:
        raise AssertionError(f"{lecture}: the ranges of {a!r} ({a_low:.4g} to {a_high:.4g}) and {b!r} ({b_low:.4g} "
                             f"to {b_high:.4g}) do not overlap, so the gap is not within the seed spread: say which "
                             "is better")


def spread(lecture: str, label: str) -> tuple[float, float, float]:
    """(lowest, mean, highest) of one arm over the seeds: what a sentence about the spread may quote."""
    values = arm(lecture, label)
    return min(values), sum(values) / len(values), max(values)
