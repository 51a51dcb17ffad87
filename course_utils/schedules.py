"""Learning-rate schedules as plain formulas, and a learning-rate range test (lecture 02b).

Each schedule maps a step number (counted from 0) to a learning rate, with the same values as PyTorch's
scheduler of the same name, so that a figure can draw the formula and training can use ``torch.optim``:

* :func:`step_lr`: ``base_lr * gamma ** (step // step_size)`` (``StepLR``);
* :func:`cosine_lr`: ``min_lr + (base_lr - min_lr) * (1 + cos(pi * step / total_steps)) / 2`` (``CosineAnnealingLR``);
* :func:`one_cycle_lr`: a cosine warm-up from ``max_lr / div_factor`` to ``max_lr`` over the first ``pct_start``
  of the steps, then a cosine decay to ``max_lr / (div_factor * final_div_factor)`` (``OneCycleLR``).

:func:`lr_range_test`, in the form of fastai's ``lr_find`` (Smith, 2017, raised the rate linearly over a few epochs
and watched the validation accuracy), trains for a few steps while the learning rate grows exponentially and
records the training loss at each; the model and optimiser are restored afterwards.

:func:`one_cycle_lr` is PyTorch's ``OneCycleLR`` with its defaults: fastai's cosine variant of Smith's one-cycle,
whose original rises and falls linearly. ``OneCycleLR`` also cycles the optimiser's momentum (Adam's beta1) from
0.95 to 0.85 and back, which this formula of the learning rate leaves out.
"""

from __future__ import annotations

import copy
import math

import torch

from .checks import check_number, check_positive_int


def _check_step(step) -> int:
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise ValueError(f"step must be a whole number >= 0 (steps are counted from 0), got {step!r}")
    return step


def _check_lr(value, name: str) -> float:
    return check_number(value, name, "0.01 (a learning rate)", allow_minimum=False)


def step_lr(step: int, base_lr: float, step_size: int, gamma: float = 0.1) -> float:
    """``base_lr * gamma ** (step // step_size)``: multiply by ``gamma`` every ``step_size`` steps."""
    _check_step(step)
    _check_lr(base_lr, "base_lr")
    check_positive_int(step_size, "step_size")
    if not 0 < gamma <= 1:
        raise ValueError(f"gamma must lie in (0, 1] (the factor applied every step_size steps), got {gamma!r}")
    return base_lr * gamma ** (step // step_size)


def cosine_lr(step: int, base_lr: float, total_steps: int, min_lr: float = 0.0) -> float:
    """Half a cosine from ``base_lr`` at step 0 down to ``min_lr`` at ``total_steps``."""
    _check_step(step)
    _check_lr(base_lr, "base_lr")
    check_positive_int(total_steps, "total_steps")
    if not 0 <= min_lr <= base_lr:
        raise ValueError(f"min_lr must lie in [0, base_lr] = [0, {base_lr}], got {min_lr!r}")
    if step > total_steps:
        raise ValueError(f"step {step} is past total_steps = {total_steps}")
    return min_lr + (base_lr - min_lr) * (1 + math.cos(math.pi * step / total_steps)) / 2


def one_cycle_lr(step: int, max_lr: float, total_steps: int, pct_start: float = 0.3, div_factor: float = 25.0,
                 final_div_factor: float = 1e4) -> float:
    """One cycle: cosine warm-up from ``max_lr / div_factor`` to ``max_lr``, reached at step
    ``pct_start * total_steps - 1``, then cosine decay to ``max_lr / (div_factor * final_div_factor)`` at the last
    step, ``total_steps - 1`` (PyTorch's ``OneCycleLR`` with its defaults)."""
    _check_step(step)
    _check_lr(max_lr, "max_lr")
    check_positive_int(total_steps, "total_steps")
    if total_steps < 2 or step >= total_steps:
        raise ValueError(f"one_cycle_lr needs total_steps >= 2 and 0 <= step < total_steps, got step {step} of "
                         f"total_steps {total_steps}")
    if not 0 < pct_start < 1:
        raise ValueError(f"pct_start must lie in (0, 1) (the share of steps spent warming up), got {pct_start!r}")
    start_lr = max_lr / div_factor
    end_lr = start_lr / final_div_factor
    peak = pct_start * total_steps - 1
    if step <= peak:
        t, lr_from, lr_to = step / peak if peak > 0 else 1.0, start_lr, max_lr
    else:
        t, lr_from, lr_to = (step - peak) / (total_steps - 1 - peak), max_lr, end_lr
    return lr_to + (lr_from - lr_to) * (1 + math.cos(math.pi * t)) / 2


def lr_range_test(model: torch.nn.Module, loader, loss_fn, optimizer: torch.optim.Optimizer,
                  lr_min: float = 1e-5, lr_max: float = 1.0, steps: int = 100,
                  stop_factor: float = 4.0) -> tuple[list[float], list[float]]:
    """Train ``steps`` mini-batches while the learning rate grows exponentially from ``lr_min`` to ``lr_max``;
    return the learning rates and the losses of those steps (stops early once the loss is non-finite or above
    ``stop_factor`` times its smallest value so far). The model's weights and the optimiser's state are put
    back afterwards, so the test leaves no trace."""
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer such as torch.optim.SGD(model.parameters(), "
                        f"lr=0.1), got {type(optimizer).__name__}")
    lr_min, lr_max = _check_lr(lr_min, "lr_min"), _check_lr(lr_max, "lr_max")
    if lr_min >= lr_max:
        raise ValueError(f"lr_min must be below lr_max, got lr_min={lr_min}, lr_max={lr_max}")
    check_positive_int(steps, "steps")
    saved_model, saved_optimizer = copy.deepcopy(model.state_dict()), copy.deepcopy(optimizer.state_dict())
    device = next(model.parameters()).device
    lrs, losses = [], []
    batches = iter(())
    model.train()
    try:
        for k in range(steps):
            lr = lr_min * (lr_max / lr_min) ** (k / max(steps - 1, 1))
            for group in optimizer.param_groups:
                group["lr"] = lr
            try:
                x, y = next(batches)
            except StopIteration:
                batches = iter(loader)
                x, y = next(batches)
            loss = loss_fn(model(x.to(device)), y.to(device))
            lrs.append(lr)
            losses.append(loss.item())
            if not math.isfinite(losses[-1]) or losses[-1] > stop_factor * min(losses):
                break
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    finally:
        model.load_state_dict(saved_model)
        optimizer.load_state_dict(saved_optimizer)
        optimizer.zero_grad(set_to_none=True)
    return lrs, losses
