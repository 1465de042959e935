# Two front-door targets: `make demo` and `make test`. Both create .venv and install into it.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test lint typecheck unit interop bench clean

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

test: lint typecheck unit interop

clean:
	rm -rf $(VENV) $(IVENV) demo-out .pytest_cache .mypy_cache .ruff_cache
