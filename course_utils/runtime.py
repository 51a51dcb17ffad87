"""Where the notebook runs: fast/full mode, seeding, device choice and Colab detection.

The course has exactly one switch, the environment variable ``COURSE_FAST``:

* unset or ``0`` -- **full mode**, what students run: all the data, all the epochs;
* ``1`` -- **fast mode**, what the tests run: tiny data and one short epoch, so that the whole
  notebook suite runs in minutes on a 2-core CPU.

Every function here reads the environment when it is called, so nothing happens at import time.
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


def by_mode(*, full: T, fast: T) -> T:
    """Pick a setting by mode: ``epochs = by_mode(full=10, fast=1)``."""
    return fast if is_fast_mode() else full


def mode_line() -> str:
    """One line describing the mode, for the top of a notebook."""
    if is_fast_mode():
        return "Mode: fast (COURSE_FAST=1: tiny data, short training; numbers are not meaningful)"
    return "Mode: full (set COURSE_FAST=1 for a quick smoke run)"


def in_colab() -> bool:
    """True inside Google Colab."""
    return "google.colab" in sys.modules


def seed_everything(seed: int = 0) -> int:
    """Seed Python, NumPy and PyTorch (CPU and every GPU) so that a notebook gives the same numbers twice.

    Returns the seed, so ``seed = seed_everything(0)`` documents itself.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int such as 0 or 42, got {type(seed).__name__} {seed!r}")
    if not 0 <= int(seed) < 2**32:
        raise ValueError(f"seed must be between 0 and 2**32 - 1, got {seed}")
    seed = int(seed)
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
