"""The ranking routes through a real uvicorn server on loopback (no champion model: the non-personalised ranking),
on a small world with a known answer: candidates, filters, cards by role, search in both languages, reciprocal
needs, feedback tied to a ranking, decision receipts, consent, metrics — and the service's pages equal
``matcher.pipeline.rank``'s."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import sqlalchemy as sa
from api_helpers import auth, run_server, settings_for
from ranking_world import CHIP_RANKABLE, NO_CONSENT, PV_RANKABLE, seed_ranking_world

from features.indices import Indices
from features.records import RECORD_TYPES
from features.schema import SCHEMA
from matcher.pipeline import rank, rank_pool
from matcher.retrieve import Filters
from service import db
from service.api.app import create_app
from service.api.schemas import MASKED_NAME
from service.ranking import FullRanking, page
from service.store import Store


@pytest.fixture(scope="module")
def api(tmp_path_factory, monkeypatch_module) -> Iterator[tuple[httpx.Client, dict[str, dict[str, str]], Store]]:
    tmp = tmp_path_factory.mktemp("ranking")
    monkeypatch_module.setenv("TALENTMATCH_MODELS_DIR", str(tmp / "models"))  # an empty registry: no champion
    monkeypatch_module.delenv("MLFLOW_TRACKING_URI", raising=False)
    url = f"sqlite:///{tmp / 'api.db'}"
    keys = seed_ranking_world(url, tmp / "world")
    app = create_app(settings_for(url, tmp))
    with run_server(app) as base, httpx.Client(base_url=base, timeout=30) as client:
        yield client, {name: auth(key) for name, key in keys.items()}, app.state.store


@pytest.fixture(scope="module")
def monkeypatch_module() -> Iterator[pytest.MonkeyPatch]:
    with pytest.MonkeyPatch.context() as mp:
        yield mp


def ids(body: dict) -> list[str]:
    return [c["talent_id"] for c in body["candidates"]]


# --- candidates ------------------------------------------------------------------------------------------------------


def test_candidates_rank_the_right_talents_and_never_one_without_consent(api):
    client, h, _ = api
    r = client.get("/needs/n-pv/candidates", headers=h["recruiter"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(ids(body)[:3]) == PV_RANKABLE and not NO_CONSENT & set(ids(body))
    assert body["removed"].get("consent", 0) >= 1  # t-pv3 was retrieved, then removed by the consent rule
    assert (body["model_version"], body["personalized"], body["need_id"]) == ("text-relevance", False, "n-pv")
    assert "no champion" in body["note"]
    scores = [c["score"] for c in body["candidates"]]
    assert scores == sorted(scores, reverse=True) and [c["position"] for c in body["candidates"]] == list(
        range(len(scores))
    )
    first = body["candidates"][0]
    assert first["reasons"] and {"code", "en", "zh", "weight"} <= set(first["reasons"][0])
    chip = client.get("/needs/n-chip/candidates", headers=h["recruiter"]).json()
    assert set(ids(chip)[:2]) == CHIP_RANKABLE and not NO_CONSENT & set(ids(chip))


def test_opt_out_of_automated_decisions_is_flagged_for_human_review(api):
    client, h, _ = api
    body = client.get("/needs/n-pv/candidates", headers=h["recruiter"]).json()
    review = {c["talent_id"]: c["human_review"] for c in body["candidates"]}
    assert review["t-pv4"] is True and review["t-pv1"] is False


def test_recruiters_see_full_cards_and_the_read_is_audited(api):
    client, h, _ = api
    body = client.get("/needs/n-pv/candidates", headers=h["recruiter"]).json()
    cards = {c["talent_id"]: c["card"] for c in body["candidates"]}
    assert cards["t-pv2"]["name"] == "Anna Schmidt" and not cards["t-pv2"]["masked"]
    audit = client.get("/audit?object_id=t-pv2&limit=200", headers=h["admin"]).json()["items"]
    assert any(a["action"] == "rank" and a["detail"]["ranking_id"] == body["ranking_id"] for a in audit)


def test_enterprise_cards_are_masked_without_sharing_consent(api):
    client, h, _ = api
    body = client.get("/needs/n-pv/candidates", headers=h["e1"]).json()
    cards = {c["talent_id"]: c["card"] for c in body["candidates"]}
    assert cards["t-pv1"]["name"] == "李伟" and cards["t-pv1"]["email"] == "li.wei@example.org"
    assert cards["t-pv2"]["masked"] and cards["t-pv2"]["name"] == MASKED_NAME and cards["t-pv2"]["email"] is None
    assert cards["t-pv2"]["skills"]  # skills and fit always show


@pytest.mark.parametrize(("key", "need"), [("e1", "n-chip"), ("e2", "n-pv")])
def test_another_enterprises_need_is_404(api, key, need):
    client, h, _ = api
    r = client.get(f"/needs/{need}/candidates", headers=h[key])
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


def test_a_ranking_reads_its_need_from_the_indices_not_the_store(api, monkeypatch):
    """The hot route reads no record from the store (the indices hold every need, as this process's writes and the
    other processes' synced ones left it): with the store's reads failing it still ranks, and still hides another
    enterprise's need."""
    client, h, _ = api

    def no_reads(*_a, **_k):
        raise AssertionError("the ranking read a record from the store")

    monkeypatch.setattr(Store, "get", no_reads)
    assert client.get("/needs/n-pv/candidates", headers=h["recruiter"]).status_code == 200
    assert client.get("/needs/n-pv/candidates", headers=h["e2"]).status_code == 404


def test_unknown_need_is_404_and_the_data_team_ranks_nothing(api):
    client, h, _ = api
    assert client.get("/needs/n-nope/candidates", headers=h["recruiter"]).status_code == 404
    assert client.get("/needs/n-pv/candidates", headers=h["data_team"]).status_code == 403


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("tier=B", {"t-pv1"}),
        ("tier=B&tier=C", {"t-pv1", "t-pv2"}),
        ("nationality=de", {"t-pv2"}),
        ("residence=CN", {"t-pv1"}),
        ("language=de", {"t-pv2"}),
        ("incubator=inc-de", {"t-pv2"}),
    ],
)
def test_filters(api, query, expected):
    client, h, _ = api
    body = client.get(f"/needs/n-pv/candidates?{query}", headers=h["recruiter"]).json()
    assert set(ids(body)) == expected and body["filtered"] >= 1


def test_paging(api):
    client, h, _ = api
    whole = ids(client.get("/needs/n-pv/candidates?k=100", headers=h["recruiter"]).json())
    second = client.get("/needs/n-pv/candidates?k=1&offset=1", headers=h["recruiter"]).json()
    assert ids(second) == whole[1:2] and second["candidates"][0]["position"] == 1
    assert ids(client.get("/needs/n-pv/candidates?offset=300", headers=h["recruiter"]).json()) == []


@pytest.mark.parametrize(
    ("query", "field"),
    [("k=0", "k"), ("k=101", "k"), ("offset=-1", "offset"), ("offset=301", "offset"), ("tier=Z", "tier.0"),
     ("nationality=Germany", "nationality.0"), ("site=moon", "site"), ("language=e1", "language.0"),
     ("personalized=perhaps", "personalized")],
)  # fmt: skip
def test_bad_query_parameters_are_422_naming_the_field(api, query, field):
    client, h, _ = api
    r = client.get(f"/needs/n-pv/candidates?{query}", headers=h["recruiter"])
    assert r.status_code == 422 and r.json()["error"]["field"] == field, r.text


def test_personalized_false_is_the_non_personalised_ranking_without_a_note(api):
    client, h, _ = api
    body = client.get("/needs/n-pv/candidates?personalized=false", headers=h["recruiter"]).json()
    assert (body["model_version"], body["personalized"], body["note"]) == ("text-relevance", False, None)


# --- search and reciprocal --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [("钙钛矿 太阳能电池", PV_RANKABLE), ("perovskite thin films", PV_RANKABLE),
     ("RISC-V 芯片设计", CHIP_RANKABLE), ("RISC-V processor SoC design", CHIP_RANKABLE)],
)  # fmt: skip
def test_search_in_chinese_and_english(api, query, expected):
    client, h, _ = api
    r = client.post("/search", json={"query": query, "kind": "incubation_project"}, headers=h["recruiter"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(ids(body)[: len(expected)]) == expected and not NO_CONSENT & set(ids(body))
    assert body["need_id"] is None and not body["personalized"]


def test_search_filters_validation_and_roles(api):
    client, h, _ = api
    body = client.post("/search", json={"query": "perovskite", "nationality": ["DE"]}, headers=h["admin"]).json()
    assert ids(body) == ["t-pv2"]
    bad = client.post("/search", json={"query": "  ", "k": 5}, headers=h["recruiter"])
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "query"
    bad = client.post("/search", json={"query": "x", "k": 500}, headers=h["recruiter"])
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "k"
    assert client.post("/search", json={"query": "perovskite"}, headers=h["e1"]).status_code == 403


def test_reciprocal_needs_for_a_talent(api):
    client, h, _ = api
    r = client.get("/talents/t-pv1/needs", headers=h["recruiter"])
    assert r.status_code == 200 and [n["need_id"] for n in r.json()["needs"]] == ["n-pv"]
    assert [n["need_id"] for n in client.get("/talents/t-chip1/needs", headers=h["admin"]).json()["needs"]] == [
        "n-chip"
    ]
    assert client.get("/talents/t-pv3/needs", headers=h["recruiter"]).json()["needs"] == []  # no consent
    assert client.get("/talents/t-nope/needs", headers=h["recruiter"]).status_code == 404
    assert client.get("/talents/t-pv1/needs", headers=h["e1"]).status_code == 403
    assert client.get("/talents/t-pv1/needs?k=0", headers=h["recruiter"]).status_code == 422


# --- feedback and receipts ----------------------------------------------------------------------------------------


def test_feedback_is_stored_with_its_ranking(api):
    client, h, store = api
    ranking = client.get("/needs/n-pv/candidates", headers=h["e1"]).json()
    second = ranking["candidates"][1]
    body = {"need_id": "n-pv", "talent_id": second["talent_id"], "action": "shortlist",
            "ranking_id": ranking["ranking_id"]}  # fmt: skip
    r = client.post("/feedback", json=body, headers=h["e1"])
    assert r.status_code == 201, r.text
    event = r.json()
    assert (event["position"], event["model_version"], event["ranking_id"]) == (1, "text-relevance",
                                                                                ranking["ranking_id"])  # fmt: skip
    assert event["actor"].startswith("key:") and event["actor"].endswith("e1")
    stored = store.get("feedback", event["id"])
    assert stored is not None and stored.action == "shortlist" and stored.talent_id == second["talent_id"]


def test_feedback_errors(api):
    client, h, _ = api
    pv = client.get("/needs/n-pv/candidates", headers=h["recruiter"]).json()
    chip = client.get("/needs/n-chip/candidates", headers=h["recruiter"]).json()
    ok = {"need_id": "n-pv", "talent_id": ids(pv)[0], "action": "contact", "ranking_id": pv["ranking_id"]}

    def post(key="recruiter", **change):
        return client.post("/feedback", json=ok | change, headers=h[key])

    def err(r):
        return r.status_code, r.json()["error"]["field"]

    assert err(post(ranking_id="nope")) == (404, "ranking_id")
    assert err(post(ranking_id=chip["ranking_id"])) == (422, "ranking_id")
    assert err(post(talent_id="t-bio")) == (422, "talent_id")
    assert err(post(talent_id="t-ghost")) == (404, "id")
    assert err(post(position=7)) == (422, "position")
    assert err(post(action="adore")) == (422, "action")
    assert post(key="e2").status_code == 404  # another enterprise's need
    assert post(key="data_team").status_code == 403
    assert post(position=0).status_code == 201


def test_receipt_keeps_inputs_model_features_and_contributions(api):
    client, h, _ = api
    ranking = client.get("/needs/n-pv/candidates?k=2&tier=B&tier=C", headers=h["recruiter"]).json()
    r = client.get(f"/rankings/{ranking['ranking_id']}", headers=h["data_team"])
    assert r.status_code == 200, r.text
    receipt = r.json()
    assert (receipt["route"], receipt["need_id"], receipt["model_version"]) == ("candidates", "n-pv", "text-relevance")
    assert receipt["params"] == {"k": 2, "offset": 0, "personalized": True, "tiers": ["B", "C"]}
    assert receipt["summary"]["removed"] == ranking["removed"] and receipt["summary"]["filtered"] >= 1
    got = receipt["candidates"]
    assert [c["talent_id"] for c in got] == ids(ranking) and [c["score"] for c in got] == [
        c["score"] for c in ranking["candidates"]
    ]
    first = got[0]
    assert len(first["features"]) == len(SCHEMA.names) and first["features"]["skill_coverage"] == 1.0
    assert set(first["contributions"]) == set(first["features"]) | {"bias"}
    blend = sum(v for v in first["contributions"].values() if v is not None)
    assert blend == pytest.approx(first["score"], abs=1e-4)  # the text blend's shares add up to the score


def test_receipt_access(api):
    client, h, _ = api
    pv = client.get("/needs/n-pv/candidates", headers=h["recruiter"]).json()["ranking_id"]
    search = client.post("/search", json={"query": "perovskite"}, headers=h["recruiter"]).json()["ranking_id"]
    own = client.get(f"/rankings/{pv}", headers=h["e1"])
    assert own.status_code == 200 and own.json()["candidates"][0]["features"] is None  # no feature rows for tenants
    assert client.get(f"/rankings/{pv}", headers=h["e2"]).status_code == 404
    assert client.get(f"/rankings/{search}", headers=h["e1"]).status_code == 404
    assert client.get(f"/rankings/{search}", headers=h["admin"]).json()["params"]["query"] == "perovskite"
    assert client.get("/rankings/nope", headers=h["recruiter"]).status_code == 404


def test_rankings_are_counted_in_metrics(api):
    client, h, _ = api
    client.get("/needs/n-pv/candidates", headers=h["recruiter"])
    text = client.get("/metrics").text
    assert 'talentmatch_rankings_total{personalized="false",route="candidates"}' in text
    assert 'talentmatch_rankings_total{personalized="false",route="search"}' in text
    assert 'talentmatch_candidates_removed_total{rule="consent"}' in text


def test_readyz_says_no_model_serves(api):
    body = api[0].get("/readyz").json()
    assert body["status"] == "ready" and body["model"] is None and "non-personalised" in body["model_note"]


def test_new_talent_is_rankable_on_the_next_request_and_the_cache_sees_it(api):
    client, h, _ = api
    before = ids(client.get("/needs/n-chip/candidates", headers=h["recruiter"]).json())
    new = {"id": "t-chip9", "name": "New Chip", "skills": ["RISC-V", "SoC design"], "summary": "RISC-V SoC design"}
    assert client.post("/talents", json=new, headers=h["recruiter"]).status_code == 201
    after = ids(client.get("/needs/n-chip/candidates", headers=h["recruiter"]).json())
    assert "t-chip9" in after and "t-chip9" not in before


# --- the service's pages are the matcher's ranking -------------------------------------------------------------------


@pytest.mark.parametrize("filters", [None, Filters(tiers=frozenset({"B", "C"}))])
def test_service_pages_equal_matcher_rank(tmp_path, filters):
    url = f"sqlite:///{tmp_path / 'r.db'}"
    seed_ranking_world(url, tmp_path / "world")
    with Store(url) as store:
        idx = Indices.build({k: list(store.iter_records(k)) for k in RECORD_TYPES}, encoder=None)
        need = store.get("need", "n-pv")
    full = FullRanking.of(rank_pool(idx, need, scorer=None, filters=filters))
    for k, offset in ((2, 0), (2, 1), (20, 0)):
        mine = page(full, idx, k, offset)
        theirs = rank(idx, need, scorer=None, k=k, offset=offset, filters=filters, now=full.computed_at)
        assert [(r.talent_id, r.score, r.reasons) for r in mine] == [
            (c.talent_id, c.score, c.reasons) for c in theirs.candidates
        ]
        assert full.removed == theirs.removed and full.model_version == theirs.model_version


def test_a_page_writes_its_head_naming_the_page_and_no_row_per_candidate(api):
    """A receipt's head names the computed page; the page's rows hold each candidate's talent, position and score
    (written once, whoever serves the page again), and no receipt writes a row per candidate."""
    client, h, store = api
    ranking = client.get("/needs/n-chip/candidates?k=2", headers=h["recruiter"]).json()
    r, d = db.RankingRow.__table__, db.RankingDetailRow.__table__
    with store.engine.connect() as conn:
        page_id = conn.scalar(sa.select(r.c.page_id).where(r.c.id == ranking["ranking_id"]))
        rows = conn.execute(sa.select(d.c.talent_id, d.c.position, d.c.score).where(d.c.page_id == page_id)
                            .order_by(d.c.position)).all()  # fmt: skip
        assert conn.scalar(sa.select(sa.func.count()).select_from(db.RankingCandidateRow.__table__)) == 0
    assert [tuple(x) for x in rows] == [(c["talent_id"], c["position"], c["score"]) for c in ranking["candidates"]]
    receipt = client.get(f"/rankings/{ranking['ranking_id']}", headers=h["admin"]).json()
    assert [(c["talent_id"], c["score"]) for c in receipt["candidates"]] == [
        (c["talent_id"], c["score"]) for c in ranking["candidates"]
    ]


def test_a_cached_page_stores_its_details_once_and_every_receipt_reads_them(api):
    client, h, store = api
    t = db.RankingDetailRow.__table__
    first = client.get("/needs/n-chip/candidates?k=2&offset=0", headers=h["admin"]).json()
    with store.engine.connect() as conn:
        before = conn.scalar(sa.select(sa.func.count()).select_from(t))
    second = client.get("/needs/n-chip/candidates?k=2&offset=0", headers=h["admin"]).json()
    with store.engine.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(t)) == before
    third = client.get("/needs/n-chip/candidates?k=2&offset=0", headers=h["recruiter"]).json()
    with store.engine.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(t)) == before
    assert first["ranking_id"] == second["ranking_id"] != third["ranking_id"]  # the same key's request: one receipt
    a, b = (client.get(f"/rankings/{r['ranking_id']}", headers=h["admin"]).json() for r in (first, third))
    assert a["ranking_id"] != b["ranking_id"] and a["candidates"] == b["candidates"] and a["candidates"][0]["features"]
