"""Trained checkpoints and other committed files in ``assets/``: "load a checkpoint if present, else train".

:func:`find_asset` finds ``assets/<name>`` (``$COURSE_ASSETS_DIR`` first, then a clone's ``assets/``, then the
download cache, and in Colab the course repository on GitHub, at the course version); :func:`save_checkpoint`
writes a model's weights (float16) with extra items; :func:`load_checkpoint` loads them back unless the stored
settings differ from the expected ones (then the lecture trains instead); :func:`data_key` names the data a
checkpoint was trained on. Used by lectures 06, 07 and 08 and by the judge in :mod:`course_utils.generative`.

A file from the download cache or from GitHub is used only if its SHA-256 is the one that
:mod:`course_utils.asset_hashes` records for the course version (:data:`course_utils.colab.VERSION`), and every
checkpoint is loaded with ``torch.load(..., weights_only=True)``: tensors, numbers, strings, lists and dicts, never
arbitrary pickled objects.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import torch
import torch.nn as nn

from .asset_hashes import SHA256
from .colab import REPOSITORY, VERSION
from .data import data_dir
from .runtime import is_forced_offline

ASSETS_DIR_ENV = "COURSE_ASSETS_DIR"  # optional folder searched first for checkpoints, and where new ones are saved
ASSETS_URL = f"https://raw.githubusercontent.com/{REPOSITORY}/{VERSION}/assets"


class AssetHashError(RuntimeError):
    """A downloaded checkpoint is not the file the course version recorded (its SHA-256 differs)."""


def _override_dir() -> Path | None:
    value = os.environ.get(ASSETS_DIR_ENV, "").strip()
    return Path(value).expanduser() if value else None


def _assets_dirs() -> list[Path]:
    override = _override_dir()
    dirs = [override] if override else []  # e.g. the benchmark's retraining, kept out of the committed assets/
    dirs += [Path(__file__).resolve().parents[1] / "assets"]  # a clone of the repository (editable install)
    here = Path.cwd().resolve()
    dirs += [p / "assets" for p in (here, *here.parents)]  # a notebook run from notebooks/ or the root
    return [d for d in dict.fromkeys(dirs) if d.is_dir()]


def _check_asset_name(name) -> None:
    if not isinstance(name, str) or not name or "/" in name:
        raise ValueError(f"name must be a file name inside assets/ such as 'judge_mnist.pt', got {name!r}")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _download(name: str, target: Path) -> None:
    """Fetch ``assets/<name>`` of the course version from GitHub into ``target``, checked against its SHA-256."""
    from torch.hub import download_url_to_file

    url = f"{ASSETS_URL}/{name}"
    try:
        download_url_to_file(url, str(target), hash_prefix=SHA256[name], progress=False)
    except RuntimeError as err:  # torch.hub: 'invalid hash value (expected "...", got "...")'
        if "hash" not in str(err):
            raise
        raise AssetHashError(
            f"{url} is not the file course version {VERSION} recorded (SHA-256 {SHA256[name][:12]}...): it was not "
            "loaded. Reinstall course_utils with the notebook's setup cell (the same version as the files), or set "
            "TRAIN_FROM_SCRATCH = True to train the model instead"
        ) from err


def find_asset(name: str, download: bool = True) -> Path | None:
    """Path of the committed file ``assets/<name>``, or ``None`` if it cannot be found.

    Looks in ``$COURSE_ASSETS_DIR`` when that is set, then in the repository's ``assets/`` folder (a local clone),
    then in the download cache; in Colab (not offline, ``download=True``) it fetches the file from the course
    repository on GitHub, at the course version, into the cache. A cached or downloaded file must have the SHA-256
    recorded for it (:mod:`course_utils.asset_hashes`): a stale cached copy is fetched again, a download that
    differs raises :class:`AssetHashError`, and a name the table does not list is never downloaded.
    """
    _check_asset_name(name)
    for d in _assets_dirs():
        if (d / name).is_file():
            return d / name
    if name not in SHA256:
        return None
    cached = data_dir() / "assets" / name
    if cached.is_file() and _sha256(cached) == SHA256[name]:
        return cached
    if download and not is_forced_offline():
        cached.parent.mkdir(parents=True, exist_ok=True)
        try:
            _download(name, cached)
            return cached
        except OSError:  # no connection, or GitHub did not answer: the lecture trains instead
            cached.unlink(missing_ok=True)
    return None


def save_checkpoint(name: str, model: nn.Module, **extra) -> Path:
    """Save ``model``'s weights (as float16, to keep the file small) and ``extra`` items (history, settings...).

    Writes to ``$COURSE_ASSETS_DIR`` when that is set (so a retraining run can leave the committed checkpoints
    alone), else to the repository's ``assets/`` folder when there is one (a local clone), else to the cache.
    Returns the path written."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    _check_asset_name(name)
    dirs = _assets_dirs()
    path = (_override_dir() or (dirs[0] if dirs else data_dir() / "assets")) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: (v.half() if v.is_floating_point() else v) for k, v in model.state_dict().items()}
    torch.save({"state_dict": {k: v.cpu() for k, v in state.items()}, **extra}, path)
    return path


def load_checkpoint(name: str, model: nn.Module | None = None, **expected):
    """Load ``assets/<name>`` (see :func:`find_asset`) into ``model`` and return the whole checkpoint dict.

    Returns ``None`` when the file is missing or when an ``expected`` item differs from the one stored
    (``load_checkpoint("vae.pt", vae, data="full")`` refuses a checkpoint trained on other data), so that the
    caller trains instead. A checkpoint that does not fit ``model``'s architecture raises a ``RuntimeError``.
    """
    path = find_asset(name)
    if path is None:
        return None
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    for key, value in expected.items():
        if checkpoint.get(key) != value:
            return None
    if model is not None:
        model.load_state_dict(checkpoint["state_dict"])  # converts float16 back to the model's float32
    return checkpoint


def data_key(source: str) -> str:
    """``"subset"`` for the course's bundled 5,000 digits (the default), ``"full"`` for the full MNIST
    (``COURSE_MNIST=full``): the data a checkpoint was trained on, stored in it and checked when it is loaded."""
    if not isinstance(source, str):
        raise TypeError(f"source must be the .source string of load_mnist(), got {type(source).__name__}")
    return "full" if source.startswith("full") else "subset"
