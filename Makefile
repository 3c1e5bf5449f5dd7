# SymLab: the user's interface. Every target builds .venv when it is missing or stale.
#   make test [P=<project>]          fast tests (all, or one project)
#   make test-slow [P=<project>]     slow tests and benchmarks
#   make reproduce P=<project> [SCALE=smoke|cpu|paper]
#   make report                      REPRODUCTIONS.md and the README status table
#   make lint                        ruff

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
LOCK   := requirements/constraints.txt
STAMP  := $(VENV)/.installed
SCALE  ?= cpu
P      ?=
# pytest-xdist workers; 0 runs in-process.
JOBS   ?= auto

PROJECT_DIRS := $(patsubst %/pyproject.toml,%,$(wildcard projects/*/pyproject.toml))
PYPROJECTS   := shared/pyproject.toml tools/pyproject.toml $(wildcard projects/*/pyproject.toml)

# CPU rendering for MuJoCo on machines without a GPU display.
export MUJOCO_GL ?= osmesa
export PYOPENGL_PLATFORM ?= osmesa
export WANDB_MODE ?= offline

.PHONY: help venv check-project test test-slow reproduce report lint system-check clean-venv

help:
	@sed -n '1,7p' Makefile | sed 's/^# \{0,1\}//'

venv: $(STAMP)

$(STAMP): $(LOCK) $(PYPROJECTS) Makefile
	@bash tools/check_system.sh
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c $(LOCK) \
		-e "shared[runs,sim,policy,test]" -e tools $(addprefix -e ,$(PROJECT_DIRS)) ruff
	@touch $(STAMP)

check-project:
ifneq ($(P),)
	@test -d projects/$(P) || { echo "no project 'projects/$(P)'; projects: $(notdir $(PROJECT_DIRS))"; exit 2; }
endif

TEST_PATHS = $(if $(P),projects/$(P),shared/tests tools/tests $(PROJECT_DIRS))
XDIST      = $(if $(filter 0,$(JOBS)),,-n $(JOBS) --dist loadfile)

test: $(STAMP) check-project
	$(BIN)/python -m pytest $(XDIST) $(TEST_PATHS)

test-slow: $(STAMP) check-project
	$(BIN)/python -m pytest -m slow -s $(TEST_PATHS)

reproduce: $(STAMP) check-project
	@test -n "$(P)" || { echo "usage: make reproduce P=<project> [SCALE=smoke|cpu|paper]"; exit 2; }
	$(BIN)/python -m $(P).reproduce --scale $(SCALE)
	$(BIN)/python -m symlab_tools.report

report: $(STAMP)
	$(BIN)/python -m symlab_tools.report

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check --diff shared tools $(PROJECT_DIRS) || \
		{ echo "run '$(BIN)/ruff format shared tools projects' to fix formatting"; exit 1; }

system-check:
	@bash tools/check_system.sh

clean-venv:
	rm -rf $(VENV)
