# Two commands: `make figures` and `make test`. Each creates .venv and installs the package
# into it when it is missing or older than pyproject.toml.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
EXTRAS ?= dev,digits,dask,mnist

AMAZON_OUT ?= build/figures-amazon

.PHONY: all figures figures-quick figures-amazon test bench bench-advise bench-extrapolate bench-prediction setup clean

all: test

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[$(EXTRAS)]'
	@touch $(STAMP)

setup: $(STAMP)

figures: $(STAMP)
	$(BIN)/rmtsynth sweep configs/*.yaml --out figures

figures-quick: $(STAMP)
	$(BIN)/rmtsynth sweep configs/*.yaml --out $${OUT:-build/figures-quick} --quick

# The paper's Amazon experiment reads feature files the user points configs/amazon/*.yaml at.
figures-amazon: $(STAMP)
	$(BIN)/rmtsynth sweep configs/amazon/*.yaml --out $(AMAZON_OUT) $(SWEEP_FLAGS)

test: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py --out benchmarks/results.md
	$(BIN)/python benchmarks/bench_dask.py --out benchmarks/bench_dask.md
	$(BIN)/python benchmarks/bench_generations.py --out benchmarks/generations.md
	$(BIN)/python benchmarks/bench_mnist.py --out benchmarks/mnist.md
	OMP_NUM_THREADS=1 $(BIN)/python benchmarks/bench_speed.py --out benchmarks/speed.md

# The advisor's accuracy targets on data it was not tuned on, and its timings (about 25 minutes).
bench-advise: $(STAMP)
	$(BIN)/python benchmarks/bench_advise.py --out benchmarks/advise.md

# The advisor's theory answers (another n, a verifier not yet built, m beyond the pool) against
# pipelines trained on the rows they stand for, on the same scenarios (about 10 minutes).
bench-extrapolate: $(STAMP)
	nice -n 5 $(BIN)/python benchmarks/bench_extrapolate.py --workers 2 --out benchmarks/extrapolate.md

# The real-data prediction targets (about 20 minutes; the Amazon rows need its features beside the project).
bench-prediction: $(STAMP)
	$(BIN)/python benchmarks/bench_prediction.py --out benchmarks/prediction_targets.md

clean:
	rm -rf $(VENV) build .pytest_cache .rmtsynth-cache
