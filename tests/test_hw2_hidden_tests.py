"""HW2's hidden tests on their own, without a kernel: the references are right, each check passes the master's
solution and fails the mistake it is meant to catch (and only for the right reason), the probes rebuild a
submission's code from its source without running its top-level statements, and answers taken from the course's
reference are recognised."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from hw2_corpus import load_grader_module

ROOT = Path(__file__).resolve().parents[1]
HW2 = ROOT / "homework" / "hw2"
MASTER = HW2 / "hw2_unet_segmentation.ipynb"


hidden, probes = load_grader_module("hw2_hidden"), load_grader_module("hw2_probes")


@pytest.fixture(scope="module")
def inputs_and_secrets():
    return hidden.make_inputs("fast")


@pytest.fixture(scope="module")
def solution_env():
    env, notes = probes.student_env(json.loads(MASTER.read_text()), None)
    assert notes == [], notes
    return env


def _verdict(name, env, inputs_and_secrets):
    """Probe ``env`` (the globals of the functions defined in it, as in grading) and run check ``name``."""
    inputs, secrets = inputs_and_secrets
    check = hidden.BY_NAME[name]
    outputs = {check.probe: probes.run_probe(check.probe, env, inputs)}
    return hidden.run_check(check, outputs, inputs, secrets, "fast")


def _define(source, env):
    namespace = dict(env)
    exec(source, namespace)
    return namespace


# ------------------------------------------------------------------------------------------- the references

# Counted by hand:
#   class 0: pred 5 pixels, target 4, overlap 4 -> IoU 4/5, Dice 8/9
#   class 1: pred 5 pixels, target 4, overlap 3 -> IoU 3/6, Dice 6/9
#   class 2: pred 2 pixels, target 4, overlap 2 -> IoU 2/4, Dice 4/6
#   class 3: absent from both                    -> NaN
TARGET = np.array([[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 2, 2]])
PRED = np.array([[0, 0, 0, 1], [0, 0, 1, 1], [2, 2, 1, 1]])


def test_reference_iou_and_dice_on_hand_made_masks():
    iou, dice = hidden.reference_iou_dice(PRED, TARGET, 4)
    assert iou[:3].tolist() == pytest.approx([4 / 5, 3 / 6, 2 / 4])
    assert dice[:3].tolist() == pytest.approx([8 / 9, 6 / 9, 4 / 6])
    assert math.isnan(iou[3]) and math.isnan(dice[3])
    assert hidden.reference_mean_iou(PRED, TARGET, 4) == pytest.approx((4 / 5 + 3 / 6 + 2 / 4) / 3)


def test_reference_dice_equals_two_iou_over_one_plus_iou():
    rng = np.random.default_rng(0)
    target = rng.integers(0, 5, (4, 16, 16))
    pred = np.where(rng.random((4, 16, 16)) < 0.7, target, rng.integers(0, 5, (4, 16, 16)))
    iou, dice = hidden.reference_iou_dice(pred, target, 5)
    np.testing.assert_allclose(dice, 2 * iou / (1 + iou))


def test_reference_unet_has_the_homeworks_parameter_counts_and_returns_logits():
    assert sum(p.numel() for p in hidden.ReferenceUNet(1, 4, 8).parameters()) == 486_436  # the model HW2 trains
    net = hidden.ReferenceUNet(1, 4, 4)  # the small copy the forward-pass check uses
    assert sum(p.numel() for p in net.parameters()) == 122_036
    out = net(torch.rand(2, 1, 64, 64))
    assert out.shape == (2, 4, 64, 64) and (out < 0).any()


def test_reference_unet_output_pixel_sees_context_far_beyond_its_neighbourhood():
    torch.manual_seed(0)
    net = hidden.ReferenceUNet(1, 4, 4).eval()
    x = torch.rand(1, 1, 64, 64, requires_grad=True)
    net(x)[0, 1, 5, 5].backward()
    assert x.grad[0, 0, 4:7, 4:7].abs().sum() > 0  # its own pixels, through the top skip connection
    assert x.grad[0, 0, 40:, 40:].abs().sum() > 0  # 35+ pixels away: only through the bottleneck


def test_making_the_inputs_leaves_the_global_random_state_alone():
    torch.manual_seed(5)
    np.random.seed(5)
    expected = (torch.rand(3), np.random.rand(3))
    torch.manual_seed(5)
    np.random.seed(5)
    hidden.make_inputs("fast")
    assert torch.equal(torch.rand(3), expected[0]) and np.array_equal(np.random.rand(3), expected[1])


def test_the_hidden_test_images_are_not_the_notebooks_test_images(inputs_and_secrets):
    from course_utils.segmentation import SPLIT_SEEDS, SPLIT_SIZES, make_shapes

    inputs, secrets = inputs_and_secrets
    public = make_shapes(SPLIT_SIZES["fast"]["test"], seed=SPLIT_SEEDS["test"])
    assert not np.array_equal(inputs["q5_hidden_images"][:5], public.images[:5].numpy())
    assert "q5_hidden_masks" not in inputs and "q5_public_masks" not in inputs, "masks are for the checks only"


def test_points_add_up_to_15_and_match_the_masters_hidden_tests():
    per_question = {}
    for check in hidden.CHECKS:
        per_question[check.question] = per_question.get(check.question, 0) + check.points
    assert per_question == {"q1": 2, "q2": 4, "q3": 3, "q4": 3, "q5": 3}
    master = "\n".join("".join(c["source"]) for c in json.loads(MASTER.read_text())["cells"])
    for check in hidden.CHECKS:
        wrapper = f'hidden: true\npoints: {check.points:g}\n""" # END TEST CONFIG\ndef test_{check.name}(env):'
        assert wrapper in master and f'otter_check("{check.name}", env)' in master, check.name


# ------------------------------------------------------------------------------ the checks, on the solution


@pytest.mark.parametrize("name", [c.name for c in hidden.CHECKS if c.question != "q5"])
def test_the_solution_passes(name, solution_env, inputs_and_secrets):
    passed, message = _verdict(name, solution_env, inputs_and_secrets)
    assert passed, message


def _q5_verdicts(inputs_and_secrets, hidden_pred, public_pred, reported):
    inputs, secrets = inputs_and_secrets
    outputs = {"trained_model": {"hidden_pred": hidden_pred, "public_pred": public_pred},
               "reported": {"is_float": isinstance(reported, float), "value": float(reported)}}
    return {name: hidden.run_check(hidden.BY_NAME[name], outputs, inputs, secrets, "fast")
            for name in ("q5_target_on_hidden_test_set", "q5_reported_mean_iou")}


def test_q5_passes_a_model_that_segments_well_and_reports_its_own_score(inputs_and_secrets):
    _, secrets = inputs_and_secrets
    verdicts = _q5_verdicts(inputs_and_secrets, secrets["q5_hidden_masks"], secrets["q5_public_masks"], 1.0)
    assert all(passed for passed, _ in verdicts.values()), verdicts


def test_q5_fails_a_background_model_and_a_made_up_score(inputs_and_secrets):
    _, secrets = inputs_and_secrets
    background = np.zeros_like(secrets["q5_hidden_masks"])
    verdicts = _q5_verdicts(inputs_and_secrets, background, np.zeros_like(secrets["q5_public_masks"]), 0.95)
    passed, message = verdicts["q5_target_on_hidden_test_set"]
    assert not passed and "below the target 0.45" in message
    passed, message = verdicts["q5_reported_mean_iou"]
    assert not passed and "test_mean_iou is 0.950, but the trained model's test mean IoU is" in message


# ------------------------------------------------------------------------- the checks, on typical mistakes

MISTAKES = {
    # check: (code defining the mistake, words the failure message must contain)
    "q1_shuffled_batches_of_8": (
        "train_loader = DataLoader(TensorDataset(train_data.images, train_data.masks), batch_size=8)",
        "does not shuffle"),
    "q1_whole_training_set": (
        "train_loader = DataLoader(TensorDataset(train_data.images[:64], train_data.masks[:64]), batch_size=8, "
        "shuffle=True)", "the training set 1200"),
    "q2_double_conv_layers": (
        "def double_conv(i, o):\n    return nn.Sequential(nn.Conv2d(i, o, 3, padding=1), nn.BatchNorm2d(o), "
        "nn.ReLU(), nn.Conv2d(o, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU())",
        "layer 1 of double_conv(3, 5)"),
    "q2_equals_reference": (
        "class UNet(UNet):\n    def forward(self, x):\n"
        "        e1 = self.encoder1(x); e2 = self.encoder2(self.pool1(e1)); e3 = self.encoder3(self.pool2(e2))\n"
        "        e4 = self.encoder4(self.pool3(e3)); b = self.bottleneck(self.pool4(e4))\n"
        "        d4 = self.decoder4(torch.cat([e4, self.upconv4(b)], dim=1))\n"
        "        d3 = self.decoder3(torch.cat([self.upconv3(d4), e3], dim=1))\n"
        "        d2 = self.decoder2(torch.cat([self.upconv2(d3), e2], dim=1))\n"
        "        d1 = self.decoder1(torch.cat([self.upconv1(d2), e1], dim=1))\n"
        "        return self.conv(d1)", "order of the skip connections"),
    "q3_adam": ("optimizer = torch.optim.Adam(model.parameters(), lr=0.01)", "must be 0.001, got 0.01"),
    "q3_training_step": (
        "def train_one_epoch(model, loader, optimizer, loss_fn, device):\n    total = 0.0\n"
        "    for x, y in loader:\n        loss = loss_fn(model(x), y)\n        loss.backward()\n"
        "        optimizer.step()\n        total += loss.item() * len(x)\n    return total / len(loader.dataset)",
        "the gradients add up over the batches"),
    "q4_iou": ("def iou_per_class(pred, target, num_classes):\n"
               "    return torch.tensor([((pred == c) & (target == c)).sum().item() / max(1, ((pred == c) | "
               "(target == c)).sum().item()) for c in range(num_classes)])",
               "a class that is in neither pred nor target must be NaN"),
    "q4_dice": ("def dice_per_class(pred, target, num_classes):\n    return iou_per_class(pred, target, num_classes)",
                "these are the IoU values"),
    "q4_mean_iou": ("def mean_iou(pred, target, num_classes):\n"
                    "    return torch.nanmean(iou_per_class(pred, target, num_classes))", "Python float"),
}


@pytest.mark.parametrize("name", sorted(MISTAKES))
def test_each_check_fails_the_mistake_it_is_meant_to_catch(name, solution_env, inputs_and_secrets):
    source, words = MISTAKES[name]
    env = _define(source, solution_env)
    if name == "q3_adam" or name.startswith("q1"):
        env = _define(source, {**solution_env, "model": hidden.ReferenceUNet(1, 4, 4)})
    passed, message = _verdict(name, env, inputs_and_secrets)
    assert not passed and words in message, message


def test_zeroing_the_gradients_before_backward_is_also_a_correct_training_step(solution_env, inputs_and_secrets):
    env = _define(
        "def train_one_epoch(model, loader, optimizer, loss_fn, device):\n    model.train()\n    total = 0.0\n"
        "    for x, y in loader:\n        optimizer.zero_grad()\n        loss = loss_fn(model(x), y)\n"
        "        loss.backward()\n        optimizer.step()\n        total += loss.item() * len(x)\n"
        "    return total / len(loader.dataset)", solution_env)
    passed, message = _verdict("q3_training_step", env, inputs_and_secrets)
    assert passed, message


def test_code_that_raises_fails_its_check_with_the_error(solution_env, inputs_and_secrets):
    env = _define("def double_conv(i, o):\n    raise NotImplementedError('TODO')", solution_env)
    passed, message = _verdict("q2_double_conv_layers", env, inputs_and_secrets)
    assert not passed and "NotImplementedError: TODO" in message


# ------------------------------------------------------------- fair to correct styles: one mistake, one item

FLOAT32_METRICS = (
    "def iou_per_class(pred, target, num_classes):\n"
    "    c = torch.arange(num_classes).view(-1, *([1] * pred.dim()))\n"
    "    p, t = pred.unsqueeze(0) == c, target.unsqueeze(0) == c\n"
    "    dims = tuple(range(1, p.dim()))\n"
    "    return (p & t).sum(dim=dims).float() / (p | t).sum(dim=dims).float()\n"
    "def dice_per_class(pred, target, num_classes):\n"
    "    c = torch.arange(num_classes).view(-1, *([1] * pred.dim()))\n"
    "    p, t = pred.unsqueeze(0) == c, target.unsqueeze(0) == c\n"
    "    dims = tuple(range(1, p.dim()))\n"
    "    return 2 * (p & t).sum(dim=dims).float() / (p.sum(dim=dims) + t.sum(dim=dims)).float()\n"
    "def mean_iou(pred, target, num_classes):\n"
    "    return torch.nanmean(iou_per_class(pred, target, num_classes)).item()\n")


@pytest.mark.parametrize("name", ["q4_iou", "q4_dice", "q4_mean_iou"])
def test_float32_metrics_pass(name, solution_env, inputs_and_secrets):
    """Issue 25: IoU in float32 (what "a float tensor" and torch.nanmean give) lost the mean point (tolerance 1e-9)."""
    env = _define(FLOAT32_METRICS, solution_env)
    assert env["iou_per_class"](torch.tensor([0, 1]), torch.tensor([0, 1]), 2).dtype == torch.float32
    passed, message = _verdict(name, env, inputs_and_secrets)
    assert passed, message


def test_mean_iou_is_graded_on_the_graders_per_class_values(solution_env, inputs_and_secrets):
    """A wrong per-class IoU costs q4_iou only: mean_iou gets the grader's per-class values (with NaNs)."""
    env = _define("def iou_per_class(pred, target, num_classes):\n"
                  "    union = torch.stack([((pred == c) | (target == c)).sum() for c in range(num_classes)])\n"
                  "    inter = torch.stack([((pred == c) & (target == c)).sum() for c in range(num_classes)])\n"
                  "    return inter / union.clamp(min=1)", solution_env)
    assert not _verdict("q4_iou", env, inputs_and_secrets)[0]
    passed, message = _verdict("q4_mean_iou", env, inputs_and_secrets)
    assert passed, message


@pytest.mark.parametrize("source, words", [
    ("def mean_iou(pred, target, num_classes):\n    return iou_per_class(pred, target, num_classes).mean().item()",
     "the NaN of the absent class spreads into the mean"),
    ("def mean_iou(pred, target, num_classes):\n"
     "    return torch.nan_to_num(iou_per_class(pred, target, num_classes)).mean().item()",
     "the absent classes count as 0"),
    ("def mean_iou(pred, target, num_classes):\n    return torch.nanmean(iou_per_class(pred, target, num_classes))",
     "mean_iou returns a torch.Tensor, not a Python float"),
])
def test_a_wrong_mean_iou_is_told_its_mistake(source, words, solution_env, inputs_and_secrets):
    passed, message = _verdict("q4_mean_iou", _define(source, solution_env), inputs_and_secrets)
    assert not passed and words in message, message


def test_iou_for_a_fixed_number_of_classes_is_told_to_use_the_argument(solution_env, inputs_and_secrets):
    env = _define("def iou_per_class(pred, target, num_classes, _right=iou_per_class):\n"
                  "    return _right(pred, target, 4)", solution_env)
    passed, message = _verdict("q4_iou", env, inputs_and_secrets)
    assert not passed and "use the argument, not a fixed 4" in message, message


def test_a_wrong_double_conv_costs_its_own_point_only(solution_env, inputs_and_secrets):
    """The U-Net checks build the network with the question's double_conv (issue 25: one mistake, one item)."""
    env = _define("def double_conv(i, o):\n    return nn.Sequential(nn.Conv2d(i, o, 3, padding=1), nn.BatchNorm2d(o), "
                  "nn.ReLU(), nn.Conv2d(o, o, 3, padding=1), nn.BatchNorm2d(o), nn.ReLU())", solution_env)
    passed, message = _verdict("q2_double_conv_layers", env, inputs_and_secrets)
    assert not passed and "layer 1 of double_conv(3, 5), a Conv2d: has_bias is True, expected False" in message
    for name in ("q2_shapes_and_parameters", "q2_equals_reference"):
        passed, message = _verdict(name, env, inputs_and_secrets)
        assert passed, (name, message)


def test_a_subclass_of_sequential_is_an_nn_sequential(solution_env, inputs_and_secrets):
    env = _define("class DoubleConv(nn.Sequential):\n    pass\n"
                  "def double_conv(i, o, _given=double_conv):\n    return DoubleConv(*_given(i, o))", solution_env)
    passed, message = _verdict("q2_double_conv_layers", env, inputs_and_secrets)
    assert passed, message


def test_a_softmax_output_is_named(solution_env, inputs_and_secrets):
    env = _define("class UNet(UNet):\n    def forward(self, x):\n        return super().forward(x).softmax(dim=1)",
                  solution_env)
    passed, message = _verdict("q2_equals_reference", env, inputs_and_secrets)
    assert not passed and "the output is a softmax of the right logits" in message, message


def test_a_training_step_that_uses_the_notebooks_globals_is_graded_as_in_the_notebook(solution_env,
                                                                                      inputs_and_secrets):
    """In the notebook the globals are the objects passed in: the probe makes them so (a style, not a mistake)."""
    env = _define(
        "def train_one_epoch(model_, loader, optimizer_, loss_fn_, device_):\n    model.train()\n    total = 0.0\n"
        "    for x, y in loader:\n        loss = loss_fn(model(x.to(device)), y.to(device))\n"
        "        optimizer.zero_grad()\n        loss.backward()\n        optimizer.step()\n"
        "        total += loss.item() * len(x)\n    return total / len(loader.dataset)", solution_env)
    passed, message = _verdict("q3_training_step", env, inputs_and_secrets)
    assert passed, message


def test_a_batch_size_mistake_costs_one_point(solution_env, inputs_and_secrets):
    env = _define("train_loader = DataLoader(TensorDataset(train_data.images, train_data.masks), batch_size=16, "
                  "shuffle=True)", {**solution_env, "model": hidden.ReferenceUNet(1, 4, 4)})
    assert not _verdict("q1_shuffled_batches_of_8", env, inputs_and_secrets)[0]
    passed, message = _verdict("q1_whole_training_set", env, inputs_and_secrets)
    assert passed, message


def test_an_error_on_one_metric_does_not_cost_the_others(solution_env, inputs_and_secrets):
    env = _define("def dice_per_class(pred, target, num_classes):\n    raise NotImplementedError('later')",
                  solution_env)
    passed, message = _verdict("q4_dice", env, inputs_and_secrets)
    assert not passed and "NotImplementedError: later (on pred and target of shape" in message, message
    assert _verdict("q4_iou", env, inputs_and_secrets)[0] and _verdict("q4_mean_iou", env, inputs_and_secrets)[0]


# q5: the reported value against the trained model's predictions, as the probes record them
def _q5_reported(inputs_and_secrets, reported, public_pred, own=None, kind=None, model_error=None):
    inputs, secrets = inputs_and_secrets
    number, found_kind = probes._reported_number(reported)
    model = {"error": model_error} if model_error else {"hidden_pred": public_pred[:0], "public_pred": public_pred,
                                                        **({"own_mean_iou": own} if own is not None else {})}
    outputs = {"reported": {"is_float": found_kind == "float", "type": kind or found_kind, "value": number},
               "trained_model": model}
    return hidden.run_check(hidden.BY_NAME["q5_reported_mean_iou"], outputs, inputs, secrets, "fast")


def test_q5_a_test_mean_iou_from_the_students_own_metric_is_not_misreporting(inputs_and_secrets):
    _, secrets = inputs_and_secrets
    masks = secrets["q5_public_masks"]
    pred = np.where(np.arange(masks.size).reshape(masks.shape) % 3 == 0, 0, masks)  # a fair model
    actual = hidden.reference_mean_iou(pred, masks)
    passed, message = _q5_reported(inputs_and_secrets, actual - 0.2, pred, own=actual - 0.2)
    assert passed and "what your mean_iou gives" in message, message
    passed, message = _q5_reported(inputs_and_secrets, f"tensor({actual:.4f})", pred)
    assert passed and "a Python float is asked for, see q4" in message, message
    passed, message = _q5_reported(inputs_and_secrets, actual - 0.2, pred, own=actual)
    assert not passed and f"test_mean_iou is {actual - 0.2:.3f}, but the trained model's test mean IoU is" in message
    assert "compute test_mean_iou last" in message


def test_q5_names_why_the_trained_model_is_missing(inputs_and_secrets, tmp_path):
    """Issue 25: q5 read as an accusation of misreporting when the real cause was q2's code failing in the probe;
    the probes never evaluate a stand-in model in its place."""
    torch.save({}, tmp_path / "model.pt")
    (tmp_path / "reported.json").write_text(json.dumps({"test_mean_iou": 0.78}))
    nb = _notebook("def double_conv(i, o):\n    return nn.Sequential(nn.Conv2d(i, o, SIZE))",
                   "SIZE = load_size()\nclass UNet(nn.Module):\n    def __init__(self, in_channels, out_channels, "
                   "init_features):\n        super().__init__()\n        self.a = double_conv(in_channels, 4)")
    env, notes = probes.student_env(nb, tmp_path)
    out = probes.run_probe("trained_model", env, {})
    assert "the trained weights do not load into UNet(1, 4, 8): NameError: name 'SIZE' is not defined" in out["error"]
    assert "`SIZE` is set at the top level of code cell 2 (`SIZE = load_size()`)" in out["error"]
    assert "it calls load_size(...)" in out["error"]
    inputs, secrets = inputs_and_secrets
    outputs = {"trained_model": out, "reported": probes.run_probe("reported", env, {})}
    for name in ("q5_target_on_hidden_test_set", "q5_reported_mean_iou"):
        passed, message = hidden.run_check(hidden.BY_NAME[name], outputs, inputs, secrets, "fast")
        assert not passed and message.startswith("the trained model could not be evaluated: the trained weights"), \
            message


# --------------------------------------------------------------------- the submission's code, from source


def _notebook(*sources):
    return {"cells": [{"cell_type": "code", "source": s} for s in sources]}


def test_student_env_runs_definitions_but_not_top_level_statements(tmp_path):
    marker = tmp_path / "ran"
    nb = _notebook(
        f"import pathlib\npathlib.Path({str(marker)!r}).write_text('top level ran')\n"
        "def iou_per_class(pred, target, num_classes):\n    return 'mine'\n",
        "%matplotlib inline\ntrain_loader = DataLoader(TensorDataset(train_data.images, train_data.masks), "
        "batch_size=8, shuffle=True)\n",
        "def broken(:\n    pass",
    )
    env, notes = probes.student_env(nb, None)
    assert env["iou_per_class"](None, None, 4) == "mine" and not marker.exists()
    assert env["train_loader"].batch_size == 8, "the cell that creates train_loader runs, with the grader's data"
    assert any("cell 3 is not valid Python" in n for n in notes) and any("optimizer" in n for n in notes)


def test_student_env_reruns_constants_and_helpers_but_not_the_notebooks_work(tmp_path):
    """Issue 25: `KERNEL_SIZE = 3` used in double_conv and `num_classes=NUM_CLASSES` as a default argument failed
    (NameError) because the rebuild skipped every top-level assignment. Cheap ones run again now; the rest not."""
    marker = tmp_path / "ran"
    nb = _notebook(
        "from functools import partial\nKERNEL_SIZE = 3\nNUM_CLASSES = len(CLASS_NAMES)\nH, *REST = (64, 1)\n"
        "conv3x3 = partial(nn.Conv2d, kernel_size=KERNEL_SIZE, padding=KERNEL_SIZE // 2)\n"
        "act = lambda: nn.ReLU(inplace=True)\nEPS: float = 1e-9\n"
        f"SLOW = pathlib.Path({str(marker)!r}).write_text('ran')\n"
        "test_mean_iou = 0.99\nmodel = 'not the grader model'\n",
        "def double_conv(i, o):\n    return nn.Sequential(conv3x3(i, o), act())\n"
        "def mean_iou(pred, target, num_classes=NUM_CLASSES):\n    return num_classes + EPS * 0\n"
        "def uses_slow():\n    return SLOW\n",
    )
    env, notes = probes.student_env(nb, None)
    assert notes == ["no cell assigns `train_loader`", "no cell assigns `optimizer`"], notes
    assert env["double_conv"](1, 2)[0].kernel_size == (3, 3) and env["mean_iou"](None, None) == 4
    assert env["H"] == 64 and env["REST"] == [1]
    assert not marker.exists() and "SLOW" not in env, "a statement that calls other code is not run again"
    assert "test_mean_iou" not in env and env["model"] != "not the grader model", "the grader's names stay its own"
    assert "saved no test_mean_iou" in probes.run_probe("reported", env, {})["error"], "not the literal 0.99"
    out = probes._with_cause("NameError: name 'SLOW' is not defined",
                             NameError("name 'SLOW' is not defined", name="SLOW"), env)
    assert "`SLOW` is set at the top level of code cell 1" in out and "it calls pathlib.Path(" in out


@pytest.mark.parametrize("source, rerun", [
    ("K = 3", True), ("N = len(CLASS_NAMES)", True), ("c = partial(nn.Conv2d, kernel_size=3)", True),
    ("t = torch.nn.ReLU()", True), ("s = math.sqrt(2)", True), ("w = [nn.Conv2d(1, 2, 3) for _ in range(2)]", True),
    ("a = lambda x: torch.relu(x)", True), ("d = torch.device('cpu')", True),
    ("m = UNet()", False), ("x = nn.init.zeros_(w)", False), ("y = nn.functional.relu(x)", False),
    ("x.y = 3", False), ("x[0] = 3", False), ("model = 3", False), ("test_mean_iou = 0.5", False),
    ("losses = [train_one_epoch(model, train_loader, optimizer, loss_fn, device) for _ in range(5)]", False),
    ("for epoch in range(5):\n    train_one_epoch(model, train_loader, optimizer, loss_fn, device)", False),
    ("w = (yield)", False),
])
def test_which_top_level_statements_run_again(source, rerun):
    import ast

    assert (probes._rerun_reason(ast.parse(source).body[0]) is None) == rerun


def test_a_missing_function_names_why_it_is_missing(inputs_and_secrets):
    nb = _notebook("def mean_iou(pred, target, num_classes=CLASSES):\n    return 0.0",
                   "CLASSES = cu.by_mode(full=4, fast=4)")
    env, notes = probes.student_env(nb, None)
    out = probes.run_probe("mean_iou", env, inputs_and_secrets[0])
    assert out["error"].startswith("NameError: name 'mean_iou' is not defined: its definition (code cell 1, line 1) "
                                   "raised NameError: name 'CLASSES' is not defined"), out
    assert any("code cell 1, line 1: NameError: name 'CLASSES' is not defined" in n for n in notes), notes


def test_student_env_loads_the_trained_weights_saved_by_the_notebook(tmp_path, solution_env):
    model = solution_env["UNet"](in_channels=1, out_channels=4, init_features=8)
    torch.nn.init.constant_(model.conv.bias, 0.25)
    torch.save(model.state_dict(), tmp_path / "model.pt")
    (tmp_path / "reported.json").write_text(json.dumps({"test_mean_iou": 0.5}))
    env, notes = probes.student_env(json.loads(MASTER.read_text()), tmp_path)
    trained = env[probes.TRAINED_MODEL]
    assert torch.equal(trained.conv.bias, model.conv.bias) and env["model"] is trained
    assert probes.run_probe("reported", env, {}) == {"is_float": True, "type": "float", "value": 0.5}
    assert probes.run_probe("optimizer", env, {})["all_model_parameters"], "optimizer built on the trained model"


# ---------------------------------------------------------------------------- answers from the reference

@pytest.mark.parametrize("source, questions", [
    ("from course_utils.unet import UNet", {"q2"}),
    ("import course_utils.unet as ref\nUNet = ref.UNet", {"q2"}),
    ("from course_utils.metrics import iou_per_class, dice_per_class, mean_iou", {"q4"}),
    ("import course_utils as cu\nmean_iou = cu.mean_iou", {"q4"}),
    ("import importlib\nref = importlib.import_module('hw2_hidden')", {"q2", "q4"}),
    ("from hw2_hidden import ReferenceUNet as UNet", {"q2", "q4"}),
])
def test_an_answer_taken_from_the_reference_is_recognised(source, questions):
    found = hidden.reference_uses([source])
    assert set(found) == questions and all("course's reference" in why for why in found.values())


def test_the_solution_does_not_use_the_reference():
    cells = [c for c in json.loads(MASTER.read_text())["cells"] if c["cell_type"] == "code"]
    assert hidden.reference_uses(["".join(c["source"]) for c in cells if "otter_check" not in "".join(c["source"])
                                  ]) == {}


def test_a_file_name_that_only_mentions_the_hidden_tests_is_not_an_import():
    assert hidden.reference_uses(["for name in files:\n    if name == 'hw2_hidden.py':\n        print(name)"]) == {}


def test_every_benchmarked_seed_of_the_solution_clears_the_graders_targets():
    """README and the notebook promise that a correct solution passes q5 whatever its random state: the benchmark
    row that trains the solution's recipe from 20 seeds must show it, for the targets the grader uses now."""
    metrics = json.loads((ROOT / "benchmarks.json").read_text())["rows"]["hw2_seeds"]["metrics"]
    for mode, target in hidden.TARGETS.items():
        assert metrics[f"{mode} mode: seeds reaching the target {target}"] == "20/20", (mode, metrics)
        assert metrics[f"{mode} mode, 20 seeds: worst test mean IoU"] >= target, (mode, metrics)


def test_readme_states_the_graders_targets():
    readme = " ".join((ROOT / "README.md").read_text().split())
    full, fast = hidden.TARGETS["full"], hidden.TARGETS["fast"]
    assert f"target ({full:.2f}, or {fast:.2f} with `MODE=fast`)" in readme, "README's HW2 section: the q5 targets"


@pytest.mark.parametrize("concept", ["BatchNorm", "Adam", "cosine schedule"])
def test_concepts_of_lecture_02b_are_linked_where_the_homework_first_uses_them(concept):
    import nbformat

    student = ROOT / "notebooks" / "hw2_unet_segmentation.ipynb"
    markdown = [" ".join(c.source.split()) for c in nbformat.read(student, as_version=4).cells
                if c.cell_type == "markdown"]
    first = next(text for text in markdown if concept in text)
    assert "](02b_training_deep_networks.ipynb)" in first, f"the first cell that mentions {concept!r} links 02b"


def test_the_evaluation_has_its_own_cell_and_its_todo_names_test_pred():
    """Issue 25: fixing a typo in the evaluation meant training again, and the TODO did not name test_pred, which
    the given cells after it use."""
    import nbformat

    student = ROOT / "notebooks" / "hw2_unet_segmentation.ipynb"
    code = [c.source for c in nbformat.read(student, as_version=4).cells if c.cell_type == "code"]
    evaluation = next(c for c in code if "# TODO: predict the test set" in c)
    assert "`test_pred`" in evaluation and "on the" in evaluation and "CPU" in evaluation
    assert "train_one_epoch(" not in evaluation and "for epoch" not in evaluation
    assert any("test_pred" in c for c in code[code.index(evaluation) + 1:]), "later cells use test_pred"
