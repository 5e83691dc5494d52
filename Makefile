# The two commands a newcomer needs (see README.md).
.PHONY: start test setup bench

start:
	bash scripts/start.sh

test:
	bash scripts/test.sh

setup:
	bash scripts/setup.sh --test

bench:
	.venv/bin/python bench/export.py
