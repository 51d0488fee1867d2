"""A need's pipeline board: its candidates by stage (``service.pipeline.board``, what ``GET /needs/{id}/pipeline``
returns), a form per card that moves it (``service.pipeline.move``: feedback, as ``POST /feedback``), and the
shortlist's CSV and XLSX export (``service.exports.export_shortlist``, as ``GET /needs/{id}/pipeline/export``).
Recruiters, admins and an enterprise for its own needs (another's is a 404 page, its cards masked), as the API."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from features.records import RecordId
from service.api.live import Writer
from service.console.render import htmx, redirect, render
from service.console.session import PREFIX, RANKERS, ConsoleError, Page, Posted, SignedIn
from service.exports import ExportFormat, export_shortlist
from service.pipeline import STAGES, board, move

router = APIRouter()


def board_context(page: Page, need_id: str, flash: list[str] | None) -> dict[str, Any]:
    """What the board template needs: the need, its board (404 for another's need; audited), its cards by stage."""
    store = page.request.app.state.store
    shown = board(store, page.principal, need_id)  # type: ignore[arg-type]
    page.mark("board")
    columns = {stage: [c for c in shown.candidates if c.stage == stage] for stage in STAGES}
    return {"need": store.get("need", need_id), "board": shown, "columns": columns, "stages": STAGES, "flash": flash}


@router.get("/needs/{need_id}/pipeline")
def pipeline_page(need_id: RecordId, page: SignedIn) -> Response:
    page.require(RANKERS)
    flash = page.session.pop("flash_move", None)
    if flash:
        page.dirty = True
    return render(page, "pipeline.html", **board_context(page, need_id, flash))


@router.post("/needs/{need_id}/pipeline/move")
async def pipeline_move(
    need_id: RecordId,
    page: Posted,
    talent_id: Annotated[str, Form(max_length=200)] = "",
    stage: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """Move a card: the stage's action recorded as feedback from the ranking the candidate was last acted on from.
    Without JavaScript a redirect to the board; with htmx the new board in place of the old."""
    page.require(RANKERS)
    if not talent_id:
        raise ConsoleError(422, "talent_id: give the candidate to move", field="talent_id")
    state = page.request.app.state
    if state.indices is None:
        raise ConsoleError(503, "the indices are not built yet; retry in a moment")
    await run_in_threadpool(move, Writer(state), page.principal, need_id, talent_id, stage)
    if htmx(page.request):
        context = await run_in_threadpool(board_context, page, need_id, [talent_id, stage])
        response = render(page, "_board.html", **context)
        response.headers.update({"HX-Retarget": "#board", "HX-Reswap": "outerHTML"})
        return response
    page.session["flash_move"] = [talent_id, stage]
    page.dirty = True
    return redirect(page, f"{PREFIX}/needs/{need_id}/pipeline")


@router.get("/needs/{need_id}/pipeline/export")
async def pipeline_export(
    need_id: RecordId, page: SignedIn, format: Annotated[ExportFormat, Query()] = ExportFormat.csv
) -> Response:
    """The shortlist file, as the API streams it (same bytes, media type and disposition; audited as ``export``)."""
    page.require(RANKERS)
    done = await run_in_threadpool(export_shortlist, page.request.app.state.store, page.principal, need_id, format)
    page.mark("export")
    headers = {"Content-Disposition": done.disposition, "Server-Timing": page.server_timing()}
    response = Response(done.content, media_type=done.media_type, headers=headers)
    page.write_cookies(response)
    return response
