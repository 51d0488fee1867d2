"""Training on a real 2-worker Dask LocalCluster: partitions of whole needs, one booster, same-shape predictions."""

import numpy as np
import pytest
from test_ranker import SIGNAL, synthetic

from matcher.ranker import LambdaRankModel
from matcher.train import dask_client, train


@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster

    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        Client(cluster) as c,
    ):
        yield c


@pytest.mark.slow
def test_dask_training_gives_a_booster_like_local_training(client):
    X, y, g = synthetic(40, seed=0)
    Xv, yv, gv = synthetic(8, seed=1)
    model = LambdaRankModel(n_estimators=40).fit_dask(X, y, g, client=client, eval_set=(Xv, yv), eval_group=gv)
    local = LambdaRankModel(n_estimators=40, n_jobs=1).fit(X, y, g)
    assert model.booster_.num_trees() >= 1 and 1 <= model.best_iteration_ <= 40
    assert model.booster_.current_iteration() == model.best_iteration_
    p = model.predict(Xv)
    assert p.shape == local.predict(Xv).shape == (len(Xv),)
    assert np.corrcoef(p, Xv[:, SIGNAL])[0, 1] > 0.7  # the same known order as local training
    assert len(client.scheduler_info()["workers"]) == 2


@pytest.mark.slow
def test_train_with_a_dask_client_runs_end_to_end(client):
    from partb_world import demo

    d = demo()
    result = train(d.idx, d.world["feedback"], truth=d.truth, dask=client, params={"n_estimators": 60})
    assert result.params["dask"] == "Client"
    assert result.metrics["lambdarank"]["ndcg@10"] > result.metrics["random"]["ndcg@10"]


@pytest.mark.parametrize(("address", "message"), [("", "must be 'local'"), ("10.0.0.5:8786", "needs a protocol")])
def test_bad_dask_addresses_are_named(address, message):
    with pytest.raises(ValueError, match=message), dask_client(address):
        pass
