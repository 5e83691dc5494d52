# The two commands a newcomer needs (see README.md), and a few for developers.
.PHONY: start test setup bench

start:
	bash scripts/start.sh

test:
	bash scripts/test.sh

setup:
	bash scripts/setup.sh --test

# Benchmarks print ratios against the raw libraries in the same run (not pass/fail tests).
bench:
	.venv/bin/python bench/export.py
	.venv/bin/python bench/storage.py
	.venv/bin/python bench/environments.py
	.venv/bin/python bench/serving.py
