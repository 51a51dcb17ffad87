"""Where the homework's public self-check tests live (they ship inside this package, so Colab has them too)."""

from __future__ import annotations

from pathlib import Path

_TESTS_ROOT = Path(__file__).resolve().parent / "homework_tests"


def available_homework() -> tuple[str, ...]:
    """Names of the homework assignments whose public tests ship with the package, e.g. ``("hw2",)``."""
    return tuple(sorted(p.name for p in _TESTS_ROOT.iterdir() if p.is_dir() and any(p.glob("q*.py"))))


def public_tests_dir(name: str) -> str:
    """Folder of the public otter-grader tests of homework ``name`` (``"hw2"``).

    For ``otter.Notebook(tests_dir=...)``."""
    available = available_homework()
    if name not in available:
        raise ValueError(f"no public tests for homework {name!r}; available: {', '.join(available) or 'none'}")
    return str(_TESTS_ROOT / name)
