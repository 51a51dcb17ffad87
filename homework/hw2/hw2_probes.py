"""HW2 probes: call a submission's code on the grader's inputs and record what comes out.

This is the *untrusted* half of a hidden test. It runs the student's code, so everything it returns is treated as
data by the checks in ``hw2_hidden.py``, which run in another process that never executes student code and
compare these outputs with references the submission never sees (the reference U-Net, the hidden test masks).

Two ways in:
* Local grading (``make grade``: ``python -m tools.autograder grade``), in a sandbox, in a fresh Python
  process that has not run the notebook's top-level code::

      python hw2_probes.py SUBMISSION.ipynb INPUTS.npz STATE_DIR OUTPUT_DIR

  :func:`student_env` builds the namespace from the notebook's source: its imports, functions, classes and
  assignments of simple values (constants such as ``KERNEL_SIZE = 3``), the cells that create ``train_loader`` and
  ``optimizer``, and the trained weights the notebook saved in STATE_DIR. It never runs the training.
* Otter (``otter assign``'s check of the solution only): ``hw2_hidden.otter_check`` calls a probe on the
  notebook's own global environment, in the notebook's process. The Gradescope zip grades as ``make grade`` does
  (``tools/gradescope.py``), never this way: there the notebook could replace what the checks use.

Each probe tests one function on the grader's inputs, with the *given* parts of the homework in place of the
student's other answers, so that one mistake costs one item: the U-Net checks build the network with the
question's double convolution (the six layers its text lists), the mean-IoU check feeds ``mean_iou`` the
grader's own per-class values, and the training step runs with the notebook's globals (``model``,
``optimizer``, ``loss_fn``) pointing at the probe's own objects, as they do in the notebook.

Only the standard library, numpy and torch (and course_utils for the public data) are used here.
"""

from __future__ import annotations

import ast
import contextlib
import json
import re
import sys
import traceback
from pathlib import Path

import numpy as np

TRAINED_MODEL = "__hw2_trained_model__"  # env key of the model rebuilt from the notebook's saved weights
TRAINED_MODEL_ERROR = "__hw2_trained_model_error__"  # env key: why there is no trained model (grading only)
REPORTED = "__hw2_reported__"  # env key of the numbers the notebook saved (test_mean_iou)
GRADING = "__hw2_grading__"  # env key: the namespace was rebuilt from source (not the notebook's own, as in otter)
NOT_RERUN = "__hw2_not_rerun__"  # env key: {name: why the top-level statement that sets it was not run again}
UNDEFINED = "__hw2_undefined__"  # env key: {name: why its definition failed}
ERROR_CHARS = 900


def _np(x, dtype=np.float64):
    import torch

    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().to(torch.float64 if dtype == np.float64 else torch.int64).numpy()
    return np.asarray(x, dtype=dtype)


def _qualname(obj) -> str:
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


class ProbeError(Exception):
    """An error of the student's code, with its type and where it happened already in the message."""


def _annotate(err: Exception, context: str, env: dict) -> ProbeError:
    return ProbeError(_with_cause(f"{type(err).__name__}: {err} ({context})", err, env))


def _need(env, name):
    """``env[name]``, or a NameError that says why the submission does not define it here."""
    if name in env:
        return env[name]
    why = env.get(UNDEFINED, {}).get(name) or env.get(NOT_RERUN, {}).get(name) or "no cell of the notebook defines it"
    raise NameError(f"name {name!r} is not defined: {why}")


@contextlib.contextmanager
def _swapped(env, **values):
    """Bind ``values`` in ``env`` (the globals the student's functions see) for the duration, then restore."""
    missing = object()
    saved = {name: env.get(name, missing) for name in values}
    env.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is missing:
                env.pop(name, None)
            else:
                env[name] = value


# ------------------------------------------------------------------------------------- the given parts


def given_double_conv(in_channels, out_channels):
    """Question 2.1's six layers, exactly as its text lists them (nothing a student could not copy from it). The
    U-Net checks build the network with this block, so that a mistake in ``double_conv`` costs only its own
    point, not the forward pass's."""
    from torch import nn

    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False), nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
        nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1, bias=False), nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


# ------------------------------------------------------------------------------------------------- probes


def probe_loader(env, inputs):
    from torch.utils.data import DataLoader, RandomSampler

    loader = _need(env, "train_loader")
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
    from torch import nn

    block = _need(env, "double_conv")(3, 5)
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
    return {"is_sequential": isinstance(block, nn.Sequential), "type": _qualname(block), "layers": layers}


def probe_unet_shapes(env, inputs):
    import torch

    unet = _need(env, "UNet")
    with _swapped(env, double_conv=given_double_conv):
        net = unet(in_channels=1, out_channels=4, init_features=8)
        other_net = unet(in_channels=3, out_channels=2, init_features=8).eval()
    with torch.no_grad():
        small = net(torch.zeros(2, 1, 64, 64))
        other = other_net(torch.zeros(1, 3, 128, 96))
    return {"parameters": int(sum(p.numel() for p in net.parameters())),
            "output_shape": list(small.shape), "other_output_shape": list(other.shape)}


def probe_unet_forward(env, inputs):
    import torch

    with _swapped(env, double_conv=given_double_conv):
        net = _need(env, "UNet")(in_channels=1, out_channels=4, init_features=4)
    keys = sorted(k[len("q2_weight/"):] for k in inputs if k.startswith("q2_weight/"))
    state = {k: torch.from_numpy(np.array(inputs[f"q2_weight/{k}"])) for k in keys}
    try:
        net.load_state_dict(state)
    except RuntimeError as err:
        raise RuntimeError("the grader's weights for the given layers do not load into UNet(1, 4, 4): keep the "
                           f"layers that __init__ creates, with their names ({str(err)[:300]})") from None
    net.train()  # BatchNorm normalises every level in training mode, so a wrong skip connection shows clearly
    with torch.no_grad():
        out = net(torch.from_numpy(np.array(inputs["q2_x"])))
    return {"output": _np(out)}


def probe_optimizer(env, inputs):
    optimizer, model = _need(env, "optimizer"), _need(env, "model")
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
    data = TensorDataset(torch.from_numpy(np.array(inputs["q3_images"])),
                         torch.from_numpy(np.array(inputs["q3_masks"])))
    loader = DataLoader(data, batch_size=8, shuffle=False)
    opt = torch.optim.SGD(net.parameters(), lr=float(inputs["q3_lr"]))
    loss_fn, device = nn.CrossEntropyLoss(), torch.device("cpu")
    # In the notebook the globals model, optimizer, loss_fn and device are the objects passed in: here too.
    with _swapped(env, model=net, optimizer=opt, loss_fn=loss_fn, device=device, train_loader=loader):
        returned = _need(env, "train_one_epoch")(net, loader, opt, loss_fn, device)
    return {"returned": float(returned), "weight": _np(net.weight), "bias": _np(net.bias)}


def _describe_case(pred, target, classes) -> str:
    absent = [c for c in range(classes) if not ((pred == c).any() or (target == c).any())]
    where = (f"; class{'es' if len(absent) > 1 else ''} {', '.join(map(str, absent))} in neither map"
             if absent else "")
    return f"pred and target of shape {tuple(pred.shape)}, num_classes={classes}{where}"


def _per_class_probe(env, inputs, function):
    import torch

    fn, out = _need(env, function), {}
    for i in range(int(inputs["q4_cases"])):
        pred = torch.from_numpy(np.array(inputs[f"q4_pred_{i}"]))
        target = torch.from_numpy(np.array(inputs[f"q4_target_{i}"]))
        classes = int(inputs[f"q4_classes_{i}"])
        try:
            out[f"{function}_{i}"] = _np(fn(pred, target, classes))
        except Exception as err:  # noqa: BLE001 -- say on which input it raised
            raise _annotate(err, f"on {_describe_case(pred, target, classes)}", env) from None
    return out


def probe_iou(env, inputs):
    return _per_class_probe(env, inputs, "iou_per_class")


def probe_dice(env, inputs):
    return _per_class_probe(env, inputs, "dice_per_class")


def probe_mean_iou(env, inputs):
    """mean_iou on the grader's cases, with iou_per_class returning the grader's own per-class values (NaN for the
    absent classes): what is tested is the averaging, not the student's per-class IoU (graded on its own)."""
    import torch

    mean_fn, out = _need(env, "mean_iou"), {}
    for i in range(int(inputs["q4_mean_cases"])):
        pred = torch.from_numpy(np.array(inputs[f"q4_mean_pred_{i}"]))
        target = torch.from_numpy(np.array(inputs[f"q4_mean_target_{i}"]))
        classes = int(inputs[f"q4_mean_classes_{i}"])
        given = torch.from_numpy(np.array(inputs[f"q4_mean_iou_{i}"], dtype=np.float64))

        def given_iou_per_class(pred, target, num_classes, _given=given):  # the true IoU of this case's maps
            return _given.clone()

        with _swapped(env, iou_per_class=given_iou_per_class):
            try:
                value = mean_fn(pred, target, classes)
            except Exception as err:  # noqa: BLE001
                raise _annotate(err, f"on {_describe_case(pred, target, classes)}", env) from None
        out[f"mean_is_float_{i}"] = isinstance(value, float)
        out[f"mean_type_{i}"] = _qualname(value)
        out[f"mean_{i}"] = _np(float(value))
    return out


def probe_trained_model(env, inputs):
    import torch

    if TRAINED_MODEL in env:
        model = env[TRAINED_MODEL]
    elif env.get(GRADING):  # never a stand-in: the weights the notebook trained, or an error that says why not
        raise ProbeError(env.get(TRAINED_MODEL_ERROR) or "the notebook saved no trained model")
    else:  # otter: the notebook's own model
        model = env["model"]
    model = model.cpu().eval()
    out = {}
    with torch.no_grad():
        for name in ("hidden", "public"):
            images = torch.from_numpy(np.array(inputs[f"q5_{name}_images"]))
            out[f"{name}_pred"] = _np(torch.cat([model(images[i:i + 50]).argmax(dim=1)
                                                 for i in range(0, len(images), 50)]), dtype=np.int64)
    # The student's own mean_iou on these predictions of the notebook's test split: test_mean_iou may differ from
    # the reference IoU because of a mistake in question 4, which costs points there, not here.
    try:
        from course_utils.segmentation import load_shapes

        masks = load_shapes("test", verbose=False).masks
        if len(masks) == len(out["public_pred"]):
            own = _need(env, "mean_iou")(torch.from_numpy(out["public_pred"]), masks, 4)
            out["own_mean_iou"] = float(own)
    except Exception as err:  # noqa: BLE001
        out["own_mean_iou_error"] = f"{type(err).__name__}: {err}"[:300]
    return out


_REPR_NUMBER = re.compile(r"(tensor|np\.\w+|numpy\.\w+|array)\(\s*([-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|nan|inf))")


def _reported_number(value) -> tuple[float | None, str]:
    """(the number, its type) of test_mean_iou: a float, a tensor or numpy scalar (the notebook's grader cell saves
    their repr, e.g. "tensor(0.8123)"), or None when it is not a number at all."""
    if isinstance(value, bool) or value is None:
        return None, type(value).__name__
    if isinstance(value, (int, float)):
        return float(value), "float" if isinstance(value, float) else "int"
    if isinstance(value, str):  # a repr saved by the grader's cell
        if value == "None":
            return None, "None"
        if match := _REPR_NUMBER.match(value):
            kind = {"tensor": "torch.Tensor", "array": "numpy.ndarray"}.get(match.group(1), match.group(1))
            return float(match.group(2)), kind
        return None, f"str {value[:40]!r}"
    try:
        return float(value), _qualname(value)
    except (TypeError, ValueError):
        return None, _qualname(value)


def probe_reported(env, inputs):
    saved = env.get(REPORTED, {})
    if REPORTED in env:
        value = saved.get("test_mean_iou")
    elif env.get(GRADING):
        raise ProbeError("the notebook saved no test_mean_iou (was it defined when the notebook ended?)")
    else:
        value = env["test_mean_iou"]
    number, kind = _reported_number(value)
    if "python_float" in saved:  # the grader's cell saved a number of any kind as a float, and what it was
        kind = "float" if saved["python_float"] else str(saved.get("type", kind))
    return {"is_float": kind == "float", "type": kind, "value": number}


PROBES = {
    "loader": probe_loader,
    "double_conv": probe_double_conv,
    "unet_shapes": probe_unet_shapes,
    "unet_forward": probe_unet_forward,
    "optimizer": probe_optimizer,
    "training_step": probe_training_step,
    "iou": probe_iou,
    "dice": probe_dice,
    "mean_iou": probe_mean_iou,
    "trained_model": probe_trained_model,
    "reported": probe_reported,
}


def _with_cause(message: str, err: BaseException, env: dict) -> str:
    """A NameError for a name the notebook sets at the top level in a statement that was not run again: say so."""
    name = getattr(err, "name", None)
    why = env.get(NOT_RERUN, {}).get(name) if isinstance(err, NameError) and name else None
    return f"{message} ({why})" if why and why not in message else message


def run_probe(name: str, env: dict, inputs) -> dict:
    """Call one probe; an exception becomes ``{"error": ...}`` (the student's code raised)."""
    try:
        return PROBES[name](env, inputs)
    except ProbeError as err:
        return {"error": str(err)[:ERROR_CHARS]}
    except Exception as err:  # noqa: BLE001 -- any failure of student code is a result, not a crash
        return {"error": _with_cause(f"{type(err).__name__}: {err}", err, env)[:ERROR_CHARS]}


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

# Top-level assignments are run again when they bind plain names to a value that is cheap to compute and does
# nothing else: literals, names, attributes, arithmetic, containers, comprehensions, lambdas, and calls of only
# these (e.g. KERNEL_SIZE = 3, NUM_CLASSES = len(CLASS_NAMES), conv3x3 = partial(nn.Conv2d, kernel_size=3)).
# Anything else (loading data, building and training a model, printing) is not: the probes never run the training.
CHEAP_CALLS = {"abs", "bool", "dict", "enumerate", "float", "frozenset", "int", "len", "list", "max", "min", "range",
               "reversed", "round", "set", "slice", "sorted", "str", "sum", "tuple", "zip", "partial",
               "functools.partial", "torch.device", "torch.tensor", "torch.as_tensor"}
# Names the grader provides (the public data, the device) or reads from the notebook's run (the trained model,
# test_mean_iou): the rebuild never binds them from the notebook's top-level statements.
GRADER_NAMES = {"model", "optimizer", "train_loader", "test_mean_iou", "test_pred", "train_data", "val_data",
                "test_data", "device", "loss_fn", "grader"}


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


def _bound_names(node) -> set[str]:
    """Every name a top-level statement binds: a definition's name; for other statements their assignment
    targets, loop variables, `as` names, walrus targets and imports (not inside the functions and classes
    they define, whose names count)."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {node.name}
    names, todo = set(), [node]
    while todo:
        item = todo.pop()
        if isinstance(item, ast.Name) and isinstance(item.ctx, ast.Store):
            names.add(item.id)
        elif isinstance(item, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in item.names}
        if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(item.name)
        elif not isinstance(item, ast.Lambda):
            todo.extend(ast.iter_child_nodes(item))
    return names


def _dotted(node) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return ".".join([node.id, *reversed(parts)])
    return None


def _cheap_callable(name: str | None) -> bool:
    """A builtin or function of CHEAP_CALLS, a math function, or a layer class of torch.nn (nn.ReLU, not
    nn.init.* or nn.functional.*)."""
    if name is None:
        return False
    if name in CHEAP_CALLS or name.startswith("math."):
        return True
    for module in ("nn.", "torch.nn."):
        if name.startswith(module):
            leaf = name[len(module):]
            return "." not in leaf and leaf[:1].isupper()
    return False


def _why_not_cheap(value) -> str | None:
    """None when ``value`` (an expression) is cheap to evaluate again, else what it does (a call, say)."""
    todo = [value]
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.Await, ast.Yield, ast.YieldFrom)):
            return "it awaits or yields"
        if isinstance(node, ast.Call) and not _cheap_callable(_dotted(node.func)):
            return f"it calls {ast.unparse(node.func)[:50]}(...)"
        if not isinstance(node, ast.Lambda):  # a lambda's body runs only when it is called
            todo.extend(ast.iter_child_nodes(node))
    return None


def _rerun_reason(node) -> str | None:
    """None when the top-level statement ``node`` is run again when the submission is rebuilt, else why not."""
    if isinstance(node, (ast.Assign, ast.AnnAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        if node.value is None:
            return "an annotation without a value"
        plain = all(isinstance(t, ast.Name) or (isinstance(t, (ast.Tuple, ast.List)) and all(
            isinstance(e, ast.Name) or (isinstance(e, ast.Starred) and isinstance(e.value, ast.Name)) for e in t.elts))
            for t in targets)
        if not plain:
            return "it assigns to an attribute or an item, not to a name"
        if _assigned_names(node) & GRADER_NAMES:
            return "the grader provides this name itself"
        return _why_not_cheap(node.value)
    return f"a top-level {type(node).__name__.lower()} statement"


def student_env(notebook: dict, state_dir: Path | None) -> tuple[dict, list[str]]:
    """The submission's namespace, rebuilt without running the notebook's training: the preamble (imports and the
    public data, as in the notebook's first cells), then, in order, every top-level import, function, class and
    cheap assignment of every cell (see ``CHEAP_CALLS``), then the whole cells that assign ``train_loader`` and
    ``optimizer`` (with ``model`` the trained model). Returns the namespace and notes on what failed.

    The namespace also records, for the feedback, which names are set only by statements that were not run
    again, and why a definition failed (under ``NOT_RERUN`` and ``UNDEFINED``)."""
    import torch

    env: dict = {"__name__": "__submission__", GRADING: True, NOT_RERUN: {}, UNDEFINED: {}}
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
            definition = isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef,
                                           ast.ClassDef))
            why_not = None if definition else _rerun_reason(node)
            if why_not is not None:
                first_line = ast.get_source_segment(source, node) or ""
                first_line = first_line.splitlines()[0][:60] if first_line else ""
                for name in _bound_names(node) - GRADER_NAMES:
                    env[NOT_RERUN][name] = (
                        f"`{name}` is set at the top level of code cell {index + 1} (`{first_line}`), which the "
                        f"grader does not run again when it tests your functions: {why_not}. The grader re-runs "
                        "imports, definitions and assignments of simple values (numbers, strings, lists, "
                        "arithmetic); set it inside the function that uses it, or make it such a value")
                continue
            try:
                exec(compile(ast.Module(body=[node], type_ignores=[]), f"<cell {index + 1}>", "exec"), env)
                for name in _bound_names(node):
                    env[UNDEFINED].pop(name, None)
                    env[NOT_RERUN].pop(name, None)
            except Exception as err:  # noqa: BLE001
                message = _with_cause(f"{type(err).__name__}: {err}", err, env)
                where = f"code cell {index + 1}, line {node.lineno}"
                if definition:
                    notes.append(f"{where}: {message}"[:ERROR_CHARS])
                for name in _bound_names(node):
                    env[UNDEFINED][name] = f"its definition ({where}) raised {message}"[:ERROR_CHARS]
    # The trained model: the student's UNet with the weights the notebook saved at the end of its run.
    weights = state_dir / "model.pt" if state_dir else None
    if weights and weights.is_file():
        try:
            model = _need(env, "UNet")(in_channels=1, out_channels=4, init_features=8)
            model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
            env[TRAINED_MODEL] = model
            if any(True for _ in model.parameters()):  # else the optimizer's cell could not build on it
                env["model"] = model
        except Exception as err:  # noqa: BLE001
            env[TRAINED_MODEL_ERROR] = _with_cause(
                f"the trained weights do not load into UNet(1, 4, 8): {type(err).__name__}: {err}", err, env)
            notes.append(env[TRAINED_MODEL_ERROR][:ERROR_CHARS])
    elif state_dir:
        env[TRAINED_MODEL_ERROR] = "the notebook saved no trained model (was `model` defined when it ended?)"
        notes.append(env[TRAINED_MODEL_ERROR])
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
            env[UNDEFINED][name] = "no cell of the notebook assigns it"
            continue
        index = last_cell_assigning[name]
        trained = env.get(TRAINED_MODEL)
        try:
            exec(compile(cells[index], f"<cell {index + 1}>", "exec"), env)
        except Exception as err:  # noqa: BLE001
            message = _with_cause(f"{type(err).__name__}: {err}", err, env)
            notes.append(f"code cell {index + 1} (which creates `{name}`) raised {message}"[:ERROR_CHARS])
            env[UNDEFINED][name] = f"code cell {index + 1}, which creates it, raised {message}"[:ERROR_CHARS]
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
