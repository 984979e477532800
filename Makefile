# Two commands: `make demo` and `make test`. Each creates/refreshes .venv idempotently.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: demo test venv validate model bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstall only when the project's own install files change.
$(STAMP): $(BIN)/python pyproject.toml Makefile
	$(BIN)/python -m pip install -q --upgrade pip
	# The CPU build first: a bare torch requirement would pull GBs of CUDA wheels.
	$(BIN)/python -m pip install -q "torch==2.13.0"
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP) model
	$(BIN)/spinflow validate
	$(BIN)/spinflow demo evals/demo_conversation.txt --trace-db .spinflow/demo.duckdb --show-turn 2
	$(BIN)/spinflow eval dialogues evals/dialogues/happy_path.yaml evals/dialogues/ready_buyer.yaml --workers 2 --failures 3

test: $(STAMP)
	$(BIN)/python -m pytest

# The semantic stage's model, trained from the taxonomy's own examples (cached by their hash).
model: $(STAMP)
	$(BIN)/spinflow train

validate: $(STAMP)
	$(BIN)/spinflow validate

bench: $(STAMP)
	$(BIN)/python benchmarks/engine_overhead.py

clean:
	rm -rf $(VENV) .spinflow
