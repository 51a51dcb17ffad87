"""Cut a course release: ``make release VERSION=2025-fall`` (``python -m tools.release 2025-fall``).

A release is a course version, a git tag (one per term, say), that everything a student opens names: the setup cell
of every notebook installs ``course_utils`` from that tag, the Colab badges (in the notebooks, the homework's
master and the README) open that tag's notebooks, and checkpoints download from that tag's ``assets/``, each
checked against the SHA-256 recorded in the package (``course_utils/asset_hashes.py``) before it is loaded (with
``torch.load(..., weights_only=True)``). A notebook a student saved in week 2 then runs the same in week 9.

The command, in the repository the badges point to (``course_utils.colab.REPOSITORY``; see README, "Releases"):

1. writes the version into ``course_utils/colab.py`` (``VERSION``);
2. rewrites every setup cell and badge from it (``python -m tools.sync_notebooks``, what ``make sync`` runs): the
   notebooks, the homework's master and the README's lecture table;
3. records the SHA-256 of every file in ``assets/`` in ``course_utils/asset_hashes.py`` (so after retraining a
   checkpoint, run the command again with the same version);
4. checks that every notebook, the README and the checkpoint table name that version and that the table matches
   ``assets/`` (:func:`check_release`; ``tests/test_release.py`` runs the same check on every commit);

and prints the git commands that commit and tag it. ``python -m tools.release --check`` only runs step 4.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import runpy
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COLAB = Path("course_utils") / "colab.py"
TABLE = Path("course_utils") / "asset_hashes.py"
VERSION_LINE = re.compile(r'^VERSION = "([^"]*)"', flags=re.M)
COLAB_LINK = re.compile(r"https://colab\.research\.google\.com/github/([^/\s)]+/[^/\s)]+)/blob/([^/\s)]+)/")
INSTALL_URL = re.compile(r"git\+https://github\.com/([^/\s\"']+/[^@\s\"']+)@([^\s\"']+)")


class ReleaseError(ValueError):
    """The version cannot be a release (not a valid tag name)."""


def check_version(version: str) -> str:
    """``version`` if it is a name git accepts for a tag (``2025-fall``, ``v2026.1``), else a :class:`ReleaseError`."""
    if not isinstance(version, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", version) or (
            ".." in version or version.endswith((".", ".lock"))):
        raise ReleaseError(f"VERSION must be a git tag name such as 2025-fall or v2026.1 (letters, digits, '.', "
                           f"'-', '_'), got {version!r}")
    return version


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def asset_files(root: Path = ROOT) -> list[Path]:
    return sorted(p for p in (Path(root) / "assets").iterdir() if p.is_file() and not p.name.startswith("."))


def set_version(version: str, root: Path = ROOT) -> None:
    """Write ``VERSION = "<version>"`` into ``course_utils/colab.py``."""
    path = Path(root) / COLAB
    text = path.read_text()
    if len(VERSION_LINE.findall(text)) != 1:
        raise ReleaseError(f"{COLAB} must hold exactly one line `VERSION = \"...\"`")
    path.write_text(VERSION_LINE.sub(f'VERSION = "{check_version(version)}"', text))


def hash_table(version: str, root: Path = ROOT) -> str:
    """The source of ``course_utils/asset_hashes.py``: the version and the SHA-256 of every file in ``assets/``."""
    entries = "".join(f"    {json.dumps(p.name)}: {json.dumps(sha256(p))},\n" for p in asset_files(root))
    return (f'"""SHA-256 of every file in ``assets/`` at course version ``VERSION``: a checkpoint downloaded from '
            "that version is\nloaded only if its hash is the one here (:mod:`course_utils.checkpoints`).\n\n"
            "Written by ``make release VERSION=...`` (tools/release.py); do not edit. A test fails when this table "
            'and the files in\nassets/ disagree: after retraining a checkpoint, run ``make release`` again.\n"""\n\n'
            f"VERSION = {json.dumps(version)}\n\nSHA256 = {{\n{entries}}}\n")


def write_hash_table(version: str, root: Path = ROOT) -> Path:
    path = Path(root) / TABLE
    path.write_text(hash_table(version, root))
    return path


def _sync(root: Path) -> None:
    """``python -m tools.sync_notebooks`` in ``root``, importing that repository's course_utils (its new version)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep))
    done = subprocess.run([sys.executable, "-m", "tools.sync_notebooks"], cwd=root, env=env, capture_output=True,
                          text=True)
    print(done.stdout, end="")
    if done.returncode:
        raise RuntimeError(f"tools.sync_notebooks failed:\n{done.stderr[-3000:]}")


def _notebook_version_problems(path: Path, setup_cell: str, repository: str, version: str, root: Path) -> list[str]:
    nb = json.loads(path.read_text())
    rel = path.relative_to(root).as_posix()
    sources = ["".join(c["source"]) if isinstance(c["source"], list) else c["source"] for c in nb["cells"]]
    problems = []
    if len(sources) < 2 or sources[1] != setup_cell:
        problems.append(f"{rel}: its setup cell is not the one of course_utils/colab.py (version {version})")
    text = "\n".join(sources)
    links = COLAB_LINK.findall(sources[0] if sources else "")
    if not links:
        problems.append(f"{rel}: no Colab badge under its title")
    problems += [f"{rel}: a Colab link opens {repo}@{ref}, not {repository}@{version}"
                 for repo, ref in COLAB_LINK.findall(text) if (repo, ref) != (repository, version)]
    problems += [f"{rel}: installs {repo}@{ref}, not {repository}@{version}"
                 for repo, ref in INSTALL_URL.findall(text) if (repo, ref) != (repository, version)]
    return problems


def check_release(root: Path = ROOT) -> list[str]:
    """Everything that must name the course version, checked against ``course_utils/colab.py``: every notebook's
    setup cell and Colab badge (notebooks/ and the homework masters), the README's Colab links, and the checkpoint
    table (its version, and one hash per file in assets/, each right). Returns one line per problem."""
    root = Path(root)
    colab = runpy.run_path(str(root / COLAB))
    repository, version, setup_cell = colab["REPOSITORY"], colab["VERSION"], colab["SETUP_CELL"]
    problems = []
    notebooks = sorted((root / "notebooks").glob("*.ipynb")) + sorted((root / "homework").glob("*/*.ipynb"))
    for path in notebooks:
        problems += _notebook_version_problems(path, setup_cell, repository, version, root)
    readme = (root / "README.md").read_text()
    problems += [f"README.md: a Colab link opens {repo}@{ref}, not {repository}@{version}"
                 for repo, ref in COLAB_LINK.findall(readme) if (repo, ref) != (repository, version)]
    if not (root / TABLE).is_file():
        return [*problems, f"{TABLE} is missing: run `make release VERSION={version}`"]
    table = runpy.run_path(str(root / TABLE))
    if table["VERSION"] != version:
        problems.append(f"{TABLE} was written for version {table['VERSION']!r}, but course_utils/colab.py names "
                        f"{version!r}: run `make release VERSION={version}`")
    files = {p.name: p for p in asset_files(root)}
    for name in sorted(files.keys() - table["SHA256"].keys()):
        problems.append(f"assets/{name} is not in {TABLE}: run `make release VERSION={version}`")
    for name in sorted(table["SHA256"].keys() - files.keys()):
        problems.append(f"{TABLE} lists assets/{name}, which does not exist: run `make release VERSION={version}`")
    for name in sorted(files.keys() & table["SHA256"].keys()):
        if sha256(files[name]) != table["SHA256"][name]:
            problems.append(f"assets/{name} changed since {TABLE} recorded its SHA-256 (a retrained checkpoint?): "
                            f"run `make release VERSION={version}`")
    return problems


def release(version: str, root: Path = ROOT) -> list[str]:
    """Steps 1-4 of the module docstring in ``root``; returns :func:`check_release`'s problems (none if it worked)."""
    root = Path(root)
    set_version(check_version(version), root)
    _sync(root)
    write_hash_table(version, root)
    return check_release(root)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("version", nargs="?", help="the course version, a git tag name such as 2025-fall")
    parser.add_argument("--check", action="store_true", help="only check that everything names one version")
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.check:
        problems = check_release(args.root)
    elif not args.version:
        parser.error("usage: make release VERSION=2025-fall (a git tag name)")
    else:
        try:
            problems = release(args.version, args.root)
        except ReleaseError as err:
            print(err, file=sys.stderr)
            return 2
    for problem in problems:
        print(f"release problem: {problem}", file=sys.stderr)
    if problems:
        return 1
    version = runpy.run_path(str(Path(args.root) / COLAB))["VERSION"]
    print(f"Everything names course version {version}.")
    if not args.check:
        print(f"Next: review `git diff`, then\n  git commit -am 'Release {version}' && git tag -a {version} -m "
              f"'Course version {version}'\nand publish it where the badges point (README, 'Releases': the student "
              f"edition, its commit and the same tag there), e.g. git push origin main {version}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
