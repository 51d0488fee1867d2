"""How well duplicate-person linkage (``features.people``) finds the true persons, against labelled persons.

Views, each at any threshold of the one linkage run: **pairs** — the scored pairs at or above the threshold
against every pair of records of one true person (a true pair never scored, e.g. missed by blocking, counts as
missed); **person pairs** — the same for every pair of records inside one person formed (what clustering adds by
transitivity, right or wrong); **clusters** — B-cubed precision and recall of the persons formed (per record: the
share of its predicted person that truly is it, and the share of its true person it was put with), which charges a
wrong merge of two big clusters by the records it affects rather than by the quadratic number of pairs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import combinations

from features.people import Linkage, components

CURVE_THRESHOLDS = (0.1, 0.2, 0.3, 0.5, 0.7, 0.9, 0.95, 0.99)


def true_pairs(persons: Iterable[Sequence[str]]) -> set[tuple[str, str]]:
    """Every pair of records (smaller id first) of one true person."""
    return {(a, b) for records in persons for a, b in combinations(sorted(set(records)), 2)}


def evaluate(linkage: Linkage, persons: Iterable[Sequence[str]], threshold: float | None = None) -> dict:
    """Pair and B-cubed cluster precision/recall of ``linkage`` at ``threshold`` (default: its own). Records that
    the labels do not list are persons of their own."""
    threshold = linkage.threshold if threshold is None else threshold
    if threshold < linkage.review_threshold:
        raise ValueError(f"threshold {threshold} is below the scores kept ({linkage.review_threshold})")
    persons = [list(p) for p in persons]
    truth = true_pairs(persons)
    edges = [(a, b) for a, b, p in linkage.scores if p >= threshold]
    found = {(min(a, b), max(a, b)) for a, b in edges}
    hits = len(found & truth)
    ids = list(linkage.persons)
    predicted = components(ids, edges)
    actual = {r: r for r in ids} | {r: min(p) for p in persons for r in p if r in linkage.persons}
    b_precision, b_recall = _b_cubed(predicted, actual)
    formed = true_pairs(_groups(predicted).values())
    within = len(formed & truth)
    return {
        "threshold": threshold,
        "pair_precision": hits / len(found) if found else 1.0,
        "pair_recall": hits / len(truth) if truth else 1.0,
        "cluster_precision": b_precision,
        "cluster_recall": b_recall,
        "person_pair_precision": within / len(formed) if formed else 1.0,
        "person_pair_recall": within / len(truth) if truth else 1.0,
        "true_pairs": len(truth),
        "found_pairs": len(found),
        "persons": len(set(predicted.values())),
        "true_persons": len(set(actual.values())),
    }


def curve(linkage: Linkage, persons: Iterable[Sequence[str]], thresholds: Iterable[float] = CURVE_THRESHOLDS) -> list:
    """:func:`evaluate` at each threshold at or above the linkage's review threshold."""
    persons = [list(p) for p in persons]
    return [evaluate(linkage, persons, t) for t in thresholds if t >= linkage.review_threshold]


def _groups(persons: dict[str, str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for record, person in persons.items():
        out.setdefault(person, []).append(record)
    return out


def _b_cubed(predicted: dict[str, str], actual: dict[str, str]) -> tuple[float, float]:
    """Mean over records of |predicted ∩ actual| / |predicted| (precision) and / |actual| (recall)."""
    both: dict[tuple[str, str], int] = {}
    size_p: dict[str, int] = {}
    size_a: dict[str, int] = {}
    for record, p in predicted.items():
        a = actual[record]
        both[p, a] = both.get((p, a), 0) + 1
        size_p[p] = size_p.get(p, 0) + 1
        size_a[a] = size_a.get(a, 0) + 1
    n = len(predicted) or 1
    precision = sum(c * c / size_p[p] for (p, _), c in both.items()) / n
    recall = sum(c * c / size_a[a] for (_, a), c in both.items()) / n
    return precision, recall
