"""Settings: one source of defaults for the service and the CLI; the encoder names come from the encoder registry."""

import pytest
from pydantic import ValidationError

from features.dense import DEFAULT_ENCODER, encoder_names
from service.settings import Settings


def test_the_encoder_setting_accepts_the_registry_names_and_none(monkeypatch):
    for name in encoder_names():
        monkeypatch.setenv("TALENTMATCH_ENCODER", name)
        assert Settings().encoder == name
    assert encoder_names()[0] == "usem3" and encoder_names()[-1] == "none"


def test_the_default_encoder_is_the_registrys_default(monkeypatch):
    """Settings spell the default out (they load without the encoders); it must stay the one features use."""
    monkeypatch.delenv("TALENTMATCH_ENCODER", raising=False)
    assert Settings().encoder == DEFAULT_ENCODER == "usem3-int8"


def test_an_unknown_encoder_setting_names_the_choices(monkeypatch):
    monkeypatch.setenv("TALENTMATCH_ENCODER", "bert")
    with pytest.raises(ValidationError, match=r"unknown dense encoder 'bert'.*available: usem3.*none"):
        Settings()


def test_a_bad_setting_stops_a_command_with_one_line_naming_the_variable(tmp_path):
    from typer.testing import CliRunner

    from service.cli import app

    env = {"TALENTMATCH_ENCODER": "bert", "TALENTMATCH_PORT": "abc", "COLUMNS": "200"}
    done = CliRunner().invoke(
        app, ["db", "stats"], env={**env, "TALENTMATCH_DATABASE_URL": f"sqlite:///{tmp_path}/x.db"}
    )
    assert done.exit_code == 1
    assert done.exception is None or isinstance(done.exception, SystemExit)  # no traceback
    message = done.output  # stdout and stderr
    assert "bad setting: TALENTMATCH_ENCODER: " in message and "unknown dense encoder 'bert'" in message
    assert "TALENTMATCH_PORT: Input should be a valid integer" in message and "fix the environment variable" in message


def test_the_conflict_settings_reach_the_indices_and_refuse_unknown_kinds(monkeypatch):
    from features.indices import Indices
    from features.records import NeedKind
    from service.indexing import configure

    monkeypatch.setenv("TALENTMATCH_CONFLICT_EVALUATED_KINDS", " full_time , enclave")
    monkeypatch.setenv("TALENTMATCH_CONFLICT_WINDOW_DAYS", "30")
    settings = Settings()
    assert settings.conflict_evaluated == {NeedKind.full_time, NeedKind.enclave}
    ties = configure(Indices.build({}, encoder=None), settings).ties
    assert (ties.evaluated, ties.window_days) == ({NeedKind.full_time, NeedKind.enclave}, 30)
    monkeypatch.setenv("TALENTMATCH_CONFLICT_EVALUATED_KINDS", "")
    assert Settings().conflict_evaluated == frozenset()
    monkeypatch.setenv("TALENTMATCH_CONFLICT_EVALUATED_KINDS", "special_researcher,postdoc")
    with pytest.raises(ValidationError, match=r"(?s)conflict_evaluated_kinds.*unknown need kind\(s\) postdoc"):
        Settings()
    assert Settings.model_fields["conflict_window_days"].default == 1095
    assert Settings.model_fields["conflict_evaluated_kinds"].default == "special_researcher,incubation_project"
