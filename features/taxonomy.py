"""Bilingual reference vocabularies: NSFC disciplines, the city's industries, the Yangtze River Delta.

The NSFC tree ships in ``features/data/nsfc.jl`` (MIT, AMiner; see ``data/ATTRIBUTION.md``). Everything here is
read-only reference data, loaded once per process.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib import resources


@dataclass(frozen=True, slots=True)
class Discipline:
    code: str
    name_zh: str
    name_en: str
    parent: str | None
    is_leaf: bool


@cache
def disciplines() -> dict[str, Discipline]:
    """All NSFC discipline codes (three levels), keyed by code."""
    out: dict[str, Discipline] = {}
    text = resources.files("features.data").joinpath("nsfc.jl").read_text(encoding="utf-8")
    for line in text.splitlines():
        row = json.loads(line)
        parents = row.get("parents") or []
        out[row["_id"]] = Discipline(
            code=row["_id"],
            name_zh=row["name"].strip(),
            name_en=(row.get("name_en") or "").strip(),
            parent=parents[0] if parents else None,
            is_leaf=bool(row.get("is_leaf")),
        )
    return out


class Industry(StrEnum):
    """The industries of Jiaxing's city plan (plus photovoltaics and IoT, which its platforms name)."""

    digital_economy = "digital_economy"
    new_materials = "new_materials"
    new_energy = "new_energy"
    photovoltaics = "photovoltaics"
    ai = "ai"
    aerospace = "aerospace"
    life_health = "life_health"
    semiconductors = "semiconductors"
    hydrogen = "hydrogen"
    high_end_equipment = "high_end_equipment"
    flexible_electronics = "flexible_electronics"
    software = "software"
    communications = "communications"
    iot = "iot"
    intelligent_manufacturing = "intelligent_manufacturing"
    sensors = "sensors"


INDUSTRY_NAMES: dict[Industry, tuple[str, str]] = {
    Industry.digital_economy: ("数字经济", "digital economy"),
    Industry.new_materials: ("新材料", "new materials"),
    Industry.new_energy: ("新能源", "new energy"),
    Industry.photovoltaics: ("光伏", "photovoltaics"),
    Industry.ai: ("人工智能", "artificial intelligence"),
    Industry.aerospace: ("航空航天", "aerospace"),
    Industry.life_health: ("生命健康", "life and health"),
    Industry.semiconductors: ("半导体与集成电路", "semiconductors and integrated circuits"),
    Industry.hydrogen: ("氢能", "hydrogen energy"),
    Industry.high_end_equipment: ("高端装备", "high-end equipment"),
    Industry.flexible_electronics: ("柔性电子", "flexible electronics"),
    Industry.software: ("软件", "software"),
    Industry.communications: ("通信", "communications"),
    Industry.iot: ("物联网", "internet of things"),
    Industry.intelligent_manufacturing: ("智能制造", "intelligent manufacturing"),
    Industry.sensors: ("传感器", "sensors"),
}

# The Yangtze River Delta: Shanghai and the provinces of Jiangsu, Zhejiang and Anhui.
YRD_PROVINCES_ZH = ("上海", "江苏", "浙江", "安徽")
YRD_PROVINCES_EN = ("shanghai", "jiangsu", "zhejiang", "anhui")
