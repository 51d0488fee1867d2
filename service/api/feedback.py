"""Recording a recruiter's (or an enterprise's, on its own needs) action on a ranked candidate: what ``POST /feedback``
does and what moving a card on the console's pipeline board does (``service.pipeline.move``), so both check the same
things and write the same row."""

from __future__ import annotations

from datetime import UTC, datetime

from features.records import FeedbackEvent
from service import audit, receipts
from service.api.access import visible_need
from service.api.crud import fetch
from service.api.errors import ApiError
from service.api.live import Writer
from service.api.ranking_schemas import FeedbackIn
from service.keys import Principal, Role


def record_feedback(writer: Writer, principal: Principal, body: FeedbackIn) -> FeedbackEvent:
    """Check that the principal sees the need and that the talent was shown in the named ranking of it, then store
    the event (position and model version taken from the receipt) and audit it. Database work: call it from the
    thread pool."""
    store = writer.store
    visible_need(store, principal, body.need_id)
    position, model_version = _check_shown(store, principal, body)
    event = FeedbackEvent(
        need_id=body.need_id,
        talent_id=body.talent_id,
        action=body.action,
        position=position,
        actor=actor_of(principal),
        time=datetime.now(UTC),
        model_version=model_version,
        ranking_id=body.ranking_id,
    )
    writer.create(event)
    audit.record(store, principal, "create", "feedback", [event.id])
    return event


def actor_of(principal: Principal) -> str:
    """How a feedback row names the key that wrote it: ``key:<id>`` and the key's label."""
    return f"key:{principal.key_id}" + (f" {principal.label}" if principal.label else "")


def _check_shown(store, principal: Principal, body: FeedbackIn) -> tuple[int, str | None]:
    """(position, model version) of the talent in the ranking the feedback names; 404/422 saying what is wrong.
    An enterprise learns nothing it could not see: another need's ranking is an unknown ranking to it, and an
    unknown talent one that was not shown."""
    head = receipts.head(store, body.ranking_id)
    enterprise = principal.role is Role.enterprise
    if head is None or (enterprise and head[1] != body.need_id):
        raise ApiError(404, f"no ranking {body.ranking_id!r}; send the ranking_id of the page the talent was on",
                       field="ranking_id")  # fmt: skip
    _, need_id, model_version = head
    if need_id != body.need_id:
        what = "a free-text search" if need_id is None else f"need {need_id!r}"
        raise ApiError(422, f"ranking {body.ranking_id!r} ranked {what}, not need {body.need_id!r}",
                       field="ranking_id")  # fmt: skip
    if not enterprise:
        fetch(store, "talent", body.talent_id)  # 404 for an unknown (or erased) talent
    position = receipts.candidate(store, body.ranking_id, body.talent_id)
    if position is None:
        raise ApiError(422, f"talent {body.talent_id!r} was not among the candidates of ranking {body.ranking_id!r}",
                       field="talent_id")  # fmt: skip
    if body.position is not None and body.position != position:
        raise ApiError(
            422,
            f"talent {body.talent_id!r} was shown at position {position} of that ranking, not {body.position}; "
            "leave position out to take it from the ranking",
            field="position",
        )
    return position, model_version
