"""One training run: feedback → graded labels → rows per need → LambdaRank → held-out evaluation with baselines.

The single entry point of ``talentmatch train`` and of the MLflow logging (which stays out of this module): it
returns everything a run reports. Needs are split before any row is built, so a held-out need never contributes
a training row; the validation needs only stop boosting early; the test needs are only scored.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from features.indices import Indices
from features.records import FeedbackEvent
from matcher.dataset import CandidateMode, RankData, build_rank_data, snapshot_time
from matcher.evaluate import Splits, baseline_scorers, evaluate, split_needs
from matcher.labels import DEFAULT_LABELS, labels_from_feedback
from matcher.ranker import EncoderId, LambdaRankModel, indices_encoder

Progress = Callable[[str], None]

DEFAULT_MODE = CandidateMode.sampled
"""On the demo world (5,000 talents, 3 seeds) ``sampled`` and ``union`` were within noise of each other and both
well above ``feedback`` only (which never sees the retrieved negatives it must rank); ``sampled`` is half the rows."""


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


def train(
    idx: Indices,
    feedback: Sequence[FeedbackEvent],
    *,
    label_map: Mapping[str, int] = DEFAULT_LABELS,
    params: Mapping[str, object] | None = None,
    random_state: int = 0,
    dask: str | object | None = None,
    truth: Mapping[str, Mapping[str, int]] | None = None,
    mode: CandidateMode | str = DEFAULT_MODE,
    negatives: int = 100,
    k: int = 300,
    test_size: float = 0.2,
    valid_size: float = 0.1,
    progress: Progress | None = None,
) -> TrainResult:
    """Train and evaluate on the needs that have feedback in ``idx``.

    ``params`` are ``LambdaRankModel`` hyper-parameters; ``dask`` is None (in process), ``"local"`` (a 2-worker
    LocalCluster for the run), a scheduler address such as ``"tcp://10.0.0.5:8786"``, or a ``distributed.Client``.
    ``truth`` (demo worlds, from ``matcher.truth.load_truth``) is used for scoring the test needs only."""
    say = progress or (lambda _: None)
    _check_no_hire_edges(idx)
    clock: dict[str, float] = {}
    t0 = time.perf_counter()
    labels = labels_from_feedback(feedback, label_map)
    now = snapshot_time(feedback)
    known = sorted({n for n, _ in labels} & set(idx.needs))
    if not known:
        raise ValueError("train: no feedback refers to an indexed need; import feedback for the world's needs first")
    splits = split_needs(known, test_size=test_size, valid_size=valid_size, random_state=random_state)

    def rows(ids: list[str]) -> RankData:
        needs = [idx.needs[i] for i in ids]
        return build_rank_data(
            idx, needs, labels, mode=mode, k=k, negatives=negatives, now=now, random_state=random_state
        )

    say("features")
    tr, va = rows(splits.train), rows(splits.valid)
    clock["features"] = time.perf_counter() - t0

    say("fit")
    t1 = time.perf_counter()
    model = LambdaRankModel(**{**dict(params or {}), "random_state": random_state})
    if dask is None:
        model.fit(tr.X, tr.y, tr.group, eval_set=(va.X, va.y), eval_group=va.group)
    else:
        with dask_client(dask) as client:
            model.fit_dask(tr.X, tr.y, tr.group, client=client, eval_set=(va.X, va.y), eval_group=va.group)
    clock["fit"] = time.perf_counter() - t1

    say("evaluate")
    t2 = time.perf_counter()
    test = [idx.needs[i] for i in splits.test]
    scorers = {"lambdarank": lambda X, need: model.predict(X), **baseline_scorers(random_state)}
    held_out = {key: g for key, g in labels.items() if key[0] in set(splits.test)}
    common = {"k": k, "now": now, "random_state": random_state}
    feedback_metrics = evaluate(idx, test, scorers, feedback_labels=held_out, **common)
    metrics = evaluate(idx, test, scorers, truth=truth, **common) if truth is not None else feedback_metrics
    clock["evaluate"] = time.perf_counter() - t2
    return TrainResult(
        model=model,
        splits=splits,
        metrics=metrics,
        feedback_metrics=feedback_metrics,
        truth_based=truth is not None,
        feature_importance=model.feature_importance(),
        params={
            **model.get_params(),
            "best_iteration": model.best_iteration_,
            "mode": CandidateMode(mode).value,
            "negatives": negatives,
            "k": k,
            "dask": None if dask is None else str(dask) if isinstance(dask, str) else type(dask).__name__,
        },
        label_map=dict(label_map),
        rows={"train": len(tr), "valid": len(va), "train_needs": len(tr.group), "valid_needs": len(va.group)},
        trained_on=tr.need_ids,
        snapshot=now,
        encoder=indices_encoder(idx),
        seconds={name: round(v, 2) for name, v in clock.items()},
    )


def _check_no_hire_edges(idx: Indices) -> None:
    """Refuse indices whose graph links hired talents to the need's enterprise: those edges put the label into the
    graph features (a hired talent is one hop from its own need), which inflates training and held-out figures."""
    hires = sum(1 for _, _, kind in idx.graph.nx.edges(data="type") if kind == "hire")
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
