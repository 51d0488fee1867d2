"""The learned re-ranker: LightGBM LambdaRank on the feature matrix (``Scorer``, what serving holds, is in
``matcher.scorer``).

``LambdaRankModel`` follows scikit-learn conventions (hyper-parameters in ``__init__``, ``fit`` returns self,
learned attributes end in ``_``, ``random_state``) so it clones, and trains either in process or on a Dask cluster
(``fit_dask``: ``lightgbm.dask.DaskLGBMRanker`` on partitions that hold whole needs). Either way the result is one
``booster_`` cut at the best validation iteration: what MLflow logs and what ``Scorer`` wraps.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import lightgbm as lgb
import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from features.schema import SCHEMA
from matcher.scorer import (  # noqa: F401  (re-exported: the scorer's home before it left this module)
    NO_ENCODER,
    ContractError,
    EncoderId,
    Scorer,
    _check_width,
    _predict,
    indices_encoder,
)

EvalSet = tuple[np.ndarray, np.ndarray]


class LambdaRankModel(BaseEstimator):
    """LightGBM LambdaRank with NDCG early stopping on a validation set of whole needs.

    ``label_gain=None`` uses 2^grade − 1 for every grade up to the largest label (0, 1, 3, 7, 15 for 0..4): a hire
    is worth twice an interview, and so on down the funnel.

    The defaults are small, slow trees (7 leaves, ≥ 100 rows a leaf, learning rate 0.02): feedback labels are few
    and noisy, and on the demo world (3 split seeds) 31-leaf trees at 0.05 overfit them and stopped within a few
    rounds on the validation needs, 0.06 NDCG@10 below these.

    ``monotone=True`` passes ``SCHEMA.monotone`` (``Feature.monotone``) as LightGBM's ``monotone_constraints``: more
    text or graph relevance then never lowers a score. Off by default: on 3 demo worlds × 2 need splits it changed
    held-out NDCG@10 by −0.006 on average (−0.033 to +0.016 per run), no gain (``bench/bench_fit.py``).
    """

    def __init__(
        self,
        *,
        n_estimators: int = 400,
        learning_rate: float = 0.02,
        num_leaves: int = 7,
        min_child_samples: int = 100,
        subsample: float = 0.8,
        colsample_bytree: float = 0.8,
        reg_lambda: float = 1.0,
        label_gain: Sequence[float] | None = None,
        eval_at: int = 10,
        early_stopping_rounds: int = 50,
        random_state: int = 0,
        n_jobs: int | None = None,
        monotone: bool = False,
    ) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.reg_lambda = reg_lambda
        self.label_gain = label_gain
        self.eval_at = eval_at
        self.early_stopping_rounds = early_stopping_rounds
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.monotone = monotone

    # -- training -------------------------------------------------------------------------------------------------

    def _lgb_params(self, max_label: int) -> dict:
        gain = list(self.label_gain) if self.label_gain is not None else [2.0**g - 1 for g in range(max_label + 1)]
        if max_label >= len(gain):
            raise ValueError(
                f"LambdaRankModel: label {max_label} has no gain (label_gain has {len(gain)} entries, for grades "
                f"0..{len(gain) - 1}); pass a longer label_gain or lower the label map's grades"
            )
        return {
            "objective": "lambdarank",
            "metric": "ndcg",
            "n_estimators": self.n_estimators,
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_child_samples": self.min_child_samples,
            "subsample": self.subsample,
            "subsample_freq": 1 if self.subsample < 1 else 0,
            "colsample_bytree": self.colsample_bytree,
            "reg_lambda": self.reg_lambda,
            "label_gain": gain,
            "random_state": self.random_state,
            "n_jobs": self.n_jobs,
            "force_col_wise": True,  # ~30 columns, many rows: column-wise histograms, without LightGBM's timing probe
            "verbose": -1,
            **({"monotone_constraints": SCHEMA.monotone} if self.monotone else {}),
        }

    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        group: np.ndarray,
        *,
        eval_set: EvalSet | list[EvalSet] | None = None,
        eval_group: np.ndarray | list[np.ndarray] | None = None,
        sample_weight: np.ndarray | None = None,
        position: np.ndarray | None = None,
    ) -> LambdaRankModel:
        """Train on rows grouped by need (``group``: rows per need, in order); stop early on ``eval_set``.

        ``sample_weight`` scales each row's LambdaRank gradient (LightGBM multiplies per row; only its NDCG metric
        averages weights per group). ``position`` (one integer id per row, e.g. where the row was shown) turns on
        LightGBM's unbiased LambdaRank: it learns an additive bias per position id alongside the trees, and the
        trees alone score."""
        X, y, group = _check_rank_input(X, y, group, "training")
        evals = _eval_list(eval_set, eval_group)
        max_label = max([int(y.max())] + [int(ey.max()) for _, ey, _ in evals])
        if sample_weight is not None:
            sample_weight = _check_row_array(sample_weight, len(y), "sample_weight", np.float64)
            if not np.isfinite(sample_weight).all() or (sample_weight < 0).any():
                raise ValueError("sample_weight must be finite and >= 0, one per training row")
        if position is not None:
            position = _check_row_array(position, len(y), "position", np.int32)
            if (position < 0).any():
                raise ValueError("position ids must be >= 0, one per training row")
            return self._fit_with_position(X, y, group, evals, max_label, sample_weight, position)
        ranker = lgb.LGBMRanker(**self._lgb_params(max_label))
        kwargs: dict = {}
        if evals:
            kwargs = {
                "eval_X": tuple(ex for ex, _, _ in evals),
                "eval_y": tuple(ey for _, ey, _ in evals),
                "eval_group": [eg for _, _, eg in evals],
                "eval_at": [self.eval_at],
                "callbacks": [lgb.early_stopping(self.early_stopping_rounds, first_metric_only=True, verbose=False)],
            }
        ranker.fit(X, y, group=group, sample_weight=sample_weight, feature_name=SCHEMA.names, **kwargs)
        return self._learned(ranker.booster_, ranker.evals_result_ if evals else {})

    def _fit_with_position(self, X, y, group, evals, max_label, sample_weight, position) -> LambdaRankModel:
        """``lgb.train`` on a Dataset with positions (the scikit-learn wrapper takes none), same parameters."""
        params = {k: v for k, v in self._lgb_params(max_label).items() if v is not None}
        params["eval_at"] = [self.eval_at]
        train_set = lgb.Dataset(
            X, y, group=group, weight=sample_weight, position=position, feature_name=SCHEMA.names, params=params
        )
        valid_sets = [lgb.Dataset(ex, ey, group=eg, reference=train_set) for ex, ey, eg in evals]
        result: dict = {}
        callbacks = [lgb.record_evaluation(result)]
        if evals:
            callbacks.append(lgb.early_stopping(self.early_stopping_rounds, first_metric_only=True, verbose=False))
        booster = lgb.train(
            params,
            train_set,
            valid_sets=valid_sets,
            valid_names=[f"valid_{i}" for i in range(len(evals))],
            callbacks=callbacks,
        )
        return self._learned(booster, result)

    def fit_dask(
        self,
        X: np.ndarray,
        y: np.ndarray,
        group: np.ndarray,
        *,
        client,
        eval_set: EvalSet | None = None,
        eval_group: np.ndarray | None = None,
        n_partitions: int | None = None,
    ) -> LambdaRankModel:
        """Train with ``lightgbm.dask.DaskLGBMRanker`` on ``client``'s cluster. Rows are split into ``n_partitions``
        (default: one per worker) at need boundaries, so every partition holds whole groups, as LightGBM requires.
        Dask LightGBM has no early-stopping callback: all rounds run and the booster is cut at the iteration with
        the best validation NDCG."""
        import dask.array as da
        from lightgbm.dask import DaskLGBMRanker

        X, y, group = _check_rank_input(X, y, group, "training")
        evals = _eval_list(eval_set, eval_group)
        parts = n_partitions or max(1, len(client.scheduler_info()["workers"]))

        def chunked(x: np.ndarray, y: np.ndarray, g: np.ndarray) -> tuple:
            rows, groups = _partition(g, parts)
            return (
                da.from_array(x, chunks=(rows, x.shape[1])),
                da.from_array(y, chunks=(rows,)),
                da.from_array(g, chunks=(groups,)),
            )

        dX, dy, dg = chunked(X, y, group)
        max_label = max([int(y.max())] + [int(ey.max()) for _, ey, _ in evals])
        ranker = DaskLGBMRanker(client=client, **self._lgb_params(max_label))
        kwargs: dict = {}
        if evals:
            eX, ey, eg = chunked(*evals[0])
            kwargs = {"eval_X": (eX,), "eval_y": (ey,), "eval_group": [eg], "eval_at": [self.eval_at]}
        with warnings.catch_warnings():  # the wrapper always passes n_jobs; Dask sets threads per worker itself
            warnings.filterwarnings("ignore", message="Parameter n_jobs will be ignored")
            ranker.fit(dX, dy, group=dg, feature_name=SCHEMA.names, **kwargs)
        local = ranker.to_local()
        return self._learned(local.booster_, local.evals_result_ if evals else {})

    def _learned(self, booster: lgb.Booster, evals_result: dict) -> LambdaRankModel:
        """Set the learned attributes from a trained booster, cut at the best validation iteration."""
        curve = next(iter(evals_result.values()), {}).get(f"ndcg@{self.eval_at}")
        best = int(np.argmax(curve)) + 1 if curve else booster.current_iteration()
        self.booster_ = lgb.Booster(model_str=booster.model_to_string(num_iteration=best))
        self.best_iteration_ = best
        self.evals_result_ = evals_result
        self.feature_names_ = list(SCHEMA.names)
        self.schema_version_ = SCHEMA.version
        self.n_features_in_ = len(SCHEMA.names)
        return self

    # -- using the model ------------------------------------------------------------------------------------------

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Scores (higher ranks first); comparable within one need, not across needs."""
        check_is_fitted(self, "booster_")
        return _predict(self.booster_, X)

    def feature_importance(self, kind: str = "gain") -> dict[str, float]:
        """Feature name → total ``gain`` (or ``split`` count) over the kept trees, largest first."""
        check_is_fitted(self, "booster_")
        values = self.booster_.feature_importance(importance_type=kind)
        pairs = sorted(zip(self.feature_names_, values.tolist(), strict=True), key=lambda p: -p[1])
        return {name: float(v) for name, v in pairs}


def _check_rank_input(X: np.ndarray, y: np.ndarray, group: np.ndarray, what: str) -> tuple:
    X = _check_width(X)
    y = np.asarray(y)
    group = np.asarray(group, dtype=np.int64)
    if len(y) != len(X):
        raise ValueError(f"{what} data: {len(X)} feature rows but {len(y)} labels; give one label per row")
    if len(y) == 0:
        raise ValueError(f"{what} data is empty: no need has candidates with feedback; import feedback first")
    if not np.issubdtype(y.dtype, np.integer) and not np.array_equal(y, np.round(y)):
        raise ValueError(f"{what} data: labels must be integer grades (see matcher.labels)")
    y = y.astype(np.int32)
    if y.min() < 0:
        raise ValueError(f"{what} data: negative label {int(y.min())}; grades start at 0")
    if group.ndim != 1 or (group <= 0).any() or int(group.sum()) != len(X):
        raise ValueError(
            f"{what} data: group sizes must be positive and sum to the {len(X)} rows, got a sum of {int(group.sum())}"
        )
    return X, y, group


def _check_row_array(values: np.ndarray, rows: int, what: str, dtype: type) -> np.ndarray:
    values = np.asarray(values)
    if values.shape != (rows,):
        raise ValueError(f"{what}: expected one value per training row ({rows}), got shape {values.shape}")
    return values.astype(dtype)


def _eval_list(eval_set, eval_group) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Normalise one (X, y) or a list of them, with their group arrays, into checked triples."""
    if eval_set is None:
        return []
    if eval_group is None:
        raise ValueError("eval_set needs eval_group (rows per need of the validation set)")
    sets = [eval_set] if isinstance(eval_set, tuple) else list(eval_set)
    groups = [eval_group] if isinstance(eval_group, np.ndarray) or np.isscalar(eval_group[0]) else list(eval_group)
    if len(sets) != len(groups):
        raise ValueError(f"{len(sets)} eval sets but {len(groups)} eval groups; give one group array per set")
    return [_check_rank_input(x, y, g, "validation") for (x, y), g in zip(sets, groups, strict=True)]


def _partition(group: np.ndarray, parts: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Cut groups into at most ``parts`` contiguous runs of about equal rows: (rows per run, groups per run)."""
    ends = np.cumsum(group)
    cuts = np.searchsorted(ends, np.linspace(0, ends[-1], parts + 1)[1:-1], side="left") + 1
    bounds = np.unique(np.concatenate([[0], np.clip(cuts, 1, len(group)), [len(group)]]))
    groups = np.diff(bounds)
    rows = np.diff(np.concatenate([[0], ends[bounds[1:] - 1]]))
    return tuple(int(r) for r in rows), tuple(int(g) for g in groups)
