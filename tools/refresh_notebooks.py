"""Re-execute lecture notebooks top to bottom in FULL mode and store their outputs (what GitHub and Colab show).

    python -m tools.refresh_notebooks                       # every lecture in notebooks/
    python -m tools.refresh_notebooks notebooks/01_*.ipynb  # some of them

The student homework (``notebooks/hw*.ipynb``) is not a lecture: it is committed unexecuted, with its ``...`` left
for students, so running it would fail; it is generated from its master by ``make homework`` and never refreshed.

Progress bars are switched off (TQDM_DISABLE=1) so that the stored outputs hold the per-epoch lines instead of
widget placeholders; interactive widgets keep their saved state, and their plain-text fallback (what a viewer
without a kernel shows) is replaced by a one-line hint. Prints the wall time of each notebook.

A cell may take at most CELL_TIMEOUT_S. With ipykernel 7 the kernel now and then drops the reply to a cell that
creates a widget (jupyter/nbclient#312): the kernel sits idle and the client waits for ever. Such a notebook is
run again from the start, up to ATTEMPTS times, instead of hanging for the whole timeout of a long run.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError

ROOT = Path(__file__).resolve().parents[1]
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
WIDGET_HINT = "[interactive widget: run the notebook to use it; the static figures above show the same idea]"
CELL_TIMEOUT_S = 600  # the longest full-mode cell on a 2-core CPU takes a few minutes
ATTEMPTS = 3


def refresh(path: Path, timeout_s: int = CELL_TIMEOUT_S, attempts: int = ATTEMPTS) -> float:
    for attempt in range(1, attempts + 1):
        nb = nbformat.read(path, as_version=4)
        start = time.perf_counter()
        try:
            NotebookClient(nb, timeout=timeout_s, kernel_name="python3",
                           resources={"metadata": {"path": str(path.parent)}}, store_widget_state=True).execute()
            break
        except CellTimeoutError:
            if attempt == attempts:
                raise
            print(f"{path.name}: a cell got no reply within {timeout_s} s (attempt {attempt} of {attempts}; "
                  "see jupyter/nbclient#312): running the notebook again from the start", flush=True)
    elapsed = time.perf_counter() - start
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if WIDGET_MIME in output.get("data", {}):
                output["data"]["text/plain"] = WIDGET_HINT
    nbformat.write(nb, path)
    return elapsed


def is_student_homework(path: Path) -> bool:
    """``notebooks/hw*.ipynb``: the unfinished student version of a homework (see the module docstring)."""
    return path.name.startswith("hw")


def lectures() -> list[Path]:
    """What ``make refresh`` executes by default: every notebook in notebooks/ but the student homework."""
    return [p for p in sorted((ROOT / "notebooks").glob("*.ipynb")) if not is_student_homework(p)]


def main(argv: list[str]) -> int:
    paths = [Path(a).resolve() for a in argv] or lectures()
    homework = [p for p in paths if is_student_homework(p)]
    if homework:
        print(f"not refreshing {', '.join(p.name for p in homework)}: the student homework is committed without "
              "outputs and with its answers left out, so it cannot run; `make homework` regenerates it from its "
              "master (homework/<hw>/)", file=sys.stderr)
        return 2
    os.environ["COURSE_FAST"] = "0"  # committed outputs are full mode
    os.environ["TQDM_DISABLE"] = "1"
    os.environ.setdefault("PYTHONWARNINGS", "ignore::DeprecationWarning:jupyter_client")
    for path in paths:
        print(f"{path.relative_to(ROOT)}: executing in full mode ...", flush=True)
        print(f"{path.relative_to(ROOT)}: done in {refresh(path):.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
