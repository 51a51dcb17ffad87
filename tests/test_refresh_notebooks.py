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


def test_make_refresh_runs_every_lecture_but_never_the_unfinished_student_homework(monkeypatch):
    lectures = refresh_notebooks.lectures()
    names = [p.name for p in lectures]
    assert "01_convolution_by_hand.ipynb" in names and len(names) >= 10
    assert not [n for n in names if n.startswith("hw")], names
    ran = []
    monkeypatch.setattr(refresh_notebooks, "refresh", lambda path: ran.append(path) or 0.0)
    for name, value in {"COURSE_FAST": "1", "TQDM_DISABLE": "0", "PYTHONWARNINGS": ""}.items():
        monkeypatch.setenv(name, value)  # main() sets them for the kernels; restored after the test
    assert refresh_notebooks.main([]) == 0
    assert ran == lectures


def test_asking_to_refresh_the_student_homework_says_why_not_and_runs_nothing(monkeypatch, capsys):
    ran = []
    monkeypatch.setattr(refresh_notebooks, "refresh", lambda path: ran.append(path) or 0.0)
    status = refresh_notebooks.main(["notebooks/01_convolution_by_hand.ipynb", "notebooks/hw2_unet_segmentation.ipynb"])
    assert status == 2 and ran == []
    assert "make homework" in capsys.readouterr().err
