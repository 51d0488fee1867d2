"""The recruiters' console pages over plain HTTP (httpx on a real server): the pipeline board (moving a card records
feedback; the export is the API's file), the needs list's stage counts, saved searches (new since the last visit)
and the comparison of candidates; access as the API's, CSRF refused, bad input a 422 page naming the field."""

from __future__ import annotations

import csv
import io
import re

import httpx
from console_helpers import World, csrf_of, sign_in
from openpyxl import load_workbook

from service.store import Store


def _shortlist(client: httpx.Client, talent_id: str, action: str = "shortlist") -> str:
    """Act on ``talent_id`` from the need page's ranking (as its row button does); returns the ranking id."""
    page = client.get("/console/needs/n-pv")
    ranking_id = page.text.split('name="ranking_id" value="')[1].split('"')[0]
    r = client.post("/console/needs/n-pv/feedback", data={"csrf": csrf_of(page.text), "talent_id": talent_id,
                                                          "action": action, "ranking_id": ranking_id})  # fmt: skip
    assert r.status_code == 303
    return ranking_id


def _feedback(world: World, talent_id: str) -> list[str]:
    """The stored actions on ``talent_id`` for n-pv, sorted (the store's order is not the events')."""
    with Store(world.url) as store:
        return sorted(str(f.action) for f in store.iter_records("feedback") if f.talent_id == talent_id and
                f.need_id == "n-pv")  # fmt: skip


def test_the_board_shows_a_shortlisted_card_and_a_move_records_feedback(client: httpx.Client, world: World) -> None:
    sign_in(client, world.keys["recruiter"])
    _shortlist(client, "t-pv4")
    board = client.get("/console/needs/n-pv/pipeline")
    assert board.status_code == 200 and "board;dur=" in board.headers["server-timing"]
    column = board.text.split('id="stage-shortlisted"')[1].split("</section>")[0]
    assert 'id="card-t-pv4"' in column and "Chen Jie" in column
    token = csrf_of(board.text)
    before = _feedback(world, "t-pv4")
    assert client.post("/console/needs/n-pv/pipeline/move", data={"talent_id": "t-pv4", "stage": "interview"}
                       ).status_code == 403  # fmt: skip
    r = client.post("/console/needs/n-pv/pipeline/move", data={"csrf": token, "talent_id": "t-pv4", "stage": "boss"})
    assert r.status_code == 422 and "stage" in r.text
    r = client.post("/console/needs/n-pv/pipeline/move", data={"csrf": token, "talent_id": "t-pv2", "stage": "offer"})
    assert r.status_code == 422 and "ranking_id" in r.text  # never acted on: no ranking to move from
    assert _feedback(world, "t-pv4") == before
    r = client.post("/console/needs/n-pv/pipeline/move", data={"csrf": token, "talent_id": "t-pv4", "stage": "offer"})
    assert r.status_code == 303 and r.headers["location"] == "/console/needs/n-pv/pipeline"
    assert _feedback(world, "t-pv4") == sorted([*before, "offer"])
    # htmx: the new board in place of the old one; an error in the card's note
    hx = {"HX-Request": "true"}
    r = client.post("/console/needs/n-pv/pipeline/move", headers=hx,
                    data={"csrf": token, "talent_id": "t-pv4", "stage": "interview"})  # fmt: skip
    assert r.status_code == 200 and r.headers["hx-retarget"] == "#board" and r.text.startswith('<div id="board">')
    assert 'id="card-t-pv4"' in r.text.split('id="stage-interview"')[1].split("</section>")[0]
    r = client.post("/console/needs/n-pv/pipeline/move", headers=hx,
                    data={"csrf": token, "talent_id": "t-pv4", "stage": "boss"})  # fmt: skip
    assert (
        r.status_code == 422
        and r.text.startswith('<span class="error" role="alert">')
        and "hx-retarget" not in r.headers
    )
    r = client.post("/console/needs/n-pv/pipeline/move", data={"csrf": token, "talent_id": "t-pv4", "stage": "offer"})
    assert r.status_code == 303
    moved = client.get("/console/needs/n-pv/pipeline")
    assert 'id="card-t-pv4"' in moved.text.split('id="stage-offer"')[1].split("</section>")[0]
    assert "已移动：t-pv4" in moved.text
    # the needs list counts the stages of the page's needs
    listing = client.get("/console/needs").text
    row = listing.split('href="/console/needs/n-pv"')[1].split("</tr>")[0]
    assert re.search(r'data-stage="offer">已发录用通知 1<', row)


def test_the_export_is_the_shortlist_as_csv_and_xlsx(client: httpx.Client, world: World) -> None:
    sign_in(client, world.keys["recruiter"])
    _shortlist(client, "t-pv1")
    r = client.get("/console/needs/n-pv/pipeline/export", params={"format": "csv"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.headers["content-disposition"].startswith('attachment; filename="shortlist.csv"')
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert {"t-pv1": "李伟"}.items() <= {row["talent_id"]: row["name"] for row in rows}.items()
    x = client.get("/console/needs/n-pv/pipeline/export", params={"format": "xlsx"})
    assert x.status_code == 200 and "spreadsheetml" in x.headers["content-type"]
    sheet = load_workbook(io.BytesIO(x.content)).active
    assert "t-pv1" in [c.value for c in sheet["B"]]
    assert client.get("/console/needs/n-pv/pipeline/export", params={"format": "pdf"}).status_code == 422


def test_an_enterprise_sees_its_own_board_masked_and_a_404_for_anothers(client: httpx.Client, world: World) -> None:
    with httpx.Client(base_url=world.base) as office:
        sign_in(office, world.keys["recruiter"])
        _shortlist(office, "t-pv2")  # no sharing consent: a masked card for the enterprise
    sign_in(client, world.keys["e1"])
    board = client.get("/console/needs/n-pv/pipeline")
    assert board.status_code == 200 and 'id="card-t-pv2"' in board.text
    assert "Anna" not in board.text and "姓名已隐藏" in board.text
    assert "key:" not in board.text  # which recruiter acted is the office's business
    exported = client.get("/console/needs/n-pv/pipeline/export").content.decode("utf-8-sig")
    assert "t-pv2" in exported and "Anna" not in exported and "anna@example.org" not in exported
    for path in ("/console/needs/n-chip/pipeline", "/console/needs/n-chip/pipeline/export",
                 "/console/needs/n-chip/compare?talent=t-chip1&talent=t-chip3"):  # fmt: skip
        r = client.get(path)
        assert r.status_code == 404 and r.headers["content-type"].startswith("text/html"), path
    r = client.post("/console/needs/n-chip/pipeline/move", data={"csrf": csrf_of(board.text), "talent_id": "t-chip1",
                                                                "stage": "contacted"})  # fmt: skip
    assert r.status_code == 404
    assert ">Chen Jie<" not in client.get("/console/needs").text  # the list only counts, never names


def test_the_data_team_has_no_board(client: httpx.Client, world: World) -> None:
    sign_in(client, world.keys["data_team"])
    assert client.get("/console/needs/n-pv/pipeline").status_code == 403
    assert client.get("/console/needs/n-pv/pipeline/export").status_code == 403
    assert client.get("/console/needs/n-pv/compare?talent=t-pv1&talent=t-pv2").status_code == 403
    assert "/pipeline" not in client.get("/console/needs").text


def test_saved_searches_save_rerun_with_new_marked_and_delete(client: httpx.Client, world: World) -> None:
    sign_in(client, world.keys["admin"])
    search = client.get("/console/search", params={"q": "钙钛矿 perovskite", "tier": "B C D"})
    assert search.status_code == 200 and 'action="/console/searches"' in search.text
    token = csrf_of(search.text)
    form = {"q": "钙钛矿 perovskite", "kind": "special_researcher", "k": "20", "tier": "B C D", "name": "光伏人才"}
    assert client.post("/console/searches", data=form).status_code == 403
    r = client.post("/console/searches", data=form | {"csrf": token, "name": " "})
    assert r.status_code == 422 and "name" in r.text
    r = client.post("/console/searches", data=form | {"csrf": token, "tier": "Z"})
    assert r.status_code == 422 and "tier" in r.text
    r = client.post("/console/searches", data=form | {"csrf": token})
    assert r.status_code == 303 and r.headers["location"].startswith("/console/search?q=")
    back = client.get(r.headers["location"])
    assert "已保存检索：光伏人才" in back.text
    search_id = int(re.search(r'href="/console/searches/(\d+)">光伏人才<', back.text).group(1))
    first = client.get(f"/console/searches/{search_id}")
    assert first.status_code == 200 and "首次访问" in first.text
    assert first.text.count('class="is-new"') == first.text.count('<tr id="row-') >= 2
    # a new talent who matches: the only one marked new on the next visit
    talent = {
        "id": "t-pv9",
        "name": "周涛",
        "tier": "C",
        "skills": ["perovskite", "钙钛矿"],
        "summary": "钙钛矿 perovskite solar cells",
        "availability": {"mode": "short_term", "months_per_year": 3},
    }
    headers = {"Authorization": f"Bearer {world.keys['admin']}"}
    assert httpx.post(f"{world.base}/talents", json=talent, headers=headers, timeout=30).status_code == 201
    second = client.get(f"/console/searches/{search_id}")
    assert "上次访问" in second.text and second.text.count('class="is-new"') == 1
    assert '<tr id="row-t-pv9" class="is-new">' in second.text
    # another key's search is a 404; the data team and enterprises have none
    with httpx.Client(base_url=world.base) as other:
        sign_in(other, world.keys["recruiter"])
        assert other.get(f"/console/searches/{search_id}").status_code == 404
        token = csrf_of(other.get("/console/needs").text)
        r = other.post(f"/console/searches/{search_id}/delete", data={"csrf": token})
        assert r.status_code == 404
    for role in ("data_team", "e1"):
        with httpx.Client(base_url=world.base) as other:
            sign_in(other, world.keys[role])
            assert other.get(f"/console/searches/{search_id}").status_code == 403
    assert client.get("/console/searches/0").status_code == 422
    listing = client.get("/console/search")
    r = client.post(f"/console/searches/{search_id}/delete", data={"csrf": csrf_of(listing.text)})
    assert r.status_code == 303
    assert client.get(f"/console/searches/{search_id}").status_code == 404
    assert "已删除检索" in client.get("/console/search").text


def test_compare_two_to_four_candidates(client: httpx.Client, world: World) -> None:
    sign_in(client, world.keys["recruiter"])
    need = client.get("/console/needs/n-pv")
    assert 'form="compare"' in need.text and 'href="/console/needs/n-pv/pipeline"' in need.text
    r = client.get("/console/needs/n-pv/compare", params=[("talent", "t-pv1"), ("talent", "t-pv2")])
    assert r.status_code == 200
    assert 'id="cmp-t-pv1"' in r.text and 'id="cmp-t-pv2"' in r.text and "Anna Schmidt" in r.text
    assert "de, en" in r.text  # languages, for the office
    assert "特征贡献" in r.text
    for params in ([("talent", "t-pv1")], [("talent", "t-pv1"), ("talent", "t-pv1")], [],
                   [("talent", t) for t in ("t-pv1", "t-pv2", "t-pv4", "t-chip1", "t-chip3")]):  # fmt: skip
        r = client.get("/console/needs/n-pv/compare", params=params)
        assert r.status_code == 422 and "2 至 4" in r.text and "talent" in r.text, params
    for missing in ("t-nobody", "t-pv3", "t-chip1"):  # unknown; no matching consent; not a candidate of this need
        r = client.get("/console/needs/n-pv/compare", params=[("talent", "t-pv1"), ("talent", missing)])
        assert r.status_code == 404 and missing in r.text, missing
    client.cookies.clear()
    sign_in(client, world.keys["e1"])
    r = client.get("/console/needs/n-pv/compare", params=[("talent", "t-pv1"), ("talent", "t-pv2")])
    assert r.status_code == 200 and "李伟" in r.text
    assert "Anna" not in r.text and "姓名已隐藏" in r.text and "de, en" not in r.text
    assert "特征贡献" not in r.text  # as the receipt route: no contributions for an enterprise


def test_the_new_pages_speak_english_too(client: httpx.Client, world: World) -> None:
    sign_in(client, world.keys["recruiter"])
    _shortlist(client, "t-pv1")
    board = client.get("/console/needs/n-pv/pipeline", params={"lang": "en"})
    assert '<html lang="en">' in board.text and "<h1>Pipeline: " in board.text and "Download CSV" in board.text
    assert 'aria-label="Move: 李伟 t-pv1"' in board.text and ">Shortlisted <" in board.text
    assert "Candidates per stage" in client.get("/console/needs").text
    compare = client.get("/console/needs/n-pv/compare", params=[("talent", "t-pv1"), ("talent", "t-pv2")])
    assert "Compare candidates: " in compare.text and "Feature contributions" in compare.text
    assert "Saved searches" in client.get("/console/search").text
    r = client.get("/console/needs/n-pv/compare", params=[("talent", "t-pv1")])
    assert r.status_code == 422 and "Choose two to four candidates to compare (1 chosen)." in r.text
