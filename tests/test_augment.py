"""course_utils.augment: random shifts, rotations and elastic distortions of digits, and the augmenting loader."""

import pytest
import torch

from course_utils.augment import AugmentedLoader, elastic_distort, random_affine

AUGMENTS = [random_affine, elastic_distort]


@pytest.fixture
def digits():
    x = torch.zeros(6, 1, 28, 28)
    x[:, :, 8:20, 12:16] = 1.0  # a vertical bar, like a 1
    return x


@pytest.mark.parametrize("augment", AUGMENTS)
def test_augmentation_keeps_the_shape_and_the_range_0_to_1(augment, digits):
    out = augment(digits, generator=torch.Generator().manual_seed(1))
    assert out.shape == digits.shape
    assert out.min() >= 0 and out.max() <= 1 + 1e-6


@pytest.mark.parametrize("augment", AUGMENTS)
def test_augmentation_is_the_same_for_the_same_seed_and_differs_for_another(augment, digits):
    a = augment(digits, generator=torch.Generator().manual_seed(3))
    b = augment(digits, generator=torch.Generator().manual_seed(3))
    c = augment(digits, generator=torch.Generator().manual_seed(4))
    torch.testing.assert_close(a, b)
    assert not torch.allclose(a, c)


@pytest.mark.parametrize("augment", AUGMENTS)
def test_augmentation_changes_the_images_but_keeps_most_of_the_ink(augment, digits):
    out = augment(digits, generator=torch.Generator().manual_seed(0))
    assert not torch.allclose(out, digits)
    ink_before, ink_after = digits.sum(dim=(1, 2, 3)), out.sum(dim=(1, 2, 3))
    assert ((ink_after / ink_before - 1).abs() < 0.4).all()


def test_random_affine_with_no_shift_and_no_rotation_is_the_identity(digits):
    out = random_affine(digits, max_shift=0, max_rotation_deg=0)
    torch.testing.assert_close(out, digits, atol=1e-5, rtol=0)


def test_elastic_distort_with_alpha_0_is_the_identity(digits):
    torch.testing.assert_close(elastic_distort(digits, alpha=0.0), digits, atol=1e-5, rtol=0)


def test_random_affine_shift_of_a_pixel_moves_the_ink_by_at_most_max_shift():
    x = torch.zeros(50, 1, 28, 28)
    x[:, :, 14, 14] = 1.0
    out = random_affine(x, max_shift=2, max_rotation_deg=0, generator=torch.Generator().manual_seed(0))
    ys, xs = torch.meshgrid(torch.arange(28.0), torch.arange(28.0), indexing="ij")
    mass = out.sum(dim=(1, 2, 3))
    cy, cx = (out[:, 0] * ys).sum((1, 2)) / mass, (out[:, 0] * xs).sum((1, 2)) / mass
    assert ((cy - 14).abs() <= 2 + 1e-4).all() and ((cx - 14).abs() <= 2 + 1e-4).all()
    assert (cx - 14).abs().max() > 1  # the shifts do use their range


def test_augmented_loader_keeps_the_labels_with_their_images_and_repeats_for_a_seed():
    images = torch.zeros(20, 1, 28, 28)
    labels = torch.arange(20)
    for i in range(20):
        images[i, 0, 10:18, 10:18] = (i + 1) / 20  # each image's brightness says its label
    def batches(seed):
        return list(AugmentedLoader(images, labels, batch_size=8, seed=seed))
    first, again = batches(0), batches(0)
    assert sum(len(y) for _, y in first) == 20
    for (x, y), (x2, y2) in zip(first, again):
        torch.testing.assert_close(x, x2)
        assert torch.equal(y, y2)
        brightest = x.amax(dim=(1, 2, 3))
        torch.testing.assert_close(brightest, (y + 1) / 20, atol=0.06, rtol=0)
    assert sorted(torch.cat([y for _, y in first]).tolist()) == list(range(20))


@pytest.mark.parametrize("augment", AUGMENTS)
def test_augmentation_of_a_single_image_without_batch_dimension_says_how_to_fix_it(augment):
    with pytest.raises(ValueError, match="batch"):
        augment(torch.zeros(28, 28))


def test_negative_shift_and_non_generator_are_rejected_with_an_example():
    with pytest.raises(ValueError, match="max_shift must be a finite number >= 0"):
        random_affine(torch.zeros(1, 1, 28, 28), max_shift=-1)
    with pytest.raises(TypeError, match="torch.Generator"):
        random_affine(torch.zeros(1, 1, 28, 28), generator=0)
    with pytest.raises(ValueError, match=r"sigma must be a finite number > 0 such as 4 \(pixels of smoothing\), got 0"):
        elastic_distort(torch.zeros(1, 1, 28, 28), sigma=0)
    with pytest.raises(TypeError, match="augment must be a function"):
        AugmentedLoader(torch.zeros(2, 1, 28, 28), torch.zeros(2), augment="shift")
