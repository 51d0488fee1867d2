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


def test_every_setting_is_documented():
    from service.settings import Settings

    missing = [name for name in Settings.model_fields if f"`TALENTMATCH_{name.upper()}`" not in README]
    assert missing == []


def test_the_configuration_table_shows_each_settings_default():
    """A changed default (the encoder's, say) must change the README's table with it."""
    import re

    from service.settings import Settings

    shown = dict(re.findall(r"^\| `TALENTMATCH_(\w+)` \| (`[^`]*`|empty) \|", README, re.M))
    wrong = {}
    for name, field in Settings.model_fields.items():
        default = field.default
        expect = "empty" if default == "" else f"`{'none' if default is None else default}`"
        if shown.get(name.upper()) != expect:
            wrong[name] = (shown.get(name.upper()), expect)
    assert wrong == {}


def test_every_cli_command_is_documented():
    import typer.main

    from service.cli import app

    group = typer.main.get_group(app)
    commands = [
        f"talentmatch {name} {sub}".strip()
        for name, cmd in group.commands.items()
        for sub in (getattr(cmd, "commands", None) or {"": None})
    ]
    assert [c for c in commands if f"`{c}" not in README] == []
