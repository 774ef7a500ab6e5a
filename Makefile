# The two commands users rely on: `make run` and `make test`. Both create .venv when missing.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test venv default-model clean

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# numpy first: nsgt builds without isolation against the numpy already installed.
	$(BIN)/pip install -q "numpy>=1.24,<2" "setuptools>=68" wheel cython
	$(BIN)/pip install -q --no-build-isolation nsgt==0.19
	# tinysoundfont declares pyaudio, which does not build here and is not needed for rendering.
	$(BIN)/pip install -q --no-deps tinysoundfont==0.3.7
	$(BIN)/pip install -q -e ".[gui,test]"
	touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	$(BIN)/glissando gui

test: $(STAMP)
	$(BIN)/python -m pytest -q tests

# Rebuilds the shipped default model from scratch (see models/default/MODEL_CARD.md).
default-model: $(STAMP)
	$(BIN)/glissando make-dataset --soundfont /usr/share/sounds/sf2/FluidR3_GM.sf2 --preset default --out data/fluidr3
	$(BIN)/glissando train --data data/fluidr3 --out models/default --epochs 100 --device auto

clean:
	rm -rf $(VENV) build *.egg-info
