"""Spec of course_utils.metrics: accuracy, PSNR, and per-class IoU / Dice."""

import math

import numpy as np
import pytest
import torch

from course_utils.metrics import accuracy, psnr

# ------------------------------------------------------------------------------------------ accuracy


def test_accuracy_from_logits_uses_the_argmax():
    logits = torch.tensor([[2.0, 0.1, 0.0], [0.0, 3.0, 1.0], [0.5, 0.2, 0.1], [0.0, 0.0, 9.0]])
    targets = torch.tensor([0, 1, 2, 2])  # the third prediction (class 0) is wrong
    assert accuracy(logits, targets) == pytest.approx(3 / 4)


def test_accuracy_from_predicted_labels():
    assert accuracy(torch.tensor([1, 0, 1, 1, 0]), torch.tensor([1, 1, 1, 0, 0])) == pytest.approx(3 / 5)


def test_accuracy_of_perfect_and_of_all_wrong_predictions():
    y = torch.tensor([0, 1, 2])
    assert accuracy(y, y) == 1.0
    assert accuracy((y + 1) % 3, y) == 0.0


def test_accuracy_accepts_numpy_arrays_and_returns_a_float():
    value = accuracy(np.array([[0.9, 0.1], [0.2, 0.8]]), np.array([0, 0]))
    assert isinstance(value, float)
    assert value == pytest.approx(0.5)


def test_accuracy_rejects_targets_that_are_not_labels():
    with pytest.raises(ValueError, match=r"targets: expected class labels of shape \(N,\)"):
        accuracy(torch.zeros(4, 3), torch.zeros(4, 3))


def test_accuracy_rejects_outputs_of_the_wrong_rank():
    with pytest.raises(ValueError, match=r"\(N, K\) or labels of shape \(N,\)"):
        accuracy(torch.zeros(4, 3, 2), torch.zeros(4, dtype=torch.long))


def test_accuracy_rejects_mismatched_counts():
    with pytest.raises(ValueError, match="5 predictions but targets hold 4 labels"):
        accuracy(torch.zeros(5, 3), torch.zeros(4, dtype=torch.long))


def test_accuracy_of_nothing_is_an_error():
    with pytest.raises(ValueError, match="undefined"):
        accuracy(torch.zeros(0, 3), torch.zeros(0, dtype=torch.long))


# ------------------------------------------------------------------------------------------ PSNR


def test_psnr_of_identical_images_is_infinite():
    x = torch.rand(2, 1, 8, 8)
    assert psnr(x, x.clone()) == math.inf


def test_psnr_with_constant_error_0_1_on_unit_range_data_is_20_db():
    target = torch.full((3, 1, 8, 8), 0.5)
    # MSE = 0.01, so PSNR = 10 log10(1 / 0.01) = 20 dB, whatever the sign of the error
    assert psnr(target + 0.1, target) == pytest.approx(20.0)
    assert psnr(target - 0.1, target) == pytest.approx(20.0)


def test_psnr_scales_with_data_range():
    target = torch.full((2, 3, 4, 4), 100.0)
    assert psnr(target + 25.5, target, data_range=255) == pytest.approx(20.0)  # same relative error as above
    # for a fixed error, doubling the data range adds 20 log10(2) dB
    gap = psnr(target + 1.0, target, data_range=2.0) - psnr(target + 1.0, target, data_range=1.0)
    assert gap == pytest.approx(20 * math.log10(2))


def test_psnr_is_the_mean_over_the_batch_of_per_image_values():
    target = torch.zeros(2, 1, 4, 4)
    prediction = target.clone()
    prediction[0] += 0.1  # 20 dB
    prediction[1] += 0.01  # 40 dB
    assert psnr(prediction, target) == pytest.approx(30.0)
    # not the PSNR of the pooled MSE
    pooled = 10 * math.log10(1 / float(((prediction - target) ** 2).mean()))
    assert psnr(prediction, target) != pytest.approx(pooled)


def test_psnr_is_infinite_when_one_image_of_the_batch_is_perfect():
    target = torch.zeros(2, 1, 4, 4)
    prediction = target.clone()
    prediction[1] += 0.1
    assert psnr(prediction, target) == math.inf


def test_psnr_accepts_numpy_arrays_and_returns_a_float():
    value = psnr(np.full((1, 4, 4), 0.6), np.full((1, 4, 4), 0.5))
    assert isinstance(value, float)
    assert value == pytest.approx(20.0)


def test_psnr_works_on_outputs_that_require_grad():
    prediction = torch.full((1, 1, 4, 4), 0.6, requires_grad=True)
    assert psnr(prediction, torch.full((1, 1, 4, 4), 0.5)) == pytest.approx(20.0)


def test_psnr_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"prediction and target must have the same shape, got \(2, 1, 8, 8\) and"):
        psnr(torch.zeros(2, 1, 8, 8), torch.zeros(2, 8, 8))


def test_psnr_rejects_a_single_flat_vector():
    with pytest.raises(ValueError, match="batch of images"):
        psnr(torch.zeros(16), torch.zeros(16))


@pytest.mark.parametrize("data_range", [0, -1.0, float("nan")])
def test_psnr_rejects_a_non_positive_data_range(data_range):
    with pytest.raises(ValueError, match="data_range must be positive"):
        psnr(torch.zeros(1, 4), torch.ones(1, 4), data_range=data_range)


# ------------------------------------------------------------------------------------------ confusion_matrix


def test_confusion_matrix_counts_true_rows_against_predicted_columns():
    from course_utils.metrics import confusion_matrix

    targets = torch.tensor([0, 0, 1, 2, 2, 2])
    preds = torch.tensor([0, 1, 1, 2, 0, 2])
    expected = torch.tensor([[1, 1, 0], [0, 1, 0], [1, 0, 2]])
    m = confusion_matrix(preds, targets, 3)
    assert m.dtype == torch.int64
    assert torch.equal(m, expected)
    assert m.sum() == len(targets) and m.trace() == 4


def test_confusion_matrix_equals_counting_the_pairs_one_by_one_and_keeps_classes_never_seen():
    from course_utils.metrics import confusion_matrix

    targets, preds = torch.randint(0, 4, (200,)), torch.randint(0, 4, (200,))
    preds[preds == 3] = 2  # class 3 is never predicted: its column must still be there, all zeros
    expected = torch.zeros(5, 5, dtype=torch.int64)
    for t, p in zip(targets.tolist(), preds.tolist()):
        expected[t, p] += 1
    m = confusion_matrix(preds, targets, 5)  # class 4 appears nowhere
    assert m.dtype == torch.int64 and torch.equal(m, expected)
    assert m[:, 3].sum() == 0 and m[4].sum() == 0 and m[:, 4].sum() == 0


def test_confusion_matrix_from_scores_uses_the_argmax_and_agrees_with_accuracy():
    from course_utils.metrics import confusion_matrix

    logits, targets = torch.randn(50, 4), torch.randint(0, 4, (50,))
    m = confusion_matrix(logits, targets, 4)
    assert torch.equal(m, confusion_matrix(logits.argmax(1), targets, 4))
    assert m.trace().item() / 50 == pytest.approx(accuracy(logits, targets))
    assert torch.equal(m.sum(1), torch.bincount(targets, minlength=4))


def test_confusion_matrix_rejects_labels_out_of_range_and_float_labels():
    from course_utils.metrics import confusion_matrix

    with pytest.raises(ValueError, match=r"expected 0\.\.2"):
        confusion_matrix(torch.tensor([0, 3]), torch.tensor([0, 1]), 3)
    with pytest.raises(TypeError, match=r"use .long\(\)"):
        confusion_matrix(torch.tensor([0.0, 1.0]), torch.tensor([0, 1]), 3)
    with pytest.raises(ValueError, match="scores for 5 classes but num_classes is 3"):
        confusion_matrix(torch.randn(2, 5), torch.tensor([0, 1]), 3)
    with pytest.raises(ValueError, match="2 predictions but targets hold 3"):
        confusion_matrix(torch.tensor([0, 1]), torch.tensor([0, 1, 2]), 3)


# ------------------------------------------------------------------------------------------ SSIM


def test_ssim_of_identical_images_is_one():
    from course_utils.metrics import ssim

    x = torch.rand(3, 1, 28, 28)
    assert ssim(x, x) == pytest.approx(1.0, abs=1e-12)


def test_ssim_falls_with_the_noise_level_and_is_symmetric():
    from course_utils.metrics import ssim

    torch.manual_seed(0)
    x = torch.rand(2, 1, 32, 32)
    scores = [ssim((x + std * torch.randn_like(x)).clamp(0, 1), x) for std in (0.05, 0.2, 0.5)]
    assert scores[0] > scores[1] > scores[2]
    y = (x + 0.1 * torch.randn_like(x)).clamp(0, 1)
    assert ssim(x, y) == pytest.approx(ssim(y, x), abs=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ssim_agrees_with_skimage_gaussian_window_version(seed):
    from skimage.data import camera
    from skimage.metrics import structural_similarity

    from course_utils.metrics import ssim

    rng = np.random.default_rng(seed)
    top, left = rng.integers(0, 400, size=2)
    clean = camera()[top : top + 64, left : left + 48].astype(np.float64) / 255
    noisy = np.clip(clean + rng.normal(0, 0.1 * (seed + 1), clean.shape), 0, 1)
    expected = structural_similarity(clean, noisy, data_range=1.0, gaussian_weights=True, sigma=1.5,
                                     use_sample_covariance=False)
    ours = ssim(torch.from_numpy(noisy)[None, None], torch.from_numpy(clean)[None, None])
    assert ours == pytest.approx(expected, abs=1e-6)


def test_ssim_of_rgb_images_averages_the_channels_like_skimage():
    from skimage.metrics import structural_similarity

    from course_utils.metrics import ssim

    rng = np.random.default_rng(3)
    a, b = rng.random((3, 20, 24)), rng.random((3, 20, 24))
    expected = structural_similarity(a, b, data_range=1.0, gaussian_weights=True, sigma=1.5,
                                     use_sample_covariance=False, channel_axis=0)
    assert ssim(torch.from_numpy(a)[None], torch.from_numpy(b)[None]) == pytest.approx(expected, abs=1e-6)


def test_ssim_rejects_bad_inputs_with_clear_messages():
    from course_utils.metrics import ssim

    x = torch.rand(1, 1, 28, 28)
    with pytest.raises(ValueError, match="same shape"):
        ssim(x, torch.rand(1, 1, 28, 27))
    with pytest.raises(ValueError, match=r"expected images of shape \(N, C, H, W\).*x\[None, None\]"):
        ssim(x[0, 0], x[0, 0])
    with pytest.raises(ValueError, match="does not fit in images of size 8x8"):
        ssim(torch.rand(1, 1, 8, 8), torch.rand(1, 1, 8, 8))
    with pytest.raises(ValueError, match="window_size must be odd"):
        ssim(x, x, window_size=10)
    with pytest.raises(ValueError, match="data_range must be positive"):
        ssim(x, x, data_range=0)
    with pytest.raises(TypeError, match="uint8"):
        ssim((x * 255).to(torch.uint8), (x * 255).to(torch.uint8))


# ------------------------------------------------------------------------------------------ roc_auc


def _roc_auc(scores, is_positive):
    from course_utils.metrics import roc_auc

    return roc_auc(scores, is_positive)


def test_roc_auc_of_a_perfect_a_reversed_and_a_tied_ranking():
    labels = torch.tensor([0, 0, 1, 1])
    assert _roc_auc(torch.tensor([0.1, 0.2, 0.8, 0.9]), labels) == 1.0
    assert _roc_auc(torch.tensor([0.9, 0.8, 0.2, 0.1]), labels) == 0.0
    assert _roc_auc(torch.ones(4), labels) == 0.5


def test_roc_auc_counts_pairs_and_ties_by_hand():
    # positives 0.8 and 0.4; negatives 0.5, 0.4, 0.1: pairs won 3 + 1, tied 1 (0.4 vs 0.4) -> (4 + 0.5) / 6
    scores = torch.tensor([0.8, 0.4, 0.5, 0.4, 0.1])
    labels = torch.tensor([True, True, False, False, False])
    assert _roc_auc(scores, labels) == pytest.approx(4.5 / 6)


def test_roc_auc_is_the_share_of_positive_negative_pairs_ranked_right_on_random_scores():
    """The definition, counted pair by pair (roc_auc itself calls scikit-learn, so that is no reference here)."""
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 300)
    scores = np.round(rng.normal(size=300) + labels, 1)  # shifted, with many ties
    pos, neg = scores[labels == 1][:, None], scores[labels == 0][None, :]
    by_pairs = ((pos > neg).sum() + 0.5 * (pos == neg).sum()) / (pos.size * neg.size)
    assert (pos == neg).sum() > 100, "the case should hold ties"
    assert _roc_auc(scores, labels) == pytest.approx(by_pairs, abs=1e-12)


@pytest.mark.parametrize(
    ("scores", "labels", "message"),
    [
        (torch.rand(4), torch.ones(4), "needs both classes"),
        (torch.rand(4), torch.tensor([0, 1, 2, 1]), "booleans or 0/1"),
        (torch.rand(4), torch.tensor([0, 1, 1]), "scores hold 4 values but is_positive holds 3"),
        (torch.rand(4, 2), torch.tensor([0, 1, 1, 0]), r"1-D scores .* \(4, 2\)"),
        (torch.tensor([0.1, float("nan"), 0.3]), torch.tensor([0, 1, 1]), "NaN"),
    ],
)
def test_roc_auc_rejects_bad_input_with_a_clear_message(scores, labels, message):
    with pytest.raises(ValueError, match=message):
        _roc_auc(scores, labels)
