"""Spec of course_utils.checks: input checks whose messages say what was expected, what came, and how to fix it."""

import numpy as np
import pytest
import torch

from course_utils.checks import (
    as_image_batch,
    as_tensor,
    check_choice,
    check_number,
    check_positive_int,
    check_range,
    check_same_shape,
)

# ------------------------------------------------------------------------------------------ as_tensor


def test_as_tensor_returns_a_tensor_unchanged():
    x = torch.rand(3)
    assert as_tensor(x) is x


def test_as_tensor_converts_a_numpy_array_keeping_values_and_dtype():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    t = as_tensor(a)
    assert isinstance(t, torch.Tensor)
    assert t.dtype == torch.float32
    np.testing.assert_array_equal(t.numpy(), a)


def test_as_tensor_accepts_a_non_contiguous_numpy_array():
    a = np.arange(12.0).reshape(3, 4).T
    np.testing.assert_array_equal(as_tensor(a).numpy(), a)


def test_as_tensor_of_none_asks_whether_a_return_was_forgotten():
    with pytest.raises(TypeError, match="return") as info:
        as_tensor(None, "reconstruction")
    assert "reconstruction is None" in str(info.value)


def test_as_tensor_of_a_list_names_the_type_it_got():
    with pytest.raises(TypeError, match="got a list"):
        as_tensor([1, 2, 3], "images")


def test_as_tensor_rejects_an_object_array():
    with pytest.raises(TypeError, match="numeric array"):
        as_tensor(np.array([1, "a"], dtype=object))


# ------------------------------------------------------------------------------------------ as_image_batch


def test_as_image_batch_returns_a_float_batch_unchanged():
    x = torch.rand(2, 1, 28, 28)
    assert as_image_batch(x) is x


def test_as_image_batch_converts_integer_non_uint8_images_to_float():
    x = torch.ones(2, 1, 4, 4, dtype=torch.int64)
    out = as_image_batch(x)
    assert out.dtype == torch.float32
    assert torch.equal(out, x.float())


def test_as_image_batch_on_a_single_2d_image_says_add_batch_and_channel_with_x_none_none():
    with pytest.raises(ValueError, match=r"x\[None, None\]") as info:
        as_image_batch(torch.rand(28, 28))
    assert "(28, 28)" in str(info.value)
    assert "(N, C, H, W)" in str(info.value)


def test_as_image_batch_on_a_3d_tensor_suggests_x_none_for_one_image():
    with pytest.raises(ValueError, match=r"x\[None\]") as info:
        as_image_batch(torch.rand(1, 28, 28))
    message = str(info.value)
    assert "x[None, None]" not in message
    assert "x[:, None]" in message  # ...or a channel dimension if it is a batch of (H, W) images
    assert "(1, 28, 28)" in message


@pytest.mark.parametrize("shape", [(784,), (2, 1, 1, 28, 28)])
def test_as_image_batch_on_other_ranks_says_reshape(shape):
    with pytest.raises(ValueError, match="reshape it to"):
        as_image_batch(torch.rand(shape))


def test_as_image_batch_of_none_mentions_return():
    with pytest.raises(TypeError, match="`return`"):
        as_image_batch(None)


def test_as_image_batch_of_uint8_says_divide_by_255():
    with pytest.raises(TypeError, match="255") as info:
        as_image_batch(torch.zeros(2, 1, 28, 28, dtype=torch.uint8))
    assert "x.float() / 255" in str(info.value)


def test_as_image_batch_of_uint8_numpy_says_divide_by_255():
    with pytest.raises(TypeError, match="255"):
        as_image_batch(np.zeros((2, 1, 28, 28), dtype=np.uint8))


def test_as_image_batch_channels_last_rgb_hints_permute():
    with pytest.raises(ValueError, match=r"permute\(0, 3, 1, 2\)") as info:
        as_image_batch(torch.rand(4, 28, 28, 3), channels=3)
    assert "(4, 28, 28, 3)" in str(info.value)


def test_as_image_batch_wrong_channel_count_does_not_hint_permute_when_not_channels_last():
    with pytest.raises(ValueError, match="expected 1 channel") as info:
        as_image_batch(torch.rand(4, 2, 28, 28), channels=1)
    assert "permute" not in str(info.value)


def test_as_image_batch_accepts_any_of_several_allowed_channel_counts():
    for c in (1, 3):
        assert as_image_batch(torch.rand(2, c, 8, 8), channels=(1, 3)).shape[1] == c
    with pytest.raises(ValueError, match="1 or 3 channel"):
        as_image_batch(torch.rand(2, 4, 8, 8), channels=(1, 3))


def test_as_image_batch_uses_the_given_name_in_messages():
    with pytest.raises(ValueError, match="^noisy_images:"):
        as_image_batch(torch.rand(28, 28), name="noisy_images")


# ------------------------------------------------------------------------------------------ check_range


def test_check_range_accepts_values_inside_and_within_tolerance():
    check_range(torch.tensor([0.0, 0.5, 1.0]), 0, 1)
    check_range(torch.tensor([-1e-6, 1 + 1e-6]), 0, 1)
    check_range(torch.empty(0), 0, 1)


def test_check_range_on_raw_pixels_hints_divide_by_255():
    with pytest.raises(ValueError, match="divide by 255") as info:
        check_range(torch.tensor([0.0, 255.0]), 0, 1)
    assert "[0, 255]" in str(info.value)


def test_check_range_slightly_above_one_reports_the_range_without_the_255_hint():
    with pytest.raises(ValueError, match=r"expected values in \[0, 1\]") as info:
        check_range(torch.tensor([0.0, 1.2]), 0, 1)
    assert "255" not in str(info.value)
    assert "1.2" in str(info.value)


def test_check_range_rejects_values_below_the_low_end():
    with pytest.raises(ValueError, match="-0.5"):
        check_range(torch.tensor([-0.5, 0.5]), 0, 1)


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_check_range_rejects_nan_and_infinity(bad):
    with pytest.raises(ValueError, match="NaN or infinity"):
        check_range(torch.tensor([0.5, bad]), 0, 1)


# ------------------------------------------------------------------------------------------ small checks


def test_check_same_shape_passes_equal_shapes_and_names_both_shapes_otherwise():
    check_same_shape(torch.zeros(2, 3), torch.ones(2, 3))
    with pytest.raises(ValueError, match=r"\(2, 3\) and \(3, 2\)") as info:
        check_same_shape(torch.zeros(2, 3), torch.zeros(3, 2), ("output", "images"))
    assert str(info.value).startswith("output and images")


@pytest.mark.parametrize("value", [1, 64, np.int64(3)])
def test_check_positive_int_returns_positive_ints_as_int(value):
    out = check_positive_int(value, "batch_size")
    assert out == value and type(out) is int


@pytest.mark.parametrize("value", [0, -3])
def test_check_positive_int_rejects_zero_and_negatives_with_value_error(value):
    with pytest.raises(ValueError, match=f"batch_size must be at least 1, got {value}"):
        check_positive_int(value, "batch_size")


@pytest.mark.parametrize("value", [True, 2.0, "3", None])
def test_check_positive_int_rejects_non_ints_with_type_error(value):
    with pytest.raises(TypeError, match="epochs must be a positive int"):
        check_positive_int(value, "epochs")


@pytest.mark.parametrize("value", [0, 2, 0.5, np.float32(1.5), np.int64(3)])
def test_check_number_returns_finite_numbers_at_or_above_the_minimum_as_float(value):
    out = check_number(value, "max_shift", "2 (pixels)")
    assert out == float(value) and type(out) is float


@pytest.mark.parametrize("value", [-0.1, float("nan"), float("inf"), True, "2", None])
def test_check_number_rejects_negatives_non_finite_and_non_numbers(value):
    with pytest.raises(ValueError, match=r"max_shift must be a finite number >= 0 such as 2 \(pixels\), got"):
        check_number(value, "max_shift", "2 (pixels)")


def test_check_number_can_exclude_the_minimum():
    assert check_number(1e-3, "lr", "0.01", allow_minimum=False) == 1e-3
    with pytest.raises(ValueError, match="lr must be a finite number > 0 such as 0.01, got 0"):
        check_number(0, "lr", "0.01", allow_minimum=False)


def test_check_choice_returns_a_valid_value_and_lists_the_choices_otherwise():
    assert check_choice("test", ("train", "test"), "split") == "test"
    with pytest.raises(ValueError, match="split must be one of 'train', 'test'; got 'val'"):
        check_choice("val", ("train", "test"), "split")
