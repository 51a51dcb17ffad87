"""A short, readable training loop with a progress bar and a history of losses and metrics.

``history = fit(model, train_loader, loss_fn, optimizer, epochs=5, val_loader=test_loader,
metrics={"accuracy": accuracy})`` trains, prints one line per epoch and returns a :class:`History`
that :func:`course_utils.plot.plot_history` draws.

A loader is anything that yields ``(inputs, targets)`` batches: a :class:`~course_utils.data.TensorLoader`, a
``torch.utils.data.DataLoader``, a list of tuples. For an autoencoder the targets are the inputs.
Progress bars use ``tqdm.auto`` (a widget in Jupyter and Colab, text in a terminal); set ``TQDM_DISABLE=1`` to
hide them, as ``make refresh`` does so that committed notebooks hold only the per-epoch lines.
"""

from __future__ import annotations

import os
import time
from collections import defaultdict
from collections.abc import Callable, Iterable

import torch
from tqdm.auto import tqdm

from .checks import check_positive_int

Metric = Callable[[torch.Tensor, torch.Tensor], float]


def _bars_disabled() -> bool:
    # tqdm's own TQDM_DISABLE variable; tqdm.notebook ignores it, so it is passed on explicitly.
    return os.environ.get("TQDM_DISABLE", "").strip().lower() in {"1", "true", "yes", "on"}


def progress(iterable: Iterable, desc: str | None = None, total: int | None = None, **kwargs):
    """A ``tqdm.auto`` progress bar around ``iterable``, for any loop that takes more than a few seconds.

    Hidden when ``TQDM_DISABLE=1`` (``make refresh`` sets it so that committed notebooks hold no bars)."""
    kwargs.setdefault("disable", _bars_disabled())
    return tqdm(iterable, desc=desc, total=total, leave=False, **kwargs)


class History(dict):
    """Per-epoch values: ``history["train_loss"]``, ``history["val_loss"]``, ``history["val_accuracy"]``...

    A plain ``dict`` of lists with one entry per epoch, plus ``last`` for the final value of each.
    """

    @property
    def last(self) -> dict[str, float]:
        return {k: v[-1] for k, v in self.items() if v}


def _check_model_and_loader(model, loader, name: str) -> None:
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if loader is None:
        raise TypeError(f"{name} is None: pass a loader such as TensorLoader(images, labels, batch_size=64)")
    if not hasattr(loader, "__iter__"):
        raise TypeError(f"{name} must yield (inputs, targets) batches, got {type(loader).__name__}")


def _split_batch(batch, device):
    if not isinstance(batch, (tuple, list)) or len(batch) != 2:
        got = f"a {type(batch).__name__}" + (f" of length {len(batch)}" if isinstance(batch, (tuple, list)) else "")
        raise ValueError(
            f"each batch must be an (inputs, targets) pair, got {got}; for an autoencoder use "
            "TensorLoader(images, images, ...) so that the targets are the inputs"
        )
    x, y = batch
    return x.to(device, non_blocking=True), y.to(device, non_blocking=True)


def _device_of(model: torch.nn.Module) -> torch.device:
    try:
        return next(model.parameters()).device
    except StopIteration:
        return torch.device("cpu")


@torch.no_grad()
def evaluate(model, loader, loss_fn, metrics: dict[str, Metric] | None = None, device=None) -> dict[str, float]:
    """Average loss and metrics of ``model`` over ``loader`` (in eval mode, without gradients).

    Averages are weighted by batch size, so a short last batch counts for what it holds.
    """
    _check_model_and_loader(model, loader, "loader")
    device = torch.device(device) if device is not None else _device_of(model)
    metrics = metrics or {}
    was_training = model.training
    model.eval()
    totals: dict[str, float] = defaultdict(float)
    count = 0
    for batch in loader:
        x, y = _split_batch(batch, device)
        out = model(x)
        n = len(x)
        totals["loss"] += float(loss_fn(out, y)) * n
        for name, fn in metrics.items():
            totals[name] += float(fn(out, y)) * n
        count += n
    model.train(was_training)
    if count == 0:
        raise ValueError("the loader yielded no batches: is it empty?")
    return {k: v / count for k, v in totals.items()}


def fit(
    model: torch.nn.Module,
    train_loader,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    optimizer: torch.optim.Optimizer,
    *,
    epochs: int,
    val_loader=None,
    metrics: dict[str, Metric] | None = None,
    device=None,
    verbose: bool = True,
    scheduler=None,
) -> History:
    """Train ``model`` for ``epochs`` passes over ``train_loader`` and return the :class:`History`.

    Each step: forward, loss, ``backward``, ``optimizer.step``, ``zero_grad``. After each epoch the model is
    evaluated on ``val_loader`` (if given) with the loss and each metric, and one line is printed.
    The model must already be on ``device`` (default: the device of its parameters). A learning-rate
    ``scheduler`` (e.g. ``torch.optim.lr_scheduler.OneCycleLR``) is stepped after every optimiser step, so its
    schedule counts mini-batches, not epochs.
    """
    _check_model_and_loader(model, train_loader, "train_loader")
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer such as torch.optim.Adam(model.parameters()), "
                        f"got {type(optimizer).__name__}")
    if not callable(loss_fn):
        raise TypeError(f"loss_fn must be callable, e.g. nn.CrossEntropyLoss(), got {type(loss_fn).__name__}")
    check_positive_int(epochs, "epochs")
    if scheduler is not None and not callable(getattr(scheduler, "step", None)):
        raise TypeError("scheduler must have a step() method, such as torch.optim.lr_scheduler.OneCycleLR("
                        "optimizer, max_lr=0.01, total_steps=epochs * len(train_loader)), got "
                        f"{type(scheduler).__name__}")
    device = torch.device(device) if device is not None else _device_of(model)
    history = History()
    try:
        steps_per_epoch = len(train_loader)
    except TypeError:
        steps_per_epoch = None
    total = steps_per_epoch * epochs if steps_per_epoch is not None else None
    bar = tqdm(total=total, desc="training", leave=False, disable=_bars_disabled())
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        model.train()
        running, seen = 0.0, 0
        for batch in train_loader:
            x, y = _split_batch(batch, device)
            loss = loss_fn(model(x), y)
            if not torch.isfinite(loss):
                raise FloatingPointError(
                    f"the loss became {loss.item()} in epoch {epoch}: lower the learning rate or check the inputs"
                )
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            if scheduler is not None:
                scheduler.step()
            running += loss.item() * len(x)
            seen += len(x)
            bar.update(1)
            bar.set_postfix(epoch=epoch, loss=f"{loss.item():.4f}", refresh=False)
        if seen == 0:
            raise ValueError("train_loader yielded no batches: is it empty?")
        history.setdefault("train_loss", []).append(running / seen)
        if val_loader is not None:
            for name, value in evaluate(model, val_loader, loss_fn, metrics, device).items():
                history.setdefault(f"val_{name}", []).append(value)
        history.setdefault("epoch_time_s", []).append(time.perf_counter() - start)
        if verbose:
            parts = [f"{k.replace('_', ' ')} {v[-1]:.4f}" for k, v in history.items() if k != "epoch_time_s"]
            print(f"epoch {epoch}/{epochs}: " + ", ".join(parts) + f" ({history['epoch_time_s'][-1]:.1f} s)")
    bar.close()
    return history


@torch.no_grad()
def predict(model: torch.nn.Module, inputs: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """Run ``model`` on ``inputs`` in eval mode, batch by batch, and return the outputs on the CPU."""
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(inputs, torch.Tensor):
        raise TypeError(f"inputs must be a torch.Tensor, got {type(inputs).__name__}")
    check_positive_int(batch_size, "batch_size")
    device = _device_of(model)
    was_training = model.training
    model.eval()
    outs = [model(inputs[i : i + batch_size].to(device)).cpu() for i in range(0, len(inputs), batch_size)]
    model.train(was_training)
    return torch.cat(outs)
