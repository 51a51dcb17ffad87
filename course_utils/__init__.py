"""Helpers for the course "Convolution, CNNs and autoencoders" -- plumbing only, the lessons live in the notebooks.

Modules: ``runtime`` (fast/full mode, seeds, device), ``data`` (MNIST and bundled photos, in-memory batches),
``train`` (fit/evaluate loop with progress bars), ``plot`` (image grids, kernels, feature maps, curves),
``metrics`` (accuracy, PSNR, SSIM, ROC AUC; no homework answers: HW2 asks students to write IoU and Dice),
``widgets`` (interactive figures), ``checks`` (input validation),
``colab`` (repository address and the notebooks' setup cell).
"""

from .data import ImageData, TensorLoader, list_photos, load_mnist, load_photo
from .metrics import accuracy, psnr
from .runtime import by_mode, get_device, in_colab, is_fast_mode, mode_line, seed_everything
from .train import History, evaluate, fit, predict, progress

__version__ = "0.1.0"

__all__ = [
    "History",
    "ImageData",
    "TensorLoader",
    "accuracy",
    "by_mode",
    "evaluate",
    "fit",
    "get_device",
    "in_colab",
    "is_fast_mode",
    "list_photos",
    "load_mnist",
    "load_photo",
    "mode_line",
    "predict",
    "progress",
    "psnr",
    "seed_everything",
]
