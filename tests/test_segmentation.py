"""The HW2 plumbing: the synthetic shapes data set and where the public tests live (the reference U-Net is the
instructor's, in homework/hw2/hw2_hidden.py: see test_hw2_hidden_tests.py)."""


import matplotlib.pyplot as plt
import pytest
import torch

from course_utils import homework
from course_utils.segmentation import CLASS_NAMES, load_shapes, make_shapes, show_segmentation


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


def test_public_tests_of_hw2_ship_with_the_package():
    assert "hw2" in homework.available_homework()
    with pytest.raises(ValueError, match="available: hw2"):
        homework.public_tests_dir("hw9")


def test_the_student_package_holds_no_homework_answer():
    import importlib.util

    import course_utils
    from course_utils import metrics

    assert importlib.util.find_spec("course_utils.unet") is None, "the U-Net is HW2's question 2"
    for name in ("iou_per_class", "dice_per_class", "mean_iou"):
        assert not hasattr(metrics, name) and not hasattr(course_utils, name), f"{name} is HW2's question 4"
