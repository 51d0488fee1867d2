"""A need's shortlist (its pipeline's candidates in ``service.pipeline.SHORTLISTED`` stages) as CSV or XLSX, for the
recruiter's or the enterprise's own files. The rows are the candidates' cards (masked for an enterprise without the
talent's sharing consent, exactly as the API shows them) and where each stands; handing them out is audited like a
profile read, one row per talent."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import quote

from service import audit
from service.keys import Principal
from service.pipeline import PipelineCard, shortlist
from service.sheets import to_csv, to_xlsx
from service.store import Store


class ExportFormat(StrEnum):
    csv = "csv"
    xlsx = "xlsx"


MEDIA_TYPES = {
    ExportFormat.csv: "text/csv; charset=utf-8",
    ExportFormat.xlsx: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
HEADER = ("need_id", "talent_id", "stage", "since", "name", "name_en", "email", "phone", "masked", "tier",
          "residence_country", "in_yrd", "availability", "months_per_year", "skills", "disciplines",
          "ranking_id")  # fmt: skip


@dataclass(frozen=True)
class Export:
    content: bytes
    media_type: str
    filename: str

    @property
    def disposition(self) -> str:
        """A ``Content-Disposition`` any client reads: an ASCII name, and the exact one as RFC 5987 UTF-8."""
        return f"attachment; filename=\"shortlist.{self.filename.rsplit('.', 1)[-1]}\"; filename*=UTF-8''" + quote(
            self.filename, safe=""
        )


def export_shortlist(store: Store, principal: Principal, need_id: str, fmt: ExportFormat) -> Export:
    """The need's shortlist in ``fmt`` (404 for a need the principal may not see); audited as ``export``."""
    cards = shortlist(store, principal, need_id)
    rows = [_row(need_id, c) for c in cards]
    content = to_csv(HEADER, rows) if fmt is ExportFormat.csv else to_xlsx(HEADER, rows, title="shortlist")
    audit.record(store, principal, "export", "talent", [c.talent_id for c in cards],
                 {"need_id": need_id, "format": fmt.value})  # fmt: skip
    return Export(content, MEDIA_TYPES[fmt], f"{need_id}-shortlist.{fmt.value}")


def _row(need_id: str, c: PipelineCard) -> list[object]:
    card = c.card
    return [
        need_id,
        c.talent_id,
        c.stage,
        c.since.isoformat() if c.since else None,
        card.name,
        card.name_en,
        card.email,
        card.phone,
        card.masked,
        card.tier.value if card.tier else None,
        card.residence_country,
        card.in_yrd,
        card.availability.mode.value if card.availability.mode else None,
        card.availability.months_per_year,
        "; ".join(card.skills),
        "; ".join(card.disciplines),
        c.ranking_id,
    ]
