# Two front-door targets: `make demo` and `make test`. Both create .venv and install into it.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test lint typecheck unit core interop bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	bash scripts/ensure-system-libs.sh
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: install
	$(BIN)/tracker-annotate demo --out demo-out

lint: install
	$(BIN)/ruff check tracker_annotate tests benchmarks sample_videos
	$(BIN)/ruff format --check tracker_annotate tests benchmarks sample_videos

typecheck: install
	$(BIN)/mypy

unit: install
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q

# Our exports read by Datumaro's importers. Datumaro pins opencv-python-headless, which
# would replace our contrib cv2, so it gets its own venv (our package without its deps).
IVENV := .venv-interop
$(IVENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(IVENV)
	$(IVENV)/bin/python -m pip install --quiet --upgrade pip
	$(IVENV)/bin/python -m pip install --quiet 'datumaro>=1.13,<2' pytest pytest-timeout filterpy scipy tqdm
	$(IVENV)/bin/python -m pip install --quiet --no-deps -e .
	touch $(IVENV)/.installed

interop: $(IVENV)/.installed
	TA_REQUIRE_INTEROP=1 $(IVENV)/bin/python -m pytest -q -p no:cacheprovider -o addopts= \
		tests/io/formats/test_interop.py

# The core install alone (`pip install tracker_annotate`: no PyQt6, no matplotlib) with the
# Qt-free test tools: the CLI's and the app layer's tests must pass there.
CVENV := .venv-core
$(CVENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(CVENV)
	$(CVENV)/bin/python -m pip install --quiet --upgrade pip
	$(CVENV)/bin/python -m pip install --quiet -e '.[test]'
	# filterpy 1.4.5 declares matplotlib (for its plotting helpers) though its Kalman
	# filter never imports it: removed here, so these tests prove nothing of ours needs it
	$(CVENV)/bin/python -m pip uninstall --quiet --yes matplotlib
	touch $(CVENV)/.installed

core: $(CVENV)/.installed
	TA_REQUIRE_CORE_INSTALL=1 $(CVENV)/bin/python -m pytest -q -p no:cacheprovider \
		tests/cli tests/app tests/test_layers.py

test: lint typecheck unit core interop

clean:
	rm -rf $(VENV) $(IVENV) $(CVENV) demo-out .pytest_cache .mypy_cache .ruff_cache
