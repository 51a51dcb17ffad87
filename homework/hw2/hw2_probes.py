"""HW2 probes: call a submission's code on the grader's inputs and record what comes out.

This is the *untrusted* half of a hidden test. It runs the student's code, so everything it returns is treated as
data by the checks in ``hw2_hidden.py``, which run in another process that never executes student code and
compare these outputs with references the submission never sees (the reference U-Net, the hidden test masks).

Two ways in:
* Local grading (``make grade``: ``python -m tools.autograder grade``), in a sandbox, in a fresh Python
  process that has not run the notebook's top-level code::

      python hw2_probes.py SUBMISSION.ipynb INPUTS.npz STATE_DIR OUTPUT_DIR

  :func:`student_env` builds the namespace from the notebook's source: its imports, functions and classes, the
  cells that create ``train_loader`` and ``optimizer``, and the trained weights the notebook saved in STATE_DIR.
* Otter (``otter assign``'s check of the solution, Gradescope): ``hw2_hidden.otter_check`` calls a probe on the
  notebook's own global environment, in the notebook's process.

Only the standard library, numpy and torch (and course_utils for the public data) are used here.
"""

from __future__ import annotations

import ast
import json
import math
import sys
import traceback
from pathlib import Path

import numpy as np

TRAINED_MODEL = "__hw2_trained_model__"  # env key of the model rebuilt from the notebook's saved weights
REPORTED = "__hw2_reported__"  # env key of the numbers the notebook saved (test_mean_iou)


def _np(x, dtype=np.float64):
    import torch

    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().to(torch.float64 if dtype == np.float64 else torch.int64).numpy()
    return np.asarray(x, dtype=dtype)


def _qualname(obj) -> str:
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


# ------------------------------------------------------------------------------------------------- probes


def probe_loader(env, inputs):
    from torch.utils.data import DataLoader, RandomSampler

    loader = env["train_loader"]
    images, masks = next(iter(loader))
    return {
        "is_dataloader": isinstance(loader, DataLoader),
        "batch_size": loader.batch_size,
        "shuffles": isinstance(loader.sampler, RandomSampler),
        "dataset_len": len(loader.dataset),
        "image_batch": [list(images.shape), str(images.dtype)],
        "mask_batch": [list(masks.shape), str(masks.dtype)],
    }


def probe_double_conv(env, inputs):
    block = env["double_conv"](3, 5)
    layers = []
    for layer in block:
        entry = {"type": _qualname(layer)}
        for attr in ("in_channels", "out_channels", "kernel_size", "padding", "stride", "num_features"):
            if hasattr(layer, attr):
                value = getattr(layer, attr)
                entry[attr] = list(value) if isinstance(value, tuple) else value
        if hasattr(layer, "bias") and "Conv" in entry["type"]:
            entry["has_bias"] = layer.bias is not None
        layers.append(entry)
    return {"is_sequential": _qualname(block) == "torch.nn.modules.container.Sequential", "layers": layers}


def probe_unet_shapes(env, inputs):
    import torch

    unet = env["UNet"]
    net = unet(in_channels=1, out_channels=4, init_features=8)
    with torch.no_grad():
        small = net(torch.zeros(2, 1, 64, 64))
        other = unet(in_channels=3, out_channels=2, init_features=8).eval()(torch.zeros(1, 3, 128, 96))
    return {"parameters": int(sum(p.numel() for p in net.parameters())),
            "output_shape": list(small.shape), "other_output_shape": list(other.shape)}


def probe_unet_forward(env, inputs):
    import torch

    net = env["UNet"](in_channels=1, out_channels=4, init_features=4)
    keys = sorted(k[len("q2_weight/"):] for k in inputs if k.startswith("q2_weight/"))
    state = {k: torch.from_numpy(np.array(inputs[f"q2_weight/{k}"])) for k in keys}
    net.load_state_dict(state)
    net.train()  # BatchNorm normalises every level in training mode, so a wrong skip connection shows clearly
    with torch.no_grad():
        out = net(torch.from_numpy(np.array(inputs["q2_x"])))
    return {"output": _np(out)}


def probe_optimizer(env, inputs):
    optimizer, model = env["optimizer"], env["model"]
    optimized = {id(p) for group in optimizer.param_groups for p in group["params"]}
    group = optimizer.param_groups[0]  # "initial_lr": the rate before a scheduler changed it (under otter)
    return {"type": _qualname(optimizer), "lr": float(group.get("initial_lr", group["lr"])),
            "all_model_parameters": optimized == {id(p) for p in model.parameters()}}


def probe_training_step(env, inputs):
    import torch
    from torch import nn
    from torch.utils.data import DataLoader, TensorDataset

    net = nn.Conv2d(1, 4, kernel_size=3, padding=1)
    net.load_state_dict({"weight": torch.from_numpy(np.array(inputs["q3_weight"])),
                         "bias": torch.from_numpy(np.array(inputs["q3_bias"]))})
    loader = DataLoader(TensorDataset(torch.from_numpy(np.array(inputs["q3_images"])),
                                      torch.from_numpy(np.array(inputs["q3_masks"]))), batch_size=8, shuffle=False)
    opt = torch.optim.SGD(net.parameters(), lr=float(inputs["q3_lr"]))
    returned = env["train_one_epoch"](net, loader, opt, nn.CrossEntropyLoss(), torch.device("cpu"))
    return {"returned": float(returned), "weight": _np(net.weight), "bias": _np(net.bias)}


def probe_metrics(env, inputs):
    iou_fn, dice_fn, mean_fn = env["iou_per_class"], env["dice_per_class"], env["mean_iou"]
    import torch

    out = {}
    for i in range(int(inputs["q4_cases"])):
        pred = torch.from_numpy(np.array(inputs[f"q4_pred_{i}"]))
        target = torch.from_numpy(np.array(inputs[f"q4_target_{i}"]))
        classes = int(inputs[f"q4_classes_{i}"])
        out[f"iou_{i}"] = _np(iou_fn(pred, target, classes))
        out[f"dice_{i}"] = _np(dice_fn(pred, target, classes))
        value = mean_fn(pred, target, classes)
        out[f"mean_is_float_{i}"] = isinstance(value, float)
        out[f"mean_{i}"] = _np(float(value))
    return out


def probe_trained_model(env, inputs):
    import torch

    model = env[TRAINED_MODEL] if TRAINED_MODEL in env else env["model"]
    model = model.cpu().eval()
    out = {}
    with torch.no_grad():
        for name in ("hidden", "public"):
            images = torch.from_numpy(np.array(inputs[f"q5_{name}_images"]))
            out[f"{name}_pred"] = _np(torch.cat([model(images[i:i + 50]).argmax(dim=1)
                                                 for i in range(0, len(images), 50)]), dtype=np.int64)
    return out


def probe_reported(env, inputs):
    reported = env[REPORTED] if REPORTED in env else {"test_mean_iou": env["test_mean_iou"]}
    value = reported["test_mean_iou"]  # saved by the grader's cell as a number (float, numpy float, 0-d tensor)
    if isinstance(value, str):
        raise TypeError(f"test_mean_iou is not a number: {value}")
    return {"is_float": bool(reported.get("python_float", isinstance(value, float))),
            "value": math.nan if value is None else float(value)}


PROBES = {
    "loader": probe_loader,
    "double_conv": probe_double_conv,
    "unet_shapes": probe_unet_shapes,
    "unet_forward": probe_unet_forward,
    "optimizer": probe_optimizer,
    "training_step": probe_training_step,
    "metrics": probe_metrics,
    "trained_model": probe_trained_model,
    "reported": probe_reported,
}


def run_probe(name: str, env: dict, inputs) -> dict:
    """Call one probe; an exception becomes ``{"error": ...}`` (the student's code raised)."""
    try:
        return PROBES[name](env, inputs)
    except Exception as err:  # noqa: BLE001 -- any failure of student code is a result, not a crash
        return {"error": f"{type(err).__name__}: {err}"[:500]}


# ------------------------------------------------------------------------------- the namespace from source

PREAMBLE = """
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset
import course_utils as cu
from course_utils.segmentation import CLASS_NAMES, load_shapes, show_segmentation
device = torch.device("cpu")
train_data = load_shapes("train", verbose=False)
val_data = load_shapes("val", verbose=False)
test_data = load_shapes("test", verbose=False)
loss_fn = nn.CrossEntropyLoss()
"""


def code_cells(notebook: dict) -> list[str]:
    """Source of each code cell, with IPython magics and shell lines dropped."""
    cells = []
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else str(source)
        cells.append("\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))))
    return cells


def _assigned_names(node) -> set[str]:
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    names = set()
    for target in targets:
        names |= {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}
    return names


def student_env(notebook: dict, state_dir: Path | None) -> tuple[dict, list[str]]:
    """The submission's namespace, rebuilt without running the notebook's top-level statements: the preamble
    (imports and the public data, as in the notebook's first cells), then every top-level import, function and
    class of every cell in order, then the whole cells that assign ``train_loader`` and ``optimizer`` (with
    ``model`` the trained model). Returns the namespace and notes on what failed."""
    import torch

    env: dict = {"__name__": "__submission__"}
    notes: list[str] = []
    exec(compile(PREAMBLE, "<preamble>", "exec"), env)
    cells = code_cells(notebook)
    last_cell_assigning: dict[str, int] = {}
    for index, source in enumerate(cells):
        try:
            tree = ast.parse(source)
        except SyntaxError as err:
            notes.append(f"cell {index + 1} is not valid Python ({err.msg}, line {err.lineno}): skipped")
            continue
        for node in tree.body:
            if isinstance(node, (ast.Assign, ast.AnnAssign)):
                for name in _assigned_names(node) & {"train_loader", "optimizer"}:
                    last_cell_assigning[name] = index
            if isinstance(node, (ast.Import, ast.ImportFrom)) and all(
                    (a.name if isinstance(node, ast.Import) else node.module or "").split(".")[0] == "otter"
                    for a in node.names):
                continue  # only the self-checks use otter: a slow import the graded code never needs
            if isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                try:
                    exec(compile(ast.Module(body=[node], type_ignores=[]), f"<cell {index + 1}>", "exec"), env)
                except Exception as err:  # noqa: BLE001
                    notes.append(f"cell {index + 1}, line {node.lineno}: {type(err).__name__}: {err}"[:300])
    # The trained model: the student's UNet with the weights the notebook saved at the end of its run.
    weights = state_dir / "model.pt" if state_dir else None
    if weights and weights.is_file():
        try:
            model = env["UNet"](in_channels=1, out_channels=4, init_features=8)
            model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
            env[TRAINED_MODEL] = model
            if any(True for _ in model.parameters()):  # else the optimizer's cell could not build on it
                env["model"] = model
        except Exception as err:  # noqa: BLE001
            notes.append(f"the trained weights do not load into UNet(1, 4, 8): {type(err).__name__}: {err}"[:300])
    elif state_dir:
        notes.append("the notebook saved no trained model (is `model` defined at the end of the notebook?)")
    if "model" not in env:  # a model for the optimizer's cell: the student's U-Net if it builds, else a stand-in
        try:
            env["model"] = env["UNet"](in_channels=1, out_channels=4, init_features=8)
            next(env["model"].parameters())
        except Exception:  # noqa: BLE001
            env["model"] = torch.nn.Conv2d(1, 4, kernel_size=3, padding=1)
    reported = state_dir / "reported.json" if state_dir else None
    if reported and reported.is_file():
        try:
            env[REPORTED] = json.loads(reported.read_text())
        except ValueError:
            notes.append("the saved test_mean_iou is unreadable")
    for name in ("train_loader", "optimizer"):
        if name not in last_cell_assigning:
            notes.append(f"no cell assigns `{name}`")
            continue
        index = last_cell_assigning[name]
        trained = env.get(TRAINED_MODEL)
        try:
            exec(compile(cells[index], f"<cell {index + 1}>", "exec"), env)
        except Exception as err:  # noqa: BLE001
            notes.append(f"cell {index + 1} (which creates `{name}`) raised {type(err).__name__}: {err}"[:300])
        if trained is not None:
            env[TRAINED_MODEL] = trained
    return env, notes


def main(argv: list[str]) -> int:
    notebook_path, inputs_path, state_dir, out_dir = (Path(a) for a in argv)
    out_dir.mkdir(parents=True, exist_ok=True)
    inputs = dict(np.load(inputs_path, allow_pickle=False))
    try:
        notebook = json.loads(notebook_path.read_text(encoding="utf-8"))
        env, notes = student_env(notebook, state_dir)
    except Exception:  # noqa: BLE001
        env, notes = {}, [traceback.format_exc(limit=2)[-500:]]
    results, arrays = {}, {}
    for name in PROBES:
        out = run_probe(name, env, inputs) if env else {"error": "the submission's code could not be loaded"}
        results[name] = {}
        for key, value in out.items():
            if isinstance(value, np.ndarray):
                arrays[f"{name}/{key}"] = value
            else:
                results[name][key] = value
    np.savez(out_dir / "outputs.npz", **arrays)
    (out_dir / "outputs.json").write_text(json.dumps({"probes": results, "notes": notes}, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
