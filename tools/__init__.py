"""Maintainers' tools, run from the repository root as ``python -m tools.<module>`` (the Makefile's targets do).

Modules: ``refresh_notebooks`` (re-execute lectures in full mode and store their outputs; ``make refresh``),
``sync_notebooks`` (the Colab badge and setup cell of every notebook; ``make sync``), ``build_slides`` (offline
reveal.js decks, with its nbconvert template in ``slides_template/``; ``make slides``), ``build_site`` (the course
website, Sphinx configuration in ``site/``; ``make site``), ``benchmark`` (full-mode
measurements into BENCHMARKS.md; ``make benchmark``), ``autograder`` (the homework's student notebook, autograder
zip and class grading; ``make homework``, ``make grade``), ``gradescope`` (the same grading inside the autograder
zip on Gradescope, and its local rehearsal; ``make gradescope``), ``sandbox`` (running untrusted code: bubblewrap,
a user of its own, limits, killing; both grading paths), ``notebook_runner`` (the script the autograder runs
inside the sandbox, by its path) and
``notebook_code`` (a lecture's exported cells and stored outputs, for the tests and the benchmark; imported).
Nothing here ships to students: the package that installs in Colab is ``course_utils``. ``autograder``,
``gradescope``, ``sandbox`` and ``notebook_runner`` (with this file) also ship in a homework's autograder zip.
"""
