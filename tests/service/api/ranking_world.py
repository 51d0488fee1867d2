"""A small world for the ranking routes with a known right answer: photovoltaic and chip-design talents for one
post each, a talent of each kind without matching consent (never ranked), and one with and one without sharing
consent (a revealed and a masked card for the enterprise)."""

from __future__ import annotations

from pathlib import Path

import orjson
from api_helpers import seed

from features.records import WORLD_FILES


def ranking_world() -> dict[str, list[dict]]:
    pv_skills = ["perovskite", "thin films", "钙钛矿"]
    chip_skills = ["RISC-V", "SoC design", "芯片设计"]
    short = {"mode": "short_term", "months_per_year": 4}
    full = {"mode": "full_time"}
    return {
        "platform": [{"id": "p-xiu", "name": "秀洲国家高新区"}],
        "incubator": [{"id": "inc-de", "name": "海纳孵化器（德国）", "country": "DE", "city_synthetic": True}],
        "enterprise": [
            {"id": "e1", "name": "嘉光新能源", "platform_id": "p-xiu", "industries": ["photovoltaics"]},
            {"id": "e2", "name": "Acme Chips"},
        ],
        "need": [
            {"id": "n-pv", "title": "钙钛矿太阳能电池研发负责人", "description": "perovskite thin films solar cells",
             "enterprise_id": "e1", "kind": "special_researcher", "months_per_year": 3,
             "required_skills": ["perovskite", "thin films"]},
            {"id": "n-chip", "title": "RISC-V SoC design lead", "description": "芯片设计 RISC-V processor",
             "enterprise_id": "e2", "kind": "full_time", "required_skills": ["RISC-V", "SoC design"]},
        ],
        "talent": [
            {"id": "t-pv1", "name": "李伟", "name_en": "Li Wei", "email": "li.wei@example.org", "tier": "B",
             "nationality": "CN", "residence": {"country": "CN", "city": "上海", "in_yrd": True},
             "skills": pv_skills, "summary": "钙钛矿太阳能电池与薄膜研究十年", "availability": short,
             "works": [{"title": "Stable perovskite solar cells", "year": 2022}], "consent": {"sharing": True}},
            {"id": "t-pv2", "name": "Anna Schmidt", "email": "anna@example.org", "tier": "C", "nationality": "DE",
             "residence": {"country": "DE"}, "languages": ["de", "en"], "skills": pv_skills,
             "summary": "perovskite thin films for tandem solar cells", "availability": short,
             "incubator_id": "inc-de"},
            {"id": "t-pv3", "name": "王芳", "tier": "B", "nationality": "CN", "skills": pv_skills,
             "summary": "钙钛矿 perovskite thin films solar cells", "availability": short,
             "consent": {"matching": False, "sharing": True}},
            {"id": "t-pv4", "name": "Chen Jie", "tier": "D", "nationality": "CN", "skills": ["perovskite"],
             "summary": "perovskite solar cell pilot lines", "availability": short,
             "consent": {"automated_decision_opt_out": True}},
            {"id": "t-chip1", "name": "张强", "tier": "C", "nationality": "CN", "skills": chip_skills,
             "summary": "RISC-V processor architect, SoC design", "availability": full, "consent": {"sharing": True}},
            {"id": "t-chip2", "name": "Bob Li", "tier": "B", "nationality": "US", "skills": chip_skills,
             "summary": "RISC-V SoC design lead", "availability": full, "consent": {"matching": False}},
            {"id": "t-chip3", "name": "赵敏", "tier": "D", "nationality": "CN", "skills": ["芯片设计", "RISC-V"],
             "summary": "芯片设计与 RISC-V 处理器验证", "availability": full},
            {"id": "t-bio", "name": "Maria Rossi", "tier": "C", "nationality": "IT", "skills": ["protein folding"],
             "summary": "structural biology of membrane proteins", "availability": full},
        ],
    }  # fmt: skip


PV_RANKABLE = {"t-pv1", "t-pv2", "t-pv4"}
CHIP_RANKABLE = {"t-chip1", "t-chip3"}
NO_CONSENT = {"t-pv3", "t-chip2"}


def seed_ranking_world(url: str, directory: Path) -> dict[str, str]:
    """The ranking world in ``url`` with one key per role (``recruiter``, ``data_team``, ``admin``, ``e1``, ``e2``)."""
    directory.mkdir(parents=True, exist_ok=True)
    for kind, rows in ranking_world().items():
        (directory / WORLD_FILES[kind]).write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    return seed(url, directory)
