"""One training run: feedback → graded labels → rows per need → LambdaRank → held-out evaluation with baselines.

The single entry point of ``talentmatch train`` and of the MLflow logging (which stays out of this module): it
returns everything a run reports. Needs are split before any row is built, so a held-out need never contributes
a training row; the validation needs only stop boosting early (when asked) and chose the defaults; the test needs
are only scored.

Feedback comes from rankings a recruiter scrolled: a grade 0 is a judgement only where the recruiter looked.
``LabelTreatment`` says what a row that was never examined counts for (``unexamined``: shown but not opened;
``context_weight``: retrieved but never shown) and how position bias is undone (``debias``). ``prepare`` builds
the rows once and ``fit_model`` fits one treatment on them, so comparisons (``bench quality``) share the features.

Feedback teaches about people: with ``persons`` (talent id → person id; the service reads the store's, a world
folder may be linked by ``features.people.link``) feedback on any record of a person grades the person for that need
(``labels.fold_persons``), each need has one row per person (``dataset.build_rank_data``) and the held-out needs are
scored one card per person (``evaluate.evaluate``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

import numpy as np

from features.indices import Indices
from features.records import FeedbackEvent
from features.schema import SCHEMA
from matcher.dataset import CandidateMode, RankData, build_rank_data, snapshot_time
from matcher.drift import profile
from matcher.evaluate import Splits, baseline_scorers, evaluate, split_needs
from matcher.labels import (
    DEFAULT_LABELS,
    Persons,
    examination_propensity,
    exposure_from_feedback,
    fold_persons,
    labels_from_feedback,
)
from matcher.ranker import EncoderId, LambdaRankModel, indices_encoder

Progress = Callable[[str], None]

DEFAULT_MODE = CandidateMode.sampled
"""On the demo world (5,000 talents, 3 seeds) ``sampled`` and ``union`` were within noise of each other and both
well above ``feedback`` only (which never sees the retrieved negatives it must rank); ``sampled`` is half the rows."""


class Unexamined(StrEnum):
    """A talent shown but never opened: ``negative`` grades it 0 like a judged reject; ``exclude`` drops it;
    ``weight`` grades it 0 with the weight of the chance it was examined at its position."""

    negative = "negative"
    exclude = "exclude"
    weight = "weight"


class Debias(StrEnum):
    """Position debiasing: ``none``; ``position``, LightGBM's unbiased LambdaRank (a bias per shown position learnt
    with the trees; see ``position_ids``); ``ipw``, examined rows weighted by the inverse of their position's
    examination propensity (``labels.examination_propensity``)."""

    none = "none"
    position = "position"
    ipw = "ipw"


@dataclass(frozen=True)
class LabelTreatment:
    """What unexamined rows count for and how position bias is undone; ``context_weight`` (0..1) is the weight of
    the retrieved talents never shown (0 drops them); ``view_grade`` (0 or 1) is the training grade of a talent
    viewed but never judged, every judged grade above 0 lifted by as much so a shortlist still outranks a view
    (training only: evaluation keeps the label map's grades)."""

    unexamined: Unexamined | str = Unexamined.negative
    context_weight: float = 1.0
    debias: Debias | str = Debias.none
    view_grade: int = 0

    def __post_init__(self) -> None:
        for name, kind in (("unexamined", Unexamined), ("debias", Debias)):
            value = getattr(self, name)
            try:
                object.__setattr__(self, name, kind(value))
            except ValueError:
                choices = ", ".join(k.value for k in kind)
                raise ValueError(f"train: {name} must be one of {choices}, got {value!r}") from None
        w = self.context_weight
        if isinstance(w, bool) or not isinstance(w, int | float) or not 0 <= w <= 1:
            raise ValueError(f"train: context_weight must be a number in 0..1 (0 drops never-shown talents), got {w!r}")
        if self.view_grade not in (0, 1) or isinstance(self.view_grade, bool):
            raise ValueError(f"train: view_grade must be 0 or 1, got {self.view_grade!r}")

    def to_dict(self) -> dict[str, object]:
        return {
            "unexamined": self.unexamined.value,
            "context_weight": self.context_weight,
            "debias": self.debias.value,
            "view_grade": self.view_grade,
        }


LEGACY = LabelTreatment()
"""Every retrieved talent without a judgement is a 0 of full weight, no debiasing: the treatment before issue 10."""

DEFAULT_TREATMENT = LabelTreatment(Unexamined.exclude, 1.0, Debias.none, view_grade=1)
"""A talent shown but never opened was never judged, so it is left out of training (unknown, not a negative); the
retrieved talents never shown stay as the sampled negatives the re-ranker must learn to push down. The grades (a
view lifted above the unseen) and no debiasing were chosen on the validation needs' feedback of five demo worlds
(README, Training). That feedback cannot choose the unexamined treatment: it scores every unopened talent as a
miss, so it favours the model trained to the same assumption (README, Training labels)."""

DEFAULT_EARLY_STOPPING = False
"""Whether ``fit_model`` stops at the best round on the validation needs' feedback (else all rounds are kept). Off:
the feedback of a tenth of the needs is too little and too noisy to stop on (one demo world, learning rate 0.02:
treatments that scored alike stopped anywhere between 2 and 133 rounds)."""

DEFAULT_PARAMS: dict[str, object] = {"n_estimators": 100, "learning_rate": 0.05}
"""``LambdaRankModel`` hyper-parameters over its own defaults (7 leaves, >= 100 rows a leaf, L2 1), chosen with
the treatment: 25, 50, 100 and 200 rounds at 0.05 and 15-leaf trees were compared (README, Training)."""


@dataclass(frozen=True)
class Prepared:
    """Rows of one split, built once: training and validation rows, the position propensity the feedback implies
    and the freshness clock. ``fit_model`` fits any treatment on them."""

    splits: Splits
    train: RankData
    valid: RankData
    propensity: np.ndarray
    now: datetime | None
    labels: dict[tuple[str, str], int]
    persons: Persons | None = None


@dataclass
class TrainResult:
    """What a run produced. ``metrics`` is ``evaluate``'s output on the test needs for ``lambdarank`` and every
    baseline (truth-based when ``truth_based``), ``feedback_metrics`` the same against the test needs' feedback.
    ``encoder``: the dense encoder of the indices trained on, part of the model's contract."""

    model: LambdaRankModel
    splits: Splits
    metrics: dict[str, dict]
    feedback_metrics: dict[str, dict]
    truth_based: bool
    feature_importance: dict[str, float]
    params: dict[str, object]
    label_map: dict[str, int]
    rows: dict[str, int]
    trained_on: list[str]
    snapshot: datetime | None
    encoder: EncoderId
    seconds: dict[str, float] = field(default_factory=dict)
    profile: dict[str, dict] | None = None
    """``matcher.drift.profile`` of the training rows that were shown (what receipts record of later rankings):
    the reference ``talentmatch report`` measures drift against."""


def prepare(
    idx: Indices,
    feedback: Sequence[FeedbackEvent],
    *,
    label_map: Mapping[str, int] = DEFAULT_LABELS,
    mode: CandidateMode | str = DEFAULT_MODE,
    negatives: int = 100,
    k: int = 300,
    test_size: float = 0.2,
    valid_size: float = 0.1,
    random_state: int = 0,
    persons: Persons | None = None,
) -> Prepared:
    """Split the needs with feedback and build the training and validation rows (with each row's exposure);
    ``persons``: feedback per person (module docstring)."""
    _check_no_hire_edges(idx)
    feedback = fold_persons(feedback, persons)
    labels = labels_from_feedback(feedback, label_map)
    exposure = exposure_from_feedback(feedback)
    now = snapshot_time(feedback)
    known = sorted({n for n, _ in labels} & set(idx.needs))
    if not known:
        raise ValueError("train: no feedback refers to an indexed need; import feedback for the world's needs first")
    splits = split_needs(known, test_size=test_size, valid_size=valid_size, random_state=random_state)

    def rows(ids: list[str]) -> RankData:
        needs = [idx.needs[i] for i in ids]
        return build_rank_data(
            idx, needs, labels, mode=mode, k=k, negatives=negatives, now=now, random_state=random_state,
            exposure=exposure, persons=persons,
        )  # fmt: skip

    propensity = examination_propensity(exposure)
    return Prepared(splits, rows(splits.train), rows(splits.valid), propensity, now, labels, persons or None)


def row_weights(data: RankData, treatment: LabelTreatment, propensity: np.ndarray) -> np.ndarray:
    """Training weight of each row under ``treatment`` (0 drops the row). ``propensity[p]``: the examination
    propensity of position ``p`` relative to the top (the last entry for positions past the end)."""
    at = propensity[np.clip(data.position, 0, len(propensity) - 1)]
    known_at = data.position >= 0
    w = np.ones(len(data))
    if treatment.debias is Debias.ipw:
        w = np.where(data.examined & known_at, 1.0 / at, w)
    unexamined = data.shown & ~data.examined
    if treatment.unexamined is Unexamined.exclude:
        w[unexamined] = 0.0
    elif treatment.unexamined is Unexamined.weight:
        w[unexamined] = np.where(known_at, at, 1.0)[unexamined]
    w[~data.shown] = treatment.context_weight
    return w


def training_grades(data: RankData, treatment: LabelTreatment, y: np.ndarray | None = None) -> np.ndarray:
    """The grades ``fit_model`` trains on: ``y`` (default ``data.y``) with ``treatment.view_grade`` applied."""
    y = data.y if y is None else np.asarray(y)
    if not treatment.view_grade:
        return y
    viewed = data.examined & ~data.judged & (y == 0)
    return np.where(y > 0, y + treatment.view_grade, np.where(viewed, treatment.view_grade, 0)).astype(np.int32)


def position_ids(data: RankData) -> np.ndarray:
    """LightGBM position id per row: the shown position. Rows never shown (or at an unknown position) share the
    top position's id, so their grades count as judged where examination is surest and keep working as negatives
    (their own id would let a bias absorb them, and the trees would stop learning to rank the retrieved talents,
    which is all serving sees; measured on the demo worlds). ``context_weight`` says how much they count."""
    return np.where(data.position >= 0, data.position, 0)


def fit_model(
    prep: Prepared,
    *,
    treatment: LabelTreatment | None = None,
    params: Mapping[str, object] | None = None,
    feature_groups: Sequence[str] | None = None,
    random_state: int = 0,
    dask: str | object | None = None,
    early_stopping: bool | None = None,
    y: np.ndarray | None = None,
    valid_y: np.ndarray | None = None,
) -> LambdaRankModel:
    """Fit one model on ``prep``'s rows under ``treatment`` (default ``DEFAULT_TREATMENT``) with ``params`` over
    ``DEFAULT_PARAMS``. ``feature_groups`` (schema group names) keeps only those columns: the others are set to 0,
    so no tree splits on them (ablations). ``early_stopping`` (default ``DEFAULT_EARLY_STOPPING``) cuts the trees
    at the best validation round; without it every ``n_estimators`` round is kept. ``y`` / ``valid_y`` replace the
    grades (a truth-trained ceiling in ``bench quality``; never in product code)."""
    treatment = treatment or DEFAULT_TREATMENT
    early_stopping = DEFAULT_EARLY_STOPPING if early_stopping is None else early_stopping
    tr, va = prep.train, prep.valid
    w = row_weights(tr, treatment, prep.propensity)
    keep = w > 0
    X, Xv = _only_groups(tr.X[keep], feature_groups), _only_groups(va.X, feature_groups)
    ty = training_grades(tr, treatment, y)[keep]
    vy = va.y if valid_y is None else np.asarray(valid_y)
    group = _groups_after(tr.group, keep)
    weight = None if np.all(w[keep] == 1) else w[keep]
    position = position_ids(tr)[keep] if treatment.debias is Debias.position else None
    model = LambdaRankModel(**{**DEFAULT_PARAMS, **dict(params or {}), "random_state": random_state})
    evals = {"eval_set": (Xv, vy), "eval_group": va.group} if early_stopping else {}
    if dask is None:
        return model.fit(X, ty, group, sample_weight=weight, position=position, **evals)
    if position is not None or weight is not None:
        raise ValueError(
            "train: --dask trains unweighted rows without positions; use --unexamined negative or exclude, "
            f"--context-weight 1 and --debias none with --dask, or train in process (got {treatment.to_dict()})"
        )
    with dask_client(dask) as client:
        return model.fit_dask(X, ty, group, client=client, **evals)


def _only_groups(X: np.ndarray, groups: Sequence[str] | None) -> np.ndarray:
    if groups is None:
        return X
    known = sorted({f.group for f in SCHEMA.features})
    unknown = sorted(set(groups) - set(known))
    if unknown:
        raise ValueError(f"train: unknown feature group(s) {', '.join(unknown)}; schema groups are {', '.join(known)}")
    drop = [i for i, f in enumerate(SCHEMA.features) if f.group not in set(groups)]
    X = X.copy()
    X[:, drop] = 0.0
    return X


def _groups_after(group: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Rows per need left after dropping rows; needs left empty are removed."""
    if not len(group):
        return group
    sizes = np.add.reduceat(keep.astype(np.int64), np.concatenate([[0], np.cumsum(group)[:-1]]))
    return sizes[sizes > 0]


def train(
    idx: Indices,
    feedback: Sequence[FeedbackEvent],
    *,
    label_map: Mapping[str, int] = DEFAULT_LABELS,
    params: Mapping[str, object] | None = None,
    treatment: LabelTreatment | None = None,
    early_stopping: bool | None = None,
    random_state: int = 0,
    dask: str | object | None = None,
    truth: Mapping[str, Mapping[str, int]] | None = None,
    mode: CandidateMode | str = DEFAULT_MODE,
    negatives: int = 100,
    k: int = 300,
    test_size: float = 0.2,
    valid_size: float = 0.1,
    progress: Progress | None = None,
    persons: Persons | None = None,
) -> TrainResult:
    """Train and evaluate on the needs that have feedback in ``idx``.

    ``params`` are ``LambdaRankModel`` hyper-parameters over ``DEFAULT_PARAMS``; ``treatment`` the label treatment
    (default ``DEFAULT_TREATMENT``); ``early_stopping``: see ``fit_model``; ``dask`` is None (in process),
    ``"local"`` (a 2-worker LocalCluster for the run), a scheduler address such as ``"tcp://10.0.0.5:8786"``, or a
    ``distributed.Client``. ``truth`` (demo worlds, from ``matcher.truth.load_truth``) scores the test needs only.
    ``persons`` (talent id → person id): feedback, rows and the held-out scores per person (module docstring)."""
    say = progress or (lambda _: None)
    treatment = treatment or DEFAULT_TREATMENT
    clock: dict[str, float] = {}
    t0 = time.perf_counter()
    say("features")
    prep = prepare(
        idx, feedback, label_map=label_map, mode=mode, negatives=negatives, k=k, test_size=test_size,
        valid_size=valid_size, random_state=random_state, persons=persons,
    )  # fmt: skip
    splits, tr, va = prep.splits, prep.train, prep.valid
    clock["features"] = time.perf_counter() - t0

    say("fit")
    t1 = time.perf_counter()
    model = fit_model(
        prep, treatment=treatment, params=params, early_stopping=early_stopping, random_state=random_state, dask=dask
    )
    clock["fit"] = time.perf_counter() - t1

    say("evaluate")
    t2 = time.perf_counter()
    test = [idx.needs[i] for i in splits.test]
    scorers = {"lambdarank": lambda X, need: model.predict(X), **baseline_scorers(random_state)}
    held_out = {key: g for key, g in prep.labels.items() if key[0] in set(splits.test)}
    common = {"k": k, "now": prep.now, "random_state": random_state, "persons": prep.persons}
    feedback_metrics = evaluate(idx, test, scorers, feedback_labels=held_out, **common)
    metrics = evaluate(idx, test, scorers, truth=truth, **common) if truth is not None else feedback_metrics
    clock["evaluate"] = time.perf_counter() - t2
    kept = int((row_weights(tr, treatment, prep.propensity) > 0).sum())
    return TrainResult(
        model=model,
        splits=splits,
        metrics=metrics,
        feedback_metrics=feedback_metrics,
        truth_based=truth is not None,
        feature_importance=model.feature_importance(),
        params={
            **model.get_params(),
            **treatment.to_dict(),
            "best_iteration": model.best_iteration_,
            "mode": CandidateMode(mode).value,
            "negatives": negatives,
            "k": k,
            "dask": None if dask is None else str(dask) if isinstance(dask, str) else type(dask).__name__,
            "persons": _multi_record_persons(persons),
        },
        label_map=dict(label_map),
        rows={"train": kept, "valid": len(va), "train_needs": len(tr.group), "valid_needs": len(va.group)},
        trained_on=tr.need_ids,
        snapshot=prep.now,
        encoder=indices_encoder(idx),
        seconds={name: round(v, 2) for name, v in clock.items()},
        profile=profile(tr.X[tr.shown] if tr.shown.any() else tr.X, SCHEMA.names),
    )


def _multi_record_persons(persons: Persons | None) -> int:
    """Persons of two records or more in ``persons`` (a run's ``persons`` parameter: 0 trains per record)."""
    if not persons:
        return 0
    sizes: dict[str, int] = {}
    for p in persons.values():
        sizes[p] = sizes.get(p, 0) + 1
    return sum(1 for n in sizes.values() if n > 1)


def _check_no_hire_edges(idx: Indices) -> None:
    """Refuse indices whose graph links hired talents to the need's enterprise: those edges put the label into the
    graph features (a hired talent is one hop from its own need), which inflates training and held-out figures."""
    hires = idx.graph.stats()["edges"]["hire"]
    if hires:
        raise ValueError(
            f"train: the indices' graph holds {hires} hire edge(s) from feedback, which leak the labels into the graph "
            "features; build the training indices with Indices.build, which never adds feedback"
        )


@contextmanager
def dask_client(dask: str | object) -> Iterator[object]:
    """A ``distributed.Client`` for ``dask``: ``"local"`` starts (and afterwards closes) a 2-worker LocalCluster,
    an address connects to a running scheduler, a Client is used as given (and left open)."""
    from distributed import Client, LocalCluster

    if isinstance(dask, Client):
        yield dask
        return
    if not isinstance(dask, str) or not dask:
        raise ValueError(f"--dask must be 'local' or a scheduler address like tcp://HOST:8786, got {dask!r}")
    if dask == "local":
        with (
            LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
            Client(cluster) as client,
        ):
            yield client
        return
    if "://" not in dask:
        raise ValueError(f"--dask {dask!r}: a scheduler address needs a protocol, e.g. tcp://{dask}")
    try:
        client = Client(dask, timeout="10s")
    except OSError as exc:
        raise ValueError(
            f"--dask {dask}: cannot reach the Dask scheduler ({exc}); is `dask scheduler` running?"
        ) from exc
    with client:
        yield client
