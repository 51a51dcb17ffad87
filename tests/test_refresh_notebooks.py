"""tools.refresh_notebooks: a notebook whose kernel drops a cell's reply is run again, not waited on for ever."""

import nbformat
import pytest
from nbclient.exceptions import CellTimeoutError

from tools import refresh_notebooks


class FakeClient:
    """Stands in for nbclient.NotebookClient: the first `hangs` executions time out, later ones fill an output."""

    calls = 0
    hangs = 0

    def __init__(self, nb, **kwargs):
        self.nb = nb

    def execute(self):
        FakeClient.calls += 1
        if FakeClient.calls <= FakeClient.hangs:
            raise CellTimeoutError("no reply")
        self.nb.cells[0].outputs = [nbformat.v4.new_output("stream", text=f"run {FakeClient.calls}\n")]


@pytest.fixture
def notebook(tmp_path, monkeypatch):
    path = tmp_path / "x.ipynb"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(1)")])
    nbformat.write(nb, path)
    monkeypatch.setattr(refresh_notebooks, "NotebookClient", FakeClient)
    FakeClient.calls = 0
    return path


def test_a_dropped_reply_runs_the_notebook_again_and_stores_the_good_run(notebook):
    FakeClient.hangs = 1
    refresh_notebooks.refresh(notebook, timeout_s=1, attempts=3)
    assert FakeClient.calls == 2
    assert nbformat.read(notebook, as_version=4).cells[0].outputs[0].text == "run 2\n"


def test_a_notebook_that_keeps_hanging_raises_after_the_last_attempt_and_is_left_as_it_was(notebook):
    FakeClient.hangs = 5
    before = notebook.read_text()
    with pytest.raises(CellTimeoutError):
        refresh_notebooks.refresh(notebook, timeout_s=1, attempts=3)
    assert FakeClient.calls == 3
    assert notebook.read_text() == before
