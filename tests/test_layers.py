"""The architecture's contracts: features ← matcher ← service, and no ranking code touches the hidden truth."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Only the generator writes truth.jsonl; only evaluation (never training or serving) may read it.
TRUTH_ALLOWED = {"features/world.py", "matcher/evaluate.py"}


def test_import_contracts_hold():
    lint = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run([str(lint)], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


def test_no_ranking_code_reads_truth():
    offenders = [
        str(p.relative_to(ROOT))
        for pkg in ("features", "matcher", "service")
        for p in (ROOT / pkg).rglob("*.py")
        if str(p.relative_to(ROOT)) not in TRUTH_ALLOWED and re.search(r"truth\.jsonl|read_truth", p.read_text())
    ]
    assert offenders == []
