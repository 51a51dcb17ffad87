"""Metrics shared by the lectures: accuracy, PSNR, SSIM, ROC AUC and the confusion matrix.

No IoU or Dice: HW2 asks students to write them. Where the lesson is not the arithmetic (ROC AUC, the confusion
matrix), the numbers come from scikit-learn and this module adds the checks whose messages say what to fix.
"""

from __future__ import annotations

import torch

from .checks import as_tensor, check_positive_int, check_same_shape


def _predicted_labels(outputs, targets, num_classes: int | None = None):
    """(predicted labels (N,), targets (N,)) from class scores (N, K) or labels (N,), with teaching errors."""
    outputs, targets = as_tensor(outputs, "outputs"), as_tensor(targets, "targets")
    if targets.ndim != 1:
        raise ValueError(f"targets: expected class labels of shape (N,), got {tuple(targets.shape)}")
    if outputs.ndim == 2:
        if num_classes is not None and outputs.shape[1] != num_classes:
            raise ValueError(f"outputs hold scores for {outputs.shape[1]} classes but num_classes is {num_classes}")
        preds = outputs.argmax(dim=1)
    elif outputs.ndim == 1:
        preds = outputs
    else:
        raise ValueError(
            f"outputs: expected scores of shape (N, K) or labels of shape (N,), got {tuple(outputs.shape)}"
        )
    if len(preds) != len(targets):
        raise ValueError(f"outputs hold {len(preds)} predictions but targets hold {len(targets)} labels")
    return preds, targets


def accuracy(outputs, targets) -> float:
    """Fraction of correct predictions.

    ``outputs`` are either class scores (logits or probabilities) of shape (N, K), whose argmax is the
    prediction, or predicted labels of shape (N,). ``targets`` are labels of shape (N,).
    """
    preds, targets = _predicted_labels(outputs, targets)
    if len(targets) == 0:
        raise ValueError("accuracy of zero examples is undefined: the inputs are empty")
    return (preds.cpu() == targets.cpu()).float().mean().item()


def psnr(prediction, target, data_range: float = 1.0) -> float:
    """Peak signal-to-noise ratio in dB, averaged over the images of a batch.

    ``PSNR = 10 log10(data_range^2 / MSE)`` per image (the first dimension indexes images), then the mean.
    Identical images give ``inf``. Both inputs must have the same shape, e.g. (N, C, H, W).
    """
    prediction, target = as_tensor(prediction, "prediction"), as_tensor(target, "target")
    check_same_shape(prediction, target)
    if prediction.ndim < 2:
        raise ValueError(f"expected a batch of images such as (N, C, H, W), got shape {tuple(prediction.shape)}")
    if not data_range > 0:
        raise ValueError(f"data_range must be positive (1.0 for images in [0, 1], 255 for uint8), got {data_range}")
    diff = prediction.double() - target.double()
    mse = diff.flatten(1).pow(2).mean(dim=1)
    with torch.no_grad():
        values = 10 * torch.log10(data_range**2 / mse)  # inf where mse == 0
    return float(values.mean())


def ssim(prediction, target, data_range: float = 1.0, sigma: float = 1.5, window_size: int = 11) -> float:
    """Structural similarity (Wang et al. 2004) with a Gaussian window, averaged over the images of a batch.

    Local means, variances and covariance are taken under a normalised ``window_size`` x ``window_size``
    Gaussian window of standard deviation ``sigma`` (the paper's 11 x 11, sigma = 1.5), at every position where
    the window fits inside the image, with ``C1 = (0.01 L)^2`` and ``C2 = (0.03 L)^2`` for ``L = data_range``:

    ``SSIM = (2 mu_x mu_y + C1)(2 sigma_xy + C2) / ((mu_x^2 + mu_y^2 + C1)(sigma_x^2 + sigma_y^2 + C2))``.

    The map is averaged over positions and channels of each image, then over the batch. Identical images give 1;
    it agrees with ``skimage.metrics.structural_similarity(..., gaussian_weights=True, sigma=1.5,
    use_sample_covariance=False, data_range=L)``. Inputs: images of shape (N, C, H, W) with H, W >= window_size.
    """
    from .checks import as_image_batch

    prediction = as_image_batch(prediction, "prediction")
    target = as_image_batch(target, "target")
    check_same_shape(prediction, target)
    if not data_range > 0:
        raise ValueError(f"data_range must be positive (1.0 for images in [0, 1], 255 for uint8), got {data_range}")
    if not sigma > 0:
        raise ValueError(f"sigma (the Gaussian window's standard deviation) must be positive, got {sigma}")
    check_positive_int(window_size, "window_size")
    if window_size % 2 == 0:
        raise ValueError(f"window_size must be odd so that the window has a centre, got {window_size}")
    height, width = prediction.shape[-2:]
    if min(height, width) < window_size:
        raise ValueError(
            f"the {window_size}x{window_size} SSIM window does not fit in images of size {height}x{width}: "
            "pass a smaller odd window_size (and sigma), or use larger images"
        )
    x, y = prediction.double(), target.double()
    t = torch.arange(window_size, dtype=torch.float64, device=x.device) - (window_size - 1) / 2
    g = torch.exp(-(t**2) / (2 * sigma**2))
    g = g / g.sum()

    def window_matrix(n):  # (n, n - window_size + 1): column j holds the window at valid position j
        m = torch.zeros(n, n - window_size + 1, dtype=torch.float64, device=x.device)
        for j in range(m.shape[1]):
            m[j : j + window_size, j] = g
        return m

    rows, cols = window_matrix(height), window_matrix(width)

    def local_mean(z):  # the separable Gaussian window at every valid position, as two matrix products
        return rows.T @ z @ cols  # (much faster on a CPU than a convolution with one channel)

    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    mu_x, mu_y = local_mean(x), local_mean(y)
    var_x = local_mean(x * x) - mu_x**2
    var_y = local_mean(y * y) - mu_y**2
    cov_xy = local_mean(x * y) - mu_x * mu_y
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * cov_xy + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
    return float(ssim_map.flatten(1).mean(dim=1).mean())


def roc_auc(scores, is_positive) -> float:
    """Area under the ROC curve: the probability that a random positive scores higher than a random negative.

    ``scores`` of shape (N,): higher means "more likely positive" (e.g. a reconstruction error, when the
    positives are outliers). ``is_positive`` of shape (N,): booleans or 0/1 labels. Ties count one half, so
    1.0 is a perfect ranking, 0.5 a random one and 0.0 a perfectly reversed one. It needs no threshold. The
    inputs are checked here (with messages that say what to fix); the area is scikit-learn's ``roc_auc_score``.
    """
    scores, is_positive = as_tensor(scores, "scores"), as_tensor(is_positive, "is_positive")
    if scores.ndim != 1 or is_positive.ndim != 1:
        raise ValueError(
            f"expected 1-D scores and labels of shape (N,), got {tuple(scores.shape)} and "
            f"{tuple(is_positive.shape)}: flatten them with .flatten() or pick one score per example"
        )
    if len(scores) != len(is_positive):
        raise ValueError(f"scores hold {len(scores)} values but is_positive holds {len(is_positive)} labels")
    labels = is_positive.detach().cpu().double()
    if not bool(((labels == 0) | (labels == 1)).all()):
        raise ValueError("is_positive must hold booleans or 0/1 labels, e.g. (labels == outlier_class)")
    n_pos = int(labels.sum())
    n_neg = len(labels) - n_pos
    if n_pos == 0 or n_neg == 0:
        raise ValueError(
            f"ROC AUC needs both classes, got {n_pos} positives and {n_neg} negatives: "
            "score a set that mixes normal examples and outliers"
        )
    from sklearn.metrics import roc_auc_score

    s = scores.detach().cpu().double()
    if not bool(torch.isfinite(s).all()):
        raise ValueError("scores contain NaN or infinity: check the computation that produced them")
    return float(roc_auc_score(labels.numpy(), s.numpy()))


def confusion_matrix(outputs, targets, num_classes: int) -> torch.Tensor:
    """Counts of (true class, predicted class) pairs: an int64 matrix of shape (num_classes, num_classes).

    Row ``i`` holds the examples whose true class is ``i``, column ``j`` those predicted as ``j``, so the diagonal
    counts the correct predictions and ``matrix.sum()`` is the number of examples. ``outputs`` are class scores
    of shape (N, K), whose argmax is the prediction, or predicted labels of shape (N,); ``targets`` are labels
    of shape (N,). The inputs are checked here; the counting is scikit-learn's ``confusion_matrix``.
    """
    check_positive_int(num_classes, "num_classes")
    preds, targets = _predicted_labels(outputs, targets, num_classes)
    for name, t in (("predictions", preds), ("targets", targets)):
        if torch.is_floating_point(t):
            raise TypeError(f"{name} must be integer class labels, got dtype {t.dtype}: use .long()")
        if t.numel() and (int(t.min()) < 0 or int(t.max()) >= num_classes):
            raise ValueError(
                f"{name} hold labels in [{int(t.min())}, {int(t.max())}], expected 0..{num_classes - 1}"
            )
    from sklearn.metrics import confusion_matrix as sklearn_confusion_matrix

    counts = sklearn_confusion_matrix(targets.cpu().numpy(), preds.cpu().numpy(), labels=list(range(num_classes)))
    return torch.from_numpy(counts).long()
