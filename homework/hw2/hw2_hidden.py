"""HW2 hidden tests: the references and the checks. Instructor only: it ships in the autograder zip, never to
students (not in course_utils, not in the student notebook).

A hidden test is a pair: a *probe* (``hw2_probes.py``) calls the student's code on inputs made here and records
what comes out; a *check* (here) compares that with a reference computed by this module's own code. In local
grading (``make grade``: ``python -m tools.autograder grade``) the probe runs in a sandboxed process that has
not run the notebook's top-level code, and the checks run in the grader's process, which never executes student
code and holds the only copy of the hidden test masks. Under otter (``otter assign``, Gradescope) both run in the
notebook's process through :func:`otter_check`.

Targets are fixed here and by the grader's ``--mode``, never read from the notebook's environment.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

NUM_CLASSES = 4
# Test mean IoU a trained model must reach, by grading mode. BENCHMARKS.md (row hw2_seeds) trains the solution's
# recipe from 20 random states in each mode; every one must clear these (tests/test_hw2_hidden_tests.py checks).
TARGETS = {"full": 0.85, "fast": 0.45}
HIDDEN_TEST_SEED = 20_240_917  # without a secret only (see _seeds): graded hidden images come from the build's secret
HIDDEN_TEST_SIZE = {"full": 200, "fast": 100}
MODE_FILE = Path(__file__).with_name("grading_mode.txt")  # written by `make homework`: "fast" for its own check


# ------------------------------------------------------------------------------------------ the references


def reference_double_conv(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
        nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class ReferenceUNet(nn.Module):
    """The U-Net of HW2 (the architecture of Buda et al. 2019), returning logits."""

    def __init__(self, in_channels: int = 1, out_channels: int = 4, init_features: int = 4):
        super().__init__()
        f = init_features
        self.encoder1 = reference_double_conv(in_channels, f)
        self.pool1 = nn.MaxPool2d(kernel_size=2, stride=2)
        self.encoder2 = reference_double_conv(f, 2 * f)
        self.pool2 = nn.MaxPool2d(kernel_size=2, stride=2)
        self.encoder3 = reference_double_conv(2 * f, 4 * f)
        self.pool3 = nn.MaxPool2d(kernel_size=2, stride=2)
        self.encoder4 = reference_double_conv(4 * f, 8 * f)
        self.pool4 = nn.MaxPool2d(kernel_size=2, stride=2)
        self.bottleneck = reference_double_conv(8 * f, 16 * f)
        self.upconv4 = nn.ConvTranspose2d(16 * f, 8 * f, kernel_size=2, stride=2)
        self.decoder4 = reference_double_conv(16 * f, 8 * f)
        self.upconv3 = nn.ConvTranspose2d(8 * f, 4 * f, kernel_size=2, stride=2)
        self.decoder3 = reference_double_conv(8 * f, 4 * f)
        self.upconv2 = nn.ConvTranspose2d(4 * f, 2 * f, kernel_size=2, stride=2)
        self.decoder2 = reference_double_conv(4 * f, 2 * f)
        self.upconv1 = nn.ConvTranspose2d(2 * f, f, kernel_size=2, stride=2)
        self.decoder1 = reference_double_conv(2 * f, f)
        self.conv = nn.Conv2d(f, out_channels, kernel_size=1)

    def forward(self, x):
        enc1 = self.encoder1(x)
        enc2 = self.encoder2(self.pool1(enc1))
        enc3 = self.encoder3(self.pool2(enc2))
        enc4 = self.encoder4(self.pool3(enc3))
        bottleneck = self.bottleneck(self.pool4(enc4))
        dec4 = self.decoder4(torch.cat([self.upconv4(bottleneck), enc4], dim=1))
        dec3 = self.decoder3(torch.cat([self.upconv3(dec4), enc3], dim=1))
        dec2 = self.decoder2(torch.cat([self.upconv2(dec3), enc2], dim=1))
        dec1 = self.decoder1(torch.cat([self.upconv1(dec2), enc1], dim=1))
        return self.conv(dec1)


def reference_iou_dice(pred: np.ndarray, target: np.ndarray, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """IoU and Dice per class in numpy; NaN for a class in neither map."""
    iou, dice = np.full(num_classes, np.nan), np.full(num_classes, np.nan)
    for c in range(num_classes):
        p, t = pred == c, target == c
        inter, union, size = np.sum(p & t), np.sum(p | t), np.sum(p) + np.sum(t)
        if union:
            iou[c], dice[c] = inter / union, 2 * inter / size
    return iou, dice


def reference_mean_iou(pred: np.ndarray, target: np.ndarray, num_classes: int = NUM_CLASSES) -> float:
    iou, _ = reference_iou_dice(pred, target, num_classes)
    return float(np.nanmean(iou))


# ---------------------------------------------------------------------------------------------- the inputs


def _reference_unet_weights(seed: int = 123) -> dict[str, np.ndarray]:
    with torch.random.fork_rng(devices=[]):  # leave the caller's random state alone
        torch.manual_seed(seed)
        net = ReferenceUNet(1, 4, 4)
        for module in net.modules():  # non-trivial BatchNorm parameters, so that a swapped layer shows
            if isinstance(module, nn.BatchNorm2d):
                nn.init.uniform_(module.weight, 0.5, 1.5)
                nn.init.uniform_(module.bias, -0.2, 0.2)
    return {k: v.detach().numpy().copy() for k, v in net.state_dict().items()}


def _seeds(secret: str | None) -> tuple[int, int, int]:
    """Seeds of (the probes' inputs, the q2 weights, the hidden test images). From the secret that `make homework`
    draws and keeps in the autograder zip only, so that nothing a student can read determines them; the fixed
    seeds without a secret serve this module's own tests and otter assign's check of the solution, never grading."""
    if secret is None:
        return 2024, 123, HIDDEN_TEST_SEED
    digest = hashlib.sha256(f"hw2 hidden test data\0{secret}".encode()).digest()
    return tuple(int.from_bytes(digest[i:i + 4], "little") for i in (0, 4, 8))


def make_inputs(mode: str, secret: str | None = None) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(inputs for the probes, secrets for the checks only), drawn from ``secret`` (see :func:`_seeds`).
    Deterministic; touches no global random state."""
    from course_utils.segmentation import SPLIT_SEEDS, SPLIT_SIZES, make_shapes

    inputs_seed, weights_seed, hidden_seed = _seeds(secret)
    rng = np.random.default_rng(inputs_seed)
    inputs: dict[str, np.ndarray] = {}
    for key, value in _reference_unet_weights(weights_seed).items():
        inputs[f"q2_weight/{key}"] = value
    inputs["q2_x"] = rng.random((3, 1, 64, 64), dtype=np.float32)
    inputs["q3_weight"] = (rng.standard_normal((4, 1, 3, 3)) * 0.3).astype(np.float32)
    inputs["q3_bias"] = np.zeros(4, dtype=np.float32)
    inputs["q3_images"] = rng.random((16, 1, 16, 16), dtype=np.float32)
    inputs["q3_masks"] = rng.integers(0, 4, (16, 16, 16)).astype(np.int64)
    inputs["q3_lr"] = np.array(0.5)
    cases = [(np.array([[0, 1, 1, 1]]), np.array([[0, 0, 1, 1]]), 2),  # the worked example
             (np.array([[0, 2], [2, 2]]), np.array([[0, 0], [2, 2]]), 3)]  # class 1 absent from both
    for _ in range(4):
        target = rng.integers(0, 4, (3, 16, 16))
        pred = np.where(rng.random((3, 16, 16)) < 0.7, target, rng.integers(0, 4, (3, 16, 16)))
        cases.append((pred, target, 4))
    cases.append((rng.integers(0, 3, (2, 8, 8)), rng.integers(0, 3, (2, 8, 8)), 5))  # classes 3, 4 absent
    inputs["q4_cases"] = np.array(len(cases))
    for i, (pred, target, classes) in enumerate(cases):
        inputs[f"q4_pred_{i}"], inputs[f"q4_target_{i}"] = pred.astype(np.int64), target.astype(np.int64)
        inputs[f"q4_classes_{i}"] = np.array(classes)
    # mean_iou's own cases (other maps than iou_per_class's): the probe makes iou_per_class return the grader's
    # per-class IoU of each (q4_mean_iou_i, NaN for an absent class), so that only the averaging is tested.
    mean_rng = np.random.default_rng(inputs_seed + 1)  # 2025 without a secret
    target = mean_rng.integers(0, 4, (2, 12, 12))
    mean_cases = [(np.array([[0, 1, 1, 1]]), np.array([[0, 0, 1, 1]]), 2),  # the worked example, no absent class
                  (np.array([[0, 2, 2, 2]]), np.array([[0, 0, 2, 2]]), 3),  # class 1 absent: NaN, skipped
                  (mean_rng.integers(0, 3, (2, 8, 8)), mean_rng.integers(0, 3, (2, 8, 8)), 5),  # 3 and 4 absent
                  (np.where(mean_rng.random((2, 12, 12)) < 0.6, target, mean_rng.integers(0, 4, (2, 12, 12))),
                   target, 4)]
    inputs["q4_mean_cases"] = np.array(len(mean_cases))
    for i, (pred, target, classes) in enumerate(mean_cases):
        inputs[f"q4_mean_pred_{i}"], inputs[f"q4_mean_target_{i}"] = pred.astype(np.int64), target.astype(np.int64)
        inputs[f"q4_mean_classes_{i}"] = np.array(classes)
        inputs[f"q4_mean_iou_{i}"] = reference_iou_dice(pred, target, classes)[0]
    hidden = make_shapes(HIDDEN_TEST_SIZE[mode], seed=hidden_seed)
    public = make_shapes(SPLIT_SIZES[mode]["test"], seed=SPLIT_SEEDS["test"])  # the notebook's test split
    inputs["q5_hidden_images"] = hidden.images.numpy()
    inputs["q5_public_images"] = public.images.numpy()
    secrets = {"q5_hidden_masks": hidden.masks.numpy(), "q5_public_masks": public.masks.numpy()}
    return inputs, secrets


# ---------------------------------------------------------------------------------------------- the checks


@dataclass(frozen=True)
class Check:
    name: str
    question: str
    points: float
    probe: str
    check: Callable[[dict, dict, dict, str], tuple[bool, str]]  # (outputs, inputs, secrets, mode) -> verdict
    also: str | None = None  # a second probe whose outputs the check reads, under out[also]


def _arr(outputs, key, dtype=np.float64):
    value = outputs.get(key)
    if value is None:
        raise KeyError(key)
    return np.asarray(value, dtype=dtype)


def _first_failure(requirements: list[tuple[bool, str]], passed: str) -> tuple[bool, str]:
    """The message of the first requirement not met (in order), else ``passed``."""
    for met, why in requirements:
        if not met:
            return False, why
    return True, passed


def check_loader_shuffles_batches_of_8(out, inputs, secrets, mode):
    return _first_failure([
        (out.get("is_dataloader"), "train_loader is not a torch.utils.data.DataLoader"),
        (out.get("batch_size") == 8, f"the batch size must be 8, got {out.get('batch_size')}"),
        (out.get("shuffles"), "the loader does not shuffle (shuffle=True)"),
    ], "a shuffled DataLoader with batches of 8")


def check_loader_covers_the_training_set(out, inputs, secrets, mode):
    """The whole training set, images and integer masks (the batch size is the other check's)."""
    from course_utils.segmentation import SPLIT_SIZES

    expected = SPLIT_SIZES[mode]["train"]
    if out.get("dataset_len") != expected:
        return False, f"the loader's dataset has {out.get('dataset_len')} examples, the training set {expected}: " \
                      "wrap all of train_data.images and train_data.masks"
    (image_shape, image_type), (mask_shape, mask_type) = out.get("image_batch"), out.get("mask_batch")
    batch = image_shape[0] if image_shape else None
    if image_shape[1:] != [1, 64, 64] or mask_shape != [batch, 64, 64] or image_type != "torch.float32" \
            or mask_type != "torch.int64":
        return False, f"a batch holds images {image_shape} {image_type} and masks {mask_shape} {mask_type}; " \
                      "expected (B, 1, 64, 64) float32 images and (B, 64, 64) int64 masks (the TensorDataset of " \
                      "train_data.images and train_data.masks, in that order)"
    return True, "batches of images and integer masks from the whole training set"


EXPECTED_DOUBLE_CONV = [
    {"type": "torch.nn.modules.conv.Conv2d", "in_channels": 3, "out_channels": 5, "kernel_size": [3, 3],
     "padding": [1, 1], "stride": [1, 1], "has_bias": False},
    {"type": "torch.nn.modules.batchnorm.BatchNorm2d", "num_features": 5},
    {"type": "torch.nn.modules.activation.ReLU"},
    {"type": "torch.nn.modules.conv.Conv2d", "in_channels": 5, "out_channels": 5, "kernel_size": [3, 3],
     "padding": [1, 1], "stride": [1, 1], "has_bias": False},
    {"type": "torch.nn.modules.batchnorm.BatchNorm2d", "num_features": 5},
    {"type": "torch.nn.modules.activation.ReLU"},
]


def _short(layer_type: str) -> str:
    return str(layer_type).rsplit(".", 1)[-1]


def check_double_conv_layers(out, inputs, secrets, mode):
    if not out.get("is_sequential"):
        return False, f"double_conv must return an nn.Sequential, got {out.get('type')}"
    layers = out.get("layers") or []
    if len(layers) != len(EXPECTED_DOUBLE_CONV):
        return False, (f"double_conv(3, 5) has {len(layers)} layers ({', '.join(_short(x['type']) for x in layers)})"
                       ", expected 6: Conv2d, BatchNorm2d, ReLU, Conv2d, BatchNorm2d, ReLU")
    for i, (got, want) in enumerate(zip(layers, EXPECTED_DOUBLE_CONV)):
        for key, value in want.items():
            if got.get(key) != value:
                what = _short(got.get(key)) if key == "type" else got.get(key)
                hint = " (bias=False: the BatchNorm after it subtracts the mean anyway)" if key == "has_bias" else ""
                return False, (f"layer {i + 1} of double_conv(3, 5), a {_short(got['type'])}: {key} is {what}, "
                               f"expected {_short(value) if key == 'type' else value}{hint}")
    return True, "double_conv has the six layers in order"


def check_unet_shapes_and_parameters(out, inputs, secrets, mode):
    if out.get("parameters") != 486_436:
        return False, (f"UNet(1, 4, 8), built with the question's double_conv, has {out.get('parameters'):,} "
                       "parameters, expected 486,436: keep the layers that __init__ creates as given")
    if out.get("output_shape") != [2, 4, 64, 64] or out.get("other_output_shape") != [1, 2, 128, 96]:
        return False, (f"output shapes {out.get('output_shape')} and {out.get('other_output_shape')}, expected "
                       "[2, 4, 64, 64] and [1, 2, 128, 96] (one logit per class and pixel, any size / width)")
    return True, "UNet: 486,436 parameters and one logit per class and pixel"


def check_unet_equals_the_reference(out, inputs, secrets, mode):
    got = _arr(out, "output")
    net = ReferenceUNet(1, 4, 4)
    net.load_state_dict({k[len("q2_weight/"):]: torch.from_numpy(np.array(v))
                         for k, v in inputs.items() if k.startswith("q2_weight/")})
    net.train()
    with torch.no_grad():
        logits = net(torch.from_numpy(np.array(inputs["q2_x"]))).double()
    want = logits.numpy()
    if got.shape != want.shape:
        return False, f"output shape {got.shape}, expected {want.shape}"

    def close(a, b):
        return bool(np.all(np.isfinite(a))) and float(np.max(np.abs(a - b))) <= 1e-4 * (1 + float(np.max(np.abs(b))))

    if not close(got, want):
        for name, squashed in (("a softmax", torch.softmax(logits, dim=1)), ("a sigmoid", torch.sigmoid(logits))):
            if close(got, squashed.numpy()):
                return False, (f"the output is {name} of the right logits: return the logits of the final 1x1 "
                               "convolution (nn.CrossEntropyLoss applies log-softmax itself)")
        error = float(np.max(np.abs(got - want))) if np.all(np.isfinite(got)) else math.inf
        return False, (f"on the same weights the output differs from the reference U-Net by up to {error:.3g}: "
                       "check the order of the skip connections (the up-sampled map first, then the encoder's) and "
                       "the layers used at each level")
    return True, "the forward pass equals the reference U-Net on the same weights"


def check_optimizer(out, inputs, secrets, mode):
    return _first_failure([
        (out.get("type") == "torch.optim.adam.Adam", f"expected torch.optim.Adam, got {out.get('type')}"),
        (out.get("lr") == 0.001, f"the learning rate must be 0.001, got {out.get('lr')}"),
        (out.get("all_model_parameters"), "the optimizer must update exactly the parameters of `model`"),
    ], "Adam with learning rate 0.001 over the model's parameters")


def _sgd_epoch(inputs, zero_grad: bool):
    """The weights and mean loss after one epoch of the probe's SGD training; without zero_grad the gradients
    add up over the batches."""
    net = nn.Conv2d(1, 4, kernel_size=3, padding=1)
    net.load_state_dict({"weight": torch.from_numpy(np.array(inputs["q3_weight"])),
                         "bias": torch.from_numpy(np.array(inputs["q3_bias"]))})
    opt = torch.optim.SGD(net.parameters(), lr=float(inputs["q3_lr"]))
    images, masks = torch.from_numpy(np.array(inputs["q3_images"])), torch.from_numpy(np.array(inputs["q3_masks"]))
    total = 0.0
    for i in range(0, len(images), 8):
        loss = nn.functional.cross_entropy(net(images[i:i + 8]), masks[i:i + 8])
        if zero_grad:
            opt.zero_grad()
        loss.backward()
        opt.step()
        total += loss.item() * 8
    return net.weight.detach().double().numpy(), net.bias.detach().double().numpy(), total / len(images)


def check_training_step(out, inputs, secrets, mode):
    want_w, want_b, want_loss = _sgd_epoch(inputs, zero_grad=True)
    got_w, got_b = _arr(out, "weight"), _arr(out, "bias")
    start = np.asarray(inputs["q3_weight"], dtype=np.float64)
    if got_w.shape != want_w.shape or got_b.shape != want_b.shape:
        return False, "the model's parameters changed shape"
    if np.allclose(got_w, start):
        return False, "the weights never changed: call loss.backward() and then optimizer.step() for every batch"
    if not (np.allclose(got_w, want_w, atol=1e-5) and np.allclose(got_b, want_b, atol=1e-5)):
        acc_w, acc_b, _ = _sgd_epoch(inputs, zero_grad=False)
        if np.allclose(got_w, acc_w, atol=1e-5) and np.allclose(got_b, acc_b, atol=1e-5):
            return False, ("the gradients add up over the batches: zero them once per batch (optimizer.zero_grad(), "
                           "before loss.backward() or after optimizer.step())")
        return False, ("after one epoch (2 batches of 8) the weights differ from a correct training step's: for "
                       "each batch compute the loss on the model's logits, call loss.backward(), optimizer.step(), "
                       "and zero the gradients once")
    if not math.isclose(float(out.get("returned", math.nan)), want_loss, rel_tol=1e-4):
        return False, (f"train_one_epoch returned {float(out.get('returned', math.nan)):.4f}, expected the mean "
                       f"training loss per example, {want_loss:.4f}: store each batch's loss in `loss`")
    return True, "the training step updates the weights exactly as a correct step does"


# Per-class values: float32 and float64 are both right (the text asks for "a float tensor"), so the tolerance is
# float32's: values in [0, 1] with a relative error of about 1e-7.
METRIC_RTOL, METRIC_ATOL = 1e-5, 1e-6


def _same(got, want):
    return got.shape == want.shape and np.allclose(got, want, rtol=METRIC_RTOL, atol=METRIC_ATOL, equal_nan=True)


def _fmt(values) -> str:
    return "[" + ", ".join("nan" if np.isnan(v) else f"{v:.4f}" for v in np.asarray(values, dtype=float)) + "]"


def _per_class_cause(metric: str, got, want, other) -> str:
    """Why the per-class values ``got`` differ from ``want`` (``other``: the other metric's right values)."""
    absent = np.isnan(want)
    present_right = np.allclose(got[~absent], want[~absent], rtol=METRIC_RTOL, atol=METRIC_ATOL, equal_nan=True)
    if absent.any() and present_right and not np.all(np.isnan(got[absent])):
        return (f"a class that is in neither pred nor target must be NaN (float('nan')), got {_fmt(got[absent])} "
                "for it; the classes that occur are right")
    if np.isnan(got[~absent]).any():
        return "NaN for a class that occurs in pred or target: NaN is only for a class in neither"
    if _same(got, other):
        return f"these are the {'IoU' if metric == 'dice' else 'Dice'} values"
    return "check the intersection and the union (or sizes) of the pixels of each class"


def _check_per_class(out, inputs, metric: str):
    """``metric`` ("iou" or "dice"): the student's per-class values on every test case against the reference."""
    function = f"{metric}_per_class"
    for i in range(int(inputs["q4_cases"])):
        pred, target = np.asarray(inputs[f"q4_pred_{i}"]), np.asarray(inputs[f"q4_target_{i}"])
        classes = int(inputs[f"q4_classes_{i}"])
        iou, dice = reference_iou_dice(pred, target, classes)
        want, other = (iou, dice) if metric == "iou" else (dice, iou)
        got = _arr(out, f"{function}_{i}")
        if got.shape != want.shape:
            return False, (f"{function}(pred, target, {classes}) returns shape {got.shape}, expected ({classes},): "
                           "one value per class, for num_classes classes (use the argument, not a fixed 4)")
        if not _same(got, want):
            return False, (f"{function}(pred, target, {classes}) gives {_fmt(got)}, expected {_fmt(want)}: "
                           f"{_per_class_cause(metric, got, want, other)}")
    return True, f"{function} is right, NaN for absent classes"


def check_iou(out, inputs, secrets, mode):
    return _check_per_class(out, inputs, "iou")


def check_dice(out, inputs, secrets, mode):
    return _check_per_class(out, inputs, "dice")


def check_mean_iou(out, inputs, secrets, mode):
    """mean_iou on its own cases, where iou_per_class gave the grader's per-class values."""
    for i in range(int(inputs["q4_mean_cases"])):
        per_class = np.asarray(inputs[f"q4_mean_iou_{i}"], dtype=np.float64)
        want, got = float(np.nanmean(per_class)), float(_arr(out, f"mean_{i}"))
        if not out.get(f"mean_is_float_{i}"):
            return False, (f"mean_iou returns a {out.get(f'mean_type_{i}')}, not a Python float: end with .item() "
                           "(a tensor) or float(...)")
        if not math.isclose(got, want, rel_tol=METRIC_RTOL, abs_tol=METRIC_ATOL):
            absent = np.isnan(per_class)
            if absent.any() and math.isnan(got):
                cause = "the NaN of the absent class spreads into the mean: average only the classes that are not " \
                        "NaN (torch.nanmean)"
            elif absent.any() and math.isclose(got, float(np.nan_to_num(per_class).mean()), abs_tol=METRIC_ATOL):
                cause = "the absent classes count as 0: average only the classes that are not NaN (torch.nanmean)"
            else:
                cause = "the mean of the per-class IoU over the classes that are not NaN"
            return False, (f"mean_iou gives {got:.6g} where iou_per_class is {_fmt(per_class)}, expected {want:.6g}: "
                           f"{cause}")
    return True, "mean_iou averages the classes that occur and returns a float"


def _no_model(out) -> str | None:
    return f"the trained model could not be evaluated: {out['error']}" if "error" in out else None


def check_target_on_hidden_test_set(out, inputs, secrets, mode):
    pred, masks = _arr(out, "hidden_pred", np.int64), np.asarray(secrets["q5_hidden_masks"])
    if pred.shape != masks.shape:
        return False, f"predictions of shape {pred.shape}, expected {masks.shape}"
    score, target = reference_mean_iou(pred, masks), TARGETS[mode]
    if score < target:
        return False, f"the trained model's mean IoU on the grader's hidden test images is {score:.3f}, " \
                      f"below the target {target:.2f}"
    return True, f"the trained model's mean IoU on the grader's hidden test images is {score:.3f} " \
                 f"(target {target:.2f})"


def check_reported_mean_iou(out, inputs, secrets, mode):
    """test_mean_iou is the mean IoU of the trained model (the one at the end of the notebook) on the notebook's
    test split: by the reference IoU, or by the student's own mean_iou (a mistake there costs points in q4 only).
    Whether mean_iou returns a Python float is q4's check too; here a tensor's value counts."""
    reported, kind = out.get("value"), out.get("type")
    if reported is None or not math.isfinite(float(reported)):
        return False, f"test_mean_iou is not a number (got {kind}): compute it with your mean_iou"
    reported = float(reported)
    if (why := _no_model(out["trained_model"])) is not None:
        return False, why
    out_model = out["trained_model"]
    pred, masks = _arr(out_model, "public_pred", np.int64), np.asarray(secrets["q5_public_masks"])
    if pred.shape != masks.shape:
        return False, "the trained model's predictions on the test set have the wrong shape"
    actual = reference_mean_iou(pred, masks)
    own = out_model.get("own_mean_iou")
    note = "" if out.get("is_float") else f" (a {kind}: a Python float is asked for, see q4's mean_iou)"
    if abs(reported - actual) <= 0.01:
        return True, f"test_mean_iou {reported:.3f} is the trained model's test mean IoU{note}"
    if own is not None and math.isfinite(own) and abs(reported - own) <= 0.01:
        return True, (f"test_mean_iou {reported:.3f} is what your mean_iou gives for the trained model's test "
                      f"predictions (the reference IoU gives {actual:.3f}: question 4 shows where the metrics "
                      f"differ){note}")
    by_own = f", {own:.3f} with your mean_iou" if own is not None and math.isfinite(own) else ""
    return False, (f"test_mean_iou is {reported:.3f}, but the trained model's test mean IoU is {actual:.3f}{by_own}: "
                   "the model at the end of the notebook is the one graded, so compute test_mean_iou last, from "
                   "its predictions on test_data with your mean_iou (after the last training run)")


CHECKS = [
    Check("q1_shuffled_batches_of_8", "q1", 1, "loader", check_loader_shuffles_batches_of_8),
    Check("q1_whole_training_set", "q1", 1, "loader", check_loader_covers_the_training_set),
    Check("q2_double_conv_layers", "q2", 1, "double_conv", check_double_conv_layers),
    Check("q2_shapes_and_parameters", "q2", 1, "unet_shapes", check_unet_shapes_and_parameters),
    Check("q2_equals_reference", "q2", 2, "unet_forward", check_unet_equals_the_reference),
    Check("q3_adam", "q3", 1, "optimizer", check_optimizer),
    Check("q3_training_step", "q3", 2, "training_step", check_training_step),
    Check("q4_iou", "q4", 1, "iou", check_iou),
    Check("q4_dice", "q4", 1, "dice", check_dice),
    Check("q4_mean_iou", "q4", 1, "mean_iou", check_mean_iou),
    Check("q5_target_on_hidden_test_set", "q5", 2, "trained_model", check_target_on_hidden_test_set),
    Check("q5_reported_mean_iou", "q5", 1, "reported", check_reported_mean_iou, also="trained_model"),
]
BY_NAME = {c.name: c for c in CHECKS}


def run_check(check: Check, outputs: dict[str, dict], inputs: dict, secrets: dict, mode: str) -> tuple[bool, str]:
    """Verdict of one check on the probes' outputs (``outputs[probe] = {key: value}``); never raises."""
    out = outputs.get(check.probe) or {"error": "no output"}
    if "error" in out:
        if check.probe == "trained_model":
            return False, _no_model(out)
        if check.probe == "reported":
            return False, f"test_mean_iou could not be read: {out['error']}"
        return False, f"your code raised an error: {out['error']}"
    if check.also:
        out = {**out, check.also: outputs.get(check.also) or {"error": "no output"}}
    try:
        return check.check(out, inputs, secrets, mode)
    except (KeyError, ValueError, TypeError) as err:
        return False, f"unexpected output from your code ({type(err).__name__}: {err})"


def check_all(outputs: dict[str, dict], inputs: dict, secrets: dict, mode: str) -> list[dict]:
    results = []
    for check in CHECKS:
        passed, message = run_check(check, outputs, inputs, secrets, mode)
        results.append({"name": check.name, "question": check.question, "max": check.points,
                        "points": check.points if passed else 0.0, "passed": passed, "message": message})
    return results


def otter_check(name: str, env: dict) -> None:
    """Run hidden check ``name`` inside otter (the notebook's process): probe, then check; AssertionError if
    it fails. The grading mode comes from grading_mode.txt beside this file (default full), never from env."""
    import hw2_probes

    mode = MODE_FILE.read_text().strip() if MODE_FILE.is_file() else "full"
    check = BY_NAME[name]
    inputs, secrets = make_inputs(mode)
    probes = {check.probe, *([check.also] if check.also else [])}
    outputs = {}
    for probe in probes:
        raw = hw2_probes.run_probe(probe, env, inputs)
        outputs[probe] = json.loads(json.dumps(raw, default=lambda a: np.asarray(a).tolist()))
        outputs[probe].update({k: v for k, v in raw.items() if isinstance(v, np.ndarray)})
    passed, message = run_check(check, outputs, inputs, secrets, mode)
    assert passed, message


# --------------------------------------------------------------------------- answers that use the reference

REFERENCE_MODULES = ("course_utils.unet", "hw2_hidden")  # modules that hold (or held) an answer
ANSWER_NAMES = {"q2": ("UNet", "double_conv", "ReferenceUNet", "reference_double_conv"),
                "q4": ("iou_per_class", "dice_per_class", "mean_iou", "reference_iou_dice", "reference_mean_iou")}


def reference_uses(sources: list[str]) -> dict[str, str]:
    """Questions whose answer comes from the course's reference instead of the student's code, with the reason:
    an import of ``course_utils.unet`` or of this module, or of an answer's name from ``course_utils`` (read from
    the notebook's source; the code is not run)."""
    import ast

    found: dict[str, str] = {}

    def flag(questions, what):
        for q in questions:
            found.setdefault(q, f"uses the course's reference ({what}) instead of your own code: 0 points")

    for source in sources:
        try:
            tree = ast.parse("\n".join(line for line in source.splitlines()
                                       if not line.lstrip().startswith(("%", "!"))))
        except SyntaxError:
            continue
        aliases = {"course_utils"}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("course_utils"):
                        aliases.add(alias.asname or alias.name.split(".")[0])
        for node in ast.walk(tree):
            modules: list[str] = []
            if isinstance(node, ast.Import):
                modules = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                modules = [node.module]
                if node.module.split(".")[0] in ("course_utils", "hw2_hidden"):
                    for q, names in ANSWER_NAMES.items():
                        if any(a.name in names for a in node.names):
                            flag([q], f"from {node.module} import ...")
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):  # importlib.import_module("...")
                modules = [m for m in REFERENCE_MODULES if node.value == m]
            elif isinstance(node, ast.Attribute):
                base = node.value
                while isinstance(base, ast.Attribute):
                    base = base.value
                if isinstance(base, ast.Name) and base.id in aliases:
                    for q, names in ANSWER_NAMES.items():
                        if node.attr in names:
                            flag([q], f"{base.id}....{node.attr}")
            for module in modules:
                if module.startswith("course_utils.unet"):
                    flag(["q2"], module)
                elif module.startswith("hw2_hidden"):
                    flag(["q2", "q4"], module)
    return found
