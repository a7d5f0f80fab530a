# hf_datavalue developer commands. Every target creates/uses the local virtual environment in .venv.
# torch is installed first and pinned so pip never resolves a CUDA build on its own.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH_SPEC ?= torch==2.13.0
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha256sum | cut -c1-12)
export PYTHONPATH := $(CURDIR)/src:$(PYTHONPATH)
export HF_HUB_DISABLE_TELEMETRY := 1
export HF_HUB_DISABLE_UPDATE_CHECK := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install demo test quality style bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH_SPEC)"
	$(PY) -m pip install -q -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

## The main job on built-in data: LAVA on scikit-learn digits with injected label noise, then a local Hub round trip.
demo: install
	HF_HUB_OFFLINE=1 $(PY) examples/demo.py --output-dir outputs/demo

quality: install
	$(VENV)/bin/ruff check src tests examples benchmarks
	$(VENV)/bin/ruff format --check src tests examples benchmarks
	$(VENV)/bin/mypy

style: install
	$(VENV)/bin/ruff check --fix src tests examples benchmarks
	$(VENV)/bin/ruff format src tests examples benchmarks

test: install quality
	HF_HUB_OFFLINE=1 $(PY) -m pytest tests -q -x --durations=15

## Benchmark peers never enter $(VENV): each gets its own venv under .bench-venvs/ (benchmarks/peer_venvs.sh), and
## check_env.py fails the target if a peer leaked in or the library's stack (numpy 2, pyarrow, torch) broke.
bench: install
	$(PY) -m pip install -q -e ".[bench]"
	TORCH_SPEC="$(TORCH_SPEC)" bash benchmarks/peer_venvs.sh
	$(PY) benchmarks/check_env.py
	bash benchmarks/run_all.sh
	$(PY) benchmarks/check_env.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache outputs
