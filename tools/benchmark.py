"""Measure every lecture in full mode and write BENCHMARKS.md: data, device, wall time, quality next to its anchor.

    python -m tools.benchmark                 # all lectures, HW2 recipes and the data-pipeline comparison
    python -m tools.benchmark --only 01 hw2   # some of them (the table keeps the other rows it already has)

Each lecture notebook is executed top to bottom in full mode on a temporary copy (the committed notebook is not
touched); afterwards a few expressions are evaluated in the same kernel to read the notebook's own results
(`EXTRACT` below: the variable names are the notebook's). Nothing here is asserted: the numbers are recorded.
Lectures 06, 07 and 08 load committed checkpoints, so they run twice: as a student gets them, and trained from scratch
(their retrained checkpoints go to _build/benchmark_assets via COURSE_ASSETS_DIR, never over assets/).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import sys
import time
import traceback
from datetime import date
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
RESULTS_JSON = ROOT / "benchmarks.json"
SCRATCH_ASSETS = ROOT / "_build" / "benchmark_assets"  # checkpoints retrained by the benchmark (git-ignored)
OUTPUT_MD = ROOT / "BENCHMARKS.md"

SCRATCH_SWITCH = "TRAIN_FROM_SCRATCH = False"  # the line of lectures 06-08 that the from-scratch run flips
JUDGED = ("real training digits (floor)", "plain AE, random codes", "VAE (lecture 06)", "DCGAN")  # lecture 07's table

# notebook stem -> (quality expressions evaluated in its kernel, how to show them next to their anchors)
EXTRACT: dict[str, dict[str, str]] = {
    "01_convolution_by_hand": {
        "kernel error, learned from noise": "float((learned['noise in [0, 1]'].cpu() - SOBEL_X).abs().max())",
        "kernel error, learned from the photo": "float((learned['photo'].cpu() - SOBEL_X).abs().max())",
    },
    "02_cnn_classification": {
        "LeNet test accuracy": "float(lenet_accuracy)",
    },
    "03_pca_and_autoencoders": {
        "PCA-30 test error per image": "float(pca30_test_error)",
        "linear AE / PCA-30 error ratio (test)": "float(linear_test_error / pca30_test_error)",
        "median principal angle (deg)": "float(angles.median())",
        "deep (conv) AE test error per image": "float(conv_test_error)",
        "deep (MLP 784-1000-500-250-30) AE test error per image": "float(mlp_test_error)",
    },
    "05_colourization_and_super_resolution": {
        "colourization U-Net RGB PSNR (dB)": "float(colour_results['U-Net (squared error)'][0])",
        "grayscale baseline RGB PSNR (dB)": "float(colour_results['grayscale (ab = 0)'][0])",
        "mean-colour baseline RGB PSNR (dB)": "float(colour_results['mean colour (training mean ab)'][0])",
        "colourization U-Net ab error": "float(colour_results['U-Net (squared error)'][1])",
        "super-resolution x2 U-Net PSNR (dB)": "float(psnr(sr_output, test_rgb))",
        "super-resolution gain over bicubic (dB)": "float(sr_gain)",
    },
    "05b_semantic_segmentation": {  # the three networks of its section 5, by their names in `results`
        **{f"test mean IoU: {m}": f"float(results[{m!r}]['mean IoU'])"
           for m in ("FCN (bilinear x8)", "encoder-decoder (unpooling)", "encoder-decoder + skips")},
        **{f"test IoU per class (background, disk, square, triangle): {m}":
           f"', '.join(f'{{v:.3f}}' for v in results[{m!r}]['iou'].tolist())"
           for m in ("FCN (bilinear x8)", "encoder-decoder (unpooling)", "encoder-decoder + skips")},
    },
    "06_variational_autoencoders": {
        "VAE test negative ELBO (nats/image)": "float(test_terms['neg_elbo'])",
    },
    "07_generative_adversarial_networks": {
        **{f"{g}: digits covered / Frechet distance": f"f\"{{reports[{g!r}]['digits_covered']}}/10, "
           f"{{reports[{g!r}]['frechet']:.1f}}\""
           for g in JUDGED},
    },
    "08_diffusion_models": {
        **{f"{g}: digits covered / Frechet distance": f"f\"{{reports[{g!r}]['digits_covered']}}/10, "
           f"{{reports[{g!r}]['frechet']:.1f}}\""
           for g in JUDGED[3:] + ("diffusion, unconditional",)},
        "diffusion, asked 0-9: digits covered / Frechet distance":
            "f\"{reports[f'diffusion, asked 0-9, w = {W:g}']['digits_covered']}/10, "
            "{reports[f'diffusion, asked 0-9, w = {W:g}']['frechet']:.1f}\"",
        "diffusion, asked 0-9: read as the requested digit": "round(requested_share, 3)",
        "diffusion: DDIM steps / guidance scale (chosen on validation digits)": "f'{SAMPLE_STEPS} / {W:g}'",
    },
    "04_denoising_autoencoders": {
        "DAE PSNR at std 0.5 (dB)": "float(table['denoising autoencoder'][0])",
        "best classical filter PSNR (dB)": "float(best_classical[0])",
        "DAE margin over the best filter (dB)": "float(margin)",
        "DAE SSIM": "float(table['denoising autoencoder'][1])",
    },
    "02b_training_deep_networks": {
        "02b best recipe: test accuracy": "float(recipe_test)",
        "02b best recipe: train s": "round(recipe_run['seconds'], 1)",
        "pytorch/examples recipe: test accuracy": "float(peer_test)",
        "pytorch/examples recipe: train s": "round(peer_run['seconds'], 1)",
    },
    "hw2_unet_segmentation": {
        "HW2 solution: test mean IoU": "float(test_mean_iou)",
    },
}
FRECHET_ANCHOR = "lower is better; 10/10 digits and a distance near the floor of real digits"
ANCHORS: dict[str, str] = {
    "kernel error, learned from noise": "< 1e-3 (white noise pins the kernel down exactly)",
    **{f"{g}: digits covered / Frechet distance": FRECHET_ANCHOR for g in JUDGED[1:]},  # all but the floor
    "course recipe (HW2 solution): test mean IoU": ">= 0.85 (the homework's target)",
    "full mode, 20 seeds: worst test mean IoU": ">= 0.85 (the target: every seed would earn full marks)",
    "fast mode, 20 seeds: worst test mean IoU": ">= 0.45 (the fast-mode target)",
    "make grade, class of 30: minutes": "< 10 (fast mode, this 2-core CPU)",
    "Gradescope zip (rehearsed here), class of 30: minutes": "< 12 (fast mode, this 2-core CPU; on Gradescope "
                                                             "each submission has a container of its own)",
    "sandbox overhead per submission (s)": "< 2",
    "speed-up (x)": "> 1 (the course's in-memory batches are faster)",
    "VAE test negative ELBO (nats/image)": "106.7 (pytorch/examples MLP VAE, epoch 7, full MNIST); goal < 100 there",
    "super-resolution gain over bicubic (dB)": "> 0 (beats bicubic)",
    "colourization U-Net RGB PSNR (dB)": "above both baselines on the held-out photo",
    "HW2 solution: test mean IoU": ">= 0.85 in under 2 minutes (full mode, this CPU)",
    "PCA-30 test error per image": "13.87 (full MNIST, Hinton & Salakhutdinov 2006)",
    "linear AE / PCA-30 error ratio (test)": "1.00 (<= 1.01)",
    "deep (conv) AE test error per image": "3.00 (deep AE on full MNIST, Hinton & Salakhutdinov 2006)",
    "LeNet test accuracy": ">= 0.990 on full MNIST (Colab); the offline subset has 4,000 training digits",
    "DAE margin over the best filter (dB)": ">= 3 dB in full mode",
    "02b best recipe: test accuracy": ">= 0.985 on the offline split (the lecture's target)",
    "02b recipe / peer time to final accuracy": "<= 0.5 (the lecture's target), both measured in the same run",
    "test mean IoU: encoder-decoder + skips": "above both the FCN and the encoder-decoder without skips",
    "diffusion, unconditional: digits covered / Frechet distance": "10/10 and below the DCGAN's in the same table",
    "diffusion, asked 0-9: read as the requested digit": ">= 0.90",
}


def _run_notebook(source: Path, from_scratch: bool = False) -> dict:
    """Execute ``source`` in full mode (in memory) and read its results.

    ``from_scratch``: lectures 06, 07 and 08 load committed checkpoints by default; this sets their
    ``TRAIN_FROM_SCRATCH = True`` so that the run measures training, and points ``COURSE_ASSETS_DIR`` at a
    scratch folder so that the committed assets/ stay untouched (lectures 07 and 08 then use the earlier lectures'
    retrained models when those ran first in the same benchmark, else the committed ones).
    """
    from course_utils.checkpoints import ASSETS_DIR_ENV

    stem = source.stem
    nb = nbformat.read(source, as_version=4)  # executed in memory: the committed file is not touched
    kernel_env = dict(os.environ)
    if from_scratch:
        switched = 0
        for cell in nb.cells:
            if cell.cell_type == "code" and SCRATCH_SWITCH in cell.source:
                cell.source = cell.source.replace(SCRATCH_SWITCH, "TRAIN_FROM_SCRATCH = True")
                switched += 1
        if switched != 1:
            raise RuntimeError(f"{source.name}: expected one `{SCRATCH_SWITCH}` line, found {switched}")
        kernel_env[ASSETS_DIR_ENV] = str(SCRATCH_ASSETS)
    client = NotebookClient(nb, timeout=3600, kernel_name="python3",
                            resources={"metadata": {"path": str(source.parent)}})
    start = time.perf_counter()
    with client.setup_kernel(env=kernel_env):
        for index, cell in enumerate(nb.cells):
            client.execute_cell(cell, index)
        wall = time.perf_counter() - start
        probe = nbformat.v4.new_code_cell(
            "import json as _json\nprint('BENCHMARK' + _json.dumps({"
            + ", ".join(f"{k!r}: {v}" for k, v in EXTRACT.get(stem, {}).items())
            + "}))"
        )
        nb.cells.append(probe)
        client.execute_cell(probe, len(nb.cells) - 1)
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    metrics = json.loads(re.search(r"BENCHMARK(\{.*\})", text).group(1))
    data = _compact(re.findall(r"^Data: (.*)$", text, flags=re.M))
    data += re.findall(r"^((?:Models|GANs): .*)$", text, flags=re.M)  # loaded from assets/ or trained here
    device = (re.findall(r"^Device: (\S+)", text, flags=re.M) or ["?"])[0]
    return {"wall_s": round(wall, 1), "metrics": metrics, "data": data, "device": device}


def _compact(lines: list[str]) -> list[str]:
    """The notebook's ``Data:`` lines without repeats: each line's '; '-separated parts, once, in order."""
    parts = [part for line in lines for part in line.split("; ")]
    return list(dict.fromkeys(parts))


def _data_pipeline() -> dict:
    """One epoch over MNIST training images: per-item Dataset + DataLoader versus in-memory TensorLoader."""
    import torch
    from torch.utils.data import DataLoader, Dataset
    from torchvision.transforms import functional as TF

    import course_utils as cu

    train = cu.load_mnist("train", verbose=False)
    raw = (train.images[:, 0] * 255).to(torch.uint8).numpy()

    class PerItem(Dataset):  # what torchvision.datasets.MNIST does: one PIL image -> tensor per item
        def __len__(self):
            return len(raw)

        def __getitem__(self, i):
            from PIL import Image

            return TF.to_tensor(Image.fromarray(raw[i], mode="L")), int(train.labels[i])

    def epoch(loader):
        start = time.perf_counter()
        total = 0.0
        for x, _ in loader:
            total += float(x.sum())
        return time.perf_counter() - start

    per_item = epoch(DataLoader(PerItem(), batch_size=64, shuffle=True, num_workers=0))
    in_memory = epoch(cu.TensorLoader(train.images, train.labels, batch_size=64, shuffle=True))
    return {"wall_s": round(per_item + in_memory, 1), "data": [train.source],
            "metrics": {"per-item Dataset+DataLoader epoch (s)": round(per_item, 3),
                        "TensorLoader epoch (s)": round(in_memory, 3),
                        "speed-up (x)": round(per_item / in_memory, 1)}}


def _hw2_reference():
    """The instructor's reference (U-Net, mean IoU) from homework/hw2/hw2_hidden.py: not part of course_utils,
    which students install."""
    import importlib.util

    if "hw2_hidden" not in sys.modules:
        spec = importlib.util.spec_from_file_location("hw2_hidden", ROOT / "homework" / "hw2" / "hw2_hidden.py")
        sys.modules["hw2_hidden"] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules["hw2_hidden"])
    return sys.modules["hw2_hidden"]


HW2_RECIPE = {"init_features": 8, "epochs": {"full": 5, "fast": 2}, "check_epoch": 2, "plateau": 0.5, "attempts": 3}


def _hw2_train(seed: int, mode: str, sigmoid_output: bool = False,
               recipe: dict | None = None) -> tuple[float, float, int]:
    """HW2's recipe, as the solution notebook runs it: U-Net f=8, batch 8, Adam 1e-3 with a per-epoch cosine
    schedule, cross-entropy weighted by the square root of inverse class frequency, 5 epochs in full mode (2 in
    fast mode), and a fresh start (at most 3 attempts) when the validation mean IoU after epoch 2 is still below
    0.5. Returns (training seconds, test mean IoU, attempts used)."""
    import torch
    from torch import nn
    from torch.utils.data import DataLoader, TensorDataset

    import course_utils as cu
    from course_utils.segmentation import SPLIT_SEEDS, SPLIT_SIZES, make_shapes

    recipe = {**HW2_RECIPE, **(recipe or {})}
    ref = _hw2_reference()
    train = make_shapes(SPLIT_SIZES[mode]["train"], seed=SPLIT_SEEDS["train"])
    val = make_shapes(SPLIT_SIZES[mode]["val"], seed=SPLIT_SEEDS["val"])
    test = make_shapes(SPLIT_SIZES[mode]["test"], seed=SPLIT_SEEDS["test"])
    epochs = recipe["epochs"][mode]
    cu.seed_everything(seed)
    model = ref.ReferenceUNet(1, 4, recipe["init_features"])
    if sigmoid_output:  # the original homework's model (torch.hub mateuszbuda U-Net) ended in a sigmoid
        model = nn.Sequential(model, nn.Sigmoid())
    loader = DataLoader(TensorDataset(train.images, train.masks), batch_size=8, shuffle=True)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    pixels = torch.bincount(train.masks.flatten(), minlength=4).float()
    weights = (pixels.sum() / pixels).sqrt()
    loss_fn = nn.CrossEntropyLoss(weight=weights / weights.mean())
    start = time.perf_counter()
    for attempt in range(1, recipe["attempts"] + 1):
        if attempt > 1:  # the notebook's restart(): every layer re-initialised, Adam's running averages forgotten
            for layer in model.modules():
                if hasattr(layer, "reset_parameters"):
                    layer.reset_parameters()
            optimizer.state.clear()
            for group in optimizer.param_groups:
                group["lr"] = 1e-3
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
        for epoch in range(1, epochs + 1):
            model.train()
            for images, masks in loader:
                loss = loss_fn(model(images), masks)
                loss.backward()
                optimizer.step()
                optimizer.zero_grad()
            scheduler.step()
            if epoch == recipe["check_epoch"] and attempt < recipe["attempts"]:
                val_iou = ref.reference_mean_iou(cu.predict(model, val.images).argmax(1).numpy(), val.masks.numpy())
                if val_iou < recipe["plateau"]:
                    break
        else:
            break
    seconds = time.perf_counter() - start
    pred = cu.predict(model, test.images).argmax(1)
    return seconds, ref.reference_mean_iou(pred.numpy(), test.masks.numpy()), attempt


def _hw2_recipes() -> dict:
    """HW2 side by side on the same data: the original model (sigmoid output) and the solution's (logits)."""
    original = _hw2_train(0, "full", sigmoid_output=True)
    course = _hw2_train(0, "full")
    return {"wall_s": round(original[0] + course[0], 1), "device": "cpu",
            "data": ["synthetic shapes, 2,000 train / 200 val / 200 test (64x64)",
                     "both: the solution's recipe (U-Net f=8, 5 epochs, batch 8, Adam 1e-3 with a cosine schedule, "
                     "class-weighted cross-entropy, restart on a plateau); only the output differs"],
            "metrics": {"original recipe (sigmoid output into CrossEntropyLoss): train s": round(original[0], 1),
                        "original recipe: test mean IoU": round(original[1], 4),
                        "course recipe (HW2 solution: logits into CrossEntropyLoss): train s": round(course[0], 1),
                        "course recipe (HW2 solution): test mean IoU": round(course[1], 4)}}


def _hw2_train_one_thread(seed: int, mode: str) -> tuple[float, float, int]:
    import torch

    torch.set_num_threads(1)
    return _hw2_train(seed, mode)


def _hw2_seeds(seeds: int = 20) -> dict:
    """The HW2 solution's recipe trained from 20 random states in each mode, one run per core at a time: every
    one must reach the homework's target (0.85 full, 0.45 fast: hw2_hidden.TARGETS), so that a correct student
    never loses points by chance."""
    from concurrent.futures import ProcessPoolExecutor

    metrics, wall = {}, 0.0
    for mode in ("full", "fast"):
        with ProcessPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            runs = list(pool.map(_hw2_train_one_thread, range(seeds), [mode] * seeds))
        for seed, (seconds, iou, attempts) in enumerate(runs):
            print(f"{mode} mode, seed {seed}: test mean IoU {iou:.3f} in {seconds:.0f} s, {attempts} attempt(s)",
                  flush=True)
        ious = sorted(iou for _, iou, _ in runs)
        times = sorted(s for s, _, _ in runs)
        wall += sum(times)
        target = _hw2_reference().TARGETS[mode]
        metrics[f"{mode} mode: seeds reaching the target {target}"] = f"{sum(i >= target for i in ious)}/{seeds}"
        metrics[f"{mode} mode, {seeds} seeds: worst test mean IoU"] = round(ious[0], 4)
        metrics[f"{mode} mode: median test mean IoU"] = round(ious[len(ious) // 2], 4)
        metrics[f"{mode} mode: seeds restarted after a plateau"] = sum(a > 1 for _, _, a in runs)
        metrics[f"{mode} mode: median training s (1 thread)"] = round(times[len(times) // 2], 1)
        metrics[f"{mode} mode: slowest training s (1 thread)"] = round(times[-1], 1)
    return {"wall_s": round(wall, 1), "device": "cpu",
            "data": ["synthetic shapes: full 2,000 train / 200 val / 200 test, fast 1,200 / 64 / 100 (64x64)",
                     f"seeds 0-{seeds - 1} of the solution's recipe (U-Net f=8, batch 8, Adam 1e-3 with a cosine "
                     "schedule, class-weighted cross-entropy, 5 or 2 epochs, restart if validation mean IoU < 0.5 "
                     "after epoch 2), each on one CPU thread"],
            "metrics": metrics}


def _hw2_grading(class_size: int = 30, overhead_runs: int = 3) -> dict:
    """Grading a class of correct submissions in fast mode on both paths, and what the sandbox costs.

    `make grade`: the class in one run (default workers: both cores busy, one thread each). The Gradescope zip:
    the same class through ``tools.gradescope.rehearse``, which lays the zip out and runs it as Gradescope does
    (setup.sh once per container, then run_autograder per submission, student code as the user hw-student without
    bubblewrap, as in Docker), one container per core at once, the submissions one after the other in each (on
    Gradescope every submission gets a container of its own, so there a class takes about one submission's time
    once its machines are free); it needs root, as Gradescope's steps run as root. Sandbox overhead: the same
    submission graded with and without bubblewrap."""
    import tempfile
    from concurrent.futures import ThreadPoolExecutor

    from tools import autograder as ag
    from tools import gradescope

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        dist = ag.generate("hw2", tmp / "dist")
        zip_path = ag.autograder_zip("hw2", dist)
        solution = (dist / "autograder" / "hw2_unet_segmentation.ipynb").read_bytes()
        submissions = tmp / "class"
        submissions.mkdir()
        for i in range(class_size):
            (submissions / f"student_{i:02d}.ipynb").write_bytes(solution)
        start = time.perf_counter()
        grades = ag.grade_all("hw2", submissions, tmp / "grades", mode="fast", ag_zip=zip_path)
        local_s = time.perf_counter() - start
        metrics = {f"make grade, class of {class_size}: minutes": round(local_s / 60, 2),
                   f"make grade, class of {class_size}: full marks":
                       f"{sum(g.total == g.possible for g in grades)}/{class_size}"}
        data = [f"{class_size} copies of the solution notebook, fast mode; make grade with default workers "
                f"({ag.default_workers(class_size, 6.0)} on {os.cpu_count()} cores, one thread each)"]
        wall = local_s
        if os.geteuid() == 0:
            notebooks = sorted(submissions.glob("*.ipynb"))
            containers = max(1, min(os.cpu_count() or 1, class_size))

            def rehearse(part):
                return gradescope.rehearse(zip_path, part, tmp / "gradescope", mode="fast", threads=1,
                                           bwrap_in_container=False)

            start = time.perf_counter()
            with ThreadPoolExecutor(containers) as pool:
                parts = list(pool.map(rehearse, [notebooks[i::containers] for i in range(containers)]))
            gradescope_s = time.perf_counter() - start
            wall += gradescope_s
            results = [r for part in parts for r in part.values()]
            seconds = sorted(r["extra_data"]["seconds"] for r in results if r)
            metrics.update({
                f"Gradescope zip (rehearsed here), class of {class_size}: minutes": round(gradescope_s / 60, 2),
                f"Gradescope zip (rehearsed here), class of {class_size}: full marks":
                    f"{sum(bool(r) and r['score'] == 15.0 for r in results)}/{class_size}",
                "Gradescope zip: one submission graded (s, median)": seconds[len(seconds) // 2] if seconds else "-"})
            data.append(f"the Gradescope zip rehearsed with {containers} containers at once, one thread each, "
                        "student code as hw-student without bubblewrap")
        autograder = ag.Autograder(zip_path, "fast")
        one = submissions / "student_00.ipynb"
        seconds = {True: [], False: []}
        try:
            for _ in range(overhead_runs):
                for use_sandbox in (True, False):
                    seconds[use_sandbox].append(ag.grade_one(one, autograder, use_sandbox=use_sandbox).seconds)
        finally:
            autograder.close()
    median = {k: sorted(v)[len(v) // 2] for k, v in seconds.items()}
    metrics.update({"one submission, sandboxed (s, median)": round(median[True], 1),
                    "one submission, no sandbox (s, median)": round(median[False], 1),
                    "sandbox overhead per submission (s)": round(median[True] - median[False], 1)})
    return {"wall_s": round(wall + sum(map(sum, seconds.values())), 1), "device": "cpu", "data": data,
            "metrics": metrics}


def _02b_recipes() -> dict:
    """Lecture 02b's best recipe and the pytorch/examples MNIST recipe, trained one after the other on the same
    split (lecture 02's: the training digits minus a fixed eighth for validation) and measured once on the test
    digits. The code is the notebook's own (its cells tagged ``export``); the recipe's epochs and peak learning rate
    are those the committed notebook chose on its validation digits."""
    import torch

    import course_utils as cu
    from tools.notebook_code import load_exported, stored_text

    lesson = load_exported("02b_training_deep_networks")
    chosen = re.search(r"recipe chosen on validation: (\d+) epochs, peak learning rate ([\d.e-]+)",
                       stored_text("02b_training_deep_networks"))
    recipe_epochs, recipe_peak = int(chosen.group(1)), float(chosen.group(2))
    cu.seed_everything(0)
    all_train, test = cu.load_mnist("train", verbose=False), cu.load_mnist("test", verbose=False)
    order = torch.randperm(len(all_train.labels), generator=torch.Generator().manual_seed(0))
    n_val = len(order) // 8
    x, y = all_train.images[order[n_val:]], all_train.labels[order[n_val:]]
    recipe_model, recipe = lesson.train_recipe(x, y, epochs=recipe_epochs, max_lr=recipe_peak)
    peer_model, peer = lesson.train_peer(x, y, epochs=14)
    recipe_acc = cu.accuracy(cu.predict(recipe_model, test.images), test.labels)
    peer_acc = cu.accuracy(cu.predict(peer_model, test.images), test.labels)
    return {"wall_s": round(recipe["seconds"] + peer["seconds"], 1), "device": str(cu.get_device(verbose=False)),
            "data": [all_train.source, f"{len(y):,} training digits (lecture 02's split), {len(test.labels):,} test",
                     f"recipe: BNLeNet, AdamW + one-cycle (peak {recipe_peak:g}), shift/rotate augmentation, "
                     f"batch 64, {recipe_epochs} epochs; peer: pytorch/examples Net, Adadelta 1.0, x0.7 per epoch, "
                     "batch 64, 14 epochs"],
            "metrics": {"02b best recipe: test accuracy": round(recipe_acc, 4),
                        "02b best recipe: train s": round(recipe["seconds"], 1),
                        "02b best recipe: epochs": recipe_epochs,
                        "pytorch/examples recipe: test accuracy": round(peer_acc, 4),
                        "pytorch/examples recipe: train s": round(peer["seconds"], 1),
                        "pytorch/examples recipe: epochs": 14,
                        "02b recipe / peer time to final accuracy": round(recipe["seconds"] / peer["seconds"], 2)}}


SPECIAL = {"data_pipeline": _data_pipeline, "02b_recipes": _02b_recipes, "hw2_recipes": _hw2_recipes,
           "hw2_seeds": _hw2_seeds,
           "hw2_grading": _hw2_grading}


def write_markdown(results: dict) -> None:
    lines = [
        "# Benchmarks",
        "",
        f"Measured by `make benchmark` (`python -m tools.benchmark`) in **full mode**; last run {results['date']} "
        f"on {results['machine']} (each row says when and where it was measured). Wall times include kernel "
        "start-up and data loading. Numbers are recorded, "
        "not asserted: the tests check the maths on small cases, this table checks the quality on real runs.",
        "",
        "Reading it: anchors that name *full MNIST* come from the 60,000-digit training set. Without internet the "
        "course trains on the 4,000-digit offline subset (the data column says which), so a gap to those anchors "
        "is expected there; run `make benchmark` where the full MNIST downloads (e.g. Colab) to compare like with "
        "like. Lectures 06, 07 and 08 run twice: as a student gets them (trained checkpoints loaded from `assets/`) "
        "and trained from scratch (the retrained checkpoints go to `_build/benchmark_assets/`, the committed ones "
        "are not touched).",
        "",
        "| what | data | device | measured on | wall time | measured | anchor |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, row in results["rows"].items():
        metrics = row.get("metrics", {})
        measured = "<br>".join(f"{k}: {v:.4g}" if isinstance(v, float) else f"{k}: {v}" for k, v in metrics.items())
        anchors = []
        for key in metrics:
            if key in ANCHORS:
                shared = [k for k in metrics if ANCHORS.get(k) == ANCHORS[key]]
                label = key if len(shared) == 1 else "each of " + ", ".join(k.split(":")[0] for k in shared)
                anchors.append(f"{label}: {ANCHORS[key]}")
        anchor_text = "<br>".join(dict.fromkeys(anchors)) or "—"
        lines.append(f"| {name} | {'; '.join(row.get('data', [])) or '—'} | {row.get('device', 'cpu')} | "
                     f"{row.get('when', '?')} | {row.get('wall_s', '?')} s | {measured or '—'} | {anchor_text} |")
    OUTPUT_MD.write_text("\n".join(lines) + "\n")


def _machine() -> str:
    import torch

    cpuinfo = Path("/proc/cpuinfo")
    models = re.findall(r"^model name\s*:\s*(.+)$", cpuinfo.read_text(), flags=re.M) if cpuinfo.exists() else []
    cpu = models[0] if models else platform.processor()
    gpu = f", GPU {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else ", no GPU"
    return (f"{platform.machine()} {cpu}".strip() + f", {os.cpu_count()} CPU cores{gpu}, "
            f"Python {platform.python_version()}, torch {torch.__version__}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", default=None, help="notebook number prefixes or special rows")
    parser.add_argument("--rewrite", action="store_true", help="only re-render BENCHMARKS.md from benchmarks.json")
    args = parser.parse_args(argv)
    if args.rewrite:
        write_markdown(json.loads(RESULTS_JSON.read_text()))
        return 0
    os.environ.update(COURSE_FAST="0", TQDM_DISABLE="1", MPLBACKEND="Agg")
    results = json.loads(RESULTS_JSON.read_text()) if RESULTS_JSON.exists() else {"rows": {}}
    # the lectures, then the homework's solution (its master notebook)
    notebooks = {p.stem: p for p in sorted((ROOT / "notebooks").glob("0*.ipynb"))}
    notebooks["hw2_unet_segmentation (solution)"] = ROOT / "homework" / "hw2" / "hw2_unet_segmentation.ipynb"
    wanted = args.only
    jobs = []
    for name, path in notebooks.items():
        if wanted is None or any(name.startswith(w) for w in wanted):
            jobs.append((name, lambda path=path: _run_notebook(path)))
            if SCRATCH_SWITCH in path.read_text():  # 06, 07: also measure the training itself
                jobs.append((f"{name} (trained from scratch)", lambda path=path: _run_notebook(path, True)))
    shutil.rmtree(SCRATCH_ASSETS, ignore_errors=True)  # checkpoints retrained by an earlier benchmark run
    jobs += [(name, fn) for name, fn in SPECIAL.items()
             if wanted is None or name in wanted or name.split("_")[0] in wanted]
    failed, machine = [], _machine()
    for name, job in jobs:
        print(f"{name}: running in full mode ...", flush=True)
        try:
            results["rows"][name] = job()
        except Exception as error:  # record it and go on: one broken row must not lose an hour of the others
            failed.append(name)
            traceback.print_exc()
            last_line = (str(error).strip().splitlines() or [""])[-1]
            results["rows"][name] = {"wall_s": "?", "data": [],
                                     "metrics": {"error": f"{type(error).__name__}: {last_line}"}}
        results["rows"][name]["when"] = f"{date.today().isoformat()}, {machine}"
        print(f"{name}: {results['rows'][name]}", flush=True)
        # written after every row, so an interrupted run keeps what it measured
        results["date"] = date.today().isoformat()
        results["machine"] = machine
        RESULTS_JSON.write_text(json.dumps(results, indent=1) + "\n")
        write_markdown(results)
    print(f"wrote {OUTPUT_MD.relative_to(ROOT)}" + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
