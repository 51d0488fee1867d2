"""The architecture's contracts: features ← matcher ← service, and no ranking code touches the hidden truth."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# The truth file's name and its reader live in matcher/truth.py: evaluation (never training or serving) is the only
# product code that reads it. The demo generator's writer (demo/world.py) is the only other code that names it.
TRUTH_ALLOWED = {"matcher/truth.py", "demo/world.py"}
TRUTH_MENTION = re.compile(r"truth\.jsonl|TRUTH_FILE|read_truth")


def _sources(*packages: str) -> dict[str, str]:
    return {str(p.relative_to(ROOT)): p.read_text() for pkg in packages for p in sorted((ROOT / pkg).rglob("*.py"))}


def test_import_contracts_hold():
    lint = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run([str(lint)], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


def test_no_ranking_code_reads_truth():
    sources = _sources("features", "matcher", "service", "demo")
    offenders = [path for path, text in sources.items() if path not in TRUTH_ALLOWED and TRUTH_MENTION.search(text)]
    assert offenders == []


def test_the_truth_file_is_named_once_and_the_generator_only_writes_it():
    sources = _sources("features", "matcher", "service", "demo")
    literal = re.compile(r"[\"']truth\.jsonl[\"']")
    assert [path for path, text in sources.items() if literal.search(text)] == ["matcher/truth.py"]
    writer = sources["demo/world.py"]
    assert "from matcher.truth import TRUTH_FILE" in writer and "load_truth" not in writer
