"""The HW2 plumbing: the synthetic shapes data set, the reference U-Net, and where the public tests live."""


import matplotlib.pyplot as plt
import pytest
import torch

from course_utils import homework
from course_utils.segmentation import CLASS_NAMES, load_shapes, make_shapes, show_segmentation
from course_utils.unet import UNet, double_conv


def test_make_shapes_gives_images_in_unit_range_and_masks_of_the_four_classes():
    data = make_shapes(40, seed=5)
    assert data.images.shape == (40, 1, 64, 64) and data.images.dtype == torch.float32
    assert data.masks.shape == (40, 64, 64) and data.masks.dtype == torch.int64
    assert 0 <= data.images.min() and data.images.max() <= 1
    assert set(data.masks.unique().tolist()) == {0, 1, 2, 3}
    assert len(CLASS_NAMES) == 4


def test_make_shapes_is_deterministic_per_seed_and_differs_between_seeds():
    a, b, c = make_shapes(5, seed=1), make_shapes(5, seed=1), make_shapes(5, seed=2)
    assert torch.equal(a.images, b.images) and torch.equal(a.masks, b.masks)
    assert not torch.equal(a.masks, c.masks)


def test_object_classes_cannot_be_told_apart_by_brightness():
    data = make_shapes(300, seed=11, noise_std=0.0)
    means = [data.images[:, 0][data.masks == c].mean().item() for c in (1, 2, 3)]
    assert max(means) - min(means) < 0.03, f"mean brightness per class differs too much: {means}"
    background = data.images[:, 0][data.masks == 0].mean().item()
    assert min(means) - background > 0.2


def test_shapes_of_each_class_have_similar_areas():
    data = make_shapes(300, seed=12)
    per_object = []
    for c in (1, 2, 3):
        pixels = (data.masks == c).sum().item()
        images_with = (data.masks == c).flatten(1).any(1).sum().item()
        per_object.append(pixels / images_with)
    assert max(per_object) / min(per_object) < 1.5, per_object


def test_load_shapes_splits_have_the_documented_sizes_and_share_no_image(monkeypatch):
    monkeypatch.setenv("COURSE_FAST", "1")
    train, val, test = (load_shapes(s, verbose=False) for s in ("train", "val", "test"))
    assert (len(train.images), len(val.images), len(test.images)) == (1200, 64, 100)
    assert not torch.equal(train.images[:64], val.images)
    first_test = test.images[0]
    assert not any(torch.equal(first_test, img) for img in train.images)


def test_load_shapes_prints_one_data_line_and_rejects_unknown_splits(capsys):
    load_shapes("val")
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].startswith("Data: synthetic shapes")
    with pytest.raises(ValueError, match="'train', 'val', 'test'"):
        load_shapes("validation")


@pytest.mark.parametrize("bad, match", [(0, "at least 1"), (1.5, "positive int")])
def test_make_shapes_rejects_bad_counts(bad, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make_shapes(bad)


def test_make_shapes_rejects_images_too_small_for_the_shapes():
    with pytest.raises(ValueError, match="at least 32"):
        make_shapes(2, size=16)


def test_show_segmentation_draws_rows_and_explains_logit_shaped_predictions():
    data = make_shapes(4, seed=3)
    fig = show_segmentation(data.images, data.masks, data.masks, n=3, title="check")
    assert fig._suptitle.get_text() == "check" and len(fig.axes) == 9
    with pytest.raises(ValueError, match="argmax"):
        show_segmentation(data.images, data.masks, torch.zeros(4, 4, 64, 64))
    with pytest.raises(ValueError, match=r"\(N, 1, H, W\)"):
        show_segmentation(data.images[:, 0], data.masks)
    plt.close("all")


def test_reference_unet_has_122036_parameters_and_returns_logits_of_the_input_size():
    net = UNet(1, 4, 4)
    assert sum(p.numel() for p in net.parameters()) == 122_036
    out = net(torch.rand(2, 1, 64, 64))
    assert out.shape == (2, 4, 64, 64)
    assert (out < 0).any(), "logits, not probabilities"


def test_double_conv_keeps_the_spatial_size_and_has_no_conv_bias():
    block = double_conv(3, 5)
    assert block(torch.rand(1, 3, 10, 12)).shape == (1, 5, 10, 12)
    convs = [m for m in block if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 2 and all(c.bias is None for c in convs)


def test_unet_output_pixel_sees_context_far_beyond_its_own_neighbourhood():
    torch.manual_seed(0)
    net = UNet(1, 4, 4).eval()
    x = torch.rand(1, 1, 64, 64, requires_grad=True)
    net(x)[0, 1, 5, 5].backward()
    assert x.grad[0, 0, 4:7, 4:7].abs().sum() > 0  # its own pixels, through the top skip connection
    assert x.grad[0, 0, 40:, 40:].abs().sum() > 0  # 35+ pixels away: only through the bottleneck


@pytest.mark.parametrize("shape, match", [((2, 64, 64), r"x\[None\]|x\[:, None\]"), ((1, 1, 40, 40), "divisible by 16"),
                                          ((1, 3, 64, 64), "channel")])
def test_unet_rejects_bad_inputs_with_a_clear_message(shape, match):
    with pytest.raises(ValueError, match=match):
        UNet(1, 4, 4)(torch.rand(*shape))


def test_public_tests_of_hw2_ship_with_the_package():
    assert "hw2" in homework.available_homework()
    with pytest.raises(ValueError, match="available: hw2"):
        homework.public_tests_dir("hw9")
