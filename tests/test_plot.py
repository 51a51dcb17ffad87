"""Spec of course_utils.plot: every function returns a titled Figure, accepts the documented shapes, rejects others."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from course_utils.plot import (
    IMAGE_CMAP,
    NONNEGATIVE_CMAP,
    SIGNED_CMAP,
    plot_history,
    show_feature_maps,
    show_images,
    show_kernels,
    show_matrices,
)


def _image_axes(fig):
    return [ax for ax in fig.axes if ax.images]


def _drawn(fig):
    return [ax.images[0] for ax in _image_axes(fig)]


# ------------------------------------------------------------------------------------------ show_images


@pytest.mark.parametrize(("images", "count", "pixel_shape"), [
    (torch.rand(4, 1, 8, 8), 4, (8, 8)),
    (torch.rand(2, 3, 8, 8), 2, (8, 8, 3)),
    (torch.rand(5, 8, 8), 5, (8, 8)),
    (torch.rand(8, 8), 1, (8, 8)),
    (torch.rand(3, 8, 8), 1, (8, 8, 3)),  # (C, H, W) with C = 3: one colour image
    (torch.rand(1, 8, 8), 1, (8, 8)),
    (np.random.rand(3, 1, 6, 6), 3, (6, 6)),
    ([torch.rand(8, 8), torch.rand(1, 8, 8), torch.rand(3, 8, 8)], 3, None),
])
def test_show_images_draws_one_panel_per_image_for_every_documented_shape(images, count, pixel_shape):
    fig = show_images(images, title="Samples")
    assert isinstance(fig, Figure)
    drawn = _drawn(fig)
    assert len(drawn) == count
    if pixel_shape is not None:
        assert all(im.get_array().shape == pixel_shape for im in drawn)
    assert fig.get_suptitle() == "Samples"


def test_show_images_sets_the_figure_title_and_one_title_per_image():
    titles = ["zero", "one", "two"]
    fig = show_images(torch.rand(3, 1, 8, 8), titles, title="Digits")
    assert fig.get_suptitle() == "Digits"
    assert [ax.get_title() for ax in _image_axes(fig)] == titles


def test_show_images_switches_off_unused_grid_cells():
    fig = show_images(torch.rand(5, 1, 4, 4), ncols=3)
    assert len(fig.axes) == 6
    assert sum(ax.axison for ax in fig.axes) == 5


def test_show_images_draws_intensities_in_gray_on_zero_to_one():
    (im,) = _drawn(show_images(torch.rand(1, 1, 4, 4)))
    assert im.get_cmap().name == IMAGE_CMAP
    assert im.get_clim() == (0.0, 1.0)


def test_show_images_signed_uses_the_signed_colour_map_with_symmetric_limits():
    x = torch.tensor([[[[-0.5, 0.2], [0.1, 2.0]]]])
    (im,) = _drawn(show_images(x, signed=True))
    assert im.get_cmap().name == SIGNED_CMAP
    low, high = im.get_clim()
    assert high == pytest.approx(float(x.abs().max()))
    assert low == pytest.approx(-high)


@pytest.mark.parametrize("shape", [(4, 2, 8, 8), (2, 3, 1, 8, 8), (64,), (2, 4, 8, 8)])
def test_show_images_rejects_other_shapes_with_value_error(shape):
    with pytest.raises(ValueError, match="expected images of shape") as info:
        show_images(torch.rand(shape))
    assert str(tuple(shape)) in str(info.value)


def test_show_images_rejects_a_wrong_number_of_titles():
    with pytest.raises(ValueError, match="got 2 titles for 3 images"):
        show_images(torch.rand(3, 1, 8, 8), ["a", "b"])


@pytest.mark.parametrize("images", [[], torch.rand(0, 1, 8, 8)])
def test_show_images_of_no_images_raises_value_error(images):
    with pytest.raises(ValueError, match="at least 1"):
        show_images(images)


def test_show_images_of_none_mentions_return():
    with pytest.raises(TypeError, match="return"):
        show_images(None)


def test_show_images_with_a_shared_scale_draw_every_panel_on_the_same_limits_and_one_colour_bar():
    images = [torch.randn(8, 8), 3 * torch.randn(8, 8), 0.1 * torch.randn(8, 8)]
    lim = max(float(i.abs().max()) for i in images)
    fig = show_images(images, signed=True, shared_scale=True)
    assert [im.get_clim() for im in _drawn(fig)] == [pytest.approx((-lim, lim))] * 3
    assert len(fig.axes) == 3 + 1
    fig = show_images([torch.rand(8, 8), 2 * torch.rand(8, 8)], vmin=None, vmax=None, shared_scale=True)
    lo, hi = fig.axes[0].images[0].get_clim()
    assert fig.axes[1].images[0].get_clim() == (lo, hi) and hi > 1.0 >= lo >= 0.0


# ------------------------------------------------------------------------------------------ show_kernels


@pytest.mark.parametrize(("shape", "count"), [((8, 1, 3, 3), 8), ((4, 3, 5, 5), 4), ((3, 3), 1), ((6, 3, 3), 6)])
def test_show_kernels_draws_each_kernel_numbered_under_a_title(shape, count):
    fig = show_kernels(torch.randn(shape), title="First layer")
    assert isinstance(fig, Figure)
    assert [ax.get_title() for ax in _image_axes(fig)] == [str(i) for i in range(count)]
    assert fig.get_suptitle().startswith("First layer")


def test_show_kernels_share_one_symmetric_signed_scale():
    w = torch.randn(5, 1, 3, 3)
    lim = float(w.abs().max())
    for im in _drawn(show_kernels(w)):
        assert im.get_cmap().name == SIGNED_CMAP
        assert im.get_clim() == pytest.approx((-lim, lim))


def test_show_kernels_add_one_colour_bar_for_the_shared_scale():
    fig = show_kernels(torch.randn(6, 1, 3, 3))
    assert len(fig.axes) == len(_image_axes(fig)) + 1  # the panels, and one colour bar


def test_show_kernels_draws_the_first_input_channel():
    w = torch.randn(2, 3, 3, 3)
    for i, im in enumerate(_drawn(show_kernels(w))):
        np.testing.assert_allclose(im.get_array(), w[i, 0].numpy())


@pytest.mark.parametrize("shape", [(9,), (2, 1, 1, 3, 3)])
def test_show_kernels_rejects_other_shapes_with_value_error(shape):
    with pytest.raises(ValueError, match=r"\(out_channels, in_channels, kH, kW\)"):
        show_kernels(torch.randn(shape))


def test_show_kernels_of_no_kernels_raises_value_error():
    with pytest.raises(ValueError, match="at least 1"):
        show_kernels(torch.randn(0, 1, 3, 3))


# ------------------------------------------------------------------------------------------ show_feature_maps


@pytest.mark.parametrize("shape", [(4, 6, 6), (1, 4, 6, 6)])
def test_show_feature_maps_draws_every_channel_with_its_number(shape):
    maps = torch.randn(shape)
    fig = show_feature_maps(maps, title="After conv1")
    assert isinstance(fig, Figure)
    assert fig.get_suptitle() == "After conv1"
    assert [ax.get_title() for ax in _image_axes(fig)] == [f"channel {i}" for i in range(4)]
    assert all(im.get_cmap().name == SIGNED_CMAP for im in _drawn(fig))


def test_show_feature_maps_after_a_relu_use_a_sequential_map_from_zero_on_one_scale_with_a_colour_bar():
    maps = torch.relu(torch.randn(5, 6, 6))
    fig = show_feature_maps(maps)
    drawn = _drawn(fig)
    assert all(im.get_cmap().name == NONNEGATIVE_CMAP for im in drawn)
    assert all(im.get_clim() == pytest.approx((0.0, float(maps.max()))) for im in drawn)
    assert len(fig.axes) == len(drawn) + 1


def test_show_feature_maps_with_negative_values_share_one_symmetric_signed_scale():
    maps = torch.randn(3, 6, 6)
    lim = float(maps.abs().max())
    assert all(im.get_clim() == pytest.approx((-lim, lim)) for im in _drawn(show_feature_maps(maps)))


def test_show_feature_maps_of_a_batch_says_pick_one_example():
    with pytest.raises(ValueError, match=r"maps\[i\]"):
        show_feature_maps(torch.randn(2, 4, 6, 6))


def test_show_feature_maps_rejects_a_single_2d_map():
    with pytest.raises(ValueError, match=r"\(C, H, W\)"):
        show_feature_maps(torch.randn(6, 6))


# ------------------------------------------------------------------------------------------ show_matrices


def test_show_matrices_titles_each_matrix_and_writes_every_value():
    a = torch.tensor([[1.0, -2.0], [0.5, 3.0]])
    b = torch.tensor([[7.0, 8.0, 9.0]])
    fig = show_matrices([a, b], ["X", "F"], title="Worked example", fmt="{:.1f}")
    assert isinstance(fig, Figure)
    assert fig.get_suptitle() == "Worked example"
    assert [ax.get_title() for ax in fig.axes] == ["X", "F"]
    for ax, m in zip(fig.axes, (a, b)):
        assert sorted(t.get_text() for t in ax.texts) == sorted(f"{v:.1f}" for v in m.flatten().tolist())


def test_show_matrices_rejects_a_wrong_number_of_titles():
    with pytest.raises(ValueError, match="got 1 titles for 2 matrices"):
        show_matrices([torch.zeros(2, 2), torch.zeros(2, 2)], ["X"])


def test_show_matrices_rejects_a_matrix_that_is_not_2d():
    with pytest.raises(ValueError, match=r"matrices\[1\]: expected a 2-D matrix"):
        show_matrices([torch.zeros(2, 2), torch.zeros(1, 2, 2)], ["X", "Y"])


# ------------------------------------------------------------------------------------------ plot_history

HISTORY = {
    "train_loss": [1.0, 0.6, 0.4],
    "val_loss": [1.1, 0.7, 0.5],
    "val_accuracy": [0.5, 0.8, 0.9],
    "epoch_time_s": [0.1, 0.1, 0.1],
}


def test_plot_history_puts_losses_and_metrics_on_separate_labelled_axes():
    fig = plot_history(HISTORY, title="MNIST classifier")
    assert isinstance(fig, Figure)
    assert fig.get_suptitle() == "MNIST classifier"
    loss_ax, metric_ax = fig.axes
    assert loss_ax.get_ylabel() == "loss" and metric_ax.get_ylabel() == "accuracy"  # the metric's own name
    assert loss_ax.get_xlabel() == metric_ax.get_xlabel() == "epoch"
    assert [line.get_label() for line in loss_ax.get_lines()] == ["train loss", "val loss"]
    assert [line.get_label() for line in metric_ax.get_lines()] == ["val accuracy"]


def test_plot_history_plots_epochs_from_one_with_the_recorded_values():
    fig = plot_history(HISTORY)
    (line,) = fig.axes[1].get_lines()
    assert list(line.get_xdata()) == [1, 2, 3]
    assert list(line.get_ydata()) == HISTORY["val_accuracy"]
    assert fig.get_suptitle() == "Learning curves"


def test_plot_history_draws_only_the_chosen_keys_and_log_scale_on_request():
    fig = plot_history(HISTORY, ["train_loss"], logy=True)
    (ax,) = fig.axes
    assert [line.get_label() for line in ax.get_lines()] == ["train loss"]
    assert ax.get_yscale() == "log"


def test_plot_history_of_metrics_only_uses_one_axis():
    (ax,) = plot_history({"val_accuracy": [0.1, 0.2]}).axes
    assert ax.get_ylabel() == "accuracy"


def test_plot_history_labels_an_axis_of_different_metrics_metric():
    ax = plot_history({"train_loss": [1.0], "val_accuracy": [0.5], "val_psnr": [20.0]}).axes[1]
    assert ax.get_ylabel() == "metric"


def test_plot_history_names_missing_keys_and_the_available_ones():
    with pytest.raises(KeyError, match="val_psnr") as info:
        plot_history(HISTORY, ["val_psnr"])
    assert "train_loss" in str(info.value)


@pytest.mark.parametrize("bad", [{}, None, [1.0, 0.5]])
def test_plot_history_rejects_what_is_not_a_history(bad):
    with pytest.raises(TypeError, match="returned by fit"):
        plot_history(bad)


# ------------------------------------------------------------------------------------------ plot_confusion_matrix


def test_plot_confusion_matrix_labels_axes_and_writes_the_counts():
    from course_utils.plot import plot_confusion_matrix

    m = torch.tensor([[5, 1, 0], [0, 7, 2], [1, 0, 9]])
    fig = plot_confusion_matrix(m, ["a", "b", "c"], title="Digits")
    (ax,) = fig.axes
    assert (ax.get_title(), ax.get_xlabel(), ax.get_ylabel()) == ("Digits", "predicted class", "true class")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c"]
    texts = sorted(t.get_text() for t in ax.texts)
    assert texts == sorted(str(v) for v in m.flatten().tolist() if v)


@pytest.mark.parametrize("bad", [torch.zeros(2, 3), torch.zeros(4)])
def test_plot_confusion_matrix_rejects_a_matrix_that_is_not_square(bad):
    from course_utils.plot import plot_confusion_matrix

    with pytest.raises(ValueError, match=r"square \(K, K\)"):
        plot_confusion_matrix(bad)


def test_plot_confusion_matrix_wants_one_name_per_class():
    from course_utils.plot import plot_confusion_matrix

    with pytest.raises(ValueError, match="one name per class"):
        plot_confusion_matrix(torch.eye(3), ["a", "b"])


# ------------------------------------------------------------------------------------------ scatter_by_class


def _scatter_by_class(*args, **kwargs):
    from course_utils.plot import scatter_by_class

    return scatter_by_class(*args, **kwargs)


def test_scatter_by_class_draws_one_labelled_group_per_class():
    points = torch.randn(30, 2)
    labels = torch.arange(30) % 3
    fig = _scatter_by_class(points, labels, title="Codes", xlabel="unit 1", ylabel="unit 2")
    assert isinstance(fig, Figure)
    (ax,) = fig.axes
    assert (ax.get_title(), ax.get_xlabel(), ax.get_ylabel()) == ("Codes", "unit 1", "unit 2")
    assert len(ax.collections) == 3
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["0", "1", "2"]
    np.testing.assert_allclose(ax.collections[1].get_offsets(), points[labels == 1].numpy(), rtol=1e-6)


def test_scatter_by_class_draws_into_a_given_axis_with_class_names():
    fig, axes = plt.subplots(1, 2)
    out = _scatter_by_class(np.zeros((4, 2)), np.array([0, 1, 1, 0]), ax=axes[1], title="t", xlabel="x",
                            ylabel="y", class_names=["cat", "dog"])
    assert out is fig
    assert not axes[0].collections and len(axes[1].collections) == 2
    assert [t.get_text() for t in axes[1].get_legend().get_texts()] == ["cat", "dog"]


@pytest.mark.parametrize(
    ("points", "labels", "error", "message"),
    [
        (torch.randn(5, 3), torch.zeros(5, dtype=torch.long), ValueError, r"expected shape \(N, 2\)"),
        (torch.randn(5, 2), torch.zeros(4, dtype=torch.long), ValueError, "one label per point"),
        (torch.randn(5, 2), torch.zeros(5), TypeError, r"integer class labels.*\.long\(\)"),
    ],
)
def test_scatter_by_class_rejects_bad_input(points, labels, error, message):
    with pytest.raises(error, match=message):
        _scatter_by_class(points, labels, title="t", xlabel="x", ylabel="y")
