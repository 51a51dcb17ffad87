"""The student edition (``make student-edition OUT=dir``, tools/student_edition.py): what students need and nothing
the instructors keep to themselves. The build is searched for solution markers, hidden tests, hidden names and
secrets; each kind of leak, planted, is found."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from course_utils.colab import VERSION
from tools import student_edition
from tools.build_site import course_order

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def edition(tmp_path_factory):
    return student_edition.build(tmp_path_factory.mktemp("student") / "course")


def test_it_holds_the_lectures_package_assets_and_student_homework_and_what_make_needs(edition):
    lectures = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
    assert sorted(p.name for p in (edition / "notebooks").glob("*.ipynb")) == lectures
    for rel in ("course_utils/__init__.py", "course_utils/asset_hashes.py", "course_utils/homework_tests/hw2/q1.py",
                "assets/judge_mnist.pt", "BENCHMARKS.md", "pyproject.toml", "environment.yml", ".ci/run",
                ".github/workflows/ci.yml", "tools/build_site.py", "tools/build_slides.py", "tools/site/conf.py",
                "tests/test_package.py", "tests/test_site.py", "tests/conftest.py"):
        assert (edition / rel).is_file(), f"{rel} is missing"
    makefile = (edition / "Makefile").read_text()
    assert set(re.findall(r"^([a-z-]+):", makefile, flags=re.M)) == set(student_edition.MAKE_TARGETS)
    assert "autograder" not in makefile and "homework" not in makefile


def test_it_holds_nothing_of_the_instructors_side(edition):
    names = {p.relative_to(edition).as_posix() for p in edition.rglob("*")}
    assert not [n for n in names if n.startswith(("homework", "grades")) or "/dist" in n or n.startswith("dist")]
    for tool in ("autograder", "sandbox", "notebook_runner", "benchmark", "release", "student_edition"):
        assert f"tools/{tool}.py" not in names
    assert "CONTRIBUTING.md" not in names and "benchmarks.json" not in names
    assert student_edition.leaks(edition) == []


def test_its_readme_is_for_students_lists_every_notebook_and_names_the_course_version(edition):
    readme = (edition / "README.md").read_text()
    assert [r["path"] for r in course_order(readme)] == [r["path"] for r in course_order()]
    assert f"course version **`{VERSION}`**" in readme and "<!--" not in readme
    for heading in ("Set-up", "For instructors", "Licence", "Where the data comes from", "Presenting the lectures"):
        assert f"\n## {heading}" in readme
    for target in re.findall(r"\]\(([^)#:]+)\)", readme):
        assert (edition / target).exists(), f"the student README links {target}, which the edition lacks"



@pytest.mark.slow  # seconds of real processes: out of `make unit`, in `make test`
def test_the_site_builder_finds_what_it_needs_in_the_edition(edition):
    """`make site` there: the Sphinx sources are written from the student README (its lecture table, set-up, data,
    licence and instructor sections) and the edition's notebooks (the Sphinx run itself is tested by test_site.py)."""
    env = dict(os.environ, PYTHONPATH=str(edition))
    done = subprocess.run([sys.executable, "-c", "from tools.build_site import write_sources; print(write_sources())"],
                          cwd=edition, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    source = Path(done.stdout.strip().splitlines()[-1])
    assert source.is_relative_to(edition), source
    assert {"index.md", "instructors.md", "licence.md", "BENCHMARKS.md"} <= {p.name for p in source.iterdir()}
    assert "student edition" in (source / "instructors.md").read_text()


SECRET = b"s3cr3t-drawn-at-build-9f8e7d"


def _plant(out: Path) -> dict[str, str]:
    """One leak of each kind, each in a file of its own, in a copy of a build: {kind: the path it is in}."""
    nb_path = out / "notebooks" / "hw2_unet_segmentation.ipynb"
    nb = nbformat.read(nb_path, as_version=4)
    nb.cells[-1].source += "\n# BEGIN SOLUTION\nx = 1\n# END SOLUTION"
    nbformat.write(nb, nb_path)
    tests = out / "course_utils" / "homework_tests" / "hw2"
    files = {
        "hidden test config": (tests / "q8.py",
                               '""" # BEGIN TEST CONFIG\nhidden: true\npoints: 1\n""" # END TEST CONFIG\n'),
        "otter hidden test case": (tests / "q9.py", "@test_case(points=1, hidden=True)\ndef test_q9(env):\n    pass\n"),
        "assignment config": (out / "notebooks" / "x.md", "# ASSIGNMENT CONFIG\nname: hw2\n"),
        "hidden module import": (out / "course_utils" / "extra.py", "import hw2_hidden\n"),
        "reference model name": (out / "tools" / "extra.py", "from x import ReferenceUNet\n"),
        "hidden test seed": (out / "tests" / "extra.py", "SEED = 20240917\n"),
        "hidden tests file": (out / "tests" / "hw2_hidden.py", "pass\n"),
        "probes file": (out / "course_utils" / "hw3_probes.py", "pass\n"),
        "secret file": (out / "course_utils" / "hw2_secret.txt", "x\n"),
        "secret content": (out / "assets" / "data.bin", SECRET.decode()),
        "dist folder": (out / "dist" / "x.txt", "x\n"),
        "master notebook": (out / "homework" / "hw2" / "hw2_unet_segmentation.ipynb", "{}"),
        "autograder zip": (out / "hw2-autograder_2030.zip", "PK"),
    }
    for path, text in files.values():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return {"solution in a notebook": "notebooks/hw2_unet_segmentation.ipynb",
            **{kind: path.relative_to(out).as_posix() for kind, (path, _) in files.items()}}


@pytest.mark.slow  # seconds of real processes: out of `make unit`, in `make test`
def test_each_kind_of_leak_planted_in_a_build_is_found_where_it_was_planted(edition, tmp_path):
    out = tmp_path / "course"
    shutil.copytree(edition, out)
    planted = _plant(out)
    found = student_edition.leaks(out, secrets=[SECRET])
    missed = [kind for kind, rel in planted.items() if not [f for f in found if f.startswith(rel)]]
    assert not missed, f"planted but not found: {missed}\nfound: {found}"
    without_secret = student_edition.leaks(out, secrets=[])
    assert not [f for f in without_secret if f.startswith(planted["secret content"])], "found for another reason"


@pytest.mark.slow  # seconds of real processes: out of `make unit`, in `make test`
def test_a_build_that_would_leak_fails_and_out_must_be_empty_or_a_clone(tmp_path, monkeypatch):
    monkeypatch.setattr(student_edition, "SHIPPED", (*student_edition.SHIPPED, "homework/"))
    with pytest.raises(student_edition.StudentEditionError, match="would leak"):
        student_edition.build(tmp_path / "leaky")
    monkeypatch.undo()
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "mine.txt").write_text("keep me")
    with pytest.raises(student_edition.StudentEditionError, match="not empty"):
        student_edition.build(tmp_path / "full")
    assert (tmp_path / "full" / "mine.txt").read_text() == "keep me"
    with pytest.raises(student_edition.StudentEditionError, match="outside"):
        student_edition.build(ROOT / "_build" / "student")
    clone = tmp_path / "clone"
    (clone / ".git").mkdir(parents=True)
    (clone / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (clone / "removed_since.txt").write_text("old")
    student_edition.build(clone)
    assert (clone / ".git" / "HEAD").is_file() and not (clone / "removed_since.txt").exists()


@pytest.mark.slow
def test_the_student_editions_own_tests_pass_there_and_a_lecture_runs(edition):
    """In the edition: its package test (pip installs course_utils from it), and lecture 01 under nbval, importing
    the edition's own course_utils."""
    env = dict(os.environ, PYTHONPATH=str(edition), COURSE_FAST="1", COURSE_OFFLINE="1", MPLBACKEND="Agg")
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_package.py",
                           "--nbval-lax", "--nbval-current-env", "notebooks/01_convolution_by_hand.ipynb"],
                          cwd=edition, env=env, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert " passed" in done.stdout and "failed" not in done.stdout
