"""HW2's hidden tests on their own, without a kernel: the references are right, each check passes the master's
solution and fails the mistake it is meant to catch (and only for the right reason), the probes rebuild a
submission's code from its source without running its top-level statements, and answers taken from the course's
reference are recognised."""

import importlib.util
import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
HW2 = ROOT / "homework" / "hw2"
MASTER = HW2 / "hw2_unet_segmentation.ipynb"


def _load(name):
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, HW2 / f"{name}.py")
        sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[name])
    return sys.modules[name]


hidden, probes = _load("hw2_hidden"), _load("hw2_probes")


@pytest.fixture(scope="module")
def inputs_and_secrets():
    return hidden.make_inputs("fast")


@pytest.fixture(scope="module")
def solution_env():
    env, notes = probes.student_env(json.loads(MASTER.read_text()), None)
    assert notes == [], notes
    return env


def _verdict(name, env, inputs_and_secrets, **overrides):
    """Probe ``env`` (with ``overrides`` defined in it) and run check ``name``."""
    inputs, secrets = inputs_and_secrets
    env = {**env, **overrides}
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
        "do not accumulate"),
    "q4_iou": ("def iou_per_class(pred, target, num_classes):\n"
               "    return torch.tensor([((pred == c) & (target == c)).sum().item() / max(1, ((pred == c) | "
               "(target == c)).sum().item()) for c in range(num_classes)])", "iou_per_class on a test case"),
    "q4_dice": ("def dice_per_class(pred, target, num_classes):\n    return iou_per_class(pred, target, num_classes)",
                "dice_per_class on a test case"),
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


def test_student_env_loads_the_trained_weights_saved_by_the_notebook(tmp_path, solution_env):
    model = solution_env["UNet"](in_channels=1, out_channels=4, init_features=8)
    torch.nn.init.constant_(model.conv.bias, 0.25)
    torch.save(model.state_dict(), tmp_path / "model.pt")
    (tmp_path / "reported.json").write_text(json.dumps({"test_mean_iou": 0.5}))
    env, notes = probes.student_env(json.loads(MASTER.read_text()), tmp_path)
    trained = env[probes.TRAINED_MODEL]
    assert torch.equal(trained.conv.bias, model.conv.bias) and env["model"] is trained
    assert probes.run_probe("reported", env, {}) == {"is_float": True, "value": 0.5}
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
