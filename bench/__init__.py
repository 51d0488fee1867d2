"""Benchmarks: each ``bench/bench_*.py`` has ``run() -> list[dict]``; ``python -m bench`` runs them all."""
