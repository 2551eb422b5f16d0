"""Benchmarks of the bot (run from the repository root, e.g. `python -m bench.dialog`)."""
