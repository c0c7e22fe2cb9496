# The two commands of the README:
#   make run   set up and run the main job
#   make test  set up and run the tests (what CI runs)
.PHONY: setup services model run test lint docs bench-intake

setup:
	scripts/setup

services:
	scripts/services

# The CPU vLLM with SmolLM2 that the integration tests start (a venv of its own), and peft
# in that venv for the LoRA round trip (deploy/finetune).
model:
	deploy/cpu-model/setup.sh
	deploy/finetune/setup.sh

run: setup services
	scripts/run

lint: setup
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy
	.venv/bin/lint-imports

# Test files run in parallel (pytest-xdist; a file's tests stay on one worker). Each worker
# has its own PostgreSQL database and Redis database; the CPU vLLM is started once for all.
test: setup services model lint
	.venv/bin/pytest -q -n $(TEST_WORKERS) --dist loadfile \
		--durations=15 --cov --cov-report=term:skip-covered --cov-fail-under=$(COV_FLOOR)

COV_FLOOR ?= 75
TEST_WORKERS ?= auto

bench-intake: setup services
	.venv/bin/python -m bench.intake --rate 200 --seconds 20

docs: setup
	.venv/bin/python -m bot.ops.configdoc README.md
