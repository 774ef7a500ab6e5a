# The two commands users rely on: `make run` and `make test`. Both create .venv when missing.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint fuzz venv default-model model-card perceptual-comparison clean wheel bundle bundle-smoke

$(STAMP): pyproject.toml setup.py Makefile
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# numpy first: nsgt builds without isolation against the numpy already installed.
	$(BIN)/pip install -q "numpy>=1.24,<2" "setuptools>=77" wheel cython
	$(BIN)/pip install -q --no-build-isolation nsgt==0.19
	# tinysoundfont declares pyaudio, which does not build here and is not needed for rendering.
	$(BIN)/pip install -q --no-deps tinysoundfont==0.3.7
	$(BIN)/pip install -q -e ".[gui,test]"
	touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	$(BIN)/glissando gui

# Style (ruff), layers (import-linter) and types (mypy on core; its level is in pyproject.toml), then the suite.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest -q tests

# The fuzzers of tests/core/test_fuzz.py (note strings, MIDI, WAV and model files), nightly-style: FUZZ_EXAMPLES
# examples each instead of make test's 500 (a tenth of them for whole transcriptions), with what they found.
FUZZ_EXAMPLES ?= 5000
fuzz: $(STAMP)
	GLISSANDO_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/python -m pytest -q tests/core/test_fuzz.py --hypothesis-show-statistics

# The training data: every note of 14 instruments' full ranges at pp / mf / ff from the four banks allowed
# for training (FluidR3_GM, the csound GM bank, TimGM6mb, GeneralUser GS), each once as the bank gives it
# and once through the audio augmentation (vibrato, room, EQ, noise).
DATA := data/banks4
DEFAULT_EPOCHS := 16
LOSO_EPOCHS := 8

$(DATA)/notes.json: | $(STAMP)
	$(BIN)/glissando make-dataset --training-banks --variations 1 --frames-per-note 8 --out $(DATA)

# Rebuilds the shipped default model from scratch (see models/default/MODEL_CARD.md). An interrupted run
# (its checkpoint newer than the model file) continues from models/default/checkpoint.pt.
default-model: $(DATA)/notes.json
	$(BIN)/glissando train --data $(DATA) --out models/default --epochs $(DEFAULT_EPOCHS) --device auto \
		$$(test models/default/checkpoint.pt -nt models/default/model.safetensors && echo --resume)

# The card's numbers, each from a command: the test groups, then leave-one-source-out (one model per
# left-out bank under runs/loso; models already trained are evaluated again, not retrained), then the
# card written from their JSON.
model-card: $(DATA)/notes.json
	$(BIN)/glissando evaluate --model models/default --data $(DATA) --json models/default/evaluation.json > /dev/null
	$(BIN)/glissando loso --data $(DATA) --out runs/loso --epochs $(LOSO_EPOCHS) --rescore
	cp runs/loso/loso.json models/default/loso.json
	$(BIN)/glissando model-card --model models/default --evaluation models/default/evaluation.json \
		--loso models/default/loso.json -o models/default/MODEL_CARD.md --command "make default-model model-card" \
		$$(test -f models/default/perceptual.json && echo --perceptual models/default/perceptual.json)

# The card's section on the perceptual term (seed 003): the leave-one-source-out recipe with GeneralUser GS
# left out, trained without it and with weight PERCEPTUAL_WEIGHT; their labels, spaces and transfers
# compared (about 30 min on 2 cores). Run it before model-card.
PERCEPTUAL_WEIGHT := 30
perceptual-comparison: $(DATA)/notes.json
	for w in 0 $(PERCEPTUAL_WEIGHT); do \
		$(BIN)/glissando loso --data $(DATA) --out runs/loso_p$$w --sources GeneralUserGS --epochs $(LOSO_EPOCHS) \
			--perceptual $$w && \
		$(BIN)/python bench/transfer.py --model runs/loso_p$$w/GeneralUserGS --bank GeneralUserGS \
			--json runs/loso_p$$w/transfer.json || exit 1; \
	done
	$(BIN)/python bench/perceptual.py --reference runs/loso_p0/GeneralUserGS \
		--model runs/loso_p$(PERCEPTUAL_WEIGHT)/GeneralUserGS --json models/default/perceptual.json

# The wheel `pip install .` installs (setup.py lists its packages and data), into dist/.
wheel: $(STAMP)
	rm -rf build/lib build/bdist.*
	$(BIN)/pip wheel -q --no-deps --no-build-isolation --no-index -w dist .

# A one-folder PyInstaller bundle, dist/glissando/glissando (about 5 min on 2 cores, 880 MB), then its smoke test.
# Not part of `make test`. See packaging/README.md.
bundle: $(STAMP)
	$(BIN)/python -c "import PyInstaller" 2>/dev/null || $(BIN)/pip install -q "pyinstaller>=6.11"
	$(BIN)/pyinstaller --noconfirm --log-level WARN --distpath dist --workpath build/pyinstaller packaging/glissando.spec
	$(MAKE) bundle-smoke

# The bundle's CLI transcribes the rendered demo melody and its window saves a screenshot (SMOKE_RUNS=3: timed).
bundle-smoke:
	bash packaging/smoke_test.sh dist/glissando/glissando

clean:
	rm -rf $(VENV) build dist *.egg-info
