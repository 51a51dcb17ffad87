"""Spec of course_utils.generative: the judge classifier, its class histogram and the Fréchet distance
(checkpoint handling: tests/test_checkpoints.py)."""

import numpy as np
import pytest
import torch

from course_utils.checkpoints import find_asset, load_checkpoint
from course_utils.generative import (
    JudgeNet,
    class_histogram,
    frechet_distance,
    judge_features,
    judge_report,
    load_judge,
    plot_class_histograms,
)

# ------------------------------------------------------------------------------------------ Fréchet distance


def test_frechet_distance_is_zero_for_identical_sets():
    x = torch.randn(500, 8, generator=torch.Generator().manual_seed(0))
    assert frechet_distance(x, x) == pytest.approx(0.0, abs=1e-6)


def test_frechet_distance_of_a_mean_shift_is_the_squared_shift():
    x = torch.randn(2000, 5, generator=torch.Generator().manual_seed(1))
    for shift in (0.5, 1.0, 2.0):
        shifted = x + shift * torch.tensor([1.0, 0, 0, 0, 0])
        assert frechet_distance(x, shifted) == pytest.approx(shift**2, rel=1e-6)


def test_frechet_distance_grows_with_the_shift():
    x = torch.randn(1000, 4, generator=torch.Generator().manual_seed(2))
    distances = [frechet_distance(x, x + s) for s in (0.1, 0.5, 1.0, 3.0)]
    assert distances == sorted(distances) and distances[0] > 0


def test_frechet_distance_matches_the_closed_form_for_1d_gaussians():
    rng = np.random.default_rng(3)
    a = rng.normal(1.0, 2.0, size=200_000)
    b = rng.normal(-0.5, 0.5, size=200_000)
    closed_form = (1.0 - -0.5) ** 2 + (2.0 - 0.5) ** 2  # (μ1 - μ2)² + (σ1 - σ2)²
    assert frechet_distance(a, b) == pytest.approx(closed_form, rel=0.01)
    # with the sample statistics the formula holds exactly
    exact = (a.mean() - b.mean()) ** 2 + (a.std(ddof=1) - b.std(ddof=1)) ** 2
    assert frechet_distance(a[:, None], b[:, None]) == pytest.approx(exact, rel=1e-9)


def test_frechet_distance_matches_scipy_sqrtm_in_several_dimensions():
    from scipy.linalg import sqrtm

    rng = np.random.default_rng(4)
    a = rng.normal(size=(300, 6)) @ rng.normal(size=(6, 6))
    b = rng.normal(size=(400, 6)) @ rng.normal(size=(6, 6)) + 0.3
    ca, cb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    reference = ((a.mean(0) - b.mean(0)) ** 2).sum() + np.trace(ca + cb - 2 * sqrtm(ca @ cb).real)
    assert frechet_distance(a, b) == pytest.approx(reference, rel=1e-6)


def test_frechet_distance_rejects_bad_input_with_clear_messages():
    with pytest.raises(ValueError, match="same dimension"):
        frechet_distance(torch.randn(10, 3), torch.randn(10, 4))
    with pytest.raises(ValueError, match="at least 2 samples"):
        frechet_distance(torch.randn(1, 3), torch.randn(10, 3))
    with pytest.raises(ValueError, match=r"\(N, D\)"):
        frechet_distance(torch.randn(2, 3, 4), torch.randn(2, 3, 4))
    with pytest.raises(ValueError, match="NaN"):
        frechet_distance(torch.full((5, 2), float("nan")), torch.randn(5, 2))
    with pytest.raises(TypeError):
        frechet_distance(None, torch.randn(5, 2))


# ------------------------------------------------------------------------------------------ the judge


@pytest.fixture(scope="module")
def mnist_test():
    from course_utils.data import _mnist_subset

    return _mnist_subset("test")


def test_committed_judge_checkpoint_loads_and_matches_its_architecture():
    path = find_asset("judge_mnist.pt", download=False)
    assert path is not None and path.stat().st_size < 400_000
    judge = JudgeNet()
    checkpoint = load_checkpoint("judge_mnist.pt", judge)
    assert checkpoint["test_accuracy"] > 0.95


def test_judge_recognises_real_test_digits(mnist_test):
    judge = load_judge(verbose=False)
    with torch.no_grad():
        accuracy = (judge(mnist_test.images).argmax(1) == mnist_test.labels).float().mean().item()
    assert accuracy > 0.95


def test_class_histogram_of_real_digits_is_close_to_uniform(mnist_test):
    counts = class_histogram(mnist_test.images)
    assert counts.shape == (10,) and counts.dtype == torch.int64 and counts.sum() == len(mnist_test.images)
    assert counts.min() >= 80 and counts.max() <= 120  # 100 of each digit in the subset


def test_class_histogram_of_a_single_digit_shows_one_tall_bar(mnist_test):
    ones = mnist_test.images[mnist_test.labels == 1]
    counts = class_histogram(ones)
    assert counts.argmax() == 1 and counts[1] >= 0.9 * len(ones)


def test_judge_features_shape_and_real_vs_noise_distance(mnist_test):
    real = judge_features(mnist_test.images[:500])
    assert real.shape == (500, JudgeNet.feature_dim)
    other_real = judge_features(mnist_test.images[500:])
    noise = judge_features(torch.rand(500, 1, 28, 28))
    assert frechet_distance(real, other_real) < 0.1 * frechet_distance(real, noise)


def test_judge_report_counts_covered_digits(mnist_test):
    real = judge_features(mnist_test.images[:500])
    report = judge_report(mnist_test.images[500:], real)
    assert report["digits_covered"] == 10 and report["frechet"] >= 0
    sevens = mnist_test.images[mnist_test.labels == 7]
    assert judge_report(sevens, real)["digits_covered"] <= 2


def test_judge_inputs_are_checked_with_teaching_messages():
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        class_histogram(torch.rand(28, 28))
    with pytest.raises(ValueError, match=r"\(x \+ 1\) / 2"):
        judge_features(torch.rand(4, 1, 28, 28) * 2 - 1)
    with pytest.raises(ValueError, match="28x28"):
        judge_features(torch.rand(4, 1, 32, 32))


def test_plot_class_histograms_draws_one_panel_per_generator():
    import matplotlib.pyplot as plt

    fig = plot_class_histograms({"a": torch.ones(10, dtype=torch.long), "b": torch.arange(10)})
    assert len(fig.axes) == 2
    plt.close(fig)
    with pytest.raises(TypeError):
        plot_class_histograms([])
