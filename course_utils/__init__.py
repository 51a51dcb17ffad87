"""Helpers for the course "Convolution, CNNs and autoencoders" -- plumbing only, the lessons live in the notebooks.

Modules, one job each:

* ``runtime``: fast/full mode, seeds, device.
* ``data``: MNIST and the bundled photos, in-memory batches.
* ``train``: the fit/evaluate loop with progress bars.
* ``augment``: random shifts, rotations and elastic distortions of digits, and a loader that applies them (02b).
* ``schedules``: step, cosine and one-cycle learning rates as formulas, and a learning-rate range test (02b).
* ``plot``: image grids, kernels, feature maps, learning curves, scatters and confusion matrices.
* ``metrics``: accuracy, PSNR, SSIM, ROC AUC (no homework answers: HW2 asks students to write IoU and Dice).
* ``widgets``: interactive figures.
* ``checks``: input validation with messages that teach.
* ``colab``: the repository address and the notebooks' setup cell.
* ``checkpoints``: committed files in ``assets/``: find, save and load trained checkpoints (lectures 06, 07, 08).
* ``generative``: judging generated digits (the judge network, class histogram, Fréchet distance; 06, 07, 08).
* ``segmentation``: HW2's synthetic shapes data set and how to show a segmentation.
* ``homework``: where the homework's public self-checks live (``homework_tests/<hw>/``, generated, not edited).
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
