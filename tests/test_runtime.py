"""Spec of course_utils.runtime (the fast/full switch, seeding, device) and course_utils.colab (setup cell, badge)."""

import random
import re
import subprocess
import sys
import types

import numpy as np
import pytest
import torch

from course_utils import colab
from course_utils.runtime import (
    by_mode,
    get_device,
    in_colab,
    is_fast_mode,
    is_forced_offline,
    mnist_choice,
    mode_line,
    seed_everything,
    seed_offset,
)

# ------------------------------------------------------------------------------------------ fast/full mode


@pytest.mark.parametrize("value", ["1", "true", "YES", " on "])
def test_by_mode_picks_fast_when_course_fast_is_set(monkeypatch, value):
    monkeypatch.setenv("COURSE_FAST", value)
    assert is_fast_mode() is True
    assert by_mode(full="full", fast="fast") == "fast"


@pytest.mark.parametrize("value", ["0", "", "false", "off"])
def test_by_mode_picks_full_when_course_fast_is_off(monkeypatch, value):
    monkeypatch.setenv("COURSE_FAST", value)
    assert is_fast_mode() is False
    assert by_mode(full="full", fast="fast") == "full"


def test_by_mode_picks_full_when_course_fast_is_unset(monkeypatch):
    monkeypatch.delenv("COURSE_FAST", raising=False)
    assert by_mode(full=10, fast=1) == 10


def test_by_mode_reads_the_environment_at_each_call(monkeypatch):
    monkeypatch.setenv("COURSE_FAST", "1")
    assert by_mode(full=10, fast=1) == 1
    monkeypatch.setenv("COURSE_FAST", "0")
    assert by_mode(full=10, fast=1) == 10


def test_malformed_course_fast_raises_value_error_naming_the_variable(monkeypatch):
    monkeypatch.setenv("COURSE_FAST", "maybe")
    with pytest.raises(ValueError, match="COURSE_FAST") as info:
        by_mode(full=10, fast=1)
    assert "maybe" in str(info.value)
    assert "COURSE_FAST=1" in str(info.value)  # the message says what to write instead


def test_course_offline_follows_the_same_rules(monkeypatch):
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    assert is_forced_offline() is True
    monkeypatch.delenv("COURSE_OFFLINE")
    assert is_forced_offline() is False
    monkeypatch.setenv("COURSE_OFFLINE", "sometimes")
    with pytest.raises(ValueError, match="COURSE_OFFLINE"):
        is_forced_offline()


def test_mode_line_differs_between_fast_and_full_mode(monkeypatch):
    monkeypatch.setenv("COURSE_FAST", "1")
    fast = mode_line()
    monkeypatch.delenv("COURSE_FAST")
    full = mode_line()
    assert fast != full
    assert fast.startswith("Mode: fast")
    assert full.startswith("Mode: full")
    assert "\n" not in fast and "\n" not in full


def test_mode_line_names_the_mnist_in_use_and_the_switch_to_the_other(monkeypatch):
    monkeypatch.delenv("COURSE_MNIST", raising=False)
    default = mode_line()
    assert mnist_choice() == "subset"
    assert "5,000-digit subset" in default and "COURSE_MNIST=full" in default
    monkeypatch.setenv("COURSE_MNIST", "full")
    assert mnist_choice() == "full"
    assert "full 70,000 digits" in mode_line() and "differ from the course's pages" in mode_line()
    monkeypatch.setenv("COURSE_MNIST", "subset")
    assert mode_line() == default


def test_mode_line_shows_a_seed_offset_only_when_there_is_one(monkeypatch):
    monkeypatch.delenv("COURSE_SEED", raising=False)
    assert "seed" not in mode_line()
    monkeypatch.setenv("COURSE_SEED", "2")
    assert mode_line().endswith("; seeds shifted by 2 (COURSE_SEED=2)")


@pytest.mark.parametrize("value", ["everything", "0.5"])
def test_malformed_course_mnist_says_what_to_write(monkeypatch, value):
    monkeypatch.setenv("COURSE_MNIST", value)
    with pytest.raises(ValueError, match="COURSE_MNIST=full") as info:
        mode_line()
    assert repr(value) in str(info.value)


# ------------------------------------------------------------------------------------------ seeding


def test_course_seed_shifts_every_seed_and_seed_everything_returns_the_seed_used(monkeypatch):
    monkeypatch.delenv("PYTHONHASHSEED", raising=False)
    monkeypatch.setenv("COURSE_SEED", "3")
    assert seed_offset() == 3
    assert seed_everything(4) == 7
    shifted = _draw()
    monkeypatch.delenv("COURSE_SEED")
    seed_everything(7)
    plain = _draw()
    assert torch.equal(shifted[0], plain[0]) and shifted[2] == plain[2]
    seed_everything(4)
    assert not torch.equal(_draw()[0], shifted[0])


@pytest.mark.parametrize("value", ["-1", "one", "1.5"])
def test_malformed_course_seed_says_what_to_write(monkeypatch, value):
    monkeypatch.setenv("COURSE_SEED", value)
    with pytest.raises(ValueError, match="COURSE_SEED=1") as info:
        seed_everything(0)
    assert repr(value) in str(info.value)


def _draw():
    return torch.rand(5), np.random.rand(5), random.random()


def test_seed_everything_makes_torch_numpy_and_random_repeat(monkeypatch):
    monkeypatch.delenv("PYTHONHASHSEED", raising=False)  # seed_everything sets it; restore afterwards
    seed_everything(123)
    t1, n1, r1 = _draw()
    _draw()  # advance every generator, so a seed that does nothing would show
    seed_everything(123)
    t2, n2, r2 = _draw()
    assert torch.equal(t1, t2)
    np.testing.assert_array_equal(n1, n2)
    assert r1 == r2


def test_different_seeds_give_different_numbers(monkeypatch):
    monkeypatch.delenv("PYTHONHASHSEED", raising=False)
    seed_everything(1)
    t1, n1, r1 = _draw()
    seed_everything(2)
    t2, n2, r2 = _draw()
    assert not torch.equal(t1, t2)
    assert not np.array_equal(n1, n2)
    assert r1 != r2


def test_seed_everything_returns_the_seed_as_a_plain_int(monkeypatch):
    monkeypatch.delenv("PYTHONHASHSEED", raising=False)
    assert seed_everything(42) == 42
    seed = seed_everything(np.int64(7))
    assert seed == 7 and type(seed) is int


@pytest.mark.parametrize("bad", ["0", 1.5, True, None])
def test_seed_everything_rejects_non_integers_with_type_error(bad):
    with pytest.raises(TypeError, match="seed must be an int"):
        seed_everything(bad)


@pytest.mark.parametrize("bad", [-1, 2**32])
def test_seed_everything_rejects_out_of_range_seeds_with_value_error(bad):
    with pytest.raises(ValueError, match="2\\*\\*32"):
        seed_everything(bad)


# ------------------------------------------------------------------------------------------ device


def _no_accelerator(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    if getattr(torch.backends, "mps", None) is not None:
        monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)


def test_get_device_returns_cpu_without_an_accelerator_and_prints_one_device_line(monkeypatch, capsys):
    _no_accelerator(monkeypatch)
    device = get_device()
    assert device == torch.device("cpu")
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("Device: cpu")


def test_get_device_line_names_the_device_it_returns(capsys):
    device = get_device()
    (line,) = capsys.readouterr().out.splitlines()
    assert line.startswith("Device:")
    assert line.startswith(f"Device: {device.type}")


def test_get_device_prefers_cuda_and_names_the_gpu(monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda index=0: "Fake GPU 9000")
    assert get_device() == torch.device("cuda")
    (line,) = capsys.readouterr().out.splitlines()
    assert line == "Device: cuda (Fake GPU 9000)"


def test_get_device_is_silent_with_verbose_false(capsys):
    get_device(verbose=False)
    assert capsys.readouterr().out == ""


def test_get_device_on_a_colab_cpu_says_how_to_get_a_gpu(monkeypatch, capsys):
    _no_accelerator(monkeypatch)
    get_device()
    local = capsys.readouterr().out
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    assert in_colab()
    get_device()
    in_colab_line = capsys.readouterr().out
    assert "Runtime" in in_colab_line and "GPU" in in_colab_line
    assert local != in_colab_line


def test_in_colab_is_false_outside_colab(monkeypatch):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    assert in_colab() is False


# ------------------------------------------------------------------------------------------ colab


def test_setup_cell_installs_from_the_repository_url():
    assert colab.REPOSITORY_URL in colab.SETUP_CELL
    assert colab.REPOSITORY_URL == f"https://github.com/{colab.REPOSITORY}"


def test_setup_cell_never_installs_torch():
    pip_lines = [line for line in colab.SETUP_CELL.splitlines() if re.search(r"\bpip\b", line)]
    code_pip_lines = [line for line in pip_lines if not line.lstrip().startswith("#")]
    assert code_pip_lines, "the setup cell should contain a pip install command"
    for line in code_pip_lines:
        assert not re.search(r"torch", line), f"the setup cell must not install torch: {line}"


def test_setup_cell_is_valid_python():
    compile(colab.SETUP_CELL, "<setup cell>", "exec")


def _run_setup_cell(monkeypatch):
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda cmd, **kwargs: calls.append(list(cmd)))
    exec(compile(colab.SETUP_CELL, "<setup cell>", "exec"), {})
    return calls


def test_setup_cell_does_nothing_outside_colab(monkeypatch):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    monkeypatch.delenv("COURSE_SETUP", raising=False)
    assert _run_setup_cell(monkeypatch) == []


def test_setup_cell_in_colab_pip_installs_only_the_course_repository(monkeypatch):
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    monkeypatch.delenv("COURSE_REPO", raising=False)
    (cmd,) = _run_setup_cell(monkeypatch)
    assert cmd[1:4] == ["-m", "pip", "install"]
    assert cmd[-1].startswith(f"git+{colab.REPOSITORY_URL}")
    assert not any("torch" in part for part in cmd)


def test_setup_cell_installs_the_fork_named_by_course_repo(monkeypatch):
    monkeypatch.setenv("COURSE_SETUP", "colab")
    monkeypatch.setenv("COURSE_REPO", "git+file:///tmp/my-fork")
    (cmd,) = _run_setup_cell(monkeypatch)
    assert cmd[-1] == "git+file:///tmp/my-fork"


def test_colab_badge_links_to_the_notebooks_colab_url():
    path = "notebooks/01_convolution_by_hand.ipynb"
    url = colab.colab_url(path)
    assert url.startswith("https://colab.research.google.com/github/")
    assert url.endswith(f"{colab.REPOSITORY}/blob/{colab.VERSION}/{path}")
    badge = colab.colab_badge(path)
    assert f"({url})" in badge
    assert badge.startswith("[![Open In Colab]")
