"""``talentmatch world``, ``graph`` and ``score`` as a user runs them: real console script, real files."""

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import networkx as nx
import pytest

TALENTMATCH = Path(sys.executable).with_name("talentmatch")


def run(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "COLUMNS": "200", "TALENTMATCH_VECTOR_CACHE_DIR": str(cwd / "vectors"), **env}
    return subprocess.run([str(TALENTMATCH), *args], cwd=cwd, env=environment, capture_output=True, text=True)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    out = tmp_path_factory.mktemp("world")
    done = run("world", "generate", str(out), "--talents", "300", "--seed", "5", "--json", cwd=out)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["files"]["talents.jsonl"] == 300
    return out


def test_world_generate_rejects_bad_sizes(tmp_path):
    done = run("world", "generate", str(tmp_path / "w"), "--talents", "0", cwd=tmp_path)
    assert done.returncode == 2 and "--talents" in done.stderr


def test_graph_stats_json_and_graphml_export(world, tmp_path):
    done = run("graph", "stats", "--world", str(world), "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    stats = json.loads(done.stdout)
    assert stats["nodes"]["talent"] == 300 and stats["nodes"]["incubator"] == 8 and stats["nodes"]["platform"] == 7
    assert stats["edges"]["talent_skill"] > 0 and set(stats) == {"nodes", "edges"}

    done = run("graph", "export", str(tmp_path / "g.graphml"), "--world", str(world), "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    g = nx.read_graphml(tmp_path / "g.graphml")
    assert g.number_of_nodes() == sum(stats["nodes"].values())
    assert g.number_of_edges() == json.loads(done.stdout)["edges"]

    done = run("graph", "export", str(tmp_path / "g.gexf"), "--format", "gexf", "--world", str(world), cwd=tmp_path)
    assert done.returncode == 2 and "graphml" in done.stderr


def write(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


@pytest.fixture
def minimal_world(tmp_path):
    """Only talents (id, name, summary) and needs (id, title, description), in both languages."""
    d = tmp_path / "minimal"
    d.mkdir()
    write(
        d / "talents.jsonl",
        [
            {"id": "t-pv", "name": "Eva Lind", "summary": "Perovskite solar cells and tandem photovoltaics."},
            {"id": "t-ai", "name": "王磊", "summary": "深度学习与计算机视觉，目标检测算法。"},
            {"id": "t-bio", "name": "Sam Roe", "summary": "Protein engineering and antibody discovery."},
        ],
    )
    write(
        d / "needs.jsonl",
        [
            {"id": "n-pv", "title": "钙钛矿光伏研发专家", "description": "开发钙钛矿叠层太阳能电池"},
            {"id": "n-ai", "title": "Computer vision lead", "description": "deep learning object detection"},
        ],
    )
    return d


def pairs_csv(path: Path, rows: list[tuple[str, str]]) -> Path:
    path.write_text("need_id,talent_id\n" + "".join(f"{n},{t}\n" for n, t in rows), encoding="utf-8")
    return path


def test_score_pairs_on_a_minimal_bilingual_world(minimal_world, tmp_path):
    pairs = [(n, t) for n in ("n-pv", "n-ai") for t in ("t-pv", "t-ai", "t-bio")]
    src = pairs_csv(tmp_path / "pairs.csv", pairs)
    out = tmp_path / "scores.csv"
    done = run("score", str(src), "--world", str(minimal_world), "--model", "text", "--out", str(out), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [(r["need_id"], r["talent_id"]) for r in rows] == pairs
    score = {(r["need_id"], r["talent_id"]): float(r["score"]) for r in rows}
    assert max(("t-pv", "t-ai", "t-bio"), key=lambda t: score["n-pv", t]) == "t-pv"  # Chinese need, English profile
    assert max(("t-pv", "t-ai", "t-bio"), key=lambda t: score["n-ai", t]) == "t-ai"  # English need, Chinese profile


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("need,talent\nn-pv,t-pv\n", "missing column(s) need_id, talent_id"),
        ("need_id,talent_id\nn-pv,t-nobody\n", "2: talent_id: unknown talent 't-nobody'"),
        ("need_id,talent_id\nn-pv,\n", "2: talent_id: empty"),
        ("need_id,talent_id\n", "no pairs"),
    ],
)
def test_score_rejects_bad_pairs_and_writes_nothing(minimal_world, tmp_path, content, message):
    src = tmp_path / "pairs.csv"
    src.write_text(content, encoding="utf-8")
    out = tmp_path / "scores.csv"
    args = ("score", str(src), "--world", str(minimal_world), "--out", str(out), "--encoder", "none")
    done = run(*args, cwd=tmp_path)
    assert done.returncode == 1 and message in done.stderr
    assert not out.exists()
