# The README's two commands: `make run` and `make test`. Both install first (once).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install run test lint bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch first: 2.13.0 is a CPU build on local disk; anything else pulls a CUDA build.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

run: install
	$(BIN)/archivist start

# 3 workers on 2 cores: the bot, feed and sandbox tests spend most of their time waiting
test: install
	$(BIN)/python -m pytest -q -p no:cacheprovider -n 3

lint: install
	$(BIN)/ruff check src bot tests benchmarks
	$(BIN)/ruff format --check src bot tests benchmarks
	$(BIN)/mypy src bot

bench: install
	$(BIN)/python benchmarks/quality.py

clean:
	rm -rf $(VENV) data/store
