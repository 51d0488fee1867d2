"""Model cards: every registered version gets ``model_card.md`` in its run's artifacts (and as the version's
description in the registry), written by ``register_and_gate`` — the one path ``train`` and ``retrain`` share.

The card is built only from what the run logged (``runs.log_run``): the training data window (the feedback's time
range), metrics by post kind, the exposure of the model's top 10 on held-out needs (``exposure.json``), and the
gate's decision; intended use and known limits are the same for every version and written here once.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from mlflow import MlflowClient
from mlflow.entities import Run

CARD_PATH = "model_card.md"
EXPOSURE_PATH = "exposure.json"
"""The run artifact with the held-out exposure table (``matcher.model_exposure.heldout_exposure`` rows)."""
CARD_METRICS = ("ndcg@10", "map", "recall@10")

INTENDED_USE = (
    "Re-ranks the few hundred candidates retrieval found for a post (a need) of Jiaxing's international talent "
    "office, for a recruiter who decides: the ranking is advice with reasons, never an automated decision about a "
    "person. Serves the post kinds it was evaluated on (below). Not for judging a talent outside a post, not for "
    "talents who opted out of automated decisions (they are ranked without the model), not for any other city's "
    "policy."
)
KNOWN_LIMITS = (
    "- Learned from recruiters' feedback: it repeats what they rewarded, including their bias; read the exposure "
    "table (a ratio far below 1 is a group shown less than its share of the relevant).",
    "- Feedback comes from earlier rankings: talents never shown have no labels (position bias is corrected, not "
    "removed); offline metrics favour the model that produced the feedback — compare online before trusting a win.",
    "- Post kinds with few held-out needs have noisy metrics; a kind missing from the table above was not evaluated.",
    "- The model is pinned to its feature schema and encoder (in the header): indices built otherwise are refused.",
    "- Features drift as talents and needs change: `talentmatch report` measures it (PSI) and says when to retrain.",
)


def model_card(run: Run, version: str, gate: Mapping[str, Any], exposure: list[Mapping[str, Any]] | None) -> str:
    """The card of ``version`` registered from ``run`` (markdown)."""
    from matcher.registry.report import evaluation

    p = run.data.params
    _, by_kind = evaluation(run.data.metrics)
    lines = [
        f"# Model card: talent-ranker version {version}",
        "",
        f"Run `{run.info.run_id}`; feature schema {p.get('schema_version', '?')}, dense encoder "
        f"{p.get('encoder', '?')} {p.get('encoder_version', '')}".rstrip()
        + f"; gate: **{gate.get('decision')}** "
        f"({gate.get('reason')}).",
        "",
        "## Intended use",
        "",
        INTENDED_USE,
        "",
        "## Training data",
        "",
    ]
    if p.get("feedback_from"):
        lines.append(
            f"Feedback from {p['feedback_from']} to {p['feedback_to']} ({p.get('feedback_events', '?')} events); "
            f"{p.get('heldout_needs', '?')} held-out needs."
        )
    else:
        lines.append("Training data window: not recorded by this run.")
    lines += ["", "## Metrics by post kind", ""]
    models = sorted({m for per in by_kind.values() for m in per if "." not in m})
    if by_kind:
        lines += ["| post kind | model | " + " | ".join(CARD_METRICS) + " |", "|---|---|" + "---|" * len(CARD_METRICS)]
        for kind in sorted(by_kind):
            for model in models:
                values = by_kind[kind].get(model, {})
                lines.append(f"| {kind} | {model} | " + " | ".join(_num(values.get(m)) for m in CARD_METRICS) + " |")
    else:
        lines.append("No metrics by post kind were logged.")
    lines += ["", "## Exposure", ""]
    if exposure:
        lines += [
            "The model's top 10 on the held-out needs, by group, against the relevant talents there "
            "(ratio = exposure share / relevant share; 1 is even, below 1 hidden).",
            "",
            "| attribute | group | shown | exposure share | relevant share | ratio |",
            "|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {r['attribute']} | {r['group']} | {r['shown']} | {_num(r['exposure_share'])} | "
            f"{_num(r['relevant_share'])} | {_num(r['ratio'])} |"
            for r in exposure
        ]
    else:
        lines.append("No exposure figures were logged with this run.")
    lines += ["", "## Known limits", "", *KNOWN_LIMITS, ""]
    return "\n".join(lines)


def write_card(client: MlflowClient, run_id: str, version: str, gate: Mapping[str, Any]) -> str:
    """Build the card, log it to the run as ``model_card.md`` and set it as the version's description."""
    from matcher.registry.store import MODEL_NAME

    run = client.get_run(run_id)
    card = model_card(run, version, gate, _exposure(client, run_id))
    client.log_text(run_id, card, CARD_PATH)
    client.update_model_version(MODEL_NAME, version, description=card)
    return card


def _exposure(client: MlflowClient, run_id: str) -> list[dict[str, Any]] | None:
    names = {f.path for f in client.list_artifacts(run_id)}
    if EXPOSURE_PATH not in names:
        return None
    import mlflow.artifacts

    return json.loads(mlflow.artifacts.load_text(f"runs:/{run_id}/{EXPOSURE_PATH}"))


def _num(value: object) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return f"{float(value):.3f}"
