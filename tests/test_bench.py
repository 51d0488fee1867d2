"""Benchmarks are not tests, but they must keep importing: a renamed function should fail here, not in `make bench`."""

import importlib
from pathlib import Path

import pytest

BENCHES = sorted(p.stem for p in (Path(__file__).resolve().parents[1] / "bench").glob("bench_*.py"))


@pytest.mark.parametrize("name", BENCHES)
def test_bench_module_imports_and_has_run(name):
    module = importlib.import_module(f"bench.{name}")
    assert callable(module.run)


def test_goldstandard_loss_weights_misordered_pairs_by_the_rating_gap():
    from bench.bench_goldstandard import loss

    truth = {"r": {"a": 5.0, "b": 3.0, "c": 1.0}}  # pair weights: a-b 2, a-c 4, b-c 2
    assert loss(truth, {"r": {"a": 3, "b": 2, "c": 1}}) == 0.0
    assert loss(truth, {"r": {"a": 1, "b": 2, "c": 3}}) == 1.0
    assert loss(truth, {"r": {"a": 0, "b": 0, "c": 0}}) == 0.5  # ties count half
    assert loss(truth, {"r": {"a": 3, "b": 1, "c": 2}}) == 2 / 8  # only b-c (weight 2) mis-ordered
