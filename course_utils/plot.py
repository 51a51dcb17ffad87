"""Figures used across the lectures, with one colour convention.

* Images (intensities in [0, 1]) use ``IMAGE_CMAP`` (gray).
* Signed quantities (kernels, filter responses, gradients, errors) use ``SIGNED_CMAP`` (red = positive,
  blue = negative) with limits symmetric around zero, so that white always means 0.
* Non-negative quantities (feature maps after a ReLU) use the sequential ``NONNEGATIVE_CMAP`` from 0 (white)
  to the largest value (dark red).
* Panels meant to be compared share one colour scale and one colour bar (``shared_scale=True``).

Every function returns the matplotlib ``Figure`` so that a notebook can save or adjust it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np

from .checks import as_tensor, check_positive_int

IMAGE_CMAP = "gray"
SIGNED_CMAP = "RdBu_r"
NONNEGATIVE_CMAP = "Reds"


def _to_numpy_images(images, name: str) -> list[np.ndarray]:
    """Accept (N, C, H, W), (N, H, W), (H, W), (C, H, W) tensors/arrays or a list of images; return HxW(x3) arrays."""
    if isinstance(images, (list, tuple)):
        out = []
        for i, img in enumerate(images):
            out.extend(_to_numpy_images(as_tensor(img, f"{name}[{i}]")[None], name))
        return out
    x = as_tensor(images, name).detach().cpu().float()
    if x.ndim == 2:
        x = x[None, None]
    elif x.ndim == 3:
        # (C, H, W) with C in {1, 3} is one image; otherwise a batch of (H, W) images.
        x = x[None] if x.shape[0] in (1, 3) and x.shape[-1] > 3 else x[:, None]
    if x.ndim != 4 or x.shape[1] not in (1, 3):
        raise ValueError(
            f"{name}: expected images of shape (N, 1, H, W), (N, 3, H, W), (N, H, W) or (H, W), "
            f"got {tuple(as_tensor(images, name).shape)}"
        )
    return [img[0].numpy() if img.shape[0] == 1 else img.permute(1, 2, 0).clamp(0, 1).numpy() for img in x]


def _grid(n: int, ncols: int | None, size: float):
    check_positive_int(n, "number of images")
    ncols = min(n, ncols or 8)
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, (size + 0.3) * nrows + 0.4), squeeze=False)
    for ax in axes.flat[n:]:
        ax.axis("off")
    return fig, axes.flat


def _shared_colorbar(fig, im, label: str | None = None) -> None:
    """One colour bar at the right edge of the figure, for panels drawn on one scale (after tight_layout)."""
    fig.tight_layout(rect=(0, 0, 0.9, 1))
    cax = fig.add_axes((0.915, 0.15, 0.02, 0.65))
    bar = fig.colorbar(im, cax=cax)
    if label:
        bar.set_label(label, fontsize=10)


def show_images(
    images,
    titles: Sequence[str] | None = None,
    *,
    title: str | None = None,
    ncols: int | None = None,
    size: float = 1.6,
    cmap: str | None = None,
    vmin: float | None = 0.0,
    vmax: float | None = 1.0,
    signed: bool = False,
    shared_scale: bool = False,
):
    """Show images in a grid. ``signed=True`` draws signed data (differences, filter responses) in ``SIGNED_CMAP``
    with symmetric limits; otherwise grayscale images are drawn in ``IMAGE_CMAP`` with limits ``vmin``..``vmax``
    (pass ``vmin=None, vmax=None`` to stretch each image's own range).

    ``shared_scale=True`` draws every panel on one colour scale (for signed data: plus or minus the largest
    absolute value of all panels; otherwise ``vmin``..``vmax``, or the range of all panels where those are None)
    and adds one colour bar for the whole figure: use it for panels meant to be compared."""
    arrays = _to_numpy_images(images, "images")
    if titles is not None and len(titles) != len(arrays):
        raise ValueError(f"got {len(titles)} titles for {len(arrays)} images: give one title per image")
    fig, axes = _grid(len(arrays), ncols, size)
    if shared_scale:
        if signed:
            lim = max(float(np.abs(a).max()) for a in arrays) or 1.0
            vmin, vmax = -lim, lim
        else:
            vmin = min(float(a.min()) for a in arrays) if vmin is None else vmin
            vmax = max(float(a.max()) for a in arrays) if vmax is None else vmax
    for i, (ax, arr) in enumerate(zip(axes, arrays)):
        if signed and not shared_scale:
            lim = float(np.abs(arr).max()) or 1.0
            im = ax.imshow(arr, cmap=cmap or SIGNED_CMAP, vmin=-lim, vmax=lim)
        else:
            im = ax.imshow(arr, cmap=cmap or (SIGNED_CMAP if signed else IMAGE_CMAP), vmin=vmin, vmax=vmax)
        if signed and not shared_scale and len(arrays) <= 4:
            fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
        ax.set_xticks([])
        ax.set_yticks([])
        if titles is not None:
            ax.set_title(titles[i], fontsize=10)
    if title:
        fig.suptitle(title)
    if shared_scale:
        _shared_colorbar(fig, im)
    else:
        fig.tight_layout()
    return fig


def show_kernels(weight, *, title: str = "Kernels", ncols: int | None = None, size: float = 1.2):
    """Show convolution kernels of shape (out_channels, in_channels, kH, kW) (or (kH, kW), or (K, kH, kW)).

    Each kernel of the first input channel is drawn in ``SIGNED_CMAP`` with one shared symmetric scale and one
    colour bar, so that kernels can be compared with each other; white is zero."""
    w = as_tensor(weight, "weight").detach().cpu().float()
    if w.ndim == 2:
        w = w[None, None]
    elif w.ndim == 3:
        w = w[:, None]
    if w.ndim != 4:
        raise ValueError(f"weight: expected shape (out_channels, in_channels, kH, kW), got {tuple(w.shape)}")
    kernels = w[:, 0]
    check_positive_int(len(kernels), "number of kernels")
    lim = float(kernels.abs().max()) or 1.0
    fig, axes = _grid(len(kernels), ncols, size)
    for i, (ax, k) in enumerate(zip(axes, kernels)):
        im = ax.imshow(k.numpy(), cmap=SIGNED_CMAP, vmin=-lim, vmax=lim)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"{i}", fontsize=10)
    fig.suptitle(f"{title} (red > 0, blue < 0, one shared scale)")
    _shared_colorbar(fig, im)
    return fig


def show_feature_maps(maps, *, title: str = "Feature maps", ncols: int | None = None, size: float = 1.4):
    """Show the channels of one feature map of shape (C, H, W) or (1, C, H, W) on one shared scale with a colour bar.

    Non-negative maps (after a ReLU) are drawn in the sequential ``NONNEGATIVE_CMAP`` from 0 (white) to the largest
    value; maps with negative values in ``SIGNED_CMAP`` with symmetric limits."""
    m = as_tensor(maps, "maps").detach().cpu().float()
    if m.ndim == 4 and m.shape[0] == 1:
        m = m[0]
    if m.ndim != 3:
        raise ValueError(
            f"maps: expected one feature map of shape (C, H, W) or (1, C, H, W), got {tuple(m.shape)}; "
            "for a batch, pick one example with maps[i]"
        )
    titles = [f"channel {i}" for i in range(len(m))]
    if (m >= 0).all():
        return show_images(list(m), titles, title=title, ncols=ncols, size=size, cmap=NONNEGATIVE_CMAP, vmin=0.0,
                           vmax=float(m.max()) or 1.0, shared_scale=True)
    return show_images(list(m), titles, title=title, ncols=ncols, size=size, signed=True, shared_scale=True)


def show_matrices(matrices, titles: Sequence[str], *, title: str | None = None, fmt: str = "{:g}", size=2.2):
    """Draw small matrices side by side as heat maps with their values written in the cells (worked examples)."""
    arrays = [as_tensor(m, f"matrices[{i}]").detach().cpu().double().numpy() for i, m in enumerate(matrices)]
    if len(titles) != len(arrays):
        raise ValueError(f"got {len(titles)} titles for {len(arrays)} matrices: give one title per matrix")
    for i, a in enumerate(arrays):
        if a.ndim != 2:
            raise ValueError(f"matrices[{i}]: expected a 2-D matrix, got shape {a.shape}")
    fig, axes = plt.subplots(1, len(arrays), figsize=(size * len(arrays), size + 0.3), squeeze=False)
    for ax, a, t in zip(axes.flat, arrays, titles):
        lim = float(np.abs(a).max()) or 1.0
        ax.imshow(a, cmap=SIGNED_CMAP, vmin=-lim, vmax=lim)
        for (r, c), v in np.ndenumerate(a):
            colour = "white" if abs(v) > 0.6 * lim else "black"  # stay readable on dark cells
            ax.text(c, r, fmt.format(v), ha="center", va="center", fontsize=10, color=colour)
        ax.set_xticks(range(a.shape[1]))
        ax.set_yticks(range(a.shape[0]))
        ax.set_title(t)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_history(history, keys: Sequence[str] | None = None, *, title: str = "Learning curves", logy=False):
    """Plot per-epoch values from :func:`course_utils.train.fit`'s history (losses on one axis, metrics on another)."""
    if not isinstance(history, dict) or not history:
        raise TypeError("history must be the non-empty dict returned by fit(), e.g. history = fit(...)")
    keys = list(keys) if keys is not None else [k for k in history if k != "epoch_time_s"]
    missing = [k for k in keys if k not in history]
    if missing:
        raise KeyError(f"history has no {missing}; available: {sorted(history)}")
    losses = [k for k in keys if k.endswith("loss")]
    others = [k for k in keys if k not in losses]
    ncols = 1 + bool(others) if losses else 1
    fig, axes = plt.subplots(1, ncols, figsize=(5 * ncols, 3.4), squeeze=False)
    groups = [g for g in (losses, others) if g]
    for ax, group in zip(axes.flat, groups):
        for k in group:
            values = history[k]
            ax.plot(range(1, len(values) + 1), values, marker="o", label=k.replace("_", " "))
        ax.set_xlabel("epoch")
        names = {k.removeprefix("train_").removeprefix("val_").replace("_", " ") for k in group}
        ax.set_ylabel("loss" if group is losses else names.pop() if len(names) == 1 else "metric")
        if logy and group is losses:
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def scatter_by_class(points, labels, *, title: str, xlabel: str, ylabel: str, ax=None,
                     class_names: Sequence[str] | None = None, point_size: float = 4.0, alpha: float = 0.6):
    """Scatter 2-D points (e.g. codes of shape (N, 2)) coloured by their integer class labels of shape (N,).

    One colour per class (``tab10``, so digit 3 has the same colour in every figure of the course) and a legend.
    Draws into ``ax`` if given (to put several scatters side by side), else into a new figure; returns the Figure.
    """
    p = as_tensor(points, "points").detach().cpu().double()
    y = as_tensor(labels, "labels").detach().cpu()
    if p.ndim != 2 or p.shape[1] != 2:
        raise ValueError(
            f"points: expected shape (N, 2), got {tuple(p.shape)}: pass two coordinates per point, "
            "e.g. codes[:, :2]"
        )
    if y.ndim != 1 or len(y) != len(p):
        raise ValueError(f"labels: expected shape ({len(p)},), one label per point, got {tuple(y.shape)}")
    if y.is_floating_point():
        raise TypeError(f"labels must be integer class labels, got dtype {y.dtype}: use .long()")
    check_positive_int(len(p), "number of points")
    if not point_size > 0:
        raise ValueError(f"point_size (marker area in points^2) must be positive, got {point_size}")
    classes = sorted(int(c) for c in y.unique())
    if class_names is not None and len(class_names) <= max(classes):
        raise ValueError(f"got {len(class_names)} class names but the labels go up to {max(classes)}")
    if ax is None:
        fig, ax = plt.subplots(figsize=(5.2, 4.4))
    else:
        fig = ax.figure
    cmap = plt.get_cmap("tab10" if max(classes) < 10 else "tab20")
    for c in classes:
        sel = (y == c).numpy()
        name = str(c) if class_names is None else str(class_names[c])
        ax.scatter(p[sel, 0].numpy(), p[sel, 1].numpy(), s=point_size, alpha=alpha, color=cmap(c % cmap.N),
                   label=name)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.legend(markerscale=max(1.0, 6 / point_size**0.5), fontsize=10, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.tight_layout()
    return fig


def plot_confusion_matrix(matrix, class_names: Sequence[str] | None = None, *, title: str = "Confusion matrix",
                          size: float = 4.6):
    """Draw a confusion matrix of shape (K, K) (rows: true class, columns: predicted class) with its counts.

    Pass the counts from :func:`course_utils.metrics.confusion_matrix`. Cells are shaded by their share of the
    row (the true class), so that the errors of a small class stand out as much as those of a large one; the
    diagonal (correct predictions) is outlined by its dark shade and the numbers are written in every cell."""
    m = as_tensor(matrix, "matrix").detach().cpu()
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise ValueError(f"matrix: expected a square (K, K) matrix of counts, got shape {tuple(m.shape)}")
    check_positive_int(m.shape[0], "number of classes")
    k = m.shape[0]
    names = [str(i) for i in range(k)] if class_names is None else [str(c) for c in class_names]
    if len(names) != k:
        raise ValueError(f"got {len(names)} class names for a {k}x{k} matrix: give one name per class")
    counts = m.double().numpy()
    rows = counts.sum(axis=1, keepdims=True)
    share = np.divide(counts, rows, out=np.zeros_like(counts), where=rows > 0)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    for (r, c), v in np.ndenumerate(counts):
        if v:
            ax.text(c, r, f"{v:g}", ha="center", va="center", fontsize=10,
                    color="white" if share[r, c] > 0.6 else "black")
    ax.set_xticks(range(k), names)
    ax.set_yticks(range(k), names)
    ax.set(title=title, xlabel="predicted class", ylabel="true class")
    fig.tight_layout()
    return fig
