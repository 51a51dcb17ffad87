"""Execute a notebook top to bottom and save the executed copy: the first phase of grading a submission.

    python notebook_runner.py IN.ipynb OUT.ipynb

Run by tools/autograder.py inside the sandbox, in the submission's own folder. A cell that raises is recorded and
execution goes on with the next cell (as `Restart & Run All` would not, but as a grader should: a broken question
must not cost the others). Exit codes: 0 executed, 3 the kernel died.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError


def main(argv: list[str]) -> int:
    source, target = Path(argv[0]), Path(argv[1])
    nb = nbformat.read(source, as_version=4)
    client = NotebookClient(nb, timeout=None, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(source.parent)}})
    try:
        client.execute()
    except DeadKernelError as err:
        print(f"kernel died: {err}", file=sys.stderr)
        nbformat.write(nb, target)
        return 3
    nbformat.write(nb, target)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
