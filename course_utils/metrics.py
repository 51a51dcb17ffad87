"""Metrics shared by the lectures: accuracy, PSNR, and per-class IoU / Dice for segmentation."""

from __future__ import annotations

import math

import torch

from .checks import as_tensor, check_positive_int, check_same_shape


def accuracy(outputs, targets) -> float:
    """Fraction of correct predictions.

    ``outputs`` are either class scores (logits or probabilities) of shape (N, K), whose argmax is the
    prediction, or predicted labels of shape (N,). ``targets`` are labels of shape (N,).
    """
    outputs, targets = as_tensor(outputs, "outputs"), as_tensor(targets, "targets")
    if targets.ndim != 1:
        raise ValueError(f"targets: expected class labels of shape (N,), got {tuple(targets.shape)}")
    if outputs.ndim == 2:
        preds = outputs.argmax(dim=1)
    elif outputs.ndim == 1:
        preds = outputs
    else:
        raise ValueError(
            f"outputs: expected scores of shape (N, K) or labels of shape (N,), got {tuple(outputs.shape)}"
        )
    if len(preds) != len(targets):
        raise ValueError(f"outputs hold {len(preds)} predictions but targets hold {len(targets)} labels")
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


def _check_label_maps(pred, target, num_classes):
    pred, target = as_tensor(pred, "pred"), as_tensor(target, "target")
    check_positive_int(num_classes, "num_classes")
    if pred.ndim == target.ndim + 1 and pred.shape[1] == num_classes:
        raise ValueError(
            f"pred has shape {tuple(pred.shape)}: it looks like class scores; "
            "pass label maps instead, e.g. pred.argmax(dim=1)"
        )
    check_same_shape(pred, target, ("pred", "target"))
    for name, t in (("pred", pred), ("target", target)):
        if torch.is_floating_point(t):
            raise TypeError(f"{name} must hold integer class labels, got dtype {t.dtype}: use .long()")
        if t.numel() and (int(t.min()) < 0 or int(t.max()) >= num_classes):
            raise ValueError(
                f"{name} holds labels in [{int(t.min())}, {int(t.max())}], expected 0..{num_classes - 1}"
            )
    return pred, target


def iou_per_class(pred, target, num_classes: int) -> torch.Tensor:
    """Intersection over union of each class, shape (num_classes,), from label maps of the same shape.

    ``IoU_c = |pred == c and target == c| / |pred == c or target == c|``; a class absent from both gets NaN
    (there is nothing to get right or wrong), which :func:`mean_iou` skips.
    """
    pred, target = _check_label_maps(pred, target, num_classes)
    ious = torch.empty(num_classes, dtype=torch.float64)
    for c in range(num_classes):
        p, t = pred == c, target == c
        union = int((p | t).sum())
        ious[c] = int((p & t).sum()) / union if union else math.nan
    return ious


def dice_per_class(pred, target, num_classes: int) -> torch.Tensor:
    """Dice coefficient ``2|P and T| / (|P| + |T|)`` of each class, shape (num_classes,); NaN for absent classes."""
    pred, target = _check_label_maps(pred, target, num_classes)
    dice = torch.empty(num_classes, dtype=torch.float64)
    for c in range(num_classes):
        p, t = pred == c, target == c
        size = int(p.sum()) + int(t.sum())
        dice[c] = 2 * int((p & t).sum()) / size if size else math.nan
    return dice


def mean_iou(pred, target, num_classes: int) -> float:
    """Mean of :func:`iou_per_class` over the classes that occur in ``pred`` or ``target``."""
    return float(torch.nanmean(iou_per_class(pred, target, num_classes)))
