"""Import the lesson code of a notebook into the tests (and the benchmark), so that they check the very code
students read, and read what the committed notebook printed.

Cells tagged ``export`` in a notebook hold imports and function definitions only (no heavy work). This module
runs them, in order, in a fresh namespace and returns it: ``nb = load_exported("01_convolution_by_hand")``,
then ``nb.conv2d_by_hand(X, K)``.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from types import SimpleNamespace

import nbformat

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def exported_source(name: str) -> str:
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    cells = [c.source for c in nb.cells if c.cell_type == "code" and "export" in c.metadata.get("tags", [])]
    if not cells:
        raise LookupError(f"notebook {name} has no cells tagged 'export'")
    return "\n\n".join(cells)


@functools.cache
def load_exported(name: str) -> SimpleNamespace:
    namespace: dict = {"__name__": f"notebook_{name}"}
    exec(compile(exported_source(name), f"<{name}.ipynb exported cells>", "exec"), namespace)
    return SimpleNamespace(**namespace)


def stored_text(name: str) -> str:
    """Everything the committed notebook's code cells printed (stdout streams and plain-text results), in order.

    Tests of claims that depend on training read the stored, full-mode outputs through this, so that a refresh
    that changes the outcome fails the suite instead of leaving a false sentence in the prose."""
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    parts = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and out.get("name") == "stdout":
                parts.append(out.get("text", ""))
            elif "text/plain" in out.get("data", {}):
                parts.append(out["data"]["text/plain"] + "\n")
    return "".join(parts)


def stored_number(name: str, label: str) -> float:
    """The first number printed after ``label`` on the last stored output line that contains ``label``.

    ``stored_number("03_pca_and_autoencoders", "PCA-30 test error:")`` reads ``PCA-30 test error: 14.1``."""
    import re

    lines = [line for line in stored_text(name).splitlines() if label in line]
    if not lines:
        raise LookupError(f"no stored output line of notebook {name} contains {label!r}: refresh the notebook "
                          "(make refresh) or fix the label")
    match = re.search(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?", lines[-1].split(label, 1)[1])
    if not match:
        raise LookupError(f"no number after {label!r} in the stored line {lines[-1]!r}")
    return float(match.group())


def code_cell_containing(name: str, text: str) -> str:
    """The source of the one code cell of notebook ``name`` that contains ``text`` (a test runs it as it is)."""
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    cells = [c.source for c in nb.cells if c.cell_type == "code" and text in c.source]
    if len(cells) != 1:
        raise LookupError(f"expected one code cell of notebook {name} containing {text!r}, found {len(cells)}")
    return cells[0]


def markdown_text(name: str) -> str:
    """The prose of notebook ``name`` that tests hold to its outputs and to the benchmark: its markdown cells, one
    per paragraph (separated by a blank line), with the line breaks inside a cell read as spaces."""
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    return "\n\n".join(" ".join(c.source.split()) for c in nb.cells if c.cell_type == "markdown")


def code_hash(name: str) -> str:
    """See `_code_hash`; parsed once per content of the file (the claim tests ask about a hundred times, and reading a
    notebook with its figures is the slow part)."""
    raw = (NOTEBOOKS / f"{name}.ipynb").read_bytes()
    return _code_hash(name, hashlib.sha256(raw).hexdigest())


@functools.lru_cache(maxsize=64)
def _code_hash(name: str, content: str) -> str:
    """A short hash of notebook ``name``'s code (every code cell but the generated setup cell): the benchmark's
    multi-seed rows record it, so a test can tell when a row was measured on code that has changed since.
    Each cell counts by what it does, not how it is laid out: its syntax tree (so wrapping a line for a slide or
    editing a comment keeps the rows valid), or its text where it is not plain Python (IPython magics)."""
    import ast

    def meaning(source: str) -> str:
        try:
            return ast.dump(ast.parse(source))
        except SyntaxError:
            return source

    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    code = [meaning(c.source) for c in nb.cells
            if c.cell_type == "code" and "setup" not in c.metadata.get("tags", [])]
    return hashlib.sha256("\n\x00".join(code).encode()).hexdigest()[:16]
