"""Data augmentation for digit images: small random shifts, rotations and elastic distortions (lecture 02b).

``random_affine(images, max_shift=2, max_rotation_deg=10, generator=g)`` moves and turns every image of a batch
by its own random amount; ``elastic_distort(images, alpha=..., sigma=..., generator=g)`` bends the strokes by a
smooth random displacement field (Simard et al., 2003). Both keep the shape ``(N, C, H, W)`` and the range
``[0, 1]`` (bilinear interpolation, zeros come in from the border), and are repeatable for a seeded generator.
:class:`AugmentedLoader` is a :class:`~course_utils.data.TensorLoader` whose image batches are augmented afresh on
every pass; the labels are passed through unchanged.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .checks import as_image_batch, check_number
from .data import TensorLoader


def _check_generator(generator) -> torch.Generator:
    if generator is None:
        return torch.Generator().manual_seed(0)
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator such as torch.Generator().manual_seed(0), "
                        f"got {type(generator).__name__}")
    return generator


def random_affine(images, max_shift: float = 2.0, max_rotation_deg: float = 10.0,
                  generator: torch.Generator | None = None) -> torch.Tensor:
    """Shift each image by up to ``max_shift`` pixels in x and y and rotate it by up to ``max_rotation_deg``
    degrees about its centre (uniform draws, one per image). Returns a new (N, C, H, W) tensor."""
    x = as_image_batch(images, "images")
    max_shift = check_number(max_shift, "max_shift", "2 (pixels)")
    max_rotation_deg = check_number(max_rotation_deg, "max_rotation_deg", "10 (degrees)")
    generator = _check_generator(generator)
    n, _, h, w = x.shape
    draws = torch.rand(n, 3, generator=generator) * 2 - 1  # uniform in [-1, 1]
    angle = draws[:, 0] * math.radians(max_rotation_deg)
    # affine_grid works in coordinates where the image spans [-1, 1]: one pixel is 2 / size
    tx, ty = draws[:, 1] * max_shift * 2 / w, draws[:, 2] * max_shift * 2 / h
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.stack([torch.stack([cos, -sin, -tx], 1), torch.stack([sin, cos, -ty], 1)], 1)
    grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid.to(x.device), mode="bilinear", padding_mode="zeros", align_corners=False)


def elastic_distort(images, alpha: float = 2.0, sigma: float = 4.0,
                    generator: torch.Generator | None = None) -> torch.Tensor:
    """Bend each image by a random smooth displacement field: uniform noise in [-1, 1] per pixel and direction,
    smoothed by a Gaussian of standard deviation ``sigma`` pixels, scaled so that its largest value is ``alpha``
    pixels. Returns a new (N, C, H, W) tensor."""
    x = as_image_batch(images, "images")
    alpha = check_number(alpha, "alpha", "2 (pixels)")
    sigma = check_number(sigma, "sigma", "4 (pixels of smoothing)", allow_minimum=False)
    generator = _check_generator(generator)
    n, _, h, w = x.shape
    field = torch.rand(n, 2, h, w, generator=generator) * 2 - 1
    radius = max(1, int(3 * sigma))
    t = torch.arange(-radius, radius + 1, dtype=torch.float32)
    kernel = torch.exp(-(t**2) / (2 * sigma**2))
    kernel = kernel / kernel.sum()
    field = F.conv2d(field.reshape(2 * n, 1, h, w), kernel.view(1, 1, 1, -1), padding=(0, radius))
    field = F.conv2d(field, kernel.view(1, 1, -1, 1), padding=(radius, 0)).reshape(n, 2, h, w)
    field = field / field.abs().amax(dim=(1, 2, 3), keepdim=True).clamp_min(1e-12) * alpha
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32),
                            indexing="ij")
    # sample position in pixels, then in affine_grid's [-1, 1] coordinates (pixel centres, align_corners=False)
    px, py = xs + field[:, 0], ys + field[:, 1]
    grid = torch.stack([(2 * px + 1) / w - 1, (2 * py + 1) / h - 1], dim=-1)
    return F.grid_sample(x, grid.to(x.dtype).to(x.device), mode="bilinear", padding_mode="zeros",
                         align_corners=False)


class AugmentedLoader(TensorLoader):
    """``TensorLoader(images, labels, ...)`` whose image batches go through ``augment(batch, generator)`` on every
    pass: ``AugmentedLoader(images, labels, augment=random_affine, batch_size=64, shuffle=True, seed=0)``.

    The labels are yielded unchanged; the same ``seed`` gives the same batches, in the same order."""

    def __init__(self, images, labels, augment=random_affine, batch_size: int = 64, shuffle: bool = True,
                 seed: int = 0, drop_last: bool = False):
        if not callable(augment):
            raise TypeError(f"augment must be a function (images, generator) -> images such as random_affine, "
                            f"got {type(augment).__name__}")
        as_image_batch(images, "images")
        super().__init__(images, labels, batch_size=batch_size, shuffle=shuffle, seed=seed, drop_last=drop_last)
        self.augment = augment
        self._augment_generator = torch.Generator().manual_seed(seed + 1)

    def __iter__(self):
        for x, y in super().__iter__():
            yield self.augment(x, generator=self._augment_generator), y
