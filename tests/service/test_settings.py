"""Settings: one source of defaults for the service and the CLI; the encoder names come from the encoder registry."""

import pytest
from pydantic import ValidationError

from features.dense import encoder_names
from service.settings import Settings


def test_the_encoder_setting_accepts_the_registry_names_and_none(monkeypatch):
    for name in encoder_names():
        monkeypatch.setenv("TALENTMATCH_ENCODER", name)
        assert Settings().encoder == name
    assert encoder_names()[0] == "usem3" and encoder_names()[-1] == "none"


def test_an_unknown_encoder_setting_names_the_choices(monkeypatch):
    monkeypatch.setenv("TALENTMATCH_ENCODER", "bert")
    with pytest.raises(ValidationError, match=r"unknown dense encoder 'bert'.*available: usem3.*none"):
        Settings()
