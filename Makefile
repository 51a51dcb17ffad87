# Task runner of the course. The README's two commands are `make lab` and `make test`;
# everything else here is for maintainers.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Tests run in fast mode on the data that ships with the packages (no downloads).
TEST_ENV := COURSE_FAST=1 COURSE_OFFLINE=1 MPLBACKEND=Agg PYTHONWARNINGS=ignore::DeprecationWarning:jupyter_client

.PHONY: lab test install lint unit notebooks test-notebook refresh sync release student-edition homework grade gradescope \
	benchmark slides site clean

## Install everything into .venv and open JupyterLab on notebooks/.
lab: install
	$(BIN)/jupyter lab notebooks/

## Install everything into .venv and run the whole test suite (lint, unit tests, notebooks in fast mode).
test: install
	@start=$$(date +%s); \
	$(MAKE) --no-print-directory lint && \
	$(TEST_ENV) $(BIN)/python -m pytest --nbval-lax --nbval-current-env --nbval-cell-timeout=600 \
		--durations=10 tests notebooks; status=$$?; \
	echo "Test suite wall time: $$(( $$(date +%s) - start )) s"; exit $$status

# (Re)install when pyproject.toml changes. torch and torchvision are unpinned: pip keeps what is installed.
install: $(STAMP)
$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[lab,dev]"
	touch $(STAMP)

lint: install
	$(BIN)/ruff check course_utils tests tools notebooks

## The fast tests, for a quick check while editing (no notebooks, grading, training or browser): make unit
unit: install
	$(TEST_ENV) $(BIN)/python -m pytest -m "not slow and not browser" tests

## All notebooks under nbval in fast mode: make notebooks
notebooks: install
	$(TEST_ENV) $(BIN)/python -m pytest --nbval-lax --nbval-current-env --nbval-cell-timeout=600 notebooks

## One notebook's checks: make test-notebook NB=notebooks/01_convolution_by_hand.ipynb
test-notebook: install
	$(TEST_ENV) $(BIN)/python -m pytest --nbval-lax --nbval-current-env --nbval-cell-timeout=600 $(NB) \
		tests/test_$(basename $(notdir $(NB))).py

## Re-execute notebooks in full mode and store their outputs: make refresh [NB=notebooks/01_....ipynb]
refresh: install
	$(BIN)/python -m tools.refresh_notebooks $(NB)

## Rewrite every notebook's setup cell and Colab badge (and README's Colab links) from course_utils/colab.py
sync: install
	$(BIN)/python -m tools.sync_notebooks

## Cut a course release (a git tag, e.g. one per term): setup cells, badges and checkpoint hashes name VERSION:
## make release VERSION=2025-fall
release: install
	test -n "$(VERSION)" || { echo "usage: make release VERSION=2025-fall (a git tag name; README, 'Releases')"; exit 2; }
	$(BIN)/python -m tools.release "$(VERSION)"

## Write the student repository (no master, hidden tests, probes, secrets or autograder): make student-edition OUT=dir
student-edition: install
	test -n "$(OUT)" || { echo "usage: make student-edition OUT=folder (empty, or a clone of the student repository)"; exit 2; }
	$(BIN)/python -m tools.student_edition "$(OUT)"

## Instructor: regenerate HW2's student notebook, public tests and autograder zip (checks the solution scores 15/15;
## draws a new secret for the hidden test data, kept in the zip and homework/hw2/dist/ only)
homework: install
	$(BIN)/python -m tools.autograder assign hw2

## Instructor: grade a folder of submitted notebooks with the zip `make homework` built, each in a bubblewrap
## sandbox; run again to resume; never rewrites a committed file:
## make grade SUBMISSIONS=path/to/folder [MODE=fast] [REGRADE=1] [SANDBOX=no]
grade: install
	test -d "$(SUBMISSIONS)" || { echo "usage: make grade SUBMISSIONS=folder-of-notebooks"; exit 2; }
	$(BIN)/python -m tools.autograder grade hw2 "$(SUBMISSIONS)" --out grades --mode $(or $(MODE),full) \
		$(if $(REGRADE),--regrade,) $(if $(filter no,$(SANDBOX)),--no-sandbox,)

## Instructor (as root): rehearse the Gradescope autograder locally, each notebook as Gradescope grades it:
## make gradescope SUBMISSIONS=path/to/folder [MODE=fast]  (results in grades/gradescope/)
gradescope: install
	test -d "$(SUBMISSIONS)" || { echo "usage: make gradescope SUBMISSIONS=folder-of-notebooks"; exit 2; }
	$(BIN)/python -m tools.gradescope homework/hw2/dist/autograder/hw2-autograder.zip "$(SUBMISSIONS)"/*.ipynb \
		--out grades/gradescope --mode $(or $(MODE),full)

## Measure every lecture in full mode (and the HW2 recipes, the data pipeline) and write BENCHMARKS.md
benchmark: install
	$(BIN)/python -m tools.benchmark $(if $(ONLY),--only $(ONLY),)

## Lecture slide decks that work offline (reveal.js etc. from npm, copied beside them): make slides [NB=...]
slides: install
	$(BIN)/python -m tools.build_slides _build/slides $(NB)

## The course website, offline, from the stored outputs (Sphinx + myst-nb; MathJax from npm): _build/site/index.html
site: install
	$(BIN)/python -m tools.build_site _build/site

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
