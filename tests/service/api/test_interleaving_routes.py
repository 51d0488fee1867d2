"""Online interleaving through a real server and a real MLflow store in a temporary folder: with
``TALENTMATCH_INTERLEAVE_SHARE=1`` a recruiter's ranking merges the champion's and the challenger's lists, the same
way every time for that recruiter's key; the receipt says which model drafted each candidate (office roles only);
feedback is credited to that model; ``GET /models/compare`` and ``talentmatch models compare`` count wins, losses
and ties (a ranking is one key's list of the need) with a sign test; ``models promote --require-online-win`` refuses
until the challenger has won significantly. An enterprise is served the champion's list and never learns of teams."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from api_helpers import auth, run_server, settings_for
from ranking_world import seed_ranking_world
from test_models_routes import USEM3, booster, register

from features.schema import SCHEMA
from matcher.ranker import NO_ENCODER, EncoderId
from service.api.app import create_app
from service.keys import create_key
from service.store import Store

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning:mlflow")]

TALENTMATCH = Path(sys.executable).with_name("talentmatch")


def register_challenger(seed: int, encoder: EncoderId = NO_ENCODER) -> str:
    """Log a model that loses the offline gate (the champion is scored higher), so it gets the challenger alias."""
    import numpy as np

    from matcher import registry

    example = np.zeros((2, len(SCHEMA.names)), dtype=np.float32)
    run_id = registry.log_run(booster=booster(seed), params={"seed": seed}, metrics={"lambdarank": {"ndcg@10": 0.5}},
                              input_example=example, heldout_needs=["n-pv"], encoder=encoder)  # fmt: skip
    result = registry.register_and_gate(run_id, champion_score_fn=lambda scorer: 0.9)
    assert result.alias == "challenger", result.reason
    return result.version


@pytest.fixture
def interleaving_server(tmp_path, monkeypatch):
    from matcher import registry

    monkeypatch.setenv("TALENTMATCH_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    registry.configure(tmp_path / "models")
    champion = register(0)
    challenger = register_challenger(7)
    url = f"sqlite:///{tmp_path / 'api.db'}"
    keys = seed_ranking_world(url, tmp_path / "world")
    # no ranking cache: every request ranks afresh, so stability comes from the hash, not from the cache
    app = create_app(settings_for(url, tmp_path, interleave_share=1.0, rank_cache_seconds=0.0))
    try:
        with run_server(app) as base, httpx.Client(base_url=base, timeout=60) as client:
            yield client, {k: auth(v) for k, v in keys.items()}, champion, challenger, url, tmp_path
    finally:
        registry.configure()


def cli(*args: str, tmp: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "TALENTMATCH_MODELS_DIR": str(tmp / "models"),
           "COLUMNS": "200"}  # fmt: skip
    env.pop("MLFLOW_TRACKING_URI", None)
    return subprocess.run([str(TALENTMATCH), *args], cwd=tmp, env=env, capture_output=True, text=True)


def test_interleaved_rankings_record_teams_credit_feedback_and_gate_promotion(interleaving_server):
    client, h, champion, challenger, url, tmp = interleaving_server
    listed = client.get("/models", headers=h["data_team"]).json()
    assert (listed["champion"], listed["challenger"], listed["challenger_note"]) == (champion, challenger, None)

    def recruiter() -> dict[str, str]:
        """A new recruiter's key: each key's list is a ranking of its own (its own coin flips)."""
        with Store(url) as store:
            return auth(create_key(store, "recruiter"))

    def interleaved(key: dict[str, str]) -> tuple[str, list[str], dict[str, str]]:
        page = client.get("/needs/n-pv/candidates", headers=key).json()
        assert (page["model_version"], page["personalized"]) == (champion, True)
        assert all("team" not in c for c in page["candidates"])  # the page never says who drafted whom
        receipt = client.get(f"/rankings/{page['ranking_id']}", headers=h["data_team"]).json()
        assert receipt["model_version"] == champion and receipt["challenger_version"] == challenger
        ids = [c["talent_id"] for c in receipt["candidates"]]
        assert ids == [c["talent_id"] for c in page["candidates"]]
        return page["ranking_id"], ids, {c["talent_id"]: c["team"] for c in receipt["candidates"]}

    first, ids, teams = interleaved(h["recruiter"])
    assert len(ids) == 3 and set(teams.values()) == {"champion", "challenger"}
    for _ in range(2):  # ranked afresh each time (no cache): the same list and teams (hashed seed)
        again, ids2, teams2 = interleaved(h["recruiter"])
        assert again != first and (ids2, teams2) == (ids, teams)
    by_team = {team: [t for t in ids if teams[t] == team] for team in ("champion", "challenger")}
    ours, theirs = by_team["challenger"][0], by_team["champion"][0]

    def ranking() -> tuple[str, dict[str, str], str, str]:
        """A new recruiter's interleaved ranking: its id, the recruiter's key, and a talent of each team in it."""
        key = recruiter()
        ranking_id, ids, teams = interleaved(key)
        pick = {team: next(t for t in ids if teams[t] == team) for team in ("challenger", "champion")}
        return ranking_id, key, pick["challenger"], pick["champion"]

    # An enterprise is served the champion's own list: not interleaved, no team, and a recruiter's interleaved
    # ranking of its own need is no receipt it can read.
    mine = client.get("/needs/n-pv/candidates", headers=h["e1"]).json()
    own = client.get(f"/rankings/{mine['ranking_id']}", headers=h["e1"]).json()
    assert own["challenger_version"] is None and all(c["team"] is None for c in own["candidates"])
    scores = [c["score"] for c in mine["candidates"]]
    assert scores == sorted(scores, reverse=True)
    champions_order = [c["talent_id"] for c in mine["candidates"]]
    assert sorted(champions_order) == sorted(ids)
    assert by_team["champion"] == [t for t in champions_order if t in by_team["champion"]]  # drafted in its order
    assert client.get(f"/rankings/{first}", headers=h["e1"]).status_code == 404
    assert client.get(f"/rankings/{first}", headers=h["recruiter"]).json()["candidates"][0]["team"] in teams.values()

    def act(ranking_id: str, talent: str, action: str, key: dict[str, str] = h["recruiter"]) -> None:
        body = {"need_id": "n-pv", "talent_id": talent, "action": action, "ranking_id": ranking_id}
        r = client.post("/feedback", json=body, headers=key)
        assert r.status_code == 201, r.text

    act(first, ours, "shortlist")  # the challenger's candidate: a win
    act(first, ours, "shortlist")  # the same action again counts once
    act(again, theirs, "reject")  # another receipt of the same key's list: the same ranking; not credited
    second, key, ours2, theirs2 = ranking()
    act(second, theirs2, "contact", key)  # the champion's: a loss
    act(second, ours2, "reject", key)  # not credited
    third, key, ours3, theirs3 = ranking()
    act(third, ours3, "shortlist", key)
    act(third, theirs3, "shortlist", key)  # one each: a tie
    fourth, key, _, theirs4 = ranking()
    act(fourth, theirs4, "reject", key)  # nothing credited: not counted
    act(mine["ranking_id"], theirs, "hire", h["e1"])  # the enterprise's ranking was not interleaved

    made = 4  # recruiters' interleaved lists so far (the first recruiter's three requests are one)
    expected = {"champion": champion, "challenger": challenger, "rankings": made, "credited": 3,
                "challenger_wins": 1, "challenger_losses": 1, "ties": 1, "p_value": 1.0}  # fmt: skip
    assert client.get("/models/compare", headers=h["data_team"]).json() == [expected]
    assert client.get("/models/compare", headers=h["recruiter"]).status_code == 403
    env_url = ("--url", url)
    done = cli("models", "compare", *env_url, "--json", tmp=tmp)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [expected]

    refused = cli("models", "promote", challenger, "--require-online-win", *env_url, tmp=tmp)
    assert refused.returncode == 1 and "too few rankings with credited feedback" in refused.stderr
    refused = cli("models", "promote", challenger, "--require-online-win", "--min-rankings", "3", *env_url, tmp=tmp)
    assert refused.returncode == 1 and "did not win more rankings" in refused.stderr, refused.stderr

    for _ in range(9):  # nine more wins: 10 against 1, two-sided p = 2 × 12/2048 < 0.05
        ranking_id, key, ours_n, _ = ranking()
        act(ranking_id, ours_n, "contact", key)
    [result] = client.get("/models/compare", headers=h["data_team"]).json()
    assert (result["challenger_wins"], result["challenger_losses"], result["ties"]) == (10, 1, 1)
    assert result["p_value"] == pytest.approx(24 / 2048)
    refused = cli("models", "promote", challenger, "--require-online-win", "--alpha", "0.001", "--min-rankings", "10",
                  *env_url, tmp=tmp)  # fmt: skip
    assert refused.returncode == 1 and "not significant at alpha 0.001" in refused.stderr, refused.stderr
    assert client.get("/models", headers=h["data_team"]).json()["champion"] == champion
    done = cli("models", "promote", challenger, "--require-online-win", "--min-rankings", "10", "--json", *env_url,
               tmp=tmp)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"champion": challenger, "previous": champion}
    # the API's promotion checks the same way; this server serves the new champion at once, and a champion facing
    # itself (the challenger alias still names it) is not interleaved
    body = {"version": challenger, "require_online_win": True}
    r = client.post("/models/promote", json=body, headers=h["data_team"])  # now the champion: nothing to win against
    assert r.status_code == 200 and r.json()["serving"] == challenger, r.text
    after = client.get("/needs/n-pv/candidates", headers=h["recruiter"]).json()
    assert client.get(f"/rankings/{after['ranking_id']}", headers=h["data_team"]).json()["challenger_version"] is None


def test_the_api_refuses_a_promotion_without_an_online_win(interleaving_server):
    client, h, champion, challenger, *_ = interleaving_server
    body = {"version": challenger, "require_online_win": True, "min_rankings": 1}
    r = client.post("/models/promote", json=body, headers=h["data_team"])
    assert r.status_code == 409 and "never interleaved" in r.json()["error"]["message"], r.text
    assert r.json()["error"]["field"] == "require_online_win"
    bad = client.post("/models/promote", json=body | {"alpha": 0}, headers=h["data_team"])
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "alpha", bad.text
    assert client.get("/models", headers=h["data_team"]).json()["champion"] == champion


def test_the_challenger_is_loaded_checked_and_dropped_like_the_champion(interleaving_server):
    """A challenger trained with another dense encoder than the indices is refused (named in `GET /models`), the
    rankings go on uninterleaved, and one without the alias is dropped on reload."""
    from mlflow import MlflowClient

    client, h, champion, challenger, *_ = interleaving_server
    foreign = register_challenger(8, USEM3)
    listed = client.post("/models/reload", headers=h["admin"]).json()
    assert listed["serving"] == champion
    models = client.get("/models", headers=h["data_team"]).json()
    assert models["challenger"] is None and f"challenger {foreign} does not serve" in models["challenger_note"]
    assert "encoder usem3" in models["challenger_note"]
    page = client.get("/needs/n-pv/candidates", headers=h["recruiter"]).json()
    assert client.get(f"/rankings/{page['ranking_id']}", headers=h["data_team"]).json()["challenger_version"] is None

    MlflowClient().set_registered_model_alias("talent-ranker", "challenger", challenger)
    client.post("/models/reload", headers=h["admin"])
    assert client.get("/models", headers=h["data_team"]).json()["challenger"] == challenger
    MlflowClient().delete_registered_model_alias("talent-ranker", "challenger")
    client.post("/models/reload", headers=h["admin"])
    assert client.get("/models", headers=h["data_team"]).json()["challenger"] is None
