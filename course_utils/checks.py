"""Input checks with messages that teach.

Every public helper of ``course_utils`` passes its inputs through these functions, so a student who hands over
``None``, a NumPy array of the wrong shape or an image in 0..255 gets a message saying what was expected, what
was given, and how to fix it.
"""

from __future__ import annotations

import numpy as np
import torch


def _describe(x) -> str:
    if x is None:
        return "None"
    if isinstance(x, torch.Tensor):
        return f"a tensor of shape {tuple(x.shape)} and dtype {x.dtype}"
    if isinstance(x, np.ndarray):
        return f"a NumPy array of shape {x.shape} and dtype {x.dtype}"
    return f"a {type(x).__name__}"


def as_tensor(x, name: str = "input") -> torch.Tensor:
    """Return ``x`` as a torch tensor (NumPy arrays are converted); refuse ``None`` and other objects."""
    if isinstance(x, torch.Tensor):
        return x
    if isinstance(x, np.ndarray):
        if x.dtype == object:
            raise TypeError(f"{name} must be a numeric array, got {_describe(x)}")
        return torch.from_numpy(np.ascontiguousarray(x))
    if x is None:
        raise TypeError(
            f"{name} is None: expected a torch.Tensor. Did the function that computes it forget to `return` it?"
        )
    raise TypeError(f"{name} must be a torch.Tensor or a NumPy array, got {_describe(x)}")


def as_image_batch(x, name: str = "images", channels: int | tuple[int, ...] | None = None) -> torch.Tensor:
    """Check that ``x`` is a batch of images of shape (N, C, H, W) and return it as a float tensor.

    ``channels`` restricts C (for example ``1`` for grayscale or ``(1, 3)`` for grayscale or RGB).
    """
    x = as_tensor(x, name)
    if x.ndim != 4:
        if x.ndim == 2:
            fix = "add a batch and a channel dimension with x[None, None]"
        elif x.ndim == 3:
            fix = (
                "add a batch dimension with x[None] if it is one (C, H, W) image, "
                "or a channel dimension with x[:, None] if it is a batch of (H, W) images"
            )
        else:
            fix = "reshape it to (N, C, H, W)"
        raise ValueError(f"{name}: expected images of shape (N, C, H, W), got {tuple(x.shape)}: {fix}")
    if channels is not None:
        allowed = (channels,) if isinstance(channels, int) else tuple(channels)
        if x.shape[1] not in allowed:
            hint = ""
            if x.shape[-1] in allowed and x.shape[1] not in allowed:
                hint = ": it looks channels-last, use x.permute(0, 3, 1, 2)"
            raise ValueError(
                f"{name}: expected {' or '.join(map(str, allowed))} channel(s) in dimension 1 of (N, C, H, W), "
                f"got shape {tuple(x.shape)}{hint}"
            )
    if not torch.is_floating_point(x):
        if x.dtype == torch.uint8:
            raise TypeError(
                f"{name}: expected float images in [0, 1], got uint8 values in 0..255: use x.float() / 255"
            )
        x = x.float()
    return x


def check_range(x: torch.Tensor, low: float, high: float, name: str = "images", tol: float = 1e-4) -> None:
    """Raise if any value of ``x`` lies outside [low, high] (with a small tolerance)."""
    if x.numel() == 0:
        return
    lo, hi = float(x.min()), float(x.max())
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise ValueError(f"{name} contains NaN or infinity: check the computation that produced it")
    if lo < low - tol or hi > high + tol:
        hint = " (values up to 255 look like raw pixels: divide by 255)" if hi > 1.5 and high <= 1 else ""
        raise ValueError(f"{name}: expected values in [{low}, {high}], got values in [{lo:.4g}, {hi:.4g}]{hint}")


def check_same_shape(a: torch.Tensor, b: torch.Tensor, names: tuple[str, str] = ("prediction", "target")) -> None:
    """Raise if two tensors do not have the same shape."""
    if a.shape != b.shape:
        raise ValueError(
            f"{names[0]} and {names[1]} must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}"
        )


def check_positive_int(value, name: str) -> int:
    """Return ``value`` if it is an int >= 1, else raise a clear error."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be a positive int, got {_describe(value)} {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be at least 1, got {value}")
    return int(value)


def check_number(value, name: str, example: str, minimum: float = 0.0, allow_minimum: bool = True) -> float:
    """Return ``value`` as a float if it is a finite real number >= ``minimum`` (> ``minimum`` when
    ``allow_minimum`` is False); else raise a ValueError that names ``example`` as a valid value."""
    is_real = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))
    if not (is_real and np.isfinite(value) and (value >= minimum if allow_minimum else value > minimum)):
        bound = f"{'>=' if allow_minimum else '>'} {minimum:g}"
        raise ValueError(f"{name} must be a finite number {bound} such as {example}, got {value!r}")
    return float(value)


def check_choice(value, choices, name: str):
    """Return ``value`` if it is one of ``choices``, else raise with the list of valid values."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(repr(c) for c in choices)}; got {value!r}")
    return value
