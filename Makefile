# Two front-door targets: `make demo` and `make test`. Both create .venv and install into it.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test lint typecheck unit bench clean

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

test: lint typecheck unit

clean:
	rm -rf $(VENV) demo-out .pytest_cache .mypy_cache .ruff_cache
