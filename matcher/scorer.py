"""What serving holds: ``Scorer``, a booster pinned to a model version and its contract (feature schema, ordered
feature names, dense encoder), and the contract's checks. Apart from ``matcher.ranker`` (training), so a server
loads its champion without importing LightGBM's Python package and scikit-learn (``matcher.booster``).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache, cached_property, partial
from typing import TYPE_CHECKING, Any

import numpy as np

from features.dense import NO_DENSE
from features.schema import SCHEMA
from matcher.splits import Splits
from matcher.treeshap import PathShap

if TYPE_CHECKING:
    from features.indices import Indices
    from matcher.ranker import LambdaRankModel


class ContractError(ValueError):
    """A model's contract (feature schema, ordered feature names, dense encoder) does not match this code or these
    indices: scoring would read columns the model was not trained on (a missing encoder's columns are all 0)."""


@dataclass(frozen=True)
class EncoderId:
    """The dense encoder a model was trained with or indices were built with: ``none`` (version ``""``) when there
    are no dense vectors, whose columns are then all 0."""

    name: str
    version: str

    def __str__(self) -> str:
        return self.name if not self.version else f"{self.name} (version {self.version})"


NO_ENCODER = EncoderId(NO_DENSE, "")


def indices_encoder(idx: Indices) -> EncoderId:
    """The encoder ``idx``'s dense columns come from."""
    return NO_ENCODER if idx.dense is None else EncoderId(idx.dense.encoder_name, idx.dense.encoder_version)


class Scorer:
    """What serving holds: a booster pinned to a model version and its contract — the feature schema, the ordered
    feature names and the dense encoder it was trained with. ``check_indices`` refuses indices built otherwise."""

    def __init__(
        self, booster: Any, version: str, schema_version: str, encoder: EncoderId, *, name: str | None = None
    ) -> None:
        label = f"{name} v{version}" if name else f"model {version}"
        if schema_version != SCHEMA.version:
            raise ContractError(
                f"{label}: trained on feature schema {schema_version}, but this code builds schema "
                f"{SCHEMA.version}; retrain with `talentmatch train` or deploy the matching code version"
            )
        names = booster.feature_name()
        if names != SCHEMA.names:
            diff = sorted(set(names) ^ set(SCHEMA.names))
            where = next((i for i, (a, b) in enumerate(zip(names, SCHEMA.names, strict=False)) if a != b), None)
            detail = ", ".join(diff[:5]) if diff else f"same names, different order from position {where}"
            raise ContractError(
                f"{label}: booster features differ from schema {SCHEMA.version} ({detail}); retrain with "
                "`talentmatch train`"
            )
        self.booster = booster
        self.version = version
        self.schema_version = schema_version
        self.encoder = encoder
        self.feature_names = list(names)
        self.label = label

    @classmethod
    def from_model(cls, model: LambdaRankModel, version: str, encoder: EncoderId) -> Scorer:
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(model, "booster_")
        return cls(model.booster_, version, model.schema_version_, encoder)

    def check_indices(self, idx: Indices) -> None:
        """Refuse indices whose dense columns come from another encoder than the model was trained with."""
        built = indices_encoder(idx)
        if built != self.encoder:
            raise ContractError(
                f"{self.label} was trained with encoder {self.encoder}; these indices were built with encoder "
                f"{built}; rebuild the indices with --encoder {self.encoder.name} (TALENTMATCH_ENCODER) or retrain "
                f"with --encoder {built.name}"
            )

    def predict(self, X: np.ndarray) -> np.ndarray:
        return _predict(self.booster, X)

    @cached_property
    def _splits(self) -> Splits | None:
        return Splits.parse(self.booster.model_to_string())

    def explanation_keys(self, X: np.ndarray) -> list[bytes]:
        """One key a row of ``X``: rows of one key have the same ``contributions`` (the side of every split they
        take: ``matcher.splits``; for a model with categorical splits, the row's bytes)."""
        X = _check_width(X)
        if (splits := self._splits) is None:
            return [row.tobytes() for row in X]
        return splits.sides(X)

    @cached_property
    def _path_shap(self) -> PathShap | None:
        return PathShap.parse(self.booster.model_to_string())

    def contributions(self, X: np.ndarray) -> np.ndarray:
        """Per-feature contributions (n, F + 1) to each score; the last column is the bias. Rows sum to ``predict``.
        LightGBM's TreeSHAP values, from ``matcher.treeshap`` (~4× faster) for the models it covers."""
        X = _check_width(X)
        if len(X) == 0:  # a need whose every candidate a rule removed (LightGBM divides by the row count)
            return np.zeros((0, X.shape[1] + 1), dtype=np.float32)
        if (shap := self._path_shap) is not None:
            return shap.contributions(X).astype(np.float32)
        helpers, threads = _explainers()
        if helpers is None or len(X) < SPLIT_ROWS:
            contrib = self.booster.predict(X, pred_contrib=True, num_threads=1)  # one thread: see _predict
        else:  # row chunks on threads, not OpenMP: LightGBM's C call releases the GIL, and threads never spin-wait
            explain = partial(self.booster.predict, pred_contrib=True, num_threads=1)
            first, *rest = np.array_split(X, threads + 1)
            later = [helpers.submit(explain, part) for part in rest]
            done = [explain(first)]  # then each chunk a helper took, or (still queued behind other requests') here
            done += [explain(part) if task.cancel() else task.result() for part, task in zip(rest, later, strict=True)]
            contrib = np.vstack(done)
        return np.asarray(contrib, dtype=np.float32).reshape(len(X), -1)


SPLIT_ROWS = 4
"""Rows LightGBM explains in one call below this (a model ``matcher.treeshap`` does not cover): its TreeSHAP costs
~0.6 ms a row with a champion of 100 trees × 31 leaves, a hand-off to a helper thread ~0.05 ms."""


@cache
def _explainers() -> tuple[ThreadPoolExecutor | None, int]:
    """Threads that explain rows beside the caller, one per further core (at most 3): a first ranking's 20 cards
    took 12.9 ms of TreeSHAP on one core, 6.8 ms split over two (the same values). Under load they take no more CPU
    than one thread would; OpenMP's threads (``num_threads=2``) were as fast alone but spin-wait on busy cores."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    threads = min(cores, 4) - 1
    return (ThreadPoolExecutor(threads, "talentmatch-explain") if threads else None), threads


def _predict(booster: Any, X: np.ndarray) -> np.ndarray:
    X = _check_width(X)
    if len(X) == 0:
        return np.zeros(0, dtype=np.float32)
    # One thread: a few hundred rows per request cost ~1.5 ms alone but ~8 ms with OpenMP fighting for 2 busy cores.
    return np.asarray(booster.predict(X, num_threads=1), dtype=np.float32)


def _check_width(X: np.ndarray) -> np.ndarray:
    X = np.asarray(X, dtype=np.float32)
    if X.ndim != 2 or X.shape[1] != len(SCHEMA.names):
        raise ValueError(
            f"feature matrix has shape {X.shape}; expected (n, {len(SCHEMA.names)}) in schema {SCHEMA.version} "
            "order (build it with features.matrix.feature_matrix)"
        )
    return X
