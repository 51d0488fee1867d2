"""``talentmatch db …`` as a user runs it: the real console script for the main paths (exit codes, stderr format,
``--json`` on stdout), Typer's in-process runner for the many small cases."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from service.cli import app
from service.db import HEAD_REVISION

TALENTMATCH = Path(sys.executable).with_name("talentmatch")
COUNTS = {"platform": 2, "incubator": 1, "enterprise": 2, "need": 3, "talent": 4, "feedback": 3, "relation": 2}


def run(*args: str, url: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "TALENTMATCH_DATABASE_URL": url, "COLUMNS": "200", **env}
    return subprocess.run([str(TALENTMATCH), *args], cwd=cwd, env=environment, capture_output=True, text=True)


def invoke(*args: str, url: str, **env: str):
    """The CLI in-process (about 1 s quicker per call than the console script)."""
    return CliRunner().invoke(app, list(args), env={"TALENTMATCH_DATABASE_URL": url, "COLUMNS": "200", **env})


@pytest.fixture
def sqlite_url(tmp_path):
    return f"sqlite:///{tmp_path / 'cli.db'}"


def test_upgrade_import_stats_export_main_path(sqlite_url, world_dir, tmp_path):
    done = invoke("db", "upgrade", "--json", url=sqlite_url)
    assert done.exit_code == 0, done.stderr
    assert json.loads(done.stdout)["revision"] == HEAD_REVISION

    done = run("db", "import", str(world_dir), "--json", url=sqlite_url, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["ok"] and report["written"] and report["records"] == sum(COUNTS.values())
    assert {k: v["inserted"] for k, v in report["kinds"].items()} == {k: n for k, n in COUNTS.items()}

    done = invoke("db", "import", str(world_dir), url=sqlite_url)
    assert done.exit_code == 0 and "unchanged" in done.stdout and "17 records" in done.stdout

    done = run("db", "stats", "--json", url=sqlite_url, cwd=tmp_path)
    assert done.returncode == 0 and json.loads(done.stdout)["counts"] == COUNTS

    done = run("db", "export", str(tmp_path / "out"), "--json", url=sqlite_url, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    files = json.loads(done.stdout)["files"]
    assert {k: f["records"] for k, f in files.items()} == COUNTS
    assert Path(files["talent"]["path"]).read_text(encoding="utf-8").count("\n") == 4


def test_import_auto_migrates_and_default_url_creates_the_data_folder(world_dir, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "TALENTMATCH_DATABASE_URL"}
    done = subprocess.run(
        [str(TALENTMATCH), "db", "import", str(world_dir), "--json"], cwd=tmp_path, env=env, capture_output=True
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "data" / "talentmatch.db").is_file()


def test_bad_import_lists_every_error_writes_nothing_and_exits_1(sqlite_url, world_dir, tmp_path):
    assert invoke("db", "import", str(world_dir), url=sqlite_url).exit_code == 0
    bad = tmp_path / "talents.jsonl"
    bad.write_bytes(b'{"id": "t1", "name": "changed"}\n{"id": "t2", "tier": "Z", "name": "x"}\nnot json\n')
    done = run("db", "import", str(bad), url=sqlite_url, cwd=tmp_path)
    assert done.returncode == 1 and done.stdout == ""
    lines = done.stderr.splitlines()
    assert lines[0].startswith(f"{bad}:2: tier: Input should be 'A', 'B', 'C', 'D' or 'E'")
    assert lines[1].startswith(f"{bad}:3: -: invalid JSON")
    assert "import failed: 2 error(s) in 1 file(s); nothing was written" in lines[2]
    assert json.loads(invoke("db", "stats", "--json", url=sqlite_url).stdout)["counts"] == COUNTS
    assert invoke("db", "export", str(tmp_path / "o"), url=sqlite_url).exit_code == 0
    assert '"name":"李伟"' in (tmp_path / "o" / "talents.jsonl").read_text(encoding="utf-8")


def test_error_list_is_capped_with_a_count(sqlite_url, tmp_path):
    bad = tmp_path / "talents.jsonl"
    bad.write_text("".join(f'{{"id": "t{i}", "tier": "Z", "name": "x"}}\n' for i in range(8)))
    done = invoke("db", "import", str(bad), "--json", url=sqlite_url, TALENTMATCH_MAX_ERRORS_SHOWN="3")
    assert done.exit_code == 1
    lines = done.stderr.splitlines()
    assert [ln.split(": ")[0] for ln in lines[:3]] == [f"{bad}:1", f"{bad}:2", f"{bad}:3"]
    assert lines[3] == "… and 5 more errors"
    doc = json.loads(done.stdout)
    assert doc["ok"] is False and doc["error_count"] == 8 and len(doc["errors"]) == 3


def test_dry_run_and_single_csv_file_with_kind(sqlite_url, tmp_path):
    csv = tmp_path / "people.csv"
    csv.write_text("id,name,skills\nt1,Li,a;b\n")
    done = invoke("db", "import", str(csv), "--dry-run", "--kind", "talent", "--json", url=sqlite_url)
    assert done.exit_code == 0 and json.loads(done.stdout)["written"] is False
    assert not Path(sqlite_url.removeprefix("sqlite:///")).exists()
    done = invoke("db", "import", str(csv), "--kind", "talent", url=sqlite_url)
    assert done.exit_code == 0, done.stderr
    assert "1 records" in done.stdout and "talent" in done.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["db", "import", "does-not-exist"],
        ["db", "import", "people.csv"],  # kind cannot be inferred
        ["db", "import", "people.csv", "--kind", "robot"],
        ["db", "nonsense"],
    ],
)
def test_usage_errors_exit_2(sqlite_url, tmp_path, monkeypatch, args):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "people.csv").write_text("id,name\nt1,Li\n")
    done = invoke(*args, url=sqlite_url)
    assert done.exit_code == 2 and done.stdout == ""


def test_read_commands_on_an_empty_database_say_what_to_run(sqlite_url, tmp_path):
    done = invoke("db", "stats", url=sqlite_url)
    assert done.exit_code == 1 and "talentmatch db upgrade" in done.stderr


def test_unreachable_database_is_one_line_with_the_password_masked(tmp_path, world_dir):
    url = "postgresql://someone:s3cret@127.0.0.1:9/nowhere"
    done = run("db", "import", str(world_dir), url=url, cwd=tmp_path)
    assert done.returncode == 1 and "s3cret" not in done.stderr and "***" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.postgres
def test_import_into_postgres(postgres_url, world_dir, tmp_path):
    done = run("db", "import", str(world_dir), "--json", url=postgres_url, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(invoke("db", "stats", "--json", url=postgres_url).stdout)["counts"] == COUNTS
