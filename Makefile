# nirbridge: `make demo` and `make test` each set everything up from a fresh clone.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.nirbridge-installed
TORCH  := torch==2.13.0
NORSE  := norse==1.1.0
# One thread (timings and CI), and the venv's tools on PATH: pyNN.neuron compiles its mechanisms
# with the venv's nrnivmodl on first import.
RUN    := PATH="$(CURDIR)/$(VENV)/bin:$$PATH" OMP_NUM_THREADS=1

.PHONY: install demo test test-all lint support-table benchmarks clean

install: $(STAMP)

# Reinstalls only when the project's requirements change. Norse goes in with --no-deps: its
# torchvision requirement would replace the CPU torch build with another torch version.
$(STAMP): pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet $(TORCH)
	$(PIP) install --quiet -e ".[all,dev]"
	$(PIP) install --quiet --no-deps $(NORSE)
	touch $(STAMP)

demo: install
	$(RUN) $(PY) examples/paper_lif.py

test: install
	$(PY) -m ruff check src converters tests benchmarks examples scripts
	$(RUN) $(PY) -m pytest -q

test-all: install
	$(RUN) $(PY) -m pytest -q -m ""

lint: install
	$(PY) -m ruff check src converters tests benchmarks examples scripts
	$(PY) -m ruff format --check src converters tests benchmarks examples scripts

support-table: install
	$(PY) scripts/support_table.py --write

benchmarks: install
	$(RUN) $(PY) benchmarks/reference.py
	$(RUN) $(PY) benchmarks/pynn_build.py
	$(RUN) $(PY) benchmarks/kernels.py
	$(RUN) $(PY) benchmarks/eventprop_memory.py

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info
