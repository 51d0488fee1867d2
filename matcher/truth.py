"""The demo world's hidden truth: the file's name and its one reader.

Only generated demo worlds have a truth file (``demo.world`` writes it under ``TRUTH_FILE``); evaluation reads it
to score held-out needs, never to train or serve. Kept apart from ``matcher.evaluate`` so the generator can name the
file without loading the evaluation stack (scikit-learn).
"""

from __future__ import annotations

from pathlib import Path

import orjson

TRUTH_FILE = "truth.jsonl"


def load_truth(path: str | Path, *, missing_ok: bool = False) -> dict[str, dict[str, int]] | None:
    """need id → talent id → grade 1..4 from a world directory's ``truth.jsonl`` (or the file itself).

    ``missing_ok=True`` returns None when the world has no truth (a real import): evaluation then uses feedback."""
    path = Path(path)
    if path.is_dir():
        path = path / TRUTH_FILE
    if not path.is_file():
        if missing_ok:
            return None
        raise FileNotFoundError(f"no truth file at {path}; only generated demo worlds have one")
    out: dict[str, dict[str, int]] = {}
    with path.open("rb") as fh:
        for line_no, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = orjson.loads(line)
                grade = int(row["grade"])
                if not 1 <= grade <= 4:
                    raise ValueError(f"grade {grade} outside 1..4")
                out.setdefault(str(row["need_id"]), {})[str(row["talent_id"])] = grade
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                raise ValueError(
                    f"{path}:{line_no}: bad truth row ({exc}); expected "
                    '{"need_id": ..., "talent_id": ..., "grade": 1..4}'
                ) from exc
    return out
