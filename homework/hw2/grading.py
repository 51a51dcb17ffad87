"""How the course's generic grader (tools/autograder.py) grades HW2: everything it needs to know about this
homework, so that a new homework is a new folder with its own ``grading.py``, not a change to the grader.

The grader reads these names:
* ``NOTEBOOK``: the master is ``homework/hw2/<NOTEBOOK>.ipynb`` (otter-grader's assign format), the student
  notebook ``notebooks/<NOTEBOOK>.ipynb``.
* ``CHECKS``: the trusted half of the hidden tests, run only by the grader, never with student code. It defines
  ``make_inputs(mode, secret=...) -> (inputs, secrets)`` (the probes get the inputs; the secrets, e.g. the hidden
  test masks, stay with the checks), ``CHECKS`` (objects with ``question`` and ``points``),
  ``check_all(outputs, inputs, secrets, mode) -> [{"name", "question", "points", "max", "passed", "message"}]``
  and ``reference_uses(code_cell_sources) -> {question: why it earns 0}``.
* ``PROBES``: the untrusted half, a script run in the sandbox in a fresh process:
  ``python PROBES SUBMISSION.ipynb INPUTS.npz STATE_DIR OUT_DIR`` writes ``OUT_DIR/outputs.json`` and
  ``OUT_DIR/outputs.npz`` (no pickles).
* ``EXPORT_CELL``: the code cell the grader appends to the submission; ``{state!r}`` is the folder it saves into
  (read back only as plain files, by the probes).
* ``REQUIREMENTS``: what the Gradescope image installs (pip requirement lines) besides the grader's own needs.
* ``LIMITS``: per submission (see tools/sandbox.py's ``Limits``); ``make grade``'s options override them.
"""

NOTEBOOK = "hw2_unet_segmentation"
CHECKS = "hw2_hidden.py"
PROBES = "hw2_probes.py"

EXPORT_CELL = '''# Added by the grader: save what the hidden tests evaluate (the trained model and test_mean_iou).
import json as _grader_json
import math as _grader_math
import pathlib as _grader_path

import torch as _grader_torch

_grader_state = _grader_path.Path({state!r})
_grader_state.mkdir(exist_ok=True)
try:
    _grader_torch.save({{k: v.detach().cpu() for k, v in model.state_dict().items()}}, _grader_state / "model.pt")
except Exception as _grader_error:
    print("grader: could not save `model`:", repr(_grader_error))
try:
    _grader_reported = {{"type": type(test_mean_iou).__module__ + "." + type(test_mean_iou).__qualname__,
                        "python_float": isinstance(test_mean_iou, float)}}
    try:  # a number of any kind (float, numpy float, 0-d tensor) is saved as the number it is
        _grader_number = float(test_mean_iou)
        _grader_reported["test_mean_iou"] = _grader_number if _grader_math.isfinite(_grader_number) else None
    except Exception:  # not a number at all: what it is, for the feedback
        _grader_reported["test_mean_iou"] = repr(test_mean_iou)[:200]
    (_grader_state / "reported.json").write_text(_grader_json.dumps(_grader_reported))
except Exception as _grader_error:
    print("grader: could not save `test_mean_iou`:", repr(_grader_error))
'''

REQUIREMENTS = ["course-utils @ git+https://github.com/dl-course/conv-autoencoders@main", "otter-grader>=7,<8"]

LIMITS = {"timeout_s": 300.0, "memory_bytes": 6 * 1024**3, "tmpfs_bytes": 1024**3, "disk_bytes": 2 * 1024**3}
