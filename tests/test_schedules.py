"""course_utils.schedules: step, cosine and one-cycle learning rates (equal to torch's schedulers), range test."""


import pytest
import torch
import torch.nn as nn

import course_utils as cu
from course_utils.schedules import cosine_lr, lr_range_test, one_cycle_lr, step_lr


def _torch_lrs(make_scheduler, steps, lr=0.1):
    p = nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([p], lr=lr)
    scheduler = make_scheduler(optimizer)
    lrs = []
    for _ in range(steps):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return lrs


def test_step_lr_documented_values_and_torch_steplr():
    assert [step_lr(k, 0.1, step_size=3, gamma=0.5) for k in (0, 2, 3, 5, 6, 9)] == pytest.approx(
        [0.1, 0.1, 0.05, 0.05, 0.025, 0.0125])
    expected = _torch_lrs(lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=3, gamma=0.5), 12)
    assert [step_lr(k, 0.1, 3, 0.5) for k in range(12)] == pytest.approx(expected)


def test_cosine_lr_starts_at_base_is_halfway_at_the_middle_ends_at_min_and_matches_torch():
    assert cosine_lr(0, 0.1, 100) == pytest.approx(0.1)
    assert cosine_lr(50, 0.1, 100, min_lr=0.02) == pytest.approx(0.06)
    assert cosine_lr(100, 0.1, 100, min_lr=0.02) == pytest.approx(0.02)
    expected = _torch_lrs(lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=40), 41)
    assert [cosine_lr(k, 0.1, 40) for k in range(41)] == pytest.approx(expected)


def test_one_cycle_lr_warms_up_to_max_then_decays_and_matches_torch_onecyclelr():
    total = 100
    lrs = [one_cycle_lr(k, 0.1, total) for k in range(total)]
    assert lrs[0] == pytest.approx(0.1 / 25)
    assert max(lrs) == pytest.approx(0.1) and lrs.index(max(lrs)) == 29  # pct_start * total - 1
    assert lrs[-1] == pytest.approx(0.1 / 25 / 1e4)
    assert all(a <= b for a, b in zip(lrs[:29], lrs[1:30])) and all(a >= b for a, b in zip(lrs[29:], lrs[30:]))
    expected = _torch_lrs(lambda o: torch.optim.lr_scheduler.OneCycleLR(o, max_lr=0.1, total_steps=total), total)
    assert lrs == pytest.approx(expected)


def test_fit_steps_a_scheduler_once_per_mini_batch():
    model = nn.Linear(2, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    loader = cu.TensorLoader(torch.randn(40, 2), torch.randint(0, 2, (40,)), batch_size=10)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    cu.fit(model, loader, nn.CrossEntropyLoss(), optimizer, epochs=2, scheduler=scheduler, verbose=False)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.1 * 0.5**8)  # 2 epochs x 4 batches
    with pytest.raises(TypeError, match="scheduler must have a step"):
        cu.fit(model, loader, nn.CrossEntropyLoss(), optimizer, epochs=1, scheduler="cosine")


def test_lr_range_test_grows_the_rate_exponentially_stops_when_the_loss_explodes_and_restores_the_model():
    torch.manual_seed(0)
    x = torch.randn(256, 5)
    y = (x[:, 0] > 0).long()
    model = nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Linear(16, 2))
    before = [p.detach().clone() for p in model.parameters()]
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    lrs, losses = lr_range_test(model, cu.TensorLoader(x, y, batch_size=32, shuffle=True), nn.CrossEntropyLoss(),
                                optimizer, lr_min=1e-4, lr_max=1e3, steps=80)
    assert len(lrs) == len(losses) <= 80
    assert lrs[0] == pytest.approx(1e-4)
    ratios = [b / a for a, b in zip(lrs, lrs[1:])]
    assert ratios == pytest.approx([(1e7) ** (1 / 79)] * len(ratios))
    assert len(lrs) < 80  # at 1e3 the loss blows up before the end
    assert min(losses) < losses[0]
    for p, q in zip(model.parameters(), before):
        assert torch.equal(p, q)
    assert optimizer.param_groups[0]["lr"] == 0.01


@pytest.mark.parametrize("call, message", [
    (lambda: step_lr(-1, 0.1, 3), "step must be a whole number >= 0"),
    (lambda: step_lr(0, 0.1, 3, gamma=2), "gamma must lie in"),
    (lambda: cosine_lr(0, 0.0, 10), r"base_lr must be a finite number > 0 such as 0.01 \(a learning rate\)"),
    (lambda: cosine_lr(11, 0.1, 10), "past total_steps"),
    (lambda: one_cycle_lr(10, 0.1, 10), "step < total_steps"),
    (lambda: one_cycle_lr(0, 0.1, 10, pct_start=1.5), "pct_start must lie in"),
])
def test_bad_schedule_arguments_say_what_was_expected(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_lr_range_test_rejects_a_reversed_range():
    model = nn.Linear(2, 2)
    with pytest.raises(ValueError, match="lr_min must be below lr_max"):
        lr_range_test(model, [], nn.MSELoss(), torch.optim.SGD(model.parameters(), lr=0.1), lr_min=1, lr_max=0.1)
