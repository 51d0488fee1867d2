"""The MLflow registry against a real SQLite store: the gated champion, promote/rollback, and fail-safe loading.

Models are tiny real LightGBM rankers on seeded random rows of the schema's width whose grades follow the first two
features, so a model trained longer on the true grades is measurably better than one trained on shuffled grades.
One store serves the module (creating it runs MLflow's migrations, seconds); each test starts from an empty registry.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import unquote, urlparse

import lightgbm as lgb
import mlflow
import numpy as np
import pytest
from mlflow import MlflowClient
from sklearn.metrics import ndcg_score

from features.schema import FEATURES, SCHEMA, FeatureSchema
from matcher import registry
from matcher.ranker import NO_ENCODER, EncoderId, Scorer
from matcher.registry import CHALLENGER, CHAMPION, MODEL_NAME, ModelMismatch, RegistryError

# MLflow's own use of deprecated pandas and SQLAlchemy APIs, nothing this code can act on.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:mlflow")

F = len(SCHEMA.names)
PER_NEED = 20


def rank_data(seed: int, needs: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.random((needs * PER_NEED, F), dtype=np.float32)
    y = np.digitize(X[:, 0] + 0.3 * X[:, 1], [0.6, 0.9, 1.1, 1.25])  # grades 0..4
    return X, y


X_TRAIN, Y_TRAIN = rank_data(0, 40)
X_HELD, Y_HELD = rank_data(1, 15)
HELD_NEEDS = [f"n{i}" for i in range(15)]


def train(rounds: int, *, shuffle: bool = False, names: list[str] | None = SCHEMA.names) -> lgb.Booster:
    y = np.random.default_rng(2).permutation(Y_TRAIN) if shuffle else Y_TRAIN
    params = {"objective": "lambdarank", "num_leaves": 7, "min_data_in_leaf": 5, "verbose": -1, "seed": 0}
    data = lgb.Dataset(X_TRAIN, y, group=[PER_NEED] * 40, feature_name=names or "auto")
    return lgb.train(params | {"deterministic": True, "num_threads": 1}, data, num_boost_round=rounds)


def held_out_ndcg(predict) -> float:
    """Mean NDCG@10 over the held-out needs (equal-sized groups: one row each for scikit-learn)."""
    scores = np.asarray(predict(X_HELD)).reshape(-1, PER_NEED)
    return float(ndcg_score(Y_HELD.reshape(-1, PER_NEED), scores, k=10))


def score_champion(scorer: Scorer) -> float:
    return held_out_ndcg(scorer.predict)


GOOD, WEAK, BAD = train(30), train(1), train(30, shuffle=True)


USEM3 = EncoderId("usem3", "test-1")


def log(
    booster: lgb.Booster, *, schema: FeatureSchema = SCHEMA, heldout=HELD_NEEDS, encoder=NO_ENCODER, **extra
) -> str:
    ndcg = held_out_ndcg(booster.predict)
    return registry.log_run(
        booster=booster,
        params={"rounds": booster.num_trees()},
        metrics={"lambdarank": {"ndcg@10": ndcg, "map": 0.5}, "random": {"ndcg@10": 0.3}},
        input_example=X_HELD[:5],
        schema=schema,
        heldout_needs=heldout,
        encoder=encoder,
        **extra,
    )


def gate(booster: lgb.Booster, **kwargs) -> registry.GateResult:
    return registry.register_and_gate(log(booster), champion_score_fn=score_champion, **kwargs)


def model_file(model_uri: str) -> Path:
    """The booster file on disk of a logged model (``models:/m-…``)."""
    location = mlflow.get_logged_model(model_uri.removeprefix("models:/")).artifact_location
    return Path(unquote(urlparse(location).path)) / "model.lgb"


def version_file(version: str) -> Path:
    return model_file(MlflowClient().get_model_version(MODEL_NAME, version).source)


def champion() -> str | None:
    return next((v["version"] for v in registry.list_versions() if CHAMPION in v["aliases"]), None)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory):
    """The module's store, created (migrated) once; ``template.db`` in it is a copy of it while still empty."""
    directory = tmp_path_factory.mktemp("models")
    registry.configure(directory)
    MlflowClient().search_experiments()
    shutil.copy(directory / "mlflow.db", directory / "template.db")
    yield directory
    registry.configure()  # back to the default store; configure() does not touch the disk


@pytest.fixture
def reg(store: Path) -> Path:
    """The module's store, with an empty ``talent-ranker``."""
    registry.configure(store)
    client = MlflowClient()
    if client.search_registered_models(f"name='{MODEL_NAME}'"):
        client.delete_registered_model(MODEL_NAME)
    return store


def test_the_toy_models_are_ordered():
    assert held_out_ndcg(GOOD.predict) > held_out_ndcg(WEAK.predict) > held_out_ndcg(BAD.predict)


def test_log_run_records_params_metrics_plots_and_a_signed_model(reg: Path):
    by_kind = {"enclave": {"ndcg@10": 0.9}, "full_time": {"ndcg@10": 0.8}}
    run_id = registry.log_run(
        booster=GOOD,
        params={"rounds": 30},
        metrics={  # the shape matcher.evaluate.evaluate returns
            "lambdarank": {"ndcg@10": 0.85, "map": 0.5, "by_kind": by_kind},
            "bm25": {"ndcg@10": 0.6, "by_kind": {"enclave": {"ndcg@10": 0.6}}},
        },
        input_example=X_HELD[:5],
        encoder=NO_ENCODER,
        gain_curve_data={"lambdarank": [3.0, 5.0, 6.0], "random": [1.0, 1.5, 2.5]},
        heldout_needs=HELD_NEEDS,
    )
    run = MlflowClient().get_run(run_id)
    assert run.data.params["schema_version"] == SCHEMA.version == run.data.tags["schema_version"]
    assert run.data.params["heldout_fingerprint"] == registry.heldout_fingerprint(list(reversed(HELD_NEEDS)))
    assert run.data.params["rounds"] == "30"
    metrics = run.data.metrics
    assert metrics["lambdarank.ndcg_at_10"] == 0.85 and metrics["bm25.ndcg_at_10"] == 0.6
    assert (
        metrics["by_kind.enclave.bm25.ndcg_at_10"] == 0.6 and metrics["by_kind.full_time.lambdarank.ndcg_at_10"] == 0.8
    )
    assert not any(k.startswith("lambdarank.by_kind") for k in metrics)
    run_dir = Path(unquote(urlparse(run.info.artifact_uri).path))
    assert run_dir.is_relative_to(reg / "artifacts")
    for name in ("plots/feature_importance.png", "plots/ndcg_by_kind.png", "plots/gain_curve.png"):
        assert (run_dir / name).read_bytes()[:4] == b"\x89PNG", name
    assert json.loads((run_dir / "schema.json").read_text())["version"] == SCHEMA.version
    assert json.loads((run_dir / "heldout_needs.json").read_text()) == sorted(HELD_NEEDS)
    info = mlflow.models.get_model_info(run.data.tags["talentmatch.model_uri"])
    assert info.signature.inputs.input_names() == SCHEMA.names
    assert info.flavors["lightgbm"]
    # the input example MLflow keeps is synthetic: none of the real feature rows given (talents' data) is in it
    model_dir = model_file(run.data.tags["talentmatch.model_uri"]).parent
    example = mlflow.models.Model.load(str(model_dir)).load_input_example(str(model_dir))
    assert example.shape[1] == F
    assert not any(np.allclose(row, real) for row in example.to_numpy() for real in X_HELD[:5])
    np.testing.assert_array_equal(example.to_numpy(), registry.synthetic_example(F))


def test_log_run_rejects_a_booster_without_the_schema_names_and_a_bad_example(reg: Path):
    with pytest.raises(ValueError, match="do not match schema"):
        log(train(2, names=None))
    with pytest.raises(ValueError, match=rf"expected \(n ≥ 1, {F}\)"):
        registry.log_run(booster=GOOD, params={}, metrics={}, input_example=X_HELD[:5, :3], encoder=NO_ENCODER)


def test_metric_names_are_mlflow_safe_and_reversible():
    assert registry.metric_key("lambdarank.ndcg@10") == "lambdarank.ndcg_at_10"
    assert registry.metric_name("bm25.recall_at_300") == "bm25.recall@300"


def test_first_becomes_champion_worse_challenger_better_champion(reg: Path):
    first = gate(WEAK)
    assert (first.alias, first.champion_before, first.champion_score) == (CHAMPION, None, None)
    assert "no champion" in first.reason
    scorer = registry.load_champion()
    assert scorer is not None and scorer.version == first.version
    np.testing.assert_allclose(scorer.predict(X_HELD), WEAK.predict(X_HELD), rtol=1e-6)

    worse = gate(BAD)
    assert (worse.alias, worse.champion_before) == (CHALLENGER, first.version)
    assert worse.champion_score == pytest.approx(held_out_ndcg(WEAK.predict))
    assert champion() == first.version

    better = gate(GOOD)
    assert (better.alias, better.champion_before) == (CHAMPION, first.version)
    assert better.new_score > better.champion_score
    assert registry.load_champion(previous=scorer).version == better.version
    tags = MlflowClient().get_model_version(MODEL_NAME, better.version).tags
    assert tags["schema_version"] == SCHEMA.version
    assert json.loads(tags["gate"])["decision"] == CHAMPION
    assert json.loads(tags["metrics"]) == {"ndcg@10": pytest.approx(better.new_score), "map": 0.5}


def test_the_margin_must_be_beaten(reg: Path):
    gate(WEAK)
    tie = gate(WEAK)  # the same model scores the same on the same needs: not strictly better
    assert tie.alias == CHALLENGER and tie.new_score == pytest.approx(tie.champion_score)
    gain = held_out_ndcg(GOOD.predict) - held_out_ndcg(WEAK.predict)
    assert gate(GOOD, margin=gain + 0.01).alias == CHALLENGER
    assert gate(GOOD, margin=gain - 0.01).alias == CHAMPION


def test_requiring_an_online_win_holds_an_offline_winner_as_challenger(reg: Path):
    first = gate(WEAK, require_online_win=True)  # no champion yet: nothing to win against online
    assert first.alias == CHAMPION
    better = gate(GOOD, require_online_win=True)
    assert better.alias == CHALLENGER and better.new_score > better.champion_score
    assert "held as challenger until it wins online" in better.reason
    assert champion() == first.version
    assert registry.champion_version(CHALLENGER) == better.version


def test_without_a_score_fn_the_recorded_score_counts_only_on_the_same_heldout_needs(reg: Path):
    registry.register_and_gate(log(WEAK))
    other_needs = registry.register_and_gate(log(GOOD, heldout=["x1", "x2"]))
    assert other_needs.alias == CHALLENGER and "champion_score_fn" in other_needs.reason
    same_needs = registry.register_and_gate(log(GOOD))
    assert same_needs.alias == CHAMPION and "recorded on the same held-out needs" in same_needs.reason
    with pytest.raises(RegistryError, match=r"no metric 'lambdarank\.ndcg@20'.*ndcg@10"):
        registry.register_and_gate(log(GOOD), metric="lambdarank.ndcg@20")
    with mlflow.start_run(experiment_id=mlflow.get_experiment_by_name("talentmatch").experiment_id) as bare:
        pass
    with pytest.raises(RegistryError, match=r"has no model logged by matcher\.registry\.log_run"):
        registry.register_and_gate(bare.info.run_id)


def test_promote_and_rollback_walk_the_champion_history(reg: Path):
    v1, v2 = gate(WEAK).version, gate(GOOD).version
    v3 = gate(BAD).version
    assert champion() == v2
    assert registry.promote(v3) == registry.AliasChange(v3, v2)
    assert registry.rollback() == registry.AliasChange(v2, v3)
    assert registry.rollback() == registry.AliasChange(v1, v2)
    with pytest.raises(RegistryError, match=f"champion {v1} has no previous champion"):
        registry.rollback()
    assert champion() == v1
    with pytest.raises(RegistryError, match=rf"no version '42' \(versions: {v3}, {v2}, {v1}\)"):
        registry.promote("42")


def test_no_champion_loads_nothing_and_cannot_be_rolled_back(reg: Path, caplog):
    with caplog.at_level(logging.WARNING, logger="matcher.registry"):
        assert registry.load_champion() is None
    assert "has no 'champion' alias" in caplog.text
    with pytest.raises(RegistryError, match="no champion to roll back"):
        registry.rollback()


def test_a_version_on_another_schema_gets_no_alias_and_cannot_be_promoted(reg: Path):
    champ = gate(WEAK).version
    old = registry.register_and_gate(log(GOOD, schema=FeatureSchema("0", FEATURES)))
    assert old.alias is None and "schema 0" in old.reason
    with pytest.raises(RegistryError, match="trained on feature schema 0"):
        registry.promote(old.version)
    assert champion() == champ


def test_a_champion_on_another_schema_keeps_the_previous_model(reg: Path, caplog):
    """As after a code upgrade that bumps the schema while the registry still holds an older champion."""
    gate(WEAK)
    working = registry.load_champion()
    old = registry.register_and_gate(log(GOOD, schema=FeatureSchema("0", FEATURES)))
    MlflowClient().set_registered_model_alias(MODEL_NAME, CHAMPION, old.version)
    with caplog.at_level(logging.WARNING, logger="matcher.registry"):
        assert registry.load_champion(previous=working) is working
    assert "trained on feature schema 0" in caplog.text


def test_a_corrupt_champion_keeps_the_previous_model_and_a_broken_new_one_never_replaces_it(reg: Path, caplog):
    first = gate(WEAK)
    working = registry.load_champion()
    second = gate(GOOD)
    version_file(second.version).write_text("not a model")
    with caplog.at_level(logging.WARNING, logger="matcher.registry"):
        assert registry.load_champion(previous=working) is working
        assert registry.load_champion() is None
    assert f"keeping model {first.version}" in caplog.text and "fails to load" in caplog.text

    replaced = gate(WEAK)  # the broken champion counts as none
    assert replaced.alias == CHAMPION and "does not load" in replaced.reason

    run_id = log(GOOD)
    model_file(MlflowClient().get_run(run_id).data.tags["talentmatch.model_uri"]).write_text("")
    broken = registry.register_and_gate(run_id, champion_score_fn=score_champion)
    assert broken.alias is None and "fails to load" in broken.reason
    assert champion() == replaced.version


def test_list_versions_json_shape(reg: Path):
    first, second = gate(WEAK), gate(BAD)
    listed = json.loads(json.dumps(registry.list_versions()))
    assert [v["version"] for v in listed] == [second.version, first.version]
    assert listed[0]["aliases"] == [CHALLENGER] and listed[1]["aliases"] == [CHAMPION]
    row = listed[1]
    assert set(row) == {"version", "aliases", "run_id", "created", "schema_version", "encoder", "metrics", "decision"}
    assert row["schema_version"] == SCHEMA.version and row["decision"] == CHAMPION and row["encoder"] == "none"
    assert row["metrics"] == {"ndcg@10": pytest.approx(first.new_score), "map": 0.5}
    assert row["created"].endswith("+00:00")


def test_a_missing_registry_loads_nothing_and_creates_nothing(reg: Path, tmp_path: Path, caplog):
    registry.configure(tmp_path / "models")
    stand_in = Scorer(WEAK, "7", SCHEMA.version, NO_ENCODER)
    with caplog.at_level(logging.WARNING, logger="matcher.registry"):
        assert registry.load_champion() is None
        assert registry.load_champion(previous=stand_in) is stand_in
    assert "no model registry at" in caplog.text
    assert registry.list_versions() == []
    with pytest.raises(RegistryError, match="run `talentmatch train` first"):
        registry.promote("1")
    with pytest.raises(RegistryError, match="no model registry"):
        registry.rollback()
    with pytest.raises(RegistryError, match="no model registry"):
        registry.register_and_gate("0" * 32)
    assert not (tmp_path / "models").exists()


def test_the_store_location_follows_the_settings_and_mlflow_tracking_uri(reg: Path, tmp_path: Path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    assert registry.configure() == f"sqlite:///{tmp_path}/models/mlflow.db"
    monkeypatch.setenv("TALENTMATCH_MODELS_DIR", "elsewhere")
    assert registry.configure() == f"sqlite:///{tmp_path}/elsewhere/mlflow.db"
    assert "MLFLOW_TRACKING_URI" not in os.environ  # mlflow exports it; configure() takes it back

    other = f"sqlite:///{tmp_path}/server/mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", other)
    assert registry.configure() == other
    assert registry.configure(reg) == f"sqlite:///{reg}/mlflow.db"  # an explicit directory wins
    assert registry.configure() == other
    assert registry.load_champion() is None  # nothing there yet, and nothing created
    assert not (tmp_path / "server").exists()


def test_mlflow_tracking_uri_points_training_and_serving_at_another_store(reg: Path, tmp_path: Path, monkeypatch):
    server = tmp_path / "server"
    server.mkdir()
    shutil.copy(reg / "template.db", server / "mlflow.db")  # an empty, already migrated store
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{server}/mlflow.db")
    registry.configure()
    result = gate(GOOD)
    assert result.alias == CHAMPION
    assert registry.load_champion().version == result.version
    assert [v["version"] for v in registry.list_versions()] == [result.version]
    assert version_file(result.version).is_relative_to(server / "artifacts")
    registry.configure(reg)
    assert registry.list_versions() == []  # the default store saw nothing


def indices_with(encoder: EncoderId) -> SimpleNamespace:
    """What the contract check reads of ``features.indices.Indices``: its dense index's encoder (none: no index)."""
    dense = (
        None if encoder == NO_ENCODER else SimpleNamespace(encoder_name=encoder.name, encoder_version=encoder.version)
    )
    return SimpleNamespace(dense=dense)


def test_a_version_records_its_contract_and_loading_carries_it(reg: Path):
    version = registry.register_and_gate(log(GOOD, encoder=USEM3)).version
    tags = MlflowClient().get_model_version(MODEL_NAME, version).tags
    assert (tags["encoder"], tags["encoder_version"]) == ("usem3", "test-1")
    assert json.loads(tags["feature_names"]) == SCHEMA.names
    scorer = registry.load_champion(indices=indices_with(USEM3))
    assert (scorer.encoder, scorer.feature_names, scorer.schema_version) == (USEM3, SCHEMA.names, SCHEMA.version)
    assert registry.list_versions()[0]["encoder"] == "usem3 (version test-1)"


def test_a_champion_trained_with_another_encoder_is_refused_naming_both(reg: Path, caplog):
    """Trained on usem3 vectors, served on indices built with ``--encoder none``: its dense columns would be 0."""
    version = registry.register_and_gate(log(GOOD, encoder=USEM3)).version
    stand_in = Scorer(WEAK, "7", SCHEMA.version, NO_ENCODER)
    with caplog.at_level(logging.WARNING, logger="matcher.registry"):
        serving = registry.serving_model(stand_in, indices=indices_with(NO_ENCODER))
    assert (serving.scorer, serving.champion, serving.mismatch) == (stand_in, version, True)
    expected = (
        f"{MODEL_NAME} v{version} was trained with encoder usem3 (version test-1); these indices were built with "
        "encoder none; rebuild the indices with --encoder usem3 (TALENTMATCH_ENCODER) or retrain"
    )
    assert serving.error.startswith(expected) and expected in caplog.text
    assert registry.load_champion(indices=indices_with(NO_ENCODER)) is None
    newer = indices_with(EncoderId("usem3", "test-2"))  # same encoder, another version: other vectors
    assert "encoder usem3 (version test-2)" in registry.serving_model(indices=newer).error


def test_a_version_registered_before_the_contract_is_refused_with_retrain(reg: Path):
    version = registry.register_and_gate(log(GOOD)).version
    for tag in ("encoder", "encoder_version", "feature_names"):
        MlflowClient().delete_model_version_tag(MODEL_NAME, version, tag)
    serving = registry.serving_model()
    assert serving.scorer is None and serving.mismatch
    assert "records no dense encoder" in serving.error and "retrain" in serving.error
    with pytest.raises(ModelMismatch, match="records no dense encoder"):
        registry.promote(version)


def test_a_champion_of_another_encoder_is_not_compared_on_these_indices(reg: Path):
    gate(WEAK)
    other = registry.register_and_gate(log(GOOD, encoder=USEM3), champion_score_fn=score_champion)
    assert other.alias == CHALLENGER and "trained with encoder none, this run with usem3" in other.reason
