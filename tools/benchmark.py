"""Measure every lecture in full mode and write BENCHMARKS.md: data, device, wall time, quality next to its anchor.

    python -m tools.benchmark                 # all lectures, HW2 recipes and the data-pipeline comparison
    python -m tools.benchmark --only 01 hw2   # some of them (the table keeps the other rows it already has)

Each lecture notebook is executed top to bottom in full mode on a temporary copy (the committed notebook is not
touched); afterwards a few expressions are evaluated in the same kernel to read the notebook's own results
(`EXTRACT` below: the variable names are the notebook's). Nothing here is asserted: the numbers are recorded.
Lectures 06, 07 and 08 load committed checkpoints, so they run twice: as a student gets them, and trained from scratch
(their retrained checkpoints go to _build/benchmark_assets via COURSE_ASSETS_DIR, never over assets/).

Claims over seeds: every lecture whose prose compares things (X beats Y, a ranking, "lowest at") names the arms of
those comparisons in `SEED_ARMS`. Its row "<lecture> (seeds)" reruns the notebook with ``COURSE_SEED=1, 2, ...``
(added to every seed the notebook sets; seed 0 is the lecture's own run) and records each arm's value per seed,
with a hash of the notebook's code; tests (tools/seed_claims.py) hold the prose's comparisons to those rows.
"""

from __future__ import annotations

import argparse
import json
import math
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
from nbclient.exceptions import CellTimeoutError

ROOT = Path(__file__).resolve().parents[1]
RESULTS_JSON = ROOT / "benchmarks.json"
SCRATCH_ASSETS = ROOT / "_build" / "benchmark_assets"  # checkpoints retrained by the benchmark (git-ignored)
# --full-mnist: the cost of the COURSE_MNIST=full opt-in, for the lectures that load MNIST
FULL_MNIST_CACHE = ROOT / "_build" / "benchmark_full_mnist"  # COURSE_DATA_DIR of those runs (git-ignored)
STANDIN_DIR = Path("/usr/share/datasets/fashion-mnist")  # Debian's dataset-fashion-mnist: MNIST's format and size
FULL_MNIST_CAP_S = 1800  # a lecture still running after this long is stopped; the row says where
OUTPUT_MD = ROOT / "BENCHMARKS.md"

SCRATCH_SWITCH = "TRAIN_FROM_SCRATCH = False"  # the line of lectures 06-08 that the from-scratch run flips
SEGMENTATION_NETWORKS = ("FCN-32s-like (no skips)", "FCN-8s-like (skips)", "encoder-decoder (unpooling)",
                         "encoder-decoder + skips")  # lecture 05b's section 5
CROP_CLASSIFIERS = ("unweighted, 3 epochs", "class-balanced, 3 epochs", "unweighted, 9 epochs")  # 05b, section 1
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
    "05b_semantic_segmentation": {  # the four networks of its section 5, by their names in `results`
        **{f"test mean IoU: {m}": f"float(results[{m!r}]['mean IoU'])" for m in SEGMENTATION_NETWORKS},
        **{f"test IoU per class (background, disk, square, triangle): {m}":
           f"', '.join(f'{{v:.3f}}' for v in results[{m!r}]['iou'].tolist())"
           for m in SEGMENTATION_NETWORKS},
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
        "GAN: 5 G steps per D step (lecture 07): digits covered / Frechet distance":
            "f\"{reports['GAN: 5 G steps per D step']['digits_covered']}/10, "
            "{reports['GAN: 5 G steps per D step']['frechet']:.1f}\"",
        "diffusion, 200 validation samples: Frechet distance, ancestral (500 steps) / DDIM 20 / real digits":
            "f'{ancestral_fd:.1f} / {sweep[20][0]:.1f} / {floor[N_SWEEP]:.1f}'",
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
        "02b recipe with its candidate runs: train s": "round(search_seconds, 1)",
        "pytorch/examples recipe: test accuracy": "float(peer_test)",
        "pytorch/examples recipe: train s": "round(peer_run['seconds'], 1)",
    },
    "hw2_unet_segmentation": {
        "HW2 solution: test mean IoU": "float(test_mean_iou)",
    },
}
SOBEL_INPUTS = ("photo", "noise in [0, 1]", "centred noise")  # lecture 01's three inputs
# notebook stem -> the arms of the comparisons its prose makes, as expressions evaluated in its kernel (floats);
# `make benchmark` records each arm at every seed (row "<stem> (seeds)"), and the lecture's tests read them
_02B_SOFTMAX_LRS = (0.01, 0.03, 0.1, 0.3, 1.0)
_02B_INITS = ("PyTorch default", "too small (std 0.01)", "Xavier", "He")
_02B_BN_BUG = ("model.eval(), batches of 500", "training mode, batches of 500", "training mode, batches of 1",
               "training mode, 50 sorted by class")
_02B_STACKS = ("no BN, default init", "no BN, He init", "BN, He init")
_02B_DEPTHS = ("plain, 8 convs", "residual, 8 convs", "plain, 32 convs", "residual, 32 convs")
_02B_OPTIMISERS = ("SGD", "momentum 0.9", "Adam", "AdamW (wd 0.05)")
_02B_SCHEDULES = ("constant", "step (x0.3 per epoch)", "cosine", "one-cycle")
_02B_REGULARISERS = ("none", "weight decay 0.05", "weight decay 1", "dropout 0.5", "augmentation", "all three")
_02B_ABLATION = ("lecture 02: LeNet, Adam 1e-3, 10 epochs", "+ standardised inputs, BN, He init",
                 "+ AdamW, one-cycle (peak 0.003), 10 epochs", "+ AdamW, one-cycle (peak 0.003), 15 epochs",
                 "+ augmentation, 10 epochs, peak 0.003", "+ augmentation, 15 epochs, peak 0.003",
                 "+ augmentation, 15 epochs, peak 0.01")
_SHARE = "float(reports[{g!r}]['histogram'].max() / reports[{g!r}]['histogram'].sum())"  # largest class
_GEN06 = ("plain AE, z ~ N(0, I)", "AE + L2, z ~ N(0, I)", "plain AE, matched normal", "VAE, z ~ N(0, I)")
_GEN07 = JUDGED + ("GAN: strong D + minimax loss", "GAN: bad learning rate", "GAN: 5 G steps per D step")
SEED_ARMS: dict[str, dict[str, str]] = {
    "02b_training_deep_networks": {
        # 1: softmax regression, raw vs standardised pixels at the same lr, and raw at lr x shift (same lr * lambda_max)
        **{f"softmax {inputs}, lr {lr:g}: validation accuracy": f"softmax_results[{inputs!r}][{i}]"
           for inputs in ("raw pixels", "standardised") for i, lr in enumerate(_02B_SOFTMAX_LRS)},
        **{f"softmax raw pixels at the lr x shift that matches standardised lr {lr:g}: validation accuracy":
           f"list(softmax_results.values())[2][{i}]" for i, lr in enumerate(_02B_SOFTMAX_LRS)},
        **{f"softmax {inputs}: best lr": f"softmax_lrs[int(np.nanargmax(softmax_results[{inputs!r}]))]"
           for inputs in ("raw pixels", "standardised")},
        # 2: a 20-layer ReLU stack: how the spread changes from layer 1 to layer 20
        **{f"init {s}: activation rms, layer 20 / layer 1": f"spreads[{s!r}][1][-1] / spreads[{s!r}][1][0]"
           for s in _02B_INITS},
        **{f"init {s}: gradient rms, layer 1 / layer 20": f"spreads[{s!r}][2][0] / spreads[{s!r}][2][-1]"
           for s in _02B_INITS},
        # 3: forgetting model.eval(); BN in a plain stack of 12 convs
        **{f"BN bug: validation accuracy, {label}": f"bn_bug[{label!r}]" for label in _02B_BN_BUG},
        **{f"stack of 12, {label}: training loss, epoch {e + 1}": f"bn_runs[{label!r}]['train_loss'][{e}]"
           for label in _02B_STACKS for e in (0, 2)},
        # 4: degradation
        **{f"{name}: training error": f"1 - deg_runs[{name!r}]['final']['accuracy']" for name in _02B_DEPTHS},
        **{f"{name}: largest / smallest start gradient": f"max(deg_grads[{name!r}]) / min(deg_grads[{name!r}])"
           for name in _02B_DEPTHS},
        # 5: optimisers, range test, schedules
        **{f"optimiser {o}: best lr": f"sweep_lrs[int(np.argmax(opt_results[{o!r}]))]" for o in _02B_OPTIMISERS},
        **{f"optimiser {o}: best validation accuracy": f"max(opt_results[{o!r}])" for o in _02B_OPTIMISERS},
        **{f"optimiser {o}, lr {lr:g}: validation accuracy": f"opt_results[{o!r}][{i}]"
           for o in ("Adam", "AdamW (wd 0.05)") for i, lr in enumerate((1e-3, 1e-2))},
        "range test: lr of the lowest smoothed loss": "lowest_lr",
        **{f"schedule {name}: last validation accuracy": f"sched_results[{name!r}]['val_accuracy'][-1]"
           for name in _02B_SCHEDULES},
        # 6: regularisation on 1,000 training digits
        **{f"regulariser {name}: {what}": f"{expr}"
           for name in _02B_REGULARISERS for what, expr in (
               ("training accuracy", f"reg_results[{name!r}]['train_accuracy']"),
               ("last validation accuracy", f"reg_results[{name!r}]['val_accuracy'][-1]"),
               ("gap", f"reg_results[{name!r}]['train_accuracy'] - reg_results[{name!r}]['val_accuracy'][-1]"),
               ("best validation accuracy", f"max(reg_results[{name!r}]['val_accuracy'])"),
               ("weight norm", f"reg_results[{name!r}]['weight_norm']"))},
        # 7: the ablation (validation digits) and the final comparison (test digits)
        **{f"ablation {name}: validation accuracy": f"ablation[{name!r}]['val_accuracy'][-1]"
           for name in _02B_ABLATION},
        "recipe chosen: epochs": "recipe_epochs",
        "recipe chosen: peak learning rate": "recipe_peak",
        "recipe: test accuracy": "recipe_test",
        "pytorch/examples recipe: test accuracy": "peer_test",
        "recipe: train s": "recipe_run['seconds']",
        "recipe with its candidate runs: train s": "search_seconds",
        "pytorch/examples recipe: train s": "peer_run['seconds']",
    },
    "01_convolution_by_hand": {  # section 7: learning Sobel x from the photo, noise in [0, 1], centred noise
        **{f"condition number of the curvature: {x}":
           f"(lambda e: e[-1] / e[0])(torch.linalg.eigvalsh(loss_curvature(inputs[{x!r}])))" for x in SOBEL_INPUTS},
        **{f"steps until the loss is 1000x smaller (2000: not within the run): {x}":
           f"next((t for t, v in enumerate(curves[{x!r}]) if v < curves[{x!r}][0] / 1000), len(curves[{x!r}]))"
           for x in SOBEL_INPUTS},
        **{f"loss after 2000 steps: {x}": f"curves[{x!r}][-1]" for x in SOBEL_INPUTS},
        **{f"largest kernel error after 2000 steps: {x}": f"(learned[{x!r}].cpu() - SOBEL_X).abs().max()"
           for x in SOBEL_INPUTS},
    },
    "02_cnn_classification": {
        # section 2: the LeNet trained with lecture 02b's recipe, its curves and its most confident mistake
        "LeNet test accuracy": "lenet_accuracy",
        "LeNet: epochs whose training loss lies above the validation loss (of 15)":
            "sum(t > v for t, v in zip(history['train_loss'], history['val_loss']))",
        "LeNet: first epoch whose training loss is below the validation loss (16: none)":
            "next((e + 1 for e, (t, v) in enumerate(zip(history['train_loss'], history['val_loss'])) if t <= v), 16)",
        "LeNet: last epoch's validation loss / training loss": "history['val_loss'][-1] / history['train_loss'][-1]",
        "LeNet: epoch of the lowest validation loss": "1 + int(np.argmin(history['val_loss']))",
        "LeNet: confidence of the most confident validation mistake": "confidence[worst[0]]",
        # section 4: the CNN and the MLP of the same size on shifted validation digits
        **{f"validation accuracy, digits shifted {s} px: {m}": f"shift_accuracy[{k}][{s}]"
           for s in (0, 2, 3, 4, 6)
           for m, k in (("LeNet", "'LeNet (CNN)'"), ("MLP", "f'MLP 784-{hidden}-10'"))},
        # section 5: He versus PyTorch's default initialisation; plain versus residual stacks; SmallResNet vs LeNet
        **{f"signal after 20 conv-ReLU layers (root mean square): {i} init": f"signal_rms[{i!r}]"
           for i in ("PyTorch default", "He")},
        **{f"training loss after 3 epochs: {k}, {n} convs": f"stack_losses['{k}, {n} convs']"
           for n in (8, 32) for k in ("plain", "residual")},
        **{f"gradient spread at the start (largest / smallest conv layer): {k}, {n} convs":
           f"max(stack_gradients['{k}, {n} convs']) / min(stack_gradients['{k}, {n} convs'])"
           for n in (8, 32) for k in ("plain", "residual")},
        **{f"{m}: validation accuracy after the last epoch": f"{h}['val_accuracy'][-1]"
           for m, h in (("LeNet", "history"), ("SmallResNet", "resnet_history"))},
        **{f"{m}: best validation accuracy over the epochs": f"max({h}['val_accuracy'])"
           for m, h in (("LeNet", "history"), ("SmallResNet", "resnet_history"))},
        "SmallResNet test accuracy": "resnet_accuracy",
        # section 6: new digits from 10 examples each (mean over the lecture's 5 fixed draws)
        **{f"few-shot {split} accuracy (mean of 5 draws): {m}": f"np.mean({r}[{m!r}])"
           for split, r in (("validation", "val_results"), ("test", "test_results"))
           for m in ("transfer: frozen encoder + new head", "transfer from the 128 fc features",
                     "from scratch: whole LeNet")},
        "few-shot validation: smallest margin of the frozen encoder over from scratch, over the draws":
            "min(f - s for f, s in zip(val_results[names[0]], val_results[names[2]]))",
        # section 7: multi-label
        "multi-label: lowest per-label test accuracy": "per_label.min()",
        "multi-label: always answering 'absent' (per label)": "1 - target_test.mean()",
        "multi-label: exact match": "exact_match",
        "multi-label: present digits missed": "missed",
        "multi-label: absent digits named": "extra",
    },
    "03_pca_and_autoencoders": {
        "PCA-30 test error": "pca30_test_error",
        "linear AE / PCA-30 training error ratio": "linear_train_error / pca30_train_error",
        "principal angles below 1 degree (of 30)": "(angles < 1).sum()",
        "8-3-8 code: distinct corners (of 8)": "len(rounded)",
        "deep MLP AE test error": "mlp_test_error",
        "deep MLP AE / PCA-30 training error ratio": "mlp_train_error / pca30_train_error",
        "deep MLP AE validation minus training error": "mlp_val_error - mlp_train_error",
        "conv AE test error (the MLP's batches and updates)": "conv_test_error",
        "2-number code test error: PCA": "pca2_error",
        "2-number code test error: conv AE": "ae2_error",
        "784-256-64-30 test error: pretrained + fine-tuned": "stacked_test_error",
        "784-256-64-30 test error: end-to-end": "e2e_test_error",
        "784-256-64-30: stacked before fine-tuning / PCA-30 (validation)": "stacked_before / pca30_val_error",
        **{f"sparse AE beta = {b}: {what}": f"{expr.format(b=b)}" for b in (0.0, 0.05, 0.3) for what, expr in (
            ("validation error", "error_of(sparse_models[{b}], val.images)"),
            ("random-noise error", "error_of(sparse_models[{b}], noise)"),
            ("average activation", "sparse_codes[{b}].mean()"),
        )},
        **{f"precision@10: {space}": f"retrieval_precision[{space!r}]" for space in (
            "pixels (784 numbers)", "PCA code (30 numbers)", "conv AE code (30 numbers)",
            "PCA code (2 numbers)", "conv AE code (2 numbers)")},
        **{f"ROC AUC {d}: test digits vs {k}": f"outlier_auc[{d!r}, {k!r}]"
           for d in ("conv AE-30", "PCA-30") for k in ("photo patches", "letters")},
        "conv AE-30: photo patches below the digits' 99th percentile":
            "(scores['conv AE-30', 'photo patches'] < scores['conv AE-30', 'test digits'].quantile(0.99)).sum()",
    },
    "04_denoising_autoencoders": {
        "σ = 0.5: DAE PSNR": "table['denoising autoencoder'][0]",
        "σ = 0.5: best filter PSNR": "best_classical[0]",
        "σ = 0.5: DAE SSIM": "table['denoising autoencoder'][1]",
        "σ = 0.5: best filter SSIM": "max(v[1] for v in list(table.values())[1:3])",
        "validation PSNR gain over the last 2 epochs":
            "history['val_psnr'][-1] - history['val_psnr'][-min(3, len(history['val_psnr']))]",
        **{f"DAE PSNR lead over the best filter, σ = {s / 10:.1f}": f"lead[{s - 1}]" for s in range(1, 10)},
        "DAE SSIM lead over the best filter, smallest over σ": "min(ssim_lead)",
        **{f"{case}: {method} {score}": f"impulse_scores[{case!r}, {method!r}][{i}]"
           for case in ("salt-and-pepper, rate 0.2", "masking, rate 0.5")
           for method in ("DAE", "median", "blur", "corrupted") for i, score in enumerate(("PSNR", "SSIM"))},
        **{f"over-complete {name}: {what}": f"overcomplete_psnr[{name!r}][{i}]"
           for name in ("plain AE (clean -> clean)", "DAE (noisy -> clean)")
           for i, what in enumerate(("PSNR on clean input", "PSNR on noisy input",
                                     "PSNR of output vs its noisy input"))},
        "noisy input (σ = 0.5) PSNR": "psnr(noisy_test, x_test)",
        "toy DAE: cosine with the score of p": "cos_p.mean()",
        "toy DAE: cosine with the score of p_sigma": "cos_p_sigma.mean()",
        "toy DAE: length relative to sigma^2 score of p_sigma": "length_ratio",
    },
    "05_colourization_and_super_resolution": {  # the test photo's table, the kept epochs, the chroma and SR claims
        **{f"colour, test photo: {label} {score}": f"colour_results[{name!r}][{i}]"
           for label, name in (("U-Net", "U-Net (squared error)"), ("grayscale", "grayscale (ab = 0)"),
                               ("mean colour", "mean colour (training mean ab)"))
           for i, score in enumerate(("RGB PSNR (dB)", "ab error"))},
        "colour, test photo: U-Net mean chroma": "chroma(predicted_ab).mean()",
        "colour, test photo: true mean chroma": "chroma(test_ab).mean()",
        "colour, test photo: mean-colour chroma": "mean_ab.norm()",
        "colour, test photo: U-Net pixels with chroma above 40 (share)": "(chroma(predicted_ab) > 40).float().mean()",
        "colour, test photo: U-Net largest chroma": "chroma(predicted_ab).max()",
        "colour, test photo: true largest chroma": "chroma(test_ab).max()",
        "colour, test photo: U-Net lowest b": "predicted_ab[:, 1].min()",
        "colour, test photo: true lowest b": "test_ab[:, 1].min()",
        "colour: kept epoch": "colour_epoch",
        **{f"colour: validation ab error, epoch {e}": f"colour_val_errors[{e - 1}]" for e in range(1, 9)},
        "colour: validation ab error, mean colour": "val_baseline_errors['mean colour (training mean ab)']",
        "super-resolution: kept epoch": "sr_epoch",
        **{f"super-resolution: validation PSNR (dB), epoch {e}": f"sr_val_psnrs[{e - 1}]" for e in range(1, 5)},
        "super-resolution, test photo: U-Net minus bicubic (dB)": "sr_gain",
        **{f"super-resolution, test photo: U-Net minus bicubic on crop {k + 1} (dB)": f"crop_gains[{k}]"
           for k in range(3)},
    },
    "05b_semantic_segmentation": {  # the crop classifier's causes (section 1) and the four networks (section 5)
        **{f"crop classifier, {v}: mean recall of the three shapes": f"crop_recall[{v!r}][1:].mean()"
           for v in CROP_CLASSIFIERS},
        **{f"crop classifier, {v}: background recall": f"crop_recall[{v!r}][0]" for v in CROP_CLASSIFIERS},
        **{f"test mean IoU: {m}": f"results[{m!r}]['mean IoU']" for m in SEGMENTATION_NETWORKS},
        **{f"test IoU, {c}: {m}": f"results[{m!r}]['iou'][{i}]"
           for m in SEGMENTATION_NETWORKS for i, c in enumerate(("background", "disk", "square", "triangle"))},
        **{f"kept epoch: {m}": f"kept[{m!r}]" for m in SEGMENTATION_NETWORKS},
    },
    "06_variational_autoencoders": {  # sampling seeds (the checkpoints are loaded)
        **{f"section 1 FD: {k}, {c}": f"section1_fd[{k + ', ' + c!r}]"
           for k in ("plain AE", "AE + L2 penalty") for c in ("N(0, I)", "matched normal")},
        "validation FD: real training digits (floor)": "baseline['frechet']",
        **{f"validation FD: {g}": f"val_reports[{g!r}]['frechet']" for g in _GEN06},
        **{f"validation largest class share: {g}": _SHARE.format(g=g).replace("reports", "val_reports")
           for g in _GEN06},
        **{f"validation digits covered: {g}": f"val_reports[{g!r}]['digits_covered']" for g in _GEN06},
        "test FD: real training digits (floor)": "test_baseline['frechet']",
        **{f"test FD: {g}": f"test_reports[{g!r}]['frechet']" for g in _GEN06},
        "VAE -ELBO: training digits": "train_terms['neg_elbo']",
        "VAE -ELBO: validation": "val_terms['neg_elbo']",
        "VAE -ELBO: test": "test_terms['neg_elbo']",
        **{f"beta {b:g}: validation {term}": f"beta_terms[{b}][{key!r}]" for b in (0.1, 0.5, 1.0, 4.0)
           for term, key in (("BCE", "recon"), ("KL", "kl"), ("-ELBO", "neg_elbo"))},
    },
    "07_generative_adversarial_networks": {  # sampling seeds (the checkpoints are loaded)
        **{f"training-digit FD: {g}": f"to_training_digits[{g!r}]" for g in _GEN07[3:]},
        **{f"test FD: {g}": f"reports[{g!r}]['frechet']" for g in _GEN07},
        **{f"largest class share: {g}": _SHARE.format(g=g) for g in _GEN07[1:]},
        **{f"digits covered: {g}": f"reports[{g!r}]['digits_covered']" for g in _GEN07[1:]},
        **{f"DCGAN: share of {d}s": f"float(reports['DCGAN']['histogram'][{d}] / reports['DCGAN']['histogram'].sum())"
           for d in (1, 2, 4)},
    },
    "08_diffusion_models": {  # sampling seeds (the checkpoint is loaded): every comparison of sections 3 to 6
        "validation loss at t = 1": "val_loss_at[1]",
        "validation loss at t = 500": "val_loss_at[500]",
        "t = T: share of clipped pixels of x0_hat": "clipped_share",
        **{f"x_(T-1) {k}: {stat}": f"first_step[{k!r}].{stat}()" for k in ("with clipping", "Algorithm 2")
           for stat in ("mean", "std")},
        **{f"validation FD, DDIM {s} steps": f"sweep[{s}][0]" for s in (5, 10, 20, 50)},
        "validation FD, ancestral 500 steps": "ancestral_fd",
        "validation FD, 200 real training digits (floor)": "floor[N_SWEEP]",
        "DDIM steps chosen": "SAMPLE_STEPS",
        **{f"validation FD, guidance w = {w:g}": f"guidance_runs[{w}][0]" for w in (0.0, 1.0, 2.0, 4.0)},
        **{f"read as requested, guidance w = {w:g}": f"guidance_runs[{w}][1]" for w in (0.0, 1.0, 2.0, 4.0)},
        "guidance chosen": "W",
        **{f"test FD: {g}": f"reports[{g!r}]['frechet']"
           for g in ("real training digits (floor)", "plain AE, random codes", "VAE (lecture 06)", "DCGAN",
                     "GAN: 5 G steps per D step", "diffusion, unconditional")},
        "test FD: diffusion, asked 0-9": "reports[f'diffusion, asked 0-9, w = {W:g}']['frechet']",
        "test table: read as the requested digit": "requested_share",
    },
}
SEEDS = 3  # seeds per multi-seed row: the lecture's own (0) and COURSE_SEED = 1, 2

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
    "colourization U-Net RGB PSNR (dB)": ("above the grayscale baseline at every seed; against the mean colour the "
                                          "seed decides (see Claims over seeds)"),
    "HW2 solution: test mean IoU": ">= 0.85 in under 2 minutes (full mode, this CPU)",
    "PCA-30 test error per image": "13.87 (full MNIST, Hinton & Salakhutdinov 2006)",
    "linear AE / PCA-30 error ratio (test)": "1.00 (<= 1.01)",
    "deep (conv) AE test error per image": "3.00 (deep AE on full MNIST, Hinton & Salakhutdinov 2006)",
    "LeNet test accuracy": ">= 0.98 at every seed (the subset: 3,500 training digits); LeCun et al. (1998) report "
                           "0.9905 for LeNet-5 on the full MNIST's 60,000, not comparable",
    "DAE margin over the best filter (dB)": ">= 3 dB in full mode",
    "02b best recipe: test accuracy": ">= 0.985 on the offline split (the lecture's target)",
    "02b recipe / peer time to final accuracy": "<= 0.5 (the lecture's target), both measured in the same run",
    "02b recipe with its candidate runs / peer time": "the time of the whole search, next to the peer's one run",
    "test mean IoU: encoder-decoder + skips": "the highest of the four networks (see Claims over seeds)",
    "diffusion, unconditional: digits covered / Frechet distance": "10/10 and below the DCGAN's in the same table",
    "diffusion, asked 0-9: read as the requested digit": ">= 0.90",
}


def _run_notebook(source: Path, from_scratch: bool = False, seed: int = 0, extra_env: dict | None = None,
                  cap_s: float | None = None) -> dict:
    """Execute ``source`` in full mode (in memory) and read its results (and its `SEED_ARMS`, if any).

    ``seed``: run with ``COURSE_SEED=seed`` (every seed the notebook sets is shifted by it). ``extra_env``: more
    environment for the kernel. ``cap_s``: stop the run after this many seconds; the result then says where it
    stopped (``"stopped"``) instead of reading results.

    ``from_scratch``: lectures 06, 07 and 08 load committed checkpoints by default; this sets their
    ``TRAIN_FROM_SCRATCH = True`` so that the run measures training, and points ``COURSE_ASSETS_DIR`` at a
    scratch folder so that the committed assets/ stay untouched (lectures 07 and 08 then use the earlier lectures'
    retrained models when those ran first in the same benchmark, else the committed ones).
    """
    from course_utils.checkpoints import ASSETS_DIR_ENV

    stem = source.stem
    nb = nbformat.read(source, as_version=4)  # executed in memory: the committed file is not touched
    kernel_env = dict(os.environ)
    kernel_env["COURSE_SEED"] = str(seed)
    kernel_env.update(extra_env or {})
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
            if cap_s is not None:
                client.timeout = max(1, int(cap_s - (time.perf_counter() - start)))
            try:
                client.execute_cell(cell, index)
            except CellTimeoutError:
                if cap_s is None:
                    raise
                device = (re.findall(r"^Device: (\S+)", _printed(nb), flags=re.M) or ["?"])[0]
                return {"wall_s": round(time.perf_counter() - start, 1), "metrics": {}, "device": device,
                        "data": _compact(re.findall(r"^Data: (.*)$", _printed(nb), flags=re.M)),
                        "stopped": f"stopped after {cap_s:.0f} s in code cell {_code_index(nb, index)} of "
                                   f"{_code_index(nb, len(nb.cells))} ({_section(nb, index)})"}
        wall = time.perf_counter() - start
        probe = nbformat.v4.new_code_cell(
            "import json as _json\nprint('BENCHMARK' + _json.dumps({"
            + ", ".join(f"{k!r}: {v}" for k, v in EXTRACT.get(stem, {}).items())
            + "}))\nprint('SEEDARMS' + _json.dumps({"
            + ", ".join(f"{k!r}: float({v})" for k, v in SEED_ARMS.get(stem, {}).items())
            + "}))"
        )
        nb.cells.append(probe)
        client.execute_cell(probe, len(nb.cells) - 1)
    text = _printed(nb)
    metrics = json.loads(re.search(r"BENCHMARK(\{.*\})", text).group(1))
    arms = json.loads(re.search(r"SEEDARMS(\{.*\})", text).group(1))
    data = _compact(re.findall(r"^Data: (.*)$", text, flags=re.M))
    data += re.findall(r"^((?:Models|GANs): .*)$", text, flags=re.M)  # loaded from assets/ or trained here
    device = (re.findall(r"^Device: (\S+)", text, flags=re.M) or ["?"])[0]
    return {"wall_s": round(wall, 1), "metrics": metrics, "data": data, "device": device, "arms": arms}


def _printed(nb) -> str:
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))


def _code_index(nb, index: int) -> int:
    """How many code cells there are among the first ``index`` + 1 cells (the 1-based number of cell ``index``)."""
    return sum(c.cell_type == "code" for c in nb.cells[: index + 1])


def _section(nb, index: int) -> str:
    """The last section heading (``## ...``) at or above cell ``index``."""
    for cell in reversed(nb.cells[: index + 1]):
        if cell.cell_type == "markdown" and cell.source.startswith("## "):
            return "section '" + cell.source.splitlines()[0][3:].strip() + "'"
    return "before the first section"


def _full_mnist_cache(standin: bool) -> Path | None:
    """COURSE_DATA_DIR for the full-MNIST rows: with ``standin``, Debian's Fashion-MNIST (the same format and sizes
    as MNIST) unpacked where torchvision looks for MNIST, so the opt-in path can be timed without MNIST's mirror;
    else None (the user's own cache, or a download)."""
    if not standin:
        return None
    import gzip

    raw = FULL_MNIST_CACHE / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                 "t10k-labels-idx1-ubyte"):
        packed = STANDIN_DIR / f"{name}.gz"
        if not packed.is_file():
            raise SystemExit(f"--standin needs Debian's dataset-fashion-mnist ({packed} is missing): "
                             "sudo apt-get install dataset-fashion-mnist")
        if not (raw / name).is_file():
            (raw / name).write_bytes(gzip.decompress(packed.read_bytes()))
    return FULL_MNIST_CACHE


def _full_mnist_row(source: Path, cache: Path | None, cap_s: float) -> dict:
    """Row "<stem> (full MNIST)": the lecture run with COURSE_MNIST=full (checkpoints it retrains go to a scratch
    folder), its wall time or where the time cap stopped it. With the stand-in the quality numbers mean nothing."""
    env = {"COURSE_MNIST": "full", "COURSE_ASSETS_DIR": str(SCRATCH_ASSETS / "full_mnist")}
    if cache is not None:
        env["COURSE_DATA_DIR"] = str(cache)
    load_before = os.getloadavg()[0]
    run = _run_notebook(source, extra_env=env, cap_s=cap_s)
    # other work on the machine stretches a wall time: the row keeps the 1-minute load average around the run
    run["load"] = [round(load_before, 1), round(os.getloadavg()[0], 1)]
    if cache is not None:
        run["data"] = ["Fashion-MNIST (Debian's dataset-fashion-mnist) in MNIST's place: the same format and sizes "
                       "(60,000 / 10,000), so the time is that of the full MNIST; quality numbers are not MNIST's",
                       *run["data"]]
        run["metrics"] = {}
    run.pop("arms", None)
    return run


def _seed_row(source: Path, seed0: dict | None, seeds: int = SEEDS) -> dict:
    """Row "<stem> (seeds)": the `SEED_ARMS` of ``source`` at seeds 0..seeds-1 (seed 0 from ``seed0``, the lecture's
    own run in this benchmark, when given), with the hash of the code they were measured on."""
    from tools.notebook_code import code_hash

    runs = [seed0 if seed0 is not None else _run_notebook(source)]
    runs += [_run_notebook(source, seed=s) for s in range(1, seeds)]
    labels = list(SEED_ARMS[source.stem])
    return {"seeds": list(range(seeds)), "arms": {k: [run["arms"][k] for run in runs] for k in labels},
            "wall_s": round(sum(run["wall_s"] for run in runs[1:]), 1), "data": runs[0]["data"],
            "device": runs[0]["device"], "code_hash": code_hash(source.stem)}


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


HW2_MASTER = ROOT / "homework" / "hw2" / "hw2_unet_segmentation.ipynb"
HW2_SKIPPED_TAGS = {"setup", "otter-setup"}  # the Colab install and otter's self-check set-up: not the recipe
OTTER_TEST_CELL = '""" # BEGIN TEST CONFIG'  # how otter's test cells in a master begin


def hw2_recipe_cells(master: Path = HW2_MASTER) -> list[str]:
    """The code of HW2's master notebook (with its solutions) that makes and trains the model, in order: every code
    cell but those tagged ``setup`` / ``otter-setup`` and otter's test cells. The benchmark runs this code, not a copy
    of it, so that a change to the recipe in the master changes what is measured."""
    import nbformat

    cells = [c for c in nbformat.read(master, as_version=4).cells if c.cell_type == "code"]
    return [c.source for c in cells if not HW2_SKIPPED_TAGS & set(c.metadata.get("tags", []))
            and not c.source.lstrip().startswith(OTTER_TEST_CELL)]


def _hw2_train(seed: int, mode: str, sigmoid_output: bool = False) -> tuple[float, float, int]:
    """HW2's recipe as its master notebook runs it (:func:`hw2_recipe_cells`, executed in order in a fresh
    namespace with ``COURSE_SEED=seed`` and the given mode), up to the cell that sets ``test_mean_iou``; the
    figures after it are not run. What this relies on in the master: the U-Net is ``model``, built in a cell
    before the one that creates ``optimizer``; ``test_mean_iou`` is the test mean IoU (a float) once the model is
    trained; ``attempt`` is the attempt that finished (1 if the master has no such name). ``sigmoid_output`` puts
    a sigmoid after ``model`` as soon as it exists (the original homework's model ended in one), before the
    optimizer is made. Returns (seconds from the optimizer's creation to ``test_mean_iou``, test mean IoU, attempt).
    """
    import contextlib
    import io

    import matplotlib.pyplot as plt
    from torch import nn

    saved = {name: os.environ.get(name) for name in ("COURSE_FAST", "COURSE_SEED", "TQDM_DISABLE")}
    os.environ.update(COURSE_FAST="1" if mode == "fast" else "0", COURSE_SEED=str(seed), TQDM_DISABLE="1")
    namespace: dict = {"__name__": "hw2_master"}
    start = None
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            for index, source in enumerate(hw2_recipe_cells()):
                if start is None and "optimizer" in namespace:
                    start = time.perf_counter()
                exec(compile(source, f"<{HW2_MASTER.name}, code cell {index}>", "exec"), namespace)
                plt.close("all")
                if sigmoid_output and isinstance(namespace.get("model"), nn.Module) and "optimizer" not in namespace:
                    namespace["model"] = nn.Sequential(namespace["model"], nn.Sigmoid())
                    sigmoid_output = False
                if "test_mean_iou" in namespace:
                    break
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    missing = [name for name in ("model", "optimizer", "test_mean_iou") if name not in namespace]
    if missing or start is None or sigmoid_output:
        raise RuntimeError(f"{HW2_MASTER.name} no longer defines {missing or ['model before optimizer']}, which the "
                           "benchmark reads (tools/benchmark.py, _hw2_train)")
    return time.perf_counter() - start, float(namespace["test_mean_iou"]), int(namespace.get("attempt", 1))


def _hw2_recipes() -> dict:
    """HW2 side by side on the same data: the original model (sigmoid output) and the solution's (logits)."""
    import course_utils as cu

    original = _hw2_train(0, "full", sigmoid_output=True)
    course = _hw2_train(0, "full")
    return {"wall_s": round(original[0] + course[0], 1), "device": str(cu.get_device(verbose=False)),
            "data": ["synthetic shapes, 2,000 train / 200 val / 200 test (64x64)",
                     "both: the code of the homework's master notebook (its solution: U-Net f=8, class-weighted "
                     "cross-entropy, cosine schedule, restart on a plateau), run as it stands; only the output "
                     "differs"],
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

    import course_utils as cu

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
    return {"wall_s": round(wall, 1), "device": str(cu.get_device(verbose=False)),
            "data": ["synthetic shapes: full 2,000 train / 200 val / 200 test, fast 1,200 / 64 / 100 (64x64)",
                     f"COURSE_SEED 0-{seeds - 1} of the homework's master notebook (its solution's recipe: U-Net "
                     "f=8, class-weighted cross-entropy, cosine schedule, restart on a plateau), run as it stands, "
                     "each on one CPU thread"],
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
    """Lecture 02b's recipe search and the pytorch/examples MNIST recipe, trained one after the other on the same
    split (lecture 02's: the training digits minus a fixed eighth for validation); the chosen recipe and the peer
    measured once on the test digits. The code is the notebook's own (its cells tagged ``export``): every candidate
    setting of the recipe (``RECIPE_CANDIDATES``) is trained, as the lecture does to choose one on its validation
    digits, so that the search's time can stand next to the peer's single run (whose settings were made for the
    60,000 digits of the full MNIST, not chosen here); the recipe measured on the test digits is the one the
    committed notebook chose."""
    import torch

    import course_utils as cu
    from tools.notebook_code import load_exported, stored_text

    lesson = load_exported("02b_training_deep_networks")
    chosen = re.search(r"recipe chosen on validation: (\d+) epochs, peak learning rate ([\d.e-]+)",
                       stored_text("02b_training_deep_networks"))
    recipe_epochs, recipe_peak = int(chosen.group(1)), float(chosen.group(2))
    if (recipe_epochs, recipe_peak) not in lesson.RECIPE_CANDIDATES:
        raise RuntimeError(f"the committed notebook chose {recipe_epochs} epochs, peak {recipe_peak:g}, which is not "
                           f"one of its full-mode RECIPE_CANDIDATES {lesson.RECIPE_CANDIDATES}: refresh it in full "
                           "mode (make refresh NB=notebooks/02b_training_deep_networks.ipynb)")
    cu.seed_everything(0)
    all_train, test = cu.load_mnist("train", verbose=False), cu.load_mnist("test", verbose=False)
    order = torch.randperm(len(all_train.labels), generator=torch.Generator().manual_seed(0))
    n_val = len(order) // 8
    x, y = all_train.images[order[n_val:]], all_train.labels[order[n_val:]]
    runs = {(e, peak): lesson.train_recipe(x, y, epochs=e, max_lr=peak) for e, peak in lesson.RECIPE_CANDIDATES}
    recipe_model, recipe = runs[recipe_epochs, recipe_peak]
    search_s = sum(run["seconds"] for _, run in runs.values())
    peer_model, peer = lesson.train_peer(x, y, epochs=14)
    recipe_acc = cu.accuracy(cu.predict(recipe_model, test.images), test.labels)
    peer_acc = cu.accuracy(cu.predict(peer_model, test.images), test.labels)
    return {"wall_s": round(search_s + peer["seconds"], 1), "device": str(cu.get_device(verbose=False)),
            "data": [all_train.source, f"{len(y):,} training digits (lecture 02's split), {len(test.labels):,} test",
                     f"recipe: BNLeNet, AdamW + one-cycle (peak {recipe_peak:g}), shift/rotate augmentation, "
                     f"batch 64, {recipe_epochs} epochs, chosen among {len(runs)} candidates (all trained here); "
                     "peer: pytorch/examples Net, Adadelta 1.0, x0.7 per epoch, batch 64, 14 epochs (settings made "
                     "for the 60,000 digits of the full MNIST)"],
            "metrics": {"02b best recipe: test accuracy": round(recipe_acc, 4),
                        "02b best recipe: train s": round(recipe["seconds"], 1),
                        "02b best recipe: epochs": recipe_epochs,
                        "02b recipe with its candidate runs: train s": round(search_s, 1),
                        "pytorch/examples recipe: test accuracy": round(peer_acc, 4),
                        "pytorch/examples recipe: train s": round(peer["seconds"], 1),
                        "pytorch/examples recipe: epochs": 14,
                        "02b recipe / peer time to final accuracy": round(recipe["seconds"] / peer["seconds"], 2),
                        "02b recipe with its candidate runs / peer time": round(search_s / peer["seconds"], 2)}}


SPECIAL = {"data_pipeline": _data_pipeline, "02b_recipes": _02b_recipes, "hw2_recipes": _hw2_recipes,
           "hw2_seeds": _hw2_seeds,
           "hw2_grading": _hw2_grading}


# ------------------------------------------------------------------------------------------------ BENCHMARKS.md

# row -> the figure its line of the summary shows (default: its first figure with an anchor, else its first figure)
KEY_FIGURES: dict[str, str] = {
    "03_pca_and_autoencoders": "linear AE / PCA-30 error ratio (test)",
    "07_generative_adversarial_networks": "DCGAN: digits covered / Frechet distance",
    "08_diffusion_models": "diffusion, unconditional: digits covered / Frechet distance",
}
KINDS = {  # row-name suffix -> the section of BENCHMARKS.md that holds such rows (other rows: the summary)
    " (trained from scratch)": "Trained from scratch",
    " (full MNIST)": "Full MNIST (`COURSE_MNIST=full`)",
    " (seeds)": "Claims over seeds",
}


def _value(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _cell(text) -> str:
    """Text for a markdown table cell: no "|" and no line break."""
    return " ".join(str(text).replace("|", "/").split())


def _date(row: dict) -> str:
    return row.get("when", "?").split(", ", 1)[0]


def _wall(row: dict) -> str:
    return f"{row.get('wall_s', '?')} s"


def key_figure(name: str, row: dict) -> str | None:
    """The label of the figure the summary shows for row ``name`` (see :data:`KEY_FIGURES`)."""
    metrics = row.get("metrics", {})
    if KEY_FIGURES.get(name) in metrics:
        return KEY_FIGURES[name]
    return next((k for k in metrics if k in ANCHORS), next(iter(metrics), None))


def row_kind(name: str, row: dict) -> str:
    """Which section of BENCHMARKS.md shows a row: "summary", one of :data:`KINDS`' sections, or "special"."""
    if name.endswith(" (seeds)") and "arms" in row:
        return KINDS[" (seeds)"]
    for suffix, section in KINDS.items():
        if name.endswith(suffix) and suffix != " (seeds)":
            return section
    return "special" if name in SPECIAL else "summary"


def _figures_table(rows: dict) -> list[str]:
    """Every figure of ``rows``, one per line, next to its anchor; the row's name, wall time and date on its first."""
    lines = ["| row | wall time | figure | measured | anchor | date |", "|---|---|---|---|---|---|"]
    for name, row in rows.items():
        metrics = row.get("metrics", {}) or {"—": "—"}
        for i, (label, value) in enumerate(metrics.items()):
            first = [name, _wall(row)] if i == 0 else ["", ""]
            lines.append(f"| {first[0]} | {first[1]} | {_cell(label)} | {_cell(_value(value))} | "
                         f"{_cell(ANCHORS.get(label, '—'))} | {_date(row) if i == 0 else ''} |")
    return lines


def _data_lines(rows: dict) -> list[str]:
    """One line per distinct (device, data): the rows that share them are named together."""
    groups: dict[tuple[str, str], list[str]] = {}
    for name, row in rows.items():
        groups.setdefault((row.get("device", "cpu"), _cell("; ".join(row.get("data", [])) or "—")), []).append(name)
    if len(groups) == 1 and len(rows) > 1:
        (device, data), = groups
        return [f"- **All rows** ({device}): {data}"]
    return [f"- **{', '.join(names)}** ({device}): {data}" for (device, data), names in groups.items()]


def render_markdown(results: dict) -> str:
    """BENCHMARKS.md from ``results`` (benchmarks.json): a summary that reads at a glance (one line per lecture:
    wall time, its key figure next to its anchor, date; the lecture's name with spaces for underscores, so that the
    table can wrap to a narrow column), then the data and machines, every figure, and the rows of other kinds in
    their own sections."""
    rows = results["rows"]
    by_kind: dict[str, dict] = {}
    for name in sorted(rows):
        by_kind.setdefault(row_kind(name, rows[name]), {})[name] = rows[name]
    summary = by_kind.pop("summary", {})
    lines = [
        "# Benchmarks",
        "",
        f"Measured by `make benchmark` (`python -m tools.benchmark`) in **full mode**; last run {results['date']}. "
        "Wall times include kernel start-up and data loading. Numbers are recorded, not asserted: the tests check "
        "the maths on small cases, this table checks the quality on real runs. Each row's data and machine are "
        "listed below the summary; `python -m tools.benchmark --rewrite` renders this page from `benchmarks.json`.",
        "",
        "Reading it: anchors that name *full MNIST* come from papers trained on its 60,000 digits; the default "
        "data is the course's 5,000-digit MNIST subset (4,000 training digits), so a gap to those anchors is "
        "expected. Lectures 06, 07 and 08 run twice: as a student gets them (trained checkpoints loaded from "
        "`assets/`) and trained from scratch (the retrained checkpoints go to `_build/benchmark_assets/`, the "
        "committed ones are not touched).",
        "",
        "## Summary",
        "",
        "| lecture | wall time | key figure | measured | anchor | date |",
        "|---|---|---|---|---|---|",
    ]
    for name, row in summary.items():
        key = key_figure(name, row)
        value = _value(row["metrics"][key]) if key else "—"
        lines.append(f"| {name.replace('_', ' ')} | {_wall(row)} | {_cell(key or '—')} | {_cell(value)} | "
                     f"{_cell(ANCHORS.get(key, '—'))} | {_date(row)} |")
    machines: dict[str, list[str]] = {}
    for name, row in rows.items():
        machines.setdefault(row.get("when", "?, ?").split(", ", 1)[-1], []).append(name)
    lines += ["", "### Data", "", *_data_lines(summary), "", "### Machines", ""]
    lines += [f"- {machine}: {', '.join(sorted(names))}" for machine, names in sorted(machines.items())]
    lines += ["", "### Every figure", "", *_figures_table(summary)]

    section = KINDS[" (trained from scratch)"]
    if section in by_kind:
        lines += ["", f"## {section}", "", "Lectures 06, 07 and 08 with `TRAIN_FROM_SCRATCH = True`: what a student "
                  "who retrains waits for, and the figures the retrained models reach.", "",
                  *_figures_table(by_kind[section]), "", *_data_lines(by_kind[section])]
    section = KINDS[" (full MNIST)"]
    if section in by_kind:
        lines += ["", f"## {section}", "", "The cost of the opt-in: each lecture run on the full MNIST (60,000 "
                  "training digits) next to its run on the default subset. factor = the full run's wall time over "
                  "the subset run's. A run still going at the time cap (`--cap-s`) was stopped there: the table says "
                  "in which cell and section, and its factor (\"> x\") is a lower bound. Rows measured with "
                  "`--standin` ran on Debian's Fashion-MNIST in MNIST's place (the same format and sizes, 60,000 / "
                  "10,000): their times are those of the full MNIST, and they record no quality figures.", "",
                  "Machine load is the 1-minute load average before and after the full-MNIST run: a load above the "
                  "machine's number of cores (Machines, above) means other work shared them and stretched the wall "
                  "time.", "",
                  "| lecture | wall time, subset | wall time, full MNIST | factor | machine load | date |",
                  "|---|---|---|---|---|---|"]
        for name, row in by_kind[section].items():
            base = rows.get(name.removesuffix(" (full MNIST)"), {})
            walls = (base.get("wall_s"), row.get("wall_s"))
            stopped = "> " if row.get("stopped") else ""  # the time cap stopped it: it would take longer
            factor = "—"
            if all(isinstance(w, (int, float)) and w for w in walls):  # a lower bound rounds down
                ratio = walls[1] / walls[0]
                factor = f"> {math.floor(ratio * 10) / 10:.1f}x" if stopped else f"{ratio:.1f}x"
            full = _cell(row["stopped"]) if stopped else _wall(row)
            load = " to ".join(f"{v:.1f}" for v in row["load"]) if row.get("load") else "—"
            lines.append(f"| {name.removesuffix(' (full MNIST)')} | {_wall(base) if base else '—'} | {full} | "
                         f"{factor} | {load} | {_date(row)} |")
        if any(row.get("metrics") for row in by_kind[section].values()):  # the stand-in's rows have none
            lines += ["", *_figures_table(by_kind[section])]
        lines += ["", *_data_lines(by_kind[section])]
    section = KINDS[" (seeds)"]
    if section in by_kind:
        lines += ["", f"## {section}", "",
                  "Each comparison a lecture's prose makes, rerun with its seeds shifted (`COURSE_SEED`; seed 0 is the "
                  "lecture's own run): every arm's mean, range and value per seed. The lecture's tests hold its prose "
                  "to these rows (a comparison that does not hold at every seed must be called within the seed "
                  "spread).", "",
                  "| lecture | arm | mean | range | per seed | date |", "|---|---|---|---|---|---|"]
        for name, row in by_kind[section].items():
            for label, values in row["arms"].items():
                per_seed = ", ".join(f"{v:.4g}" for v in values)
                lines.append(f"| {name.removesuffix(' (seeds)')} | {_cell(label)} | {sum(values) / len(values):.4g} | "
                             f"{min(values):.4g} to {max(values):.4g} | {per_seed} | {_date(row)} |")
    if "special" in by_kind:
        lines += ["", "## Homework, recipes and the data pipeline"]
        for name, row in by_kind["special"].items():
            lines += ["", f"### {name}", "", f"Wall time {_wall(row)}, measured {_date(row)} on "
                      f"{row.get('device', 'cpu')}. Data: {_cell('; '.join(row.get('data', [])) or '—')}.", "",
                      "| figure | measured | anchor |", "|---|---|---|"]
            lines += [f"| {_cell(label)} | {_cell(_value(value))} | {_cell(ANCHORS.get(label, '—'))} |"
                      for label, value in row.get("metrics", {}).items()]
    return "\n".join(lines) + "\n"


def write_markdown(results: dict) -> None:
    OUTPUT_MD.write_text(render_markdown(results))


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
    parser.add_argument("--seeds", type=int, default=SEEDS, help="seeds per multi-seed row (default %(default)s)")
    parser.add_argument("--full-mnist", action="store_true",
                        help="only the cost of the COURSE_MNIST=full opt-in: rows '<lecture> (full MNIST)'")
    parser.add_argument("--lectures-only", action="store_true",
                        help="only each notebook run as a student runs it (the lectures and the HW2 solution: time and "
                             "numbers); the rows over seeds, "
                             "the trained-from-scratch rows and the special rows keep what they have")
    parser.add_argument("--no-scratch", action="store_true",
                        help="leave out the trained-from-scratch rows of 06-08 (they keep what they have)")
    parser.add_argument("--standin", action="store_true",
                        help="with --full-mnist: Debian's Fashion-MNIST in MNIST's place (no download)")
    parser.add_argument("--cap-s", type=float, default=FULL_MNIST_CAP_S,
                        help="with --full-mnist: stop a lecture after this many seconds (default %(default)s)")
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
    jobs, own_runs = [], {}  # own_runs: each lecture's run at seed 0, reused as seed 0 of its multi-seed row

    def own_run(path: Path) -> dict:
        own_runs[path.stem] = _run_notebook(path)
        return own_runs[path.stem]

    if args.full_mnist:
        cache = _full_mnist_cache(args.standin)
        notebooks = {name: path for name, path in notebooks.items() if "cu.load_mnist(" in path.read_text()}
    for name, path in notebooks.items():
        if args.full_mnist:
            if wanted is None or any(name.startswith(w) for w in wanted):
                jobs.append((f"{name} (full MNIST)", lambda path=path: _full_mnist_row(path, cache, args.cap_s)))
            continue
        if wanted is None or any(name.startswith(w) for w in wanted):
            jobs.append((name, lambda path=path: own_run(path)))
            if args.lectures_only:
                continue
            if path.stem in SEED_ARMS:
                jobs.append((f"{name} (seeds)",
                             lambda path=path: _seed_row(path, own_runs.get(path.stem), seeds=args.seeds)))
            if SCRATCH_SWITCH in path.read_text() and not args.no_scratch:  # 06-08: also measure the training
                jobs.append((f"{name} (trained from scratch)", lambda path=path: _run_notebook(path, True)))
    shutil.rmtree(SCRATCH_ASSETS, ignore_errors=True)  # checkpoints retrained by an earlier benchmark run
    jobs += [(name, fn) for name, fn in SPECIAL.items() if not args.full_mnist and not args.lectures_only
             and (wanted is None or name in wanted or name.split("_")[0] in wanted)]
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
