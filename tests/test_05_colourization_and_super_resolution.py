"""Each claim of lecture 05 "Colourization, then super-resolution", checked on the notebook's own code."""

import re

import pytest
import torch
import torch.nn.functional as F

import course_utils as cu
from course_utils.metrics import psnr
from tools import seed_claims
from tools.notebook_code import NOTEBOOKS, load_exported, markdown_text, stored_number, stored_text

NAME = "05_colourization_and_super_resolution"
nb = load_exported(NAME)


@pytest.fixture(scope="module")
def coffee():
    return cu.load_photo("coffee", size=64)[None]  # (1, 3, 64, 96)


# 1. Lab ----------------------------------------------------------------------------------------------------


def test_rgb_to_lab_to_rgb_is_lossless_on_a_photo_and_on_random_colours(coffee):
    for rgb in (coffee, torch.rand(2, 3, 16, 16)):
        assert torch.allclose(nb.lab_to_rgb(nb.rgb_to_lab(rgb)), rgb, atol=1e-4)


def test_lab_has_the_textbook_values_for_white_black_and_grey():
    rgb = torch.tensor([[1.0, 1.0, 1.0], [0.0, 0.0, 0.0], [0.5, 0.5, 0.5], [1.0, 0.0, 0.0]]).T.reshape(1, 3, 1, 4)
    lab = nb.rgb_to_lab(rgb)[0, :, 0].T  # (4, 3)
    assert lab[0].tolist() == pytest.approx([100.0, 0.0, 0.0], abs=0.01)
    assert lab[1].tolist() == pytest.approx([0.0, 0.0, 0.0], abs=0.01)
    assert lab[2, 0].item() == pytest.approx(53.39, abs=0.05) and lab[2, 1:].abs().max() < 0.01  # grey: a = b = 0
    assert lab[3].tolist() == pytest.approx([53.24, 80.09, 67.20], abs=0.05)  # sRGB red


def test_lab_matches_skimage_and_keeps_the_batch_layout(coffee):
    from skimage.color import rgb2lab

    lab = nb.rgb_to_lab(coffee)
    assert lab.shape == coffee.shape
    expected = torch.from_numpy(rgb2lab(coffee[0].permute(1, 2, 0).double().numpy())).permute(2, 0, 1).float()
    assert torch.allclose(lab[0], expected, atol=1e-3)


def test_keeping_L_and_blurring_ab_changes_the_photo_far_less_than_blurring_L(coffee):
    lab = nb.rgb_to_lab(coffee)

    def blur(x):
        return F.interpolate(F.avg_pool2d(x, 8), scale_factor=8, mode="bilinear", align_corners=False)

    coarse_ab = nb.lab_to_rgb(torch.cat([lab[:, :1], blur(lab[:, 1:])], 1))
    coarse_L = nb.lab_to_rgb(torch.cat([blur(lab[:, :1]), lab[:, 1:]], 1))
    assert psnr(coarse_ab, coffee) > psnr(coarse_L, coffee) + 5


@pytest.mark.parametrize(
    ("bad", "error", "message"),
    [
        (torch.rand(3, 8, 8), ValueError, "x\\[None\\]"),
        (torch.rand(1, 8, 8, 3), ValueError, "channels-last"),
        (torch.rand(1, 3, 8, 8) * 255, ValueError, "divide by 255"),
        ((torch.rand(1, 3, 8, 8) * 255).to(torch.uint8), TypeError, "255"),
        (None, TypeError, "None"),
    ],
)
def test_rgb_to_lab_rejects_bad_inputs_with_a_clear_message(bad, error, message):
    with pytest.raises(error, match=message):
        nb.rgb_to_lab(bad)


def test_lab_to_rgb_rejects_rgb_or_scaled_lightness():
    with pytest.raises(ValueError, match="lightness L"):
        nb.lab_to_rgb(torch.full((1, 3, 4, 4), -0.5))
    with pytest.raises(ValueError, match="channel"):
        nb.lab_to_rgb(torch.zeros(1, 2, 4, 4))


def test_lab_to_rgb_clips_impossible_colours_without_a_warning():
    import warnings

    lab = torch.tensor([5.0, -100.0, 100.0]).view(1, 3, 1, 1)  # a very dark, very saturated colour: out of gamut
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rgb = nb.lab_to_rgb(lab)
    assert rgb.min() >= 0 and rgb.max() <= 1


# 2. Data -----------------------------------------------------------------------------------------------------


def test_the_test_and_validation_photos_are_two_different_colour_photos_and_not_training_photos():
    held_out = {nb.HELD_OUT_PHOTO, nb.VALIDATION_PHOTO}
    assert len(held_out) == 2 and not held_out & set(nb.TRAINING_PHOTOS)
    assert set(nb.TRAINING_PHOTOS) | held_out <= set(cu.list_photos())
    for name in held_out:
        assert cu.load_photo(name).shape[0] == 3


@pytest.mark.parametrize("role", ["test", "validation"])
def test_loading_training_photos_refuses_the_test_and_the_validation_photo(role):
    name = nb.HELD_OUT_PHOTO if role == "test" else nb.VALIDATION_PHOTO
    with pytest.raises(ValueError, match=f"held-out {role} photo"):
        nb.load_training_photos(("coffee", name))


def test_patches_keep_their_shape_and_are_crops_of_the_named_photos_never_of_the_held_out_one():
    photos = nb.load_training_photos(("coffee", "china"), size=48)
    patches, source = nb.cut_patches(photos, patch_size=16, per_photo=6)
    assert patches.shape == (12, 3, 16, 16)
    assert source == ["coffee"] * 6 + ["china"] * 6
    held_out = cu.load_photo(nb.HELD_OUT_PHOTO, size=48)
    for patch, name in zip(patches, source):
        assert _is_crop_of(patch, photos[name]) or _is_crop_of(patch.flip(-1), photos[name])
        assert not (_is_crop_of(patch, held_out) or _is_crop_of(patch.flip(-1), held_out))


def _is_crop_of(patch, photo):
    windows = F.unfold(photo[None], patch.shape[-1])[0]  # (3 * p * p, positions)
    return bool(((windows - patch.reshape(-1, 1)).abs().amax(0) < 1e-6).any())


def test_the_patch_draw_is_reproducible_for_a_given_seed():
    photo = {"coffee": cu.load_photo("coffee", size=48)}
    a, _ = nb.cut_patches(photo, patch_size=16, per_photo=4, seed=3)
    b, _ = nb.cut_patches(photo, patch_size=16, per_photo=4, seed=3)
    assert torch.equal(a, b)


@pytest.mark.parametrize(
    ("photos", "kwargs", "message"),
    [
        ({"x": torch.rand(3, 10, 10)}, {"patch_size": 16}, "smaller than"),
        ({"x": torch.rand(10, 10)}, {}, "\\(3, H, W\\)"),
        ([torch.rand(3, 40, 40)], {}, "dict"),
        ({"x": torch.rand(3, 40, 40)}, {"per_photo": 0}, "at least 1"),
    ],
)
def test_cut_patches_rejects_bad_inputs_with_a_clear_message(photos, kwargs, message):
    with pytest.raises((ValueError, TypeError), match=message):
        nb.cut_patches(photos, **kwargs)


def test_cifar10_images_are_converted_to_float_batches(monkeypatch):
    import numpy as np
    import torchvision.datasets

    class FakeCIFAR10:
        def __init__(self, root, train, download):
            self.data = np.full((5, 32, 32, 3), 255, dtype=np.uint8)

    monkeypatch.setattr(torchvision.datasets, "CIFAR10", FakeCIFAR10)
    images = nb.load_cifar10_images(3)
    assert images.shape == (3, 3, 32, 32) and images.dtype == torch.float32
    assert torch.equal(images, torch.ones(3, 3, 32, 32))


# 3. Baselines and scores -----------------------------------------------------------------------------------


def test_grayscale_baseline_is_zero_ab_and_gives_a_grey_rgb_image(coffee):
    L = nb.rgb_to_lab(coffee)[:, :1]
    ab = nb.grayscale_baseline(L)
    assert ab.shape == (1, 2, *coffee.shape[2:]) and bool(ab.eq(0).all())
    rgb = nb.lab_to_rgb(torch.cat([L, ab], 1))
    assert (rgb.amax(1) - rgb.amin(1)).max() < 2e-3  # R = G = B


def test_mean_colour_baseline_is_the_training_mean_ab_at_every_pixel():
    train_ab = torch.randn(7, 2, 8, 8) * 20 + torch.tensor([5.0, 12.0]).view(1, 2, 1, 1)
    ab = nb.mean_colour_baseline(torch.zeros(2, 1, 4, 6), train_ab)
    assert ab.shape == (2, 2, 4, 6)
    expected = train_ab.permute(1, 0, 2, 3).reshape(2, -1).mean(1)
    assert torch.allclose(ab, expected.view(1, 2, 1, 1).expand(2, 2, 4, 6), atol=1e-5)


def test_ab_error_is_the_mean_euclidean_distance_in_ab():
    a = torch.zeros(1, 2, 2, 2)
    b = torch.zeros(1, 2, 2, 2)
    b[0, 0, 0, 0], b[0, 1, 0, 0] = 3.0, 4.0  # one pixel 5 units away, three at 0
    assert nb.ab_error(b, a) == pytest.approx(5 / 4)
    with pytest.raises(ValueError, match="same shape"):
        nb.ab_error(torch.zeros(1, 2, 2, 2), torch.zeros(1, 2, 3, 3))
    with pytest.raises(ValueError, match="channel"):
        nb.ab_error(torch.zeros(1, 3, 2, 2), torch.zeros(1, 3, 2, 2))


def test_true_colours_score_zero_ab_error_and_a_high_psnr(coffee):
    lab = nb.rgb_to_lab(coffee)
    p, e = nb.colour_scores(lab[:, :1], lab[:, 1:], coffee)
    assert e < 1e-3 and p > 60


def test_chroma_is_the_length_of_ab():
    ab = torch.tensor([3.0, -4.0]).view(1, 2, 1, 1)
    assert nb.chroma(ab).item() == pytest.approx(5.0)


# 4. The U-Net ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("c_in", "c_out", "size"), [(1, 2, (32, 32)), (1, 2, (128, 192)), (3, 3, (20, 44))])
def test_unet_keeps_the_spatial_size_and_gives_the_requested_channels(c_in, c_out, size):
    model = nb.SmallUNet(c_in, c_out, width=8)
    assert model(torch.zeros(2, c_in, *size)).shape == (2, c_out, *size)


def test_unet_skip_connections_double_the_decoder_inputs():
    model = nb.SmallUNet(1, 2, width=16)
    assert model.dec2[0].in_channels == 2 * model.up2.out_channels
    assert model.dec1[0].in_channels == 2 * model.up1.out_channels


@pytest.mark.parametrize("shape", [(1, 3, 32, 32), (1, 1, 30, 32), (1, 32, 32)])
def test_unet_rejects_wrong_shapes_with_a_clear_message(shape):
    with pytest.raises(ValueError, match="multiples of 4"):
        nb.SmallUNet(1, 2)(torch.zeros(shape))


def test_colourize_returns_ab_in_lab_units_and_refuses_scaled_lightness():
    model = nb.SmallUNet(1, 2, width=4)
    L = torch.full((1, 1, 16, 16), 50.0)
    expected = cu.predict(model, L / 100) * nb.AB_SCALE
    assert torch.allclose(nb.colourize(model, L), expected)
    with pytest.raises(ValueError, match="expected values in \\[0.0, 100.0\\]"):
        nb.colourize(model, torch.full((1, 1, 16, 16), -5.0))


def test_a_short_training_run_beats_the_grayscale_baseline_on_its_own_photo():
    photos = nb.load_training_photos(("coffee",), size=64)
    rgb, _ = nb.cut_patches(photos, patch_size=32, per_photo=48)
    lab = nb.rgb_to_lab(rgb)
    model = nb.SmallUNet(1, 2, width=8)
    cu.fit(model, cu.TensorLoader(lab[:, :1] / 100, lab[:, 1:] / nb.AB_SCALE, batch_size=16, shuffle=True),
           torch.nn.MSELoss(), torch.optim.Adam(model.parameters(), lr=3e-3), epochs=8, verbose=False)
    full = cu.load_photo("coffee", size=64)[None]
    L = nb.rgb_to_lab(full)[:, :1]
    _, model_error = nb.colour_scores(L, nb.colourize(model, L), full)
    _, grey_error = nb.colour_scores(L, nb.grayscale_baseline(L), full)
    assert model_error < 0.8 * grey_error


def _tiny_run(planned_scores, higher_is_better=False):
    """fit_keeping_best on a 1x1 conv with validation scores given in advance; returns (result, weights per epoch)."""
    model = torch.nn.Conv2d(1, 1, 1)
    loader = cu.TensorLoader(torch.rand(8, 1, 4, 4), torch.rand(8, 1, 4, 4), batch_size=4)
    planned, weights = iter(planned_scores), []

    def val_score(m):
        weights.append({k: v.clone() for k, v in m.state_dict().items()})
        return next(planned)

    result = nb.fit_keeping_best(model, loader, torch.optim.SGD(model.parameters(), lr=0.5), len(planned_scores),
                                 val_score, higher_is_better=higher_is_better)
    return model, result, weights


@pytest.mark.parametrize(("scores", "higher_is_better", "best"),
                         [([3.0, 1.0, 2.0, 1.0], False, 2), ([1.0, 3.0, 2.0, 3.0], True, 2), ([5.0], False, 1)])
def test_fit_keeping_best_restores_the_weights_of_the_first_epoch_with_the_best_validation_score(
        capsys, scores, higher_is_better, best):
    model, (best_epoch, returned), weights = _tiny_run(scores, higher_is_better)
    assert best_epoch == best and returned == scores
    assert len({tuple(w["weight"].flatten().tolist()) for w in weights}) == len(scores)  # training moved the weights
    for name, value in model.state_dict().items():
        assert torch.equal(value, weights[best - 1][name])
    assert f"kept the weights of epoch {best}" in capsys.readouterr().out


# 5. Regression to the mean ---------------------------------------------------------------------------------


def test_the_best_constant_under_a_squared_error_is_the_mean_and_is_less_colourful():
    samples = torch.tensor([[60.0, 45.0], [20.0, -65.0], [-30.0, 10.0]])
    best = nb.best_constant_under_l2(samples)
    assert torch.allclose(best, samples.mean(0), atol=0.5)
    assert best.norm() < samples.norm(dim=1).min()


def test_ab_bins_have_size_10_and_neighbouring_colours_share_a_bin():
    ab = torch.tensor([[0.5, 0.5], [9.5, 9.5], [10.5, 0.5], [-110.0, -110.0], [110.0, 110.0]]).T.reshape(1, 2, 1, 5)
    bins = nb.ab_bin(ab)[0, 0]
    assert bins[0] == bins[1] and bins[0] != bins[2]
    assert bins[3] == 0 and bins[4] == 22 * 22 - 1


# 6. Super-resolution ---------------------------------------------------------------------------------------


def test_downsample_averages_blocks_and_bicubic_restores_the_size():
    x = torch.arange(16.0).view(1, 1, 4, 4) / 16
    low = nb.downsample(x)
    assert low.shape == (1, 1, 2, 2)
    assert low[0, 0, 0, 0].item() == pytest.approx(x[0, 0, :2, :2].mean().item())
    assert nb.bicubic_upsample(low).shape == x.shape
    with pytest.raises(ValueError, match="divisible"):
        nb.downsample(torch.zeros(1, 3, 5, 4))


def test_bicubic_keeps_a_constant_image_and_stays_in_range():
    flat = torch.full((1, 3, 8, 8), 0.3)
    assert torch.allclose(nb.bicubic_upsample(flat), torch.full((1, 3, 16, 16), 0.3), atol=1e-6)
    edge = torch.zeros(1, 1, 8, 8)
    edge[..., 4:] = 1.0
    up = nb.bicubic_upsample(edge)
    assert up.min() >= 0 and up.max() <= 1  # bicubic overshoots at edges; the clip keeps valid pixels


def test_untrained_residual_upscaler_is_exactly_bicubic():
    x_up = nb.bicubic_upsample(torch.rand(2, 3, 8, 12))
    with torch.no_grad():
        assert torch.equal(nb.ResidualUpscaler(width=8)(x_up), x_up)


@pytest.mark.slow  # trains a model
def test_a_short_super_resolution_run_beats_bicubic_on_a_held_out_photo():
    photos = nb.load_training_photos(("coffee", "flower", "china"), size=96)
    hr, _ = nb.cut_patches(photos, patch_size=32, per_photo=96)
    model = nb.ResidualUpscaler(width=8)
    cu.fit(model, cu.TensorLoader(nb.bicubic_upsample(nb.downsample(hr)), hr, batch_size=16, shuffle=True),
           torch.nn.MSELoss(), torch.optim.Adam(model.parameters(), lr=2e-3), epochs=4, verbose=False)
    test = cu.load_photo(nb.HELD_OUT_PHOTO, size=96)[None]
    up = nb.bicubic_upsample(nb.downsample(test))
    assert psnr(cu.predict(model, up).clamp(0, 1), test) > psnr(up, test) + 0.1


def test_the_squared_error_of_the_lecture_has_the_factor_of_mse_loss():
    ab_hat, ab = torch.randn(4, 2, 8, 8), torch.randn(4, 2, 8, 8)
    pixels = 4 * 8 * 8
    by_formula = ((ab_hat - ab) ** 2).sum(dim=1).sum() / (2 * pixels)
    torch.testing.assert_close(by_formula, torch.nn.MSELoss()(ab_hat, ab))



# 7. Claims of the prose that depend on training, checked on the committed (full-mode) outputs ------------------


def _runs():
    """The stored per-epoch lines of fit_keeping_best: [(train losses, validation scores, kept epoch)] in order."""
    runs, losses, scores = [], [], []
    for line in stored_text(NAME).splitlines():
        match = re.match(r"epoch (\d+)/(\d+): train loss ([\d.]+), validation .* ([\d.]+) \(", line)
        if match:
            losses.append(float(match.group(3)))
            scores.append(float(match.group(4)))
        kept = re.match(r"kept the weights of epoch (\d+)", line)
        if kept:
            runs.append((losses, scores, int(kept.group(1))))
            losses, scores = [], []
    assert len(runs) == 2, "refresh the notebook: the colourization and super-resolution runs are missing"
    return runs


def test_stored_runs_keep_the_epoch_with_the_best_validation_score_and_the_test_uses_it():
    (_, colour_errors, colour_epoch), (_, sr_psnrs, sr_epoch) = _runs()
    assert colour_epoch == colour_errors.index(min(colour_errors)) + 1
    assert sr_epoch == sr_psnrs.index(max(sr_psnrs)) + 1
    text = stored_text(NAME)
    assert f"U-Net weights of epoch {colour_epoch}, chosen on the validation photo" in text
    assert f"U-Net weights of epoch {sr_epoch}, chosen on the validation photo" in text


def test_stored_colour_run_loss_falls_while_validation_error_is_best_at_epoch_1_and_not_below_the_mean_colour():
    (losses, errors, kept), _ = _runs()
    assert all(a > b for a, b in zip(losses, losses[1:]))  # "the training loss falls with every epoch"
    mean_colour_error = float(stored_text(NAME).split("mean colour (training mean ab) ab error")[-1].split()[0])
    prose = markdown_text(NAME)
    assert re.search(r"it is lowest after the first epoch and every later epoch is worse, and here not even that epoch "
                     r"beats the mean colour on the validation photo", prose)
    assert kept == 1 and all(e > errors[0] for e in errors[1:])
    assert errors[0] > mean_colour_error
    assert max(errors[1:]) - min(errors[1:]) > 2  # the validation error jumps up and down: a noisy yardstick


def _table_row(label):
    lines = [line for line in stored_text(NAME).splitlines() if line.startswith(label)]
    assert lines, f"no stored line starts with {label!r}: refresh the notebook"
    return [float(v) for v in lines[-1][len(label):].split()]


def test_stored_test_scores_unet_beats_grayscale_is_level_with_the_mean_colour_and_paler_than_the_truth():
    net_psnr, net_error, net_chroma = _table_row("U-Net (squared error)")
    grey_psnr, grey_error, _ = _table_row("grayscale (ab = 0)")
    mean_psnr, mean_error, _ = _table_row("mean colour (training mean ab)")
    assert net_psnr > grey_psnr and net_error < grey_error
    # "the run above, seed 0, ... is level with the mean colour in both scores"
    assert abs(net_psnr - mean_psnr) < 0.2 and abs(net_error - mean_error) < 0.2
    assert net_chroma < _table_row("(the true colours)")[0]
    assert re.search(r"The run above, seed 0, is the palest of the three and is level with the mean colour in both "
                     r"scores", markdown_text(NAME))


def test_stored_seed_table_shows_the_run_above_as_seed_0_and_the_palest_of_three():
    rows = {k: _table_row(f"U-Net, seed {k} (epoch {e})") for k, e in _stored_seed_epochs().items()}
    assert len(rows) == 3 and rows[0] == _table_row("U-Net (squared error)")
    assert min(rows, key=lambda k: rows[k][2]) == 0  # the lowest mean chroma


def _stored_seed_epochs():
    return {int(k): int(e) for k, e in re.findall(r"^U-Net, seed (\d) \(epoch (\d)\)", stored_text(NAME), re.M)}


def _stored_margins(baseline):
    line = [line for line in stored_text(NAME).splitlines()
            if line.startswith(f"U-Net minus {baseline} over the 3 seeds:")][-1]
    return [float(v) for v in re.findall(r"[-+]\d+\.\d+", line)]  # PSNR low, high, ab error low, high


def test_stored_seed_margins_win_against_grayscale_and_straddle_zero_against_the_mean_colour():
    p_low, p_high, e_low, e_high = _stored_margins("grayscale (ab = 0)")
    assert p_low > 0 and e_high < 0  # wins in both scores at every seed
    p_low, p_high, e_low, e_high = _stored_margins("mean colour (training mean ab)")
    assert p_low < 0 < 1 < p_high  # "from a small loss to a gain of more than 1 dB"
    assert e_low < 0 < e_high  # "in ab error from a gain to a loss"
    prose = markdown_text(NAME)
    assert re.search(r"against the grayscale baseline the network wins in both scores at every seed\. Against the mean "
                     r"colour the seed decides", prose)


def test_stored_chroma_lines_show_no_saturated_predicted_pixel_and_a_prediction_that_ends_below_30():
    line = [line for line in stored_text(NAME).splitlines() if line.startswith("pixels with chroma above 40")][-1]
    true_share, predicted_share = (float(v) for v in re.findall(r"([\d.]+)%", line))
    assert true_share > 20 and predicted_share == 0.0  # "not one of its pixels reaches a chroma of 40"
    line = [line for line in stored_text(NAME).splitlines() if line.startswith("largest chroma:")][-1]
    true_max, predicted_max = (int(v) for v in re.findall(r"(\d+) in the", line))
    assert 60 < true_max < 80  # "up to a chroma of about 70"
    assert predicted_max < true_max / 2  # "less than half the true photo's"


def test_stored_blue_line_the_prediction_has_only_a_short_tail_into_the_blue_half_where_the_truth_goes_far():
    lines = [line for line in stored_text(NAME).splitlines() if line.startswith("most blue pixel (lowest b):")]
    assert lines, "no stored 'most blue pixel' line: refresh the notebook"
    true_b, predicted_b = (int(v) for v in re.findall(r"(-?\d+) in the", lines[-1]))
    assert true_b < -40  # the flag and the badge go far into the blue half
    assert true_b / 3 < predicted_b < 0  # "a short tail ... less than a third as far down in b"


def test_stored_bin_count_ten_dull_bins_hold_two_thirds_of_the_training_pixels():
    assert 62 <= stored_number(NAME, "the 10 most frequent bins hold") <= 72  # "about two thirds"
    assert stored_number(NAME, "those 10 bins: at most") <= 40  # "none of their centres has a chroma above 40"
    assert stored_number(NAME, "the largest chroma of a training pixel:") > 2 * 40  # "more than twice that"


def test_stored_super_resolution_gain_is_real_but_modest_and_largest_on_the_helmet_crop():
    gain = stored_number(NAME, "U-Net minus bicubic:")
    assert 0 < gain < 1  # "real but modest: under 1 dB on the whole photo"
    crops = {m.group(1): float(m.group(3)) - float(m.group(2)) for m in re.finditer(
        r"crop (rows \d+-\d+, columns \d+-\d+): bicubic ([\d.]+) dB, U-Net ([\d.]+) dB", stored_text(NAME))}
    # "between a few tenths of a decibel and about 1 dB" (from numbers rounded to 0.1 dB)
    assert len(crops) == 3 and all(0.2 <= g <= 1.3 for g in crops.values())
    assert max(crops, key=crops.get) == "rows 80-128, columns 80-128"  # the helmet, bottom right
    assert _table_row("U-Net (residual)")[0] > _table_row("bicubic")[0] > _table_row("nearest neighbour")[0]


# 8. Honesty about the data and the outputs (issue 24) -------------------------------------------------------------


def test_the_prose_says_how_the_test_photo_was_really_chosen():
    prose = markdown_text(NAME)
    assert "fixed by a rule stated before any training" not in prose
    assert re.search(r"How the test photo was chosen, honestly: not blind\. An earlier version of this lecture "
                     r"held out other photos first", prose)
    assert re.search(r"Every choice in this notebook that depends on results, such as which epoch's weights to keep, "
                     r"is made on it", prose)


def test_no_stray_return_value_is_printed_under_a_figure():
    import nbformat

    nb = nbformat.read(NOTEBOOKS / f"{NAME}.ipynb", as_version=4)
    for cell in nb.cells:
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            text = out.get("data", {}).get("text/plain", "")
            if "image/png" not in out.get("data", {}):
                assert not re.match(r"(Text|Colorbar|<matplotlib)", text), (cell.source[:80], text)


# 9. Comparisons over seeds (benchmarks.json, row "05_colourization_and_super_resolution (seeds)") -----------------

COLOUR = "colour, test photo: "


def test_unet_beats_the_grayscale_baseline_in_both_scores_at_every_seed():
    seed_claims.assert_beats(NAME, COLOUR + "U-Net RGB PSNR (dB)", COLOUR + "grayscale RGB PSNR (dB)",
                             lower_is_better=False)
    seed_claims.assert_beats(NAME, COLOUR + "U-Net ab error", COLOUR + "grayscale ab error", lower_is_better=True)


def test_unet_against_the_mean_colour_is_within_the_seed_spread_in_both_scores_as_the_prose_says():
    for score, lower in (("RGB PSNR (dB)", False), ("ab error", True)):
        unet, mean = COLOUR + f"U-Net {score}", COLOUR + f"mean colour {score}"
        seed_claims.assert_within_spread(NAME, unet, mean)
        assert not seed_claims.beats_at_every_seed(NAME, unet, mean, lower_is_better=lower)
        assert not seed_claims.beats_at_every_seed(NAME, mean, unet, lower_is_better=lower)
    assert "It beats both baselines" not in markdown_text(NAME)
    assert re.search(r"this lecture's network, retrained since, does not reliably beat the mean colour even there",
                     markdown_text(NAME))
    # the benchmark's summary line must not promise what the seeds do not show
    from tools import benchmark

    anchor = benchmark.ANCHORS["colourization U-Net RGB PSNR (dB)"]
    assert "above both baselines" not in anchor and "the seed decides" in anchor


def test_unet_is_paler_than_the_truth_at_every_seed_but_not_always_more_colourful_than_the_mean_colour():
    seed_claims.assert_beats(NAME, COLOUR + "U-Net mean chroma", COLOUR + "true mean chroma", lower_is_better=True)
    # seed 0 is paler than the mean colour itself, so the prose must not call the network more colourful than it
    assert not seed_claims.beats_at_every_seed(NAME, COLOUR + "U-Net mean chroma", COLOUR + "mean-colour chroma",
                                               lower_is_better=False)
    assert "more colourful on average than the mean colour" not in markdown_text(NAME)


def test_regression_to_the_mean_claims_hold_at_every_seed():
    assert max(seed_claims.arm(NAME, COLOUR + "U-Net pixels with chroma above 40 (share)")) == 0  # not one pixel
    for predicted, true in zip(seed_claims.arm(NAME, COLOUR + "U-Net largest chroma"),
                               seed_claims.arm(NAME, COLOUR + "true largest chroma")):
        assert predicted < true / 2  # "less than half the true photo's"
    for predicted, true in zip(seed_claims.arm(NAME, COLOUR + "U-Net lowest b"),
                               seed_claims.arm(NAME, COLOUR + "true lowest b")):
        assert true / 3 < predicted  # "less than a third as far down in b"
    assert re.search(r"All three hold at each of the three seeds", markdown_text(NAME))


def test_the_kept_colour_epoch_is_early_and_most_later_epochs_are_worse_than_the_mean_colour_at_every_seed():
    mean_colour = seed_claims.arm(NAME, "colour: validation ab error, mean colour")
    errors = list(zip(*(seed_claims.arm(NAME, f"colour: validation ab error, epoch {e}") for e in range(1, 9))))
    kept = seed_claims.arm(NAME, "colour: kept epoch")
    beats_mean = []
    for seed_errors, epoch, mean in zip(errors, kept, mean_colour):
        epoch = int(epoch)
        assert epoch <= 2 and seed_errors[epoch - 1] == min(seed_errors)  # "one of the first two of eight"
        later = seed_errors[epoch:]
        assert sum(e > mean for e in later) > len(later) / 2  # "most epochs after it are worse than the mean colour"
        beats_mean.append(seed_errors[epoch - 1] < mean)
    assert len(set(beats_mean)) == 2  # "whether the kept epoch beats the mean colour ... depends on the seed"
    assert re.search(r"the kept epoch is again one of the first two of eight and most epochs after it are worse "
                     r"than the mean colour; whether the kept epoch beats the mean colour on the validation photo "
                     r"depends on the seed", markdown_text(NAME))


def test_super_resolution_beats_bicubic_by_under_1_db_and_gains_most_on_the_helmet_at_every_seed():
    gains = seed_claims.arm(NAME, "super-resolution, test photo: U-Net minus bicubic (dB)")
    assert all(0 < g < 1 for g in gains)
    crops = [seed_claims.arm(NAME, f"super-resolution, test photo: U-Net minus bicubic on crop {k} (dB)")
             for k in (1, 2, 3)]
    for per_seed in zip(*crops):
        assert all(0.2 <= g <= 1.3 for g in per_seed)  # "between a few tenths of a decibel and about 1 dB"
        assert max(range(3), key=lambda k: per_seed[k]) == 1  # crop 2 is the helmet's (rows 80-128, columns 80-128)
    assert "rows 80-128, columns 80-128" in [line for line in stored_text(NAME).splitlines()
                                             if line.startswith("crop ")][1]
    assert re.search(r"both hold at each of three seeds, and the helmet's crop gains most at each", markdown_text(NAME))
