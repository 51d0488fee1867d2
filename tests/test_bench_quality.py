"""``bench quality`` end to end on one tiny world: every scorer is scored on the same test needs, with the ratios."""

import pytest

from bench.bench_quality import BASELINES, run, variants
from features.schema import SCHEMA


def test_variants_add_feature_groups_that_exist_in_the_schema():
    groups = {f.group for f in SCHEMA.features}
    chosen = variants()
    assert chosen["text only"].groups == ["text"]
    for name, v in chosen.items():
        assert v.groups is None or set(v.groups) <= groups, name
    assert chosen["before issue 10"].before and chosen["before issue 10"].groups is None


@pytest.mark.slow
def test_bench_quality_on_a_tiny_world():
    world, mean, *scorers = run(seeds=(3,), talents=400, encoder=None)
    assert world["bench"] == "quality.world" and mean["bench"] == "quality.mean"
    ndcg = {row["size"]: row["seed 3"] for row in scorers}
    assert set(ndcg) == {"learned", "ceiling", *BASELINES, *variants()}
    assert all(0 <= v <= 1 for v in ndcg.values()) and all(row["mean"] == row["seed 3"] for row in scorers)
    best, value = world["best_baseline"].split()
    assert float(value) == max(ndcg[b] for b in BASELINES if b != "random") == ndcg[best]
    assert world["vs_best"] == pytest.approx(world["learned"] / ndcg[best], abs=2e-3)
    assert world["vs_ceiling"] == pytest.approx(world["learned"] / world["ceiling"], abs=2e-3)
    assert isinstance(world["ok"], bool) and mean["ok"] == world["ok"]
