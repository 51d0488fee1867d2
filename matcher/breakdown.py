"""The model report's tables: held-out metrics by a need attribute, score calibration and a contribution summary.

Kept here rather than in the notebooks so the report's numbers come from tested code (``notebooks/2.0-model-report``
only draws them). Every table is a ``pandas.DataFrame`` of plain numbers, so a notebook shows or plots it as is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime

import numpy as np
import pandas as pd

from features.indices import Indices
from features.matrix import feature_matrix
from features.records import Enterprise, FeedbackEvent, Need
from matcher.dataset import retrieve_ids
from matcher.evaluate import ScoreFn, evaluate
from matcher.labels import DEFAULT_LABELS, labels_from_feedback
from matcher.reasons import GROUPS

NO_PLATFORM = "(no platform)"


def relevance_map(
    need_ids: Iterable[str],
    feedback: Iterable[FeedbackEvent],
    truth: Mapping[str, Mapping[str, int]] | None = None,
    label_map: Mapping[str, int] = DEFAULT_LABELS,
) -> dict[str, dict[str, int]]:
    """need id → talent id → grade for ``need_ids``: the hidden truth where a demo world has one, else the graded
    feedback (as ``matcher.evaluate`` scores against either)."""
    wanted = set(need_ids)
    if truth is not None:
        return {n: dict(truth.get(n, {})) for n in wanted}
    out: dict[str, dict[str, int]] = {n: {} for n in wanted}
    for (need_id, talent_id), grade in labels_from_feedback(feedback, label_map).items():
        if need_id in wanted:
            out[need_id][talent_id] = grade
    return out


def platform_of(needs: Iterable[Need], enterprises: Iterable[Enterprise]) -> dict[str, str]:
    """need id → the platform id of its enterprise (``NO_PLATFORM`` when the need or its enterprise names none)."""
    platforms = {e.id: e.platform_id for e in enterprises}
    return {n.id: platforms.get(n.enterprise_id or "") or NO_PLATFORM for n in needs}


def evaluate_by(
    idx: Indices,
    needs: Sequence[Need],
    scorers: Mapping[str, ScoreFn],
    group_of: Mapping[str, str] | Callable[[Need], str],
    *,
    relevance: Mapping[str, Mapping[str, int]],
    **evaluate_options,
) -> pd.DataFrame:
    """``matcher.evaluate.evaluate`` on each group of ``needs`` (``group_of``: need id → group, or a function of the
    need): one row per (group, scorer) with the number of needs and the mean of every metric over the group's needs.
    ``evaluate_options`` (``k``, ``k_recall``, ``now``, ``random_state``) go to ``evaluate`` unchanged."""
    groups: dict[str, list[Need]] = {}
    for need in needs:
        if not callable(group_of) and need.id not in group_of:
            raise ValueError(f"evaluate_by: need {need.id!r} has no group in group_of; give every need a group")
        groups.setdefault(str(group_of(need) if callable(group_of) else group_of[need.id]), []).append(need)
    rows = []
    for group in sorted(groups):
        members = groups[group]
        for scorer, metrics in evaluate(idx, members, scorers, truth=relevance, **evaluate_options).items():
            values = {m: v for m, v in metrics.items() if m != "by_kind"}
            rows.append({"group": group, "model": scorer, "needs": len(members), **values})
    return pd.DataFrame(rows)


def scored_candidates(
    idx: Indices,
    needs: Sequence[Need],
    score: ScoreFn,
    relevance: Mapping[str, Mapping[str, int]],
    *,
    k: int = 300,
    now: datetime | None = None,
) -> tuple[pd.DataFrame, np.ndarray]:
    """Every retrieved candidate of ``needs`` (the top-``k`` serving re-ranks) with its score and grade (0: not
    relevant), and the feature rows it was scored on (for ``pred_contrib``), in the same order."""
    frames, matrices = [], []
    for need in needs:
        cands = retrieve_ids(idx, need, k)
        if not cands:
            continue
        X = feature_matrix(idx, need, cands, now=now)
        grades = relevance.get(need.id, {})
        frames.append(
            pd.DataFrame(
                {
                    "need_id": need.id,
                    "kind": need.kind.value,
                    "talent_id": cands,
                    "score": np.asarray(score(X, need), dtype=np.float64),
                    "grade": [grades.get(t, 0) for t in cands],
                }
            )
        )
        matrices.append(X)
    if not frames:
        return pd.DataFrame(columns=["need_id", "kind", "talent_id", "score", "grade"]), np.zeros((0, 0))
    return pd.concat(frames, ignore_index=True), np.vstack(matrices)


def calibration(
    scores: Sequence[float], grades: Sequence[int], bins: int = 10, *, strategy: str = "quantile"
) -> pd.DataFrame:
    """Scores cut into ``bins`` bins, lowest first: candidates, score range and mean, mean grade, and the share of
    candidates relevant (grade >= 1) and highly relevant (grade >= 3). A model whose scores mean something has the
    mean grade rising with the bin. ``strategy``: ``quantile`` bins hold equal numbers of candidates (at most one bin
    per candidate); ``uniform`` bins are equally wide over the score range (empty ones left out), which shows the
    few high scores a retrieved pool's long tail of low ones would otherwise swallow."""
    if bins < 1:
        raise ValueError(f"calibration: bins must be at least 1, got {bins}")
    if strategy not in ("quantile", "uniform"):
        raise ValueError(f"calibration: strategy must be 'quantile' or 'uniform', got {strategy!r}")
    scores, grades = np.asarray(scores, dtype=np.float64), np.asarray(grades, dtype=np.int64)
    if len(scores) != len(grades):
        raise ValueError(f"calibration: {len(scores)} scores but {len(grades)} grades")
    frame = pd.DataFrame({"score": scores, "grade": grades})
    if frame.empty:
        return pd.DataFrame(columns=["bin", "candidates", "score_min", "score_max", "score_mean", "grade_mean",
                                     "relevant", "highly_relevant"])  # fmt: skip
    if strategy == "quantile":
        frame["bin"] = pd.qcut(frame["score"].rank(method="first"), q=min(bins, len(frame)), labels=False)
    else:
        frame["bin"] = pd.cut(frame["score"], bins=bins, labels=False, include_lowest=True)
    out = frame.groupby("bin").agg(
        candidates=("score", "size"),
        score_min=("score", "min"),
        score_max=("score", "max"),
        score_mean=("score", "mean"),
        grade_mean=("grade", "mean"),
        relevant=("grade", lambda g: float((g >= 1).mean())),
        highly_relevant=("grade", lambda g: float((g >= 3).mean())),
    )
    return out.reset_index()


def contribution_summary(
    contributions: np.ndarray, feature_names: Sequence[str], *, by: str = "feature"
) -> pd.DataFrame:
    """One row per feature of LightGBM ``pred_contrib`` output (n rows × features + bias; ``Scorer.contributions``):
    its reason group (``matcher.reasons.GROUPS``: what a recruiter reads in the reasons; ``other`` for the rest), mean
    contribution, mean absolute contribution and its share of all absolute contributions, largest first. The bias
    column is left out. ``by="group"``: one row per reason group, its features' figures summed."""
    if by not in ("feature", "group"):
        raise ValueError(f"contribution_summary: by must be 'feature' or 'group', got {by!r}")
    contrib = np.asarray(contributions, dtype=np.float64)
    if contrib.ndim != 2 or contrib.shape[1] != len(feature_names) + 1:
        raise ValueError(
            f"contribution_summary: contributions of shape {contrib.shape}; expected (n, {len(feature_names) + 1}): "
            "one column per feature and the bias last"
        )
    group = {feature: g for g, features in GROUPS.items() for feature in features}
    mean_abs = np.abs(contrib[:, :-1]).mean(axis=0) if len(contrib) else np.zeros(len(feature_names))
    total = mean_abs.sum()
    out = pd.DataFrame(
        {
            "feature": list(feature_names),
            "group": [group.get(f, "other") for f in feature_names],
            "mean": contrib[:, :-1].mean(axis=0) if len(contrib) else 0.0,
            "mean_abs": mean_abs,
            "share": mean_abs / total if total > 0 else 0.0,
        }
    )
    if by == "group":
        out = out.groupby("group", as_index=False)[["mean", "mean_abs", "share"]].sum()
    return out.sort_values("mean_abs", ascending=False, kind="stable").reset_index(drop=True)
