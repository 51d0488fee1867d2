"""The MLflow registry: where training and serving meet.

Training logs a run and registers the booster as ``talent-ranker`` (``runs``); the alias ``champion`` moves to the
new version only when it beats the current champion on the same held-out needs (``gate``, which also promotes and
rolls back by hand). Serving loads ``models:/talent-ranker@champion`` through ``load_champion``/``serving_model``
(``loading``), which never raise and refuse a model whose contract — feature schema, ordered feature names, dense
encoder — does not match the code or the serving indices. ``store`` says where the registry lives; ``watermark``
records which feedback a run trained on; ``report`` lists the versions and the latest runs with their evaluations;
``card`` writes each registered version's model card.

Names load on first use (PEP 562): a server reads its champion through ``loading`` without importing MLflow, which
``gate``, ``runs`` and ``report`` need.
"""

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matcher.registry.gate import AliasChange, GateResult, promote, register_and_gate, rollback
    from matcher.registry.loading import (
        CHALLENGER,
        CHAMPION,
        Serving,
        champion_version,
        list_versions,
        load_champion,
        serving_model,
    )
    from matcher.registry.report import model_report
    from matcher.registry.runs import heldout_fingerprint, log_run, metric_key, metric_name, synthetic_example
    from matcher.registry.store import EXPERIMENT, MODEL_NAME, ModelMismatch, RegistryError, configure, uri
    from matcher.registry.watermark import (
        WATERMARK_PARAM,
        Watermark,
        champion_watermark,
        last_watermark,
        watermark_param,
    )

_WHERE = {
    **dict.fromkeys(["AliasChange", "GateResult", "promote", "register_and_gate", "rollback"], "gate"),
    **dict.fromkeys(
        ["CHALLENGER", "CHAMPION", "Serving", "champion_version", "list_versions", "load_champion", "serving_model"],
        "loading",
    ),
    "model_report": "report",
    **dict.fromkeys(["heldout_fingerprint", "log_run", "metric_key", "metric_name", "synthetic_example"], "runs"),
    **dict.fromkeys(["EXPERIMENT", "MODEL_NAME", "ModelMismatch", "RegistryError", "configure", "uri"], "store"),
    **dict.fromkeys(
        ["WATERMARK_PARAM", "Watermark", "champion_watermark", "last_watermark", "watermark_param"], "watermark"
    ),
}


def __getattr__(name: str) -> object:
    if (module := _WHERE.get(name)) is None:
        raise AttributeError(f"module 'matcher.registry' has no attribute {name!r}")
    value = getattr(import_module(f"matcher.registry.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "CHALLENGER",
    "CHAMPION",
    "EXPERIMENT",
    "MODEL_NAME",
    "WATERMARK_PARAM",
    "AliasChange",
    "GateResult",
    "ModelMismatch",
    "RegistryError",
    "Serving",
    "Watermark",
    "champion_version",
    "champion_watermark",
    "configure",
    "heldout_fingerprint",
    "last_watermark",
    "list_versions",
    "load_champion",
    "log_run",
    "metric_key",
    "metric_name",
    "model_report",
    "promote",
    "register_and_gate",
    "rollback",
    "serving_model",
    "synthetic_example",
    "uri",
    "watermark_param",
]
