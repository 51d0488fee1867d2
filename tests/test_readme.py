"""The README is the user's manual: it must name every record field and every CLI command."""

from pathlib import Path

from features.records import RECORD_TYPES

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_every_record_field_is_documented():
    missing = [
        f"{kind}.{name}"
        for kind, model in RECORD_TYPES.items()
        for name in model.model_fields
        if f"`{name}`" not in README
    ]
    assert missing == []
