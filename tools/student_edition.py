"""Write the student edition of the course: ``make student-edition OUT=dir`` (``python -m tools.student_edition DIR``).

The instructors' repository (this one; private for a real class) holds what students must not see: each homework's
master notebook with its solutions, its hidden tests and probes (``homework/``), the built autograder and its secret
(``homework/*/dist/``, never committed) and the grading tools. The student edition is the public repository the
Colab badges, the setup cells and the website point to (``course_utils.colab.REPOSITORY``). It holds, from the files
git tracks here:

* the lectures and the student homework notebook (``notebooks/``), ``course_utils`` with the homework's public
  self-checks, the trained checkpoints (``assets/``) and ``BENCHMARKS.md``;
* what ``make lab``, ``make test``, ``make site`` and ``make slides`` need there: ``pyproject.toml``,
  ``environment.yml``, a Makefile with those targets only, the site and slide builders (``tools/``), the site and
  slide tests, the CI workflow and ``.ci/run``;
* a README for students, written from ``tools/student_template/README.md`` and sections of this README, and its own
  tests (``tools/student_template/tests/test_package.py``: the package installs, notebooks and checkpoints name the
  course version); ``make test`` there also runs every notebook under nbval.

Nothing else: no master, hidden test, probe, ``dist/``, secret or autograder. :func:`leaks` searches every file
written for solution markers, hidden names and secrets, and the build fails if it finds one. ``DIR`` must be empty
or a clone of the student repository (its ``.git`` is kept, everything else is replaced), so that publishing a
release is a commit and a tag there (README, "Releases and the student edition").
"""

from __future__ import annotations

import argparse
import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = Path(__file__).resolve().parent / "student_template"

# Tracked files that ship (a folder ends in "/"); the Makefile, README.md and tools/__init__.py are written instead.
SHIPPED = (
    "notebooks/", "course_utils/", "assets/", "BENCHMARKS.md", "pyproject.toml", "environment.yml", ".gitignore",
    ".ci/run", ".github/workflows/ci.yml", "tools/build_site.py", "tools/build_slides.py", "tools/site/",
    "tools/slides_template/", "tests/conftest.py", "tests/browser_helpers.py", "tests/test_site.py",
    "tests/test_slides.py", "tests/test_workflows.py",
)
MAKE_TARGETS = ("lab", "test", "install", "lint", "unit", "notebooks", "slides", "site", "clean")
TOOLS_DOC = '''"""Tools of the student edition, run as ``python -m tools.<module>``: ``build_slides`` (offline reveal.js
decks, with its nbconvert template in ``slides_template/``; ``make slides``) and ``build_site`` (the course website,
Sphinx configuration in ``site/``; ``make site``).
"""
'''

# What must never reach students. Markers are otter's (assign format), searched in every file as bytes.
MARKERS = (b"# BEGIN SOLUTION", b"# END SOLUTION", b"# BEGIN HIDDEN TESTS", b"# ASSIGNMENT CONFIG",
           b"# BEGIN QUESTION")
HIDDEN_TEST_CONFIG = re.compile(rb'""" # BEGIN TEST CONFIG.*?hidden:\s*true.*?""" # END TEST CONFIG', re.S | re.I)
HIDDEN_TEST_CASE = re.compile(rb"@test_case\([^)]*hidden\s*=\s*True")  # otter's generated test files
FORBIDDEN_NAMES = re.compile(r"(^|/)(homework|dist|grades|autograder[^/]*|[^/]*_hidden\.py|[^/]*_probes\.py|"
                             r"[^/]*secret[^/]*|\.env|[^/]*\.zip|[^/]*\.pem|[^/]*\.key)(/|$)", re.I)
DISTINCTIVE = re.compile(r"reference|hidden|probe|secret", re.I)  # top-level names of hidden modules that are theirs


class StudentEditionError(RuntimeError):
    """The student edition cannot be written (bad OUT), or what was written leaks something (the list says what)."""


def hidden_names(root: Path = ROOT) -> list[str]:
    """Names that only the hidden side of a homework uses: each hidden or probe module's name (``hw2_hidden``), its
    top-level functions, classes and constants whose name says reference, hidden, probe or secret
    (``ReferenceUNet``, ``reference_mean_iou``, ``HIDDEN_TEST_SEED``, ...), and the values such constants hold when
    they are numbers or strings of 6 characters or more (a hidden test seed, as written and as a number)."""
    names = []
    for path in sorted(Path(root).glob("homework/*/*.py")):
        if not path.stem.endswith(("_hidden", "_probes")):
            continue
        names.append(path.stem)
        source = path.read_text()
        for node in ast.parse(source).body:
            targets = [node.name] if isinstance(node, (ast.FunctionDef, ast.ClassDef)) else [
                t.id for t in getattr(node, "targets", [getattr(node, "target", None)]) if isinstance(t, ast.Name)]
            distinctive = [n for n in targets if DISTINCTIVE.search(n) and len(n.strip("_")) >= 8]
            names += distinctive
            value = getattr(node, "value", None)
            if distinctive and isinstance(value, ast.Constant) and isinstance(value.value, (int, str)):
                names += [v for v in (str(value.value), ast.get_source_segment(source, value).strip("\"'"))
                          if len(v) >= 6 and re.fullmatch(r"[\w.-]+", v)]
    return list(dict.fromkeys(names))


def instructor_secrets(root: Path = ROOT) -> list[bytes]:
    """The contents of every secret file the instructor's homework builds left here (``homework/**/*secret*``, e.g.
    in ``dist/``, never committed): none of them may appear in the student edition."""
    return [p.read_bytes().strip() for p in sorted(Path(root).glob("homework/**/*secret*"))
            if p.is_file() and len(p.read_bytes().strip()) >= 8]


def leaks(folder: Path, names: list[str] | None = None, secrets: list[bytes] | None = None) -> list[str]:
    """Everything in ``folder`` (but ``.git``) that a student must not see: files named like hidden tests, probes,
    secrets, archives or the instructor's folders; otter's solution and hidden-test markers; hidden names; the
    instructor's secrets. One line per finding."""
    folder = Path(folder)
    names = hidden_names() if names is None else names
    secrets = instructor_secrets() if secrets is None else secrets
    hidden = re.compile(rb"\b(" + b"|".join(re.escape(n.encode()) for n in names) + rb")\b") if names else None
    found = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if rel == ".git" or rel.startswith(".git/"):
            continue
        if FORBIDDEN_NAMES.search(rel):
            found.append(f"{rel}: a file or folder of the instructors' side (its name)")
        if not path.is_file():
            continue
        data = path.read_bytes()
        found += [f"{rel}: solution marker {m.decode()!r}" for m in MARKERS if m in data]
        if HIDDEN_TEST_CONFIG.search(data) or HIDDEN_TEST_CASE.search(data):
            found.append(f"{rel}: a hidden test (otter test config with hidden: true)")
        if hidden is not None:
            found += [f"{rel}: hidden name {n!r}" for n in dict.fromkeys(m.decode() for m in hidden.findall(data))]
        found += [f"{rel}: an instructor secret ({len(s)} bytes from homework/)" for s in secrets if s in data]
    return found


def _tracked(root: Path) -> list[str]:
    done = subprocess.run(["git", "ls-files", "-z"], cwd=root, capture_output=True, text=True, check=True)
    return [p for p in done.stdout.split("\0") if p]


def shipped_files(root: Path = ROOT) -> list[str]:
    """The tracked files (relative paths) that the student edition copies."""
    return [p for p in _tracked(root) if any(p == s or (s.endswith("/") and p.startswith(s)) for s in SHIPPED)
            and (Path(root) / p).is_file()]


def _readme_section(readme: str, heading: str) -> str:
    if heading == "intro":
        return readme.split("\n## ", 1)[0].strip()
    match = re.search(rf"^## {re.escape(heading)}[^\n]*\n(.*?)(?=^## |\Z)", readme, flags=re.M | re.S)
    if match is None:
        raise StudentEditionError(f"README.md has no section '## {heading}', which the student README copies")
    return match.group(1).strip()


def student_readme(root: Path = ROOT) -> str:
    """The student edition's README: tools/student_template/README.md with its ``section:`` lines filled in from
    this README and the course version written where it says ``version``."""
    import runpy

    readme = (Path(root) / "README.md").read_text()
    version = runpy.run_path(str(Path(root) / "course_utils" / "colab.py"))["VERSION"]
    text = (TEMPLATE / "README.md").read_text()
    text = re.sub(r"\A<!--.*?-->\n", "", text, flags=re.S)  # the template's note to maintainers
    text = re.sub(r"<!-- section: (.+?) -->", lambda m: _readme_section(readme, m.group(1)), text)
    return text.replace("<!-- version -->", version)


def student_makefile(root: Path = ROOT) -> str:
    """This Makefile with the targets :data:`MAKE_TARGETS` only (blocks are separated by blank lines)."""
    blocks = (Path(root) / "Makefile").read_text().split("\n\n")
    kept = []
    for block in blocks:
        targets = re.findall(r"^([a-z][a-z-]*):", block, flags=re.M)
        if ".PHONY" in block:
            block = re.sub(r"^\.PHONY:.*?(?<!\\)\n", f".PHONY: {' '.join(MAKE_TARGETS)}\n", block + "\n",
                           flags=re.M | re.S).rstrip("\n")
        if not targets or targets[0] in MAKE_TARGETS:
            kept.append(block)
    text = "\n\n".join(kept).rstrip("\n") + "\n"
    header = ("# Task runner of the course's student edition: `make lab` and `make test` (README), `make slides`, "
              "`make site`.\n")
    return re.sub(r"\A(# .*\n)+", lambda _: header, text)


def _prepare(out: Path, root: Path) -> None:
    out = Path(out).resolve()
    if out == root or root in out.parents:
        raise StudentEditionError(f"OUT ({out}) must be outside the instructors' repository {root}")
    if out.exists():
        entries = [p for p in out.iterdir() if p.name != ".git"]
        if entries and not (out / ".git").exists():
            raise StudentEditionError(f"OUT ({out}) is not empty and not a clone of the student repository: give an "
                                      "empty folder, or a clone whose files this command replaces")
        for entry in entries:
            shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
    out.mkdir(parents=True, exist_ok=True)


def build(out: Path, root: Path = ROOT) -> Path:
    """Write the student edition into ``out`` (see the module docstring); returns ``out``. Raises
    :class:`StudentEditionError` (and leaves what it wrote, for inspection) if :func:`leaks` finds anything."""
    root, out = Path(root).resolve(), Path(out)
    _prepare(out, root)
    for rel in shipped_files(root):
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / rel, out / rel)
    (out / "README.md").write_text(student_readme(root))
    (out / "Makefile").write_text(student_makefile(root))
    (out / "tools" / "__init__.py").write_text(TOOLS_DOC)
    for path in sorted((TEMPLATE / "tests").glob("*.py")):
        shutil.copy2(path, out / "tests" / path.name)
    found = leaks(out, hidden_names(root), instructor_secrets(root))
    if found:
        raise StudentEditionError("the student edition would leak:\n" + "\n".join(found))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path, help="an empty folder, or a clone of the student repository")
    args = parser.parse_args(argv)
    try:
        out = build(args.out)
    except StudentEditionError as err:
        print(err, file=sys.stderr)
        return 1
    files = sum(1 for p in out.rglob("*") if p.is_file() and ".git" not in p.relative_to(out).parts)
    print(f"Student edition written to {out} ({files} files; no solution, hidden test, probe or secret found). "
          "Next, there: git add -A, commit, and tag the course version (README, 'Releases and the student edition').")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
