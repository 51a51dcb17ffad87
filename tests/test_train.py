"""Spec of course_utils.train: fit, evaluate, predict and the History they return."""

import warnings

import pytest
import torch
from torch import nn

from course_utils.data import TensorLoader
from course_utils.metrics import accuracy
from course_utils.train import History, evaluate, fit, predict, progress


def _blobs(n: int = 200, seed: int = 0):
    """Two well separated 2-D Gaussian blobs, labels 0 and 1 alternating: linearly separable."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 2
    centres = torch.tensor([[-2.0, -2.0], [2.0, 2.0]])
    points = centres[labels] + 0.5 * torch.randn(n, 2, generator=g)
    return points, labels


def _linear_problem(seed: int = 0):
    torch.manual_seed(seed)
    model = nn.Linear(2, 2)
    x, y = _blobs(seed=seed)
    x_val, y_val = _blobs(seed=seed + 100)
    train = TensorLoader(x, y, batch_size=32, shuffle=True, seed=seed)
    val = TensorLoader(x_val, y_val, batch_size=64)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    return model, train, val, optimizer


class Recorder(nn.Module):
    """A linear layer that records, for each forward call, the batch size, train/eval mode and grad mode."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(2, 2)
        self.calls = []

    def forward(self, x):
        self.calls.append((len(x), self.training, torch.is_grad_enabled()))
        return self.linear(x)


# ------------------------------------------------------------------------------------------ fit


def test_fit_learns_linearly_separable_blobs_to_high_accuracy():
    model, train, val, optimizer = _linear_problem()
    before = evaluate(model, val, nn.CrossEntropyLoss(), {"accuracy": accuracy})
    history = fit(model, train, nn.CrossEntropyLoss(), optimizer, epochs=5, val_loader=val,
                  metrics={"accuracy": accuracy}, verbose=False)
    assert history["val_loss"][-1] < 0.5 * before["loss"]
    assert history["train_loss"][-1] < history["train_loss"][0]
    assert history["val_accuracy"][-1] >= 0.95


def test_fit_history_has_one_entry_per_epoch_for_each_quantity():
    model, train, val, optimizer = _linear_problem()
    history = fit(model, train, nn.CrossEntropyLoss(), optimizer, epochs=3, val_loader=val,
                  metrics={"accuracy": accuracy}, verbose=False)
    assert isinstance(history, History)
    assert {"train_loss", "val_loss", "val_accuracy", "epoch_time_s"} <= set(history)
    for key, values in history.items():
        assert len(values) == 3, key
    assert all(0.0 <= a <= 1.0 for a in history["val_accuracy"])
    assert all(t >= 0.0 for t in history["epoch_time_s"])


def test_fit_without_val_loader_records_only_the_training_loss():
    model, train, _, optimizer = _linear_problem()
    history = fit(model, train, nn.CrossEntropyLoss(), optimizer, epochs=2, verbose=False)
    assert set(history) == {"train_loss", "epoch_time_s"}


def test_history_last_gives_the_final_value_of_each_quantity():
    model, train, val, optimizer = _linear_problem()
    history = fit(model, train, nn.CrossEntropyLoss(), optimizer, epochs=2, val_loader=val, verbose=False)
    assert history.last == {k: v[-1] for k, v in history.items()}
    assert History(a=[1, 2], b=[]).last == {"a": 2}


def test_fit_prints_one_line_per_epoch(capsys):
    model, train, val, optimizer = _linear_problem()
    history = fit(model, train, nn.CrossEntropyLoss(), optimizer, epochs=3, val_loader=val,
                  metrics={"accuracy": accuracy})
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    for epoch, line in enumerate(lines, start=1):
        assert line.startswith(f"epoch {epoch}/3: ")
        assert f"val accuracy {history['val_accuracy'][epoch - 1]:.4f}" in line
        assert "train loss" in line and "val loss" in line


def test_fit_with_verbose_false_prints_nothing(capsys):
    model, train, _, optimizer = _linear_problem()
    fit(model, train, nn.CrossEntropyLoss(), optimizer, epochs=1, verbose=False)
    assert capsys.readouterr().out == ""


def test_fit_train_loss_is_the_batch_size_weighted_mean_of_the_step_losses():
    # lr=0 leaves the model unchanged, so the epoch's training loss is the loss on the whole training set.
    torch.manual_seed(0)
    model = nn.Linear(2, 2)
    x, y = _blobs(n=10)
    loader = TensorLoader(x, y, batch_size=4)  # batches of 4, 4 and 2
    history = fit(model, loader, nn.CrossEntropyLoss(), torch.optim.SGD(model.parameters(), lr=0.0), epochs=1,
                  verbose=False)
    with torch.no_grad():
        expected = float(nn.CrossEntropyLoss()(model(x), y))
    assert history["train_loss"][0] == pytest.approx(expected, rel=1e-5)


def test_fit_accepts_a_torch_dataloader_and_a_list_of_pairs():
    model, _, _, optimizer = _linear_problem()
    x, y = _blobs(n=40)
    dataloader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=16)
    assert len(fit(model, dataloader, nn.CrossEntropyLoss(), optimizer, epochs=2, verbose=False)["train_loss"]) == 2
    pairs = [(x[:20], y[:20]), (x[20:], y[20:])]
    assert len(fit(model, pairs, nn.CrossEntropyLoss(), optimizer, epochs=1, verbose=False)["train_loss"]) == 1


def test_fit_leaves_the_model_in_train_mode_and_evaluates_in_eval_mode():
    torch.manual_seed(0)
    model = Recorder()
    x, y = _blobs(n=8)
    fit(model, [(x, y)], nn.CrossEntropyLoss(), torch.optim.SGD(model.parameters(), lr=0.1), epochs=1,
        val_loader=[(x, y)], verbose=False)
    (train_call, val_call) = model.calls
    assert train_call[1:] == (True, True)  # training step: train mode, with gradients
    assert val_call[1:] == (False, False)  # validation: eval mode, no gradients
    assert model.training


def test_fit_emits_no_warnings():
    # PyTorch shows some warnings once per process; make them show every time so this test sees them.
    was_always = torch.is_warn_always_enabled()
    torch.set_warn_always(True)
    try:
        model, train, val, optimizer = _linear_problem()
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            fit(model, train, nn.CrossEntropyLoss(), optimizer, epochs=1, val_loader=val,
                metrics={"accuracy": accuracy}, verbose=False)
    finally:
        torch.set_warn_always(was_always)


# ------------------------------------------------------------------------------------------ fit: bad inputs


def test_fit_with_a_none_loader_suggests_a_tensor_loader():
    model, _, _, optimizer = _linear_problem()
    with pytest.raises(TypeError, match="train_loader is None.*TensorLoader"):
        fit(model, None, nn.CrossEntropyLoss(), optimizer, epochs=1)


def test_fit_with_a_non_module_model_raises_type_error():
    _, train, _, optimizer = _linear_problem()
    with pytest.raises(TypeError, match="torch.nn.Module, got function"):
        fit(lambda x: x, train, nn.CrossEntropyLoss(), optimizer, epochs=1)


def test_fit_with_a_non_optimizer_raises_type_error_showing_an_example():
    model, train, _, _ = _linear_problem()
    with pytest.raises(TypeError, match=r"torch.optim.Adam\(model.parameters\(\)\), got str"):
        fit(model, train, nn.CrossEntropyLoss(), "adam", epochs=1)


def test_fit_with_a_non_callable_loss_raises_type_error():
    model, train, _, optimizer = _linear_problem()
    with pytest.raises(TypeError, match="loss_fn must be callable"):
        fit(model, train, "cross_entropy", optimizer, epochs=1)


def test_fit_with_a_non_iterable_loader_raises_type_error():
    model, _, _, optimizer = _linear_problem()
    with pytest.raises(TypeError, match="must yield \\(inputs, targets\\) batches, got int"):
        fit(model, 5, nn.CrossEntropyLoss(), optimizer, epochs=1)


def test_fit_on_single_tensor_batches_explains_the_pair_and_the_autoencoder_case():
    model, _, _, optimizer = _linear_problem()
    x, _ = _blobs(n=8)
    with pytest.raises(ValueError, match=r"\(inputs, targets\) pair, got a Tensor") as info:
        fit(model, TensorLoader(x, batch_size=4), nn.MSELoss(), optimizer, epochs=1)
    assert "TensorLoader(images, images" in str(info.value)


def test_fit_on_triples_says_how_long_the_batch_was():
    model, _, _, optimizer = _linear_problem()
    x, y = _blobs(n=8)
    with pytest.raises(ValueError, match="got a tuple of length 3"):
        fit(model, [(x, y, y)], nn.CrossEntropyLoss(), optimizer, epochs=1)


@pytest.mark.parametrize(("epochs", "error"), [(0, ValueError), (-1, ValueError), (2.0, TypeError)])
def test_fit_rejects_a_bad_number_of_epochs(epochs, error):
    model, train, _, optimizer = _linear_problem()
    with pytest.raises(error, match="epochs"):
        fit(model, train, nn.CrossEntropyLoss(), optimizer, epochs=epochs)


def test_fit_on_an_empty_loader_raises():
    model, _, _, optimizer = _linear_problem()
    with pytest.raises(ValueError, match="no batches"):
        fit(model, [], nn.CrossEntropyLoss(), optimizer, epochs=1, verbose=False)


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_a_non_finite_loss_raises_floating_point_error_before_the_step(bad):
    model, train, _, optimizer = _linear_problem()
    before = [p.detach().clone() for p in model.parameters()]

    def broken_loss(out, y):
        return nn.functional.cross_entropy(out, y) * bad

    with pytest.raises(FloatingPointError, match="learning rate") as info:
        fit(model, train, broken_loss, optimizer, epochs=1, verbose=False)
    assert "epoch 1" in str(info.value)
    for p, p0 in zip(model.parameters(), before):
        assert torch.equal(p, p0)  # the bad step was not taken


# ------------------------------------------------------------------------------------------ evaluate


def test_evaluate_weights_batches_by_their_size():
    # Batches of 3 and 1 examples with MSE 1 and 9: the per-example mean is 3, the mean of batch means 5.
    x = torch.zeros(4, 1)
    y = torch.tensor([[1.0], [1.0], [1.0], [3.0]])
    loader = [(x[:3], y[:3]), (x[3:], y[3:])]
    loss_fn = nn.MSELoss()

    def mean_abs_error(out, target):
        return float((out - target).abs().mean())

    result = evaluate(nn.Identity(), loader, loss_fn, {"mae": mean_abs_error})
    unweighted = sum(float(loss_fn(a, b)) for a, b in loader) / len(loader)
    expected = float(loss_fn(x, y))
    assert expected != pytest.approx(unweighted)  # the case tells weighted from unweighted
    assert result["loss"] == pytest.approx(expected)
    assert result["mae"] == pytest.approx(mean_abs_error(x, y))
    assert set(result) == {"loss", "mae"}


def test_evaluate_runs_in_eval_mode_without_gradients_and_restores_the_mode():
    model = Recorder()
    x, y = _blobs(n=10)
    for start_in_training in (True, False):
        model.train(start_in_training)
        model.calls.clear()
        evaluate(model, TensorLoader(x, y, batch_size=4), nn.CrossEntropyLoss())
        assert [c[0] for c in model.calls] == [4, 4, 2]
        assert all(training is False and grad is False for _, training, grad in model.calls)
        assert model.training is start_in_training


def test_evaluate_matches_the_loss_on_the_whole_data_set():
    model, _, val, _ = _linear_problem()
    x, y = val.tensors
    with torch.no_grad():
        out = model(x)
    result = evaluate(model, TensorLoader(x, y, batch_size=30), nn.CrossEntropyLoss(), {"accuracy": accuracy})
    assert result["loss"] == pytest.approx(float(nn.CrossEntropyLoss()(out, y)), rel=1e-5)
    assert result["accuracy"] == pytest.approx(accuracy(out, y))


def test_evaluate_rejects_a_none_loader_and_an_empty_one():
    with pytest.raises(TypeError, match="loader is None"):
        evaluate(nn.Linear(2, 2), None, nn.MSELoss())
    with pytest.raises(ValueError, match="no batches"):
        evaluate(nn.Linear(2, 2), [], nn.MSELoss())


# ------------------------------------------------------------------------------------------ predict


def test_predict_concatenates_batches_in_eval_mode_and_restores_train_mode():
    torch.manual_seed(0)
    model = Recorder()
    model.train()
    x = torch.randn(10, 2)
    out = predict(model, x, batch_size=4)
    assert [c[0] for c in model.calls] == [4, 4, 2]
    assert all(training is False and grad is False for _, training, grad in model.calls)
    assert model.training
    assert out.shape == (10, 2)
    assert not out.requires_grad
    assert out.device == torch.device("cpu")
    with torch.no_grad():
        assert torch.allclose(out, model.linear(x))


def test_predict_keeps_eval_mode_when_the_model_was_in_eval_mode():
    model = nn.Dropout(0.5).eval()
    x = torch.ones(6, 3)
    assert torch.equal(predict(model, x), x)  # eval mode: dropout does nothing
    assert not model.training


def test_predict_rejects_bad_inputs():
    with pytest.raises(TypeError, match="torch.nn.Module"):
        predict(lambda x: x, torch.zeros(2, 2))
    with pytest.raises(TypeError, match="inputs must be a torch.Tensor, got list"):
        predict(nn.Linear(2, 2), [[0.0, 1.0]])
    with pytest.raises(ValueError, match="batch_size"):
        predict(nn.Linear(2, 2), torch.zeros(2, 2), batch_size=0)


# ------------------------------------------------------------------------------------------ progress


def test_progress_yields_the_items_of_the_iterable():
    assert list(progress(range(5), desc="steps", disable=True)) == [0, 1, 2, 3, 4]
