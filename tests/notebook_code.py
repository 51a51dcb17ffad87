"""Import the lesson code of a notebook into the tests, so that the tests check the very code students read.

Cells tagged ``export`` in a notebook hold imports and function definitions only (no heavy work). This module
runs them, in order, in a fresh namespace and returns it: ``nb = load_exported("01_convolution_by_hand")``,
then ``nb.conv2d_by_hand(X, K)``.
"""

from __future__ import annotations

import functools
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
