"""Maintainers' tools, run from the repository root as ``python -m tools.<module>`` (the Makefile's targets do).

Modules: ``refresh_notebooks`` (re-execute lectures in full mode and store their outputs; ``make refresh``),
``sync_notebooks`` (the Colab badge and setup cell of every notebook; ``make sync``), ``build_slides`` (offline
reveal.js decks, with its nbconvert template in ``slides_template/``; ``make slides``), ``build_site`` (the course
website, Sphinx configuration in ``site/``; ``make site``), ``benchmark`` (full-mode
measurements into BENCHMARKS.md; ``make benchmark``), ``autograder`` (the homework's student notebook, autograder
zip and class grading; ``make homework``, ``make grade``), ``gradescope`` (the same grading inside the autograder
zip on Gradescope, and its local rehearsal; ``make gradescope``), ``sandbox`` (running untrusted code: bubblewrap,
a user of its own, limits, killing; both grading paths), ``notebook_runner`` (the script the autograder runs
inside the sandbox, by its path),
``notebook_code`` (a lecture's exported cells, prose and stored outputs, for the tests and the benchmark; imported)
and ``seed_claims`` (the benchmark's multi-seed rows, which hold a lecture's comparisons; imported by the tests).
Releases: ``release`` (a course version in every setup cell and badge, and the checkpoints' hashes; ``make release
VERSION=...``) and ``student_edition`` (the public student repository, with its template in ``student_template/``;
``make student-edition OUT=...``).
Nothing here ships to students: the package that installs in Colab is ``course_utils``. ``autograder``,
``gradescope``, ``sandbox`` and ``notebook_runner`` (with this file) also ship in a homework's autograder zip.
"""
