"""A synthetic segmentation data set for HW2: shapes that differ by form, not by brightness.

Each 1-channel image holds one to three objects on a shaded background: a **disk**, a **square** or a
**triangle** (rotated at random, of similar area), each with a random brightness drawn from the same range,
then blurred and covered in noise. The mask gives every pixel its class: 0 background, 1 disk, 2 square,
3 triangle. So a model has to use shape (edges, corners), not intensity, to tell the classes apart.

:func:`load_shapes` gives fixed, seeded train / validation / test splits; :func:`make_shapes` any number.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import numpy as np
import torch
from scipy.ndimage import gaussian_filter

from .checks import as_tensor, check_choice, check_positive_int
from .runtime import by_mode

CLASS_NAMES = ("background", "disk", "square", "triangle")
SPLIT_SEEDS = {"train": 1, "val": 2, "test": 3}
SPLIT_SIZES = {"full": {"train": 2000, "val": 200, "test": 200}, "fast": {"train": 1200, "val": 64, "test": 100}}


class SegmentationData(NamedTuple):
    images: torch.Tensor  # (N, 1, H, W) float32 in [0, 1]
    masks: torch.Tensor  # (N, H, W) int64 in 0..3


def _shape_mask(kind: int, x: np.ndarray, y: np.ndarray, cx, cy, r, angle) -> np.ndarray:
    dx, dy = x - cx, y - cy
    if kind == 1:  # disk of radius r
        return dx**2 + dy**2 <= r**2
    c, s = math.cos(angle), math.sin(angle)
    u, v = c * dx + s * dy, -s * dx + c * dy  # coordinates in the shape's own frame
    if kind == 2:  # square with the disk's area
        half = r * math.sqrt(math.pi) / 2
        return (np.abs(u) <= half) & (np.abs(v) <= half)
    # equilateral triangle with the disk's area: inside all three edges at distance R/2 from the centre
    R = r * math.sqrt(4 * math.pi / (3 * math.sqrt(3)))
    inside = np.ones_like(x, dtype=bool)
    for k in range(3):
        a = 2 * math.pi * k / 3
        inside &= (math.cos(a) * u + math.sin(a) * v) <= R / 2
    return inside


def make_shapes(n: int, size: int = 64, seed: int = 0, noise_std: float = 0.08) -> SegmentationData:
    """Generate ``n`` images of shape (1, size, size) and their masks, deterministically from ``seed``."""
    check_positive_int(n, "n")
    check_positive_int(size, "size")
    if size < 32:
        raise ValueError(f"size must be at least 32 pixels so that the shapes fit, got {size}")
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    images = np.empty((n, 1, size, size), dtype=np.float32)
    masks = np.zeros((n, size, size), dtype=np.int64)
    for i in range(n):
        direction = rng.uniform(0, 2 * math.pi)
        ramp = (math.cos(direction) * x + math.sin(direction) * y) / size
        clean = 0.25 + 0.1 * ramp
        mask = np.zeros((size, size), dtype=np.int64)
        placed: list[tuple[float, float, float]] = []
        for _ in range(rng.integers(1, 4)):
            r = rng.uniform(0.11, 0.2) * size
            for _attempt in range(30):  # find a place that does not overlap earlier objects
                cx, cy = rng.uniform(r + 1, size - r - 1, size=2)
                if all(math.hypot(cx - px, cy - py) > 1.6 * (r + pr) for px, py, pr in placed):
                    break
            else:
                continue
            placed.append((cx, cy, r))
            kind = int(rng.integers(1, 4))
            inside = _shape_mask(kind, x, y, cx, cy, r, rng.uniform(0, 2 * math.pi))
            clean = np.where(inside, rng.uniform(0.55, 0.85), clean)
            mask[inside] = kind
        blurred = gaussian_filter(clean, sigma=1.0)
        images[i, 0] = np.clip(blurred + rng.normal(0, noise_std, blurred.shape), 0, 1)
        masks[i] = mask
    return SegmentationData(torch.from_numpy(images), torch.from_numpy(masks))


@functools.lru_cache(maxsize=8)
def _cached_split(split: str, n: int) -> SegmentationData:
    return make_shapes(n, seed=SPLIT_SEEDS[split])


def load_shapes(split: str = "train", verbose: bool = True) -> SegmentationData:
    """The fixed ``"train"``, ``"val"`` or ``"test"`` split of the shapes data set (64x64 images).

    Full mode: 2,000 / 200 / 200 images; fast mode (``COURSE_FAST=1``): 1,200 / 64 / 100. Each split has its
    own seed, so the splits never share an image. Prints one line saying what was loaded."""
    check_choice(split, tuple(SPLIT_SEEDS), "split")
    n = by_mode(full=SPLIT_SIZES["full"], fast=SPLIT_SIZES["fast"])[split]
    data = _cached_split(split, n)
    if verbose:
        print(f"Data: synthetic shapes (generated, seed {SPLIT_SEEDS[split]}); {split} split: {n:,} images "
              f"of shape (1, 64, 64) with masks of classes {', '.join(CLASS_NAMES)}")
    return SegmentationData(data.images.clone(), data.masks.clone())


def show_segmentation(images, masks, predictions=None, *, title: str = "Images and masks", n: int = 6):
    """Draw images with their true masks (and predicted masks, if given) in rows; one colour per class."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    images, masks = as_tensor(images, "images"), as_tensor(masks, "masks")
    if images.ndim != 4 or images.shape[1] != 1:
        raise ValueError(f"images: expected shape (N, 1, H, W), got {tuple(images.shape)}")
    if masks.shape != images[:, 0].shape:
        raise ValueError(f"masks: expected shape {tuple(images[:, 0].shape)} (N, H, W), got {tuple(masks.shape)}")
    rows = [("image", images[:, 0]), ("true mask", masks)]
    if predictions is not None:
        predictions = as_tensor(predictions, "predictions")
        if predictions.shape != masks.shape:
            hint = ": use logits.argmax(dim=1)" if predictions.ndim == 4 else ""
            raise ValueError(f"predictions: expected shape {tuple(masks.shape)}, got {tuple(predictions.shape)}{hint}")
        rows.append(("predicted", predictions))
    n = min(n, len(images))
    colours = ListedColormap(["#202020", "#1f77b4", "#ff7f0e", "#2ca02c"])
    fig, axes = plt.subplots(len(rows), n, figsize=(1.8 * n, 1.9 * len(rows) + 0.6), squeeze=False)
    for r, (label, data) in enumerate(rows):
        for c in range(n):
            ax = axes[r, c]
            if label == "image":
                ax.imshow(data[c].detach().cpu().numpy(), cmap="gray", vmin=0, vmax=1)
            else:
                ax.imshow(data[c].detach().cpu().numpy(), cmap=colours, vmin=-0.5, vmax=3.5, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r, 0].set_ylabel(label)
    fig.legend(handles=[Patch(color=colours(i), label=name) for i, name in enumerate(CLASS_NAMES)],
               loc="lower center", ncol=4, frameon=False)
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return fig
