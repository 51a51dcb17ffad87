"""A corpus of HW2 submissions as students write them: correct solutions in many styles, and subtly wrong ones,
each with the points per question it must earn. Used by tests/test_hw2_corpus.py; meant for any grading path.

A submission is the committed student notebook with its TODO cells answered: by the master's solutions, then
changed as the entry says (a replacement in a cell, a whole cell, or a cell of its own before one). Cells are
named by the question they answer (q1 ... q5; q5 is the evaluation cell after the training loop).

    write_corpus(folder)  # writes <name>.ipynb for every entry and expected_points.json; returns the table

``points`` are what any grading path must award in fast mode (MODE=fast, as the tests grade): ``make grade``
(tools/autograder.py) and the Gradescope autograder alike. ``same_training`` says whether the entry trains
exactly like the solution (same architecture, same steps): only then can a grading that uses the weights of one
trained run of the solution (the probe-level tests) predict its question 5. For the other entries question 5
depends on their own training; their points were measured once with `make grade`'s code in fast mode (mean IoU
on the hidden test images, target 0.45): wrong_skip_order 0.670, double_conv_with_bias 0.716, batch_size_16 0.547
(after one restart), forgot_zero_grad 0.217 (three attempts, all on the plateau); the solution 0.763.

Run as a script, it probes submissions in one fresh process, as the grader's probe step does for each:

    python tests/hw2_corpus.py probe JOBS.json   # JOBS: [[notebook, inputs.npz, state_dir, out_dir], ...]
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HW2 = ROOT / "homework" / "hw2"
MASTER = HW2 / "hw2_unet_segmentation.ipynb"
STUDENT_NB = ROOT / "notebooks" / "hw2_unet_segmentation.ipynb"
FULL = {"q1": 2.0, "q2": 4.0, "q3": 3.0, "q4": 3.0, "q5": 3.0}
# The first line of each answered cell, the same in the master and in the student notebook.
CELLS = {
    "q1": "train_set = TensorDataset(train_data.images, train_data.masks)",
    "q2": "def double_conv(in_channels, out_channels):",
    "q3": "# TODO: create the optimizer",
    "q4": "def iou_per_class(pred, target, num_classes):",
    "train": "def restart(model, optimizer):",
    "q5": "# TODO: predict the test set",
}


@dataclass(frozen=True)
class Entry:
    what: str
    points: dict[str, float]
    replace: tuple[tuple[str, str, str], ...] = ()  # (cell, old, new)
    cells: dict[str, str] = field(default_factory=dict)  # cell -> its whole new source
    before: dict[str, str] = field(default_factory=dict)  # cell -> source of a new cell just before it
    after: dict[str, str] = field(default_factory=dict)  # cell -> source of a new cell just after it
    same_training: bool = True
    feedback: dict[str, str] = field(default_factory=dict)  # check name -> words its message must contain


def _points(**lost) -> dict[str, float]:
    return {q: FULL[q] - lost.get(q, 0.0) for q in FULL}


# ----------------------------------------------------------------------------------- correct, in many styles

LIST_BUILT_DOUBLE_CONV = '''
def double_conv(in_channels, out_channels):
    """[3x3 conv (no bias) -> BatchNorm -> ReLU] x 2, keeping the spatial size."""
    layers = []
    for channels_in in (in_channels, out_channels):
        layers += [nn.Conv2d(channels_in, out_channels, 3, padding=1, bias=False),
                   nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True)]
    return nn.Sequential(*layers)
'''.lstrip()

LOOP_FORWARD = '''
        skips = []
        for encoder, pool in ((self.encoder1, self.pool1), (self.encoder2, self.pool2),
                              (self.encoder3, self.pool3), (self.encoder4, self.pool4)):
            x = encoder(x)
            skips.append(x)
            x = pool(x)
        x = self.bottleneck(x)
        for up, decoder in ((self.upconv4, self.decoder4), (self.upconv3, self.decoder3),
                            (self.upconv2, self.decoder2), (self.upconv1, self.decoder1)):
            x = decoder(torch.cat((up(x), skips.pop()), 1))
        return self.conv(x)
'''

SOLUTION_FORWARD = '''
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
'''

FLOAT32_VECTORISED_METRICS = '''
def _overlaps(pred, target, num_classes):
    classes = torch.arange(num_classes).view(-1, *([1] * pred.dim()))
    p, t = pred.unsqueeze(0) == classes, target.unsqueeze(0) == classes
    dims = tuple(range(1, p.dim()))
    return (p & t).sum(dim=dims).float(), (p | t).sum(dim=dims).float(), (p.sum(dim=dims) + t.sum(dim=dims)).float()


def iou_per_class(pred, target, num_classes):
    inter, union, _ = _overlaps(pred, target, num_classes)
    return inter / union  # 0 / 0 is NaN: a class in neither map


def dice_per_class(pred, target, num_classes):
    inter, _, size = _overlaps(pred, target, num_classes)
    return 2 * inter / size


def mean_iou(pred, target, num_classes):
    return torch.nanmean(iou_per_class(pred, target, num_classes)).item()
'''.lstrip()

FLOAT32_LIST_METRICS = '''
def iou_per_class(pred, target, num_classes):
    values = []
    for c in range(num_classes):
        inter = ((pred == c) & (target == c)).sum()
        union = ((pred == c) | (target == c)).sum()
        values.append(float("nan") if union == 0 else inter.item() / union.item())
    return torch.tensor(values)  # float32


def dice_per_class(pred, target, num_classes):
    values = []
    for c in range(num_classes):
        inter = ((pred == c) & (target == c)).sum().item()
        size = (pred == c).sum().item() + (target == c).sum().item()
        values.append(2 * inter / size if size else float("nan"))
    return torch.tensor(values)


def mean_iou(pred, target, num_classes):
    ious = iou_per_class(pred, target, num_classes)
    return ious[~torch.isnan(ious)].mean().item()
'''.lstrip()

NUMPY_METRICS = '''
import numpy as np


def iou_per_class(pred, target, num_classes):
    pred, target = np.asarray(pred), np.asarray(target)
    ious = np.full(num_classes, np.nan)
    for c in range(num_classes):
        union = np.logical_or(pred == c, target == c).sum()
        if union:
            ious[c] = np.logical_and(pred == c, target == c).sum() / union
    return torch.from_numpy(ious)


def dice_per_class(pred, target, num_classes):
    iou = iou_per_class(pred, target, num_classes)
    return 2 * iou / (1 + iou)  # Dice from IoU; NaN stays NaN


def mean_iou(pred, target, num_classes):
    return float(np.nanmean(iou_per_class(pred, target, num_classes).numpy()))
'''.lstrip()

CONSTANTS_AND_DEFAULTS_METRICS = '''
def iou_per_class(pred, target, num_classes=NUM_CLASSES):
    ious = torch.full((num_classes,), float("nan"), dtype=torch.float64)
    for c in range(num_classes):
        union = ((pred == c) | (target == c)).sum().item()
        if union > 0:
            ious[c] = ((pred == c) & (target == c)).sum().item() / union
    return ious


def dice_per_class(pred, target, num_classes=NUM_CLASSES):
    dice = torch.full((num_classes,), float("nan"), dtype=torch.float64)
    for c in range(num_classes):
        size = (pred == c).sum().item() + (target == c).sum().item()
        if size > EPS:
            dice[c] = 2 * ((pred == c) & (target == c)).sum().item() / size
    return dice


def mean_iou(pred, target, num_classes=NUM_CLASSES):
    return torch.nanmean(iou_per_class(pred, target, num_classes)).item()
'''.lstrip()

CHUNKED_EVALUATION = '''
model.eval()
chunks = []
with torch.no_grad():
    for start in range(0, len(test_data.images), 32):
        logits = model(test_data.images[start:start + 32].to(device))
        chunks.append(logits.softmax(dim=1).argmax(dim=1).cpu())
test_pred = torch.cat(chunks)
test_mean_iou = float(mean_iou(test_pred, test_data.masks, 4))
print(f"test mean IoU: {test_mean_iou:.3f}")
'''.lstrip()

ZERO_GRAD_FIRST = ("q3",
                   "        logits = model(images)\n        loss = loss_fn(logits, masks)\n"
                   "        loss.backward()\n        optimizer.step()\n        optimizer.zero_grad()\n",
                   "        optimizer.zero_grad()\n        loss = loss_fn(model(images), masks)\n"
                   "        loss.backward()\n        optimizer.step()\n")

CORRECT = {
    "solution": Entry("the master's solution", FULL),
    "constant_in_double_conv": Entry(
        "a module-level constant used inside an answer function (issue 25: scored 8/15, q2 NameError)", FULL,
        replace=(("q2", "kernel_size=3, padding=1, bias=False",
                  "kernel_size=KERNEL_SIZE, padding=PADDING, bias=False"),),
        before={"q2": "KERNEL_SIZE = 3\nPADDING = KERNEL_SIZE // 2  # keeps the size"}),
    "constant_as_default_argument": Entry(
        "num_classes=NUM_CLASSES as a default argument (issue 25: lost all of q4, KeyError: 'mean_iou')", FULL,
        cells={"q4": CONSTANTS_AND_DEFAULTS_METRICS},
        before={"q4": "NUM_CLASSES = len(CLASS_NAMES)\nEPS: float = 0.0"}),
    "constants_for_settings": Entry(
        "constants for the batch size and learning rate, set in a cell of their own", FULL,
        replace=(("q1", "batch_size=8", "batch_size=BATCH_SIZE"), ("q3", "lr=0.001", "lr=LEARNING_RATE")),
        before={"q1": "BATCH_SIZE, LEARNING_RATE = 8, 1e-3\nSETTINGS = dict(batch_size=BATCH_SIZE, lr=LEARNING_RATE)"}),
    "helpers_and_partial": Entry(
        "module-level helpers: a function returning layers and a functools.partial", FULL,
        cells={"q2": None},  # built below from the solution
        before={"q2": "from functools import partial\n\nconv3x3 = partial(nn.Conv2d, kernel_size=3, padding=1, "
                      "bias=False)\n\n\ndef conv_bn_relu(in_channels, out_channels):\n"
                      "    return [conv3x3(in_channels, out_channels), nn.BatchNorm2d(out_channels), nn.ReLU()]"}),
    "float32_vectorised_iou": Entry(
        "IoU and Dice in float32, vectorised, with torch.nanmean (issue 25: lost q4's mean point)", FULL,
        cells={"q4": FLOAT32_VECTORISED_METRICS}),
    "float32_list_iou": Entry("IoU and Dice looped into a Python list, as a float32 tensor", FULL,
                              cells={"q4": FLOAT32_LIST_METRICS}),
    "numpy_iou": Entry("IoU in numpy (float64), Dice from IoU, mean with np.nanmean", FULL,
                       cells={"q4": NUMPY_METRICS}),
    "list_built_sequential": Entry("double_conv's layers collected in a list, nn.Sequential(*layers)", FULL,
                                   cells={"q2": None}),
    "loop_in_forward": Entry("the encoder and decoder as loops over the levels, skips on a stack", FULL,
                             replace=(("q2", SOLUTION_FORWARD, LOOP_FORWARD),)),
    "zero_grad_first": Entry("optimizer.zero_grad() first in the training step", FULL, replace=(ZERO_GRAD_FIRST,)),
    "chunked_prediction": Entry("the test set predicted in chunks, softmax before the argmax", FULL,
                                cells={"q5": CHUNKED_EVALUATION}),
}

# ------------------------------------------------------------------------------------------- subtly wrong

CLAMP_IOU = ("q4", "        union = (p | t).sum().item()\n        ious[c] = (p & t).sum().item() / union if union else "
                   "float(\"nan\")\n",
             "        union = (p | t).sum().clamp(min=1).item()\n        ious[c] = (p & t).sum().item() / union\n")
ONE_FOR_ABSENT = (("q4", "/ union if union else float(\"nan\")", "/ union if union else 1.0"),
                  ("q4", "/ size if size else float(\"nan\")", "/ size if size else 1.0"))

WRONG = {
    "clamp_iou": Entry(
        "IoU with the union clamped to 1: 0 instead of NaN for a class in neither map (issue 25: passed every "
        "public self-check)", _points(q4=1), replace=(CLAMP_IOU,),
        feedback={"q4_iou": "must be NaN", "q4_mean_iou": "averages the classes that occur"}),
    "one_for_absent_classes": Entry(
        "IoU and Dice 1.0 for a class in neither map (issue 25: also cost the mean_iou point)", _points(q4=2),
        replace=ONE_FOR_ABSENT, feedback={"q4_dice": "must be NaN", "q4_mean_iou": "averages the classes"}),
    "mean_counts_nan_as_zero": Entry(
        "mean_iou counts the absent classes as 0", _points(q4=1),
        replace=(("q4", "return torch.nanmean(iou_per_class(pred, target, num_classes)).item()",
                  "return torch.nan_to_num(iou_per_class(pred, target, num_classes)).mean().item()"),),
        feedback={"q4_mean_iou": "the absent classes count as 0", "q5_reported_mean_iou": "is the trained model's"}),
    "mean_returns_tensor": Entry(
        "mean_iou returns a 0-dim tensor (test_mean_iou is then a tensor too): one point, in q4", _points(q4=1),
        replace=(("q4", "torch.nanmean(iou_per_class(pred, target, num_classes)).item()",
                  "torch.nanmean(iou_per_class(pred, target, num_classes))"),),
        feedback={"q4_mean_iou": "returns a torch.Tensor", "q5_reported_mean_iou": "a Python float is asked for"}),
    "fixed_four_classes": Entry(
        "iou_per_class and dice_per_class for 4 classes, whatever num_classes says", _points(q4=2),
        replace=(("q4", "for c in range(num_classes):", "for c in range(4):"),
                 ("q4", "torch.empty(num_classes, dtype=torch.float64)", "torch.empty(4, dtype=torch.float64)")),
        feedback={"q4_iou": "use the argument, not a fixed 4"}),
    "wrong_skip_order": Entry(
        "the encoder's map first in every skip concatenation", _points(q2=2),
        replace=tuple(("q2", f"torch.cat([self.upconv{level}({below}), enc{level}], dim=1)",
                       f"torch.cat([enc{level}, self.upconv{level}({below})], dim=1)")
                      for level, below in ((4, "bottleneck"), (3, "dec4"), (2, "dec3"), (1, "dec2"))),
        same_training=False, feedback={"q2_equals_reference": "order of the skip connections"}),
    "double_conv_with_bias": Entry(
        "double_conv's convolutions keep their bias: only double_conv's point", _points(q2=1),
        replace=(("q2", "kernel_size=3, padding=1, bias=False", "kernel_size=3, padding=1"),),
        same_training=False, feedback={"q2_double_conv_layers": "has_bias is True",
                                       "q2_equals_reference": "equals the reference"}),
    "forgot_zero_grad": Entry(
        "the training step never zeroes the gradients: it does not train either (q5's target lost, its honest "
        "report kept)", _points(q3=2, q5=2),
        replace=(("q3", "        optimizer.zero_grad()\n", ""),), same_training=False,
        feedback={"q3_training_step": "the gradients add up over the batches"}),
    "batch_size_16": Entry(
        "a loader with batches of 16: only the batch-size point", _points(q1=1),
        replace=(("q1", "batch_size=8", "batch_size=16"),), same_training=False,
        feedback={"q1_shuffled_batches_of_8": "the batch size must be 8, got 16",
                  "q1_whole_training_set": "from the whole training set"}),
}

CORPUS: dict[str, Entry] = {**CORRECT, **WRONG}


# --------------------------------------------------------------------------------------------- building


def _first_line(source: str) -> str:
    return source.lstrip().splitlines()[0] if source.strip() else ""


def answers() -> dict[str, str]:
    """The master's answer to each cell of CELLS, without the solution markers."""
    import nbformat

    found = {}
    for cell in nbformat.read(MASTER, as_version=4).cells:
        for key, first in CELLS.items():
            if cell.cell_type == "code" and cell.source.startswith(first):
                found[key] = "\n".join(line for line in cell.source.splitlines()
                                       if line.strip() not in ("# BEGIN SOLUTION", "# END SOLUTION"))
    missing = set(CELLS) - set(found)
    assert not missing, f"the master has no cell starting with {[CELLS[k] for k in missing]}"
    return found


def _whole_cell(name: str, key: str, solved: str) -> str:
    """The whole-cell answers that are made from the solution's cell (double_conv replaced, UNet kept)."""
    if key == "q2" and name in ("list_built_sequential", "helpers_and_partial"):
        head, marker, rest = solved.partition("\n\nclass UNet(nn.Module):")
        assert marker
        if name == "list_built_sequential":
            return LIST_BUILT_DOUBLE_CONV + marker + rest
        return ('def double_conv(in_channels, out_channels):\n'
                '    return nn.Sequential(*conv_bn_relu(in_channels, out_channels), '
                '*conv_bn_relu(out_channels, out_channels))\n' + marker + rest)
    raise KeyError((name, key))


def build(name: str, student_nb=None):
    """The submission ``name`` of CORPUS: the student notebook, answered and changed as the entry says."""
    import nbformat

    entry = CORPUS[name]
    nb = nbformat.read(STUDENT_NB, as_version=4) if student_nb is None else nbformat.from_dict(
        json.loads(json.dumps(student_nb)))
    solved = answers()
    index = {}
    for i, cell in enumerate(nb.cells):
        for key, first in CELLS.items():
            if cell.cell_type == "code" and cell.source.startswith(first):
                index[key] = i
    assert set(index) == set(CELLS), f"the student notebook lacks cells {set(CELLS) - set(index)}"
    sources = {key: solved[key] for key in CELLS}
    for key, source in entry.cells.items():
        sources[key] = source if source is not None else _whole_cell(name, key, solved[key])
    for key, old, new in entry.replace:
        assert old in sources[key], f"{name}: {old!r} is not in cell {key}"
        sources[key] = sources[key].replace(old, new)
    for key, i in index.items():
        nb.cells[i].source = sources[key]
    for key in sorted(index, key=index.get, reverse=True):  # from the end, so that the indices stay valid
        if key in entry.after:
            nb.cells.insert(index[key] + 1, nbformat.v4.new_code_cell(entry.after[key]))
        if key in entry.before:
            nb.cells.insert(index[key], nbformat.v4.new_code_cell(entry.before[key]))
    for cell in nb.cells:
        cell.pop("id", None)
    nb.nbformat_minor = 4  # no cell ids: the grader treats the file as any nbformat 4 notebook
    return nb


def write_corpus(folder: Path, names=None) -> dict[str, dict[str, float]]:
    """Write each entry (all by default) as ``folder/<name>.ipynb`` and the table of expected points as
    ``folder/expected_points.json``; return that table."""
    import nbformat

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    table = {}
    for name in names or CORPUS:
        nbformat.write(build(name), folder / f"{name}.ipynb")
        table[name] = CORPUS[name].points
    (folder / "expected_points.json").write_text(json.dumps(table, indent=1))
    return table


# ---------------------------------------------------------------------------------------------- probing


def load_grader_module(name: str):
    """homework/hw2/<name>.py (the grader's hw2_hidden or hw2_probes), imported once per process under its own
    name, as the grader imports it."""
    import importlib.util

    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, HW2 / f"{name}.py")
        sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[name])
    return sys.modules[name]


def probe_many(jobs: list[list[str]]) -> None:
    """Run the grader's probe step (hw2_probes.main) on each job in this process, one after the other: each
    rebuilds its submission from source into a namespace of its own, as the grader's fresh process does."""
    sys.path.insert(0, str(HW2))
    import hw2_probes

    for job in jobs:
        hw2_probes.main(job)


def read_outputs(out_dir: Path) -> tuple[dict[str, dict], list[str]]:
    """The probes' outputs as the grader reads them (JSON, and arrays without pickles)."""
    import numpy as np

    data = json.loads((Path(out_dir) / "outputs.json").read_text())
    outputs = {k: dict(v) for k, v in data["probes"].items()}
    with np.load(Path(out_dir) / "outputs.npz", allow_pickle=False) as arrays:
        for key in arrays.files:
            probe, _, name = key.partition("/")
            outputs.setdefault(probe, {})[name] = arrays[key]
    return outputs, data["notes"]


if __name__ == "__main__":
    if sys.argv[1:2] == ["probe"]:
        probe_many(json.loads(Path(sys.argv[2]).read_text()))
    else:
        raise SystemExit(__doc__)
