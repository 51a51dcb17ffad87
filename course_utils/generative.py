"""Judging generated digits, shared by lectures 06 (VAE), 07 (GAN) and 08 (diffusion).

A generator is good when its samples look like *all* the digits and are spread like the real ones. Two numbers
say this, both computed by a small MNIST classifier, the **judge** (:class:`JudgeNet`):

* :func:`class_histogram` -- how many samples the judge assigns to each digit 0..9 (does it cover all ten?);
* :func:`frechet_distance` between :func:`judge_features` of real and generated images -- the Fréchet distance of
  two Gaussians fitted to the judge's penultimate-layer features (the idea of FID, with a digit classifier
  instead of Inception, so the numbers are *not* comparable with published FID values).

The judge is trained once by :func:`train_judge` and committed as ``assets/judge_mnist.pt`` (about 100 KB);
:func:`load_judge` finds it with :mod:`course_utils.checkpoints` (or trains it) and caches it.
"""

from __future__ import annotations

import functools

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .checkpoints import load_checkpoint
from .checks import as_image_batch, as_tensor, check_positive_int

JUDGE_FILE = "judge_mnist.pt"


# --------------------------------------------------------------------------------------------- the judge


class JudgeNet(nn.Module):
    """A small CNN digit classifier, (N, 1, 28, 28) in [0, 1] -> (N, 10) logits; ``features`` gives (N, 64)."""

    feature_dim = 64

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 14x14
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 7x7
            nn.AdaptiveAvgPool2d(3), nn.Flatten(),  # 64 * 3 * 3 = 576
            nn.Linear(576, self.feature_dim), nn.ReLU(),
        )
        self.head = nn.Linear(self.feature_dim, 10)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


def train_judge(images, labels, epochs: int = 25, seed: int = 0, verbose: bool = True) -> JudgeNet:
    """Train a :class:`JudgeNet` with Adam and light random shifts (about a minute on a 2-core CPU for 4,000
    digits and 25 epochs). Returns it in eval mode, on the CPU."""
    from .data import TensorLoader

    x = as_image_batch(images, "images", channels=1)
    y = as_tensor(labels, "labels").long()
    check_positive_int(epochs, "epochs")
    torch.manual_seed(seed)
    judge = JudgeNet()
    optimizer = torch.optim.Adam(judge.parameters(), lr=2e-3)
    for epoch in range(epochs):
        for xb, yb in TensorLoader(x, y, batch_size=64, shuffle=True, seed=seed + epoch):
            dx, dy = np.random.randint(-2, 3, size=2)
            xb = torch.roll(xb, shifts=(int(dy), int(dx)), dims=(2, 3))  # cheap augmentation
            loss = F.cross_entropy(judge(xb), yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        if verbose:
            print(f"judge epoch {epoch + 1}/{epochs}: last batch loss {loss.item():.3f}")
    return judge.eval()


@functools.lru_cache(maxsize=1)
def load_judge(verbose: bool = True) -> JudgeNet:
    """The judge classifier, loaded from ``assets/judge_mnist.pt`` (trained on the training digits of the course's
    MNIST subset, so that every run and every lecture uses the same judge, also with ``COURSE_MNIST=full``), or
    trained here on those same digits if the file is missing."""
    judge = JudgeNet()
    checkpoint = load_checkpoint(JUDGE_FILE, judge)
    if checkpoint is None:
        from .data import _mnist_subset

        if verbose:
            print("Judge: assets/judge_mnist.pt not found, training it on the course's MNIST subset (about a minute)")
        train = _mnist_subset("train")
        judge = train_judge(train.images, train.labels, verbose=False)
    elif verbose:
        print(f"Judge: {JUDGE_FILE}, a {sum(p.numel() for p in judge.parameters()):,}-parameter CNN with "
              f"{checkpoint['test_accuracy']:.1%} accuracy on the test digits of the course's MNIST subset "
              f"(trained on its training digits)")
    return judge.eval()


def _as_digit_batch(images, name: str) -> torch.Tensor:
    x = as_image_batch(images, name, channels=1)
    if tuple(x.shape[-2:]) != (28, 28):
        raise ValueError(f"{name}: the judge reads 28x28 digits, got images of size {tuple(x.shape[-2:])}")
    lo, hi = float(x.min()), float(x.max())
    if lo < -0.01 or hi > 1.01:
        hint = " (images in [-1, 1] from a tanh generator: use (x + 1) / 2)" if lo >= -1.01 else ""
        raise ValueError(f"{name}: expected pixel values in [0, 1], got values in [{lo:.2f}, {hi:.2f}]{hint}")
    return x


@torch.no_grad()
def judge_features(images, judge: JudgeNet | None = None, batch_size: int = 500) -> torch.Tensor:
    """The judge's penultimate-layer features of digits (N, 1, 28, 28) in [0, 1]: a (N, 64) float tensor."""
    x = _as_digit_batch(images, "images")
    judge = judge if judge is not None else load_judge()
    device = next(judge.parameters()).device
    return torch.cat([judge.features(x[i : i + batch_size].to(device)).cpu() for i in range(0, len(x), batch_size)])


@torch.no_grad()
def class_histogram(samples, judge: JudgeNet | None = None, batch_size: int = 500) -> torch.Tensor:
    """How many of ``samples`` (N, 1, 28, 28) in [0, 1] the judge classifies as each digit: int64 counts (10,).

    A generator that covers every digit gives about N/10 per class; mode collapse shows as a few tall bars."""
    x = _as_digit_batch(samples, "samples")
    judge = judge if judge is not None else load_judge()
    device = next(judge.parameters()).device
    predictions = torch.cat(
        [judge(x[i : i + batch_size].to(device)).argmax(1).cpu() for i in range(0, len(x), batch_size)]
    )
    return torch.bincount(predictions, minlength=10)


def _as_feature_matrix(x, name: str) -> np.ndarray:
    x = as_tensor(x, name).detach().cpu().double().numpy()
    if x.ndim == 1:
        x = x[:, None]  # N samples of one feature
    if x.ndim != 2:
        raise ValueError(f"{name}: expected features of shape (N, D), got {x.shape}: use judge_features(images)")
    if len(x) < 2:
        raise ValueError(f"{name}: need at least 2 samples to estimate a covariance, got {len(x)}")
    if not np.isfinite(x).all():
        raise ValueError(f"{name}: contains NaN or infinity; did the generator diverge?")
    return x


def frechet_distance(real_features, fake_features) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets of shape (N, D) and (M, D).

    d² = ||μ_r - μ_f||² + Tr(Σ_r + Σ_f - 2 (Σ_r Σ_f)^{1/2}). It is 0 for identical sets; for 1-D Gaussians it
    is (μ_r - μ_f)² + (σ_r - σ_f)². Like FID, but in the judge's feature space when given
    :func:`judge_features`. (N,) inputs are read as N samples of one feature.
    """
    a = _as_feature_matrix(real_features, "real_features")
    b = _as_feature_matrix(fake_features, "fake_features")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"real and fake features must have the same dimension D, got {a.shape[1]} and {b.shape[1]}")
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    # Tr (Σa Σb)^{1/2} = Σ sqrt(eigenvalues of Σa^{1/2} Σb Σa^{1/2}), a symmetric PSD matrix (stable).
    w, v = np.linalg.eigh(cov_a)
    sqrt_a = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    middle = np.linalg.eigvalsh(sqrt_a @ cov_b @ sqrt_a)
    trace_sqrt = np.sqrt(np.clip(middle, 0, None)).sum()
    d2 = ((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * trace_sqrt
    return float(max(d2, 0.0))


def judge_report(samples, real_features, judge: JudgeNet | None = None) -> dict:
    """Both verdicts at once: ``{"histogram": counts (10,), "digits_covered": number of digits with at least
    a quarter of their fair share N/40, "frechet": distance to real_features}``."""
    counts = class_histogram(samples, judge)
    fair_share = counts.sum().item() / 10
    return {
        "histogram": counts,
        "digits_covered": int((counts >= fair_share / 4).sum()),
        "frechet": frechet_distance(real_features, judge_features(samples, judge)),
    }


def plot_class_histograms(histograms: dict, *, title: str = "Which digits does the judge see?"):
    """Bar charts of :func:`class_histogram` counts, one panel per generator: ``{"VAE": counts, ...}``."""
    import matplotlib.pyplot as plt

    if not isinstance(histograms, dict) or not histograms:
        raise TypeError("histograms must be a non-empty dict such as {'VAE': class_histogram(samples)}")
    fig, axes = plt.subplots(1, len(histograms), figsize=(3.2 * len(histograms), 2.8), squeeze=False, sharey=True)
    for ax, (name, counts) in zip(axes.flat, histograms.items()):
        counts = as_tensor(counts, f"histograms[{name!r}]").cpu().numpy()
        share = counts / max(counts.sum(), 1)
        ax.bar(range(10), share, color="tab:blue")
        ax.axhline(0.1, color="black", lw=1, ls="--", label="uniform 10%")
        ax.set(title=name, xlabel="digit (judge's verdict)", xticks=range(10))
    axes.flat[0].set_ylabel("share of samples")
    axes.flat[0].legend(fontsize=10)
    fig.suptitle(title)
    fig.tight_layout()
    return fig

