"""Path-dependent TreeSHAP of a LightGBM model (its ``pred_contrib``) in a few sparse products for a batch of rows.

LightGBM's TreeSHAP walks every tree for every row, extending and unwinding a path at each node: ~1 ms a row for
100 trees of 31 leaves (22 ms for a page of 20 on this project's 2-core machine), the largest part of a need's first
ranking. Its values have a closed form per leaf. For a leaf of value ``v`` whose path reads the features ``P``
(``d`` of them, a repeated feature merged), let ``z_k`` be the product of the training-cover fractions of the path's
splits on feature ``k`` and ``o_k`` 1 when the row takes the path's side at every one of them, else 0. Then feature
``j`` of ``P`` gets ``v (o_j - z_j) Σ_S |S|!(d-1-|S|)!/d! Π_{k∈S} o_k Π_{k∉S} z_k`` over the subsets ``S`` of
``P \\ {j}``, and the bias ``v Π_k z_k``. The weights are Beta integrals, so the sum is
``∫₀¹ Π_{k≠j} (z_k (1-u) + o_k u) du``: a polynomial of degree ``d - 1``, which Gauss–Legendre quadrature with
``⌈d/2⌉`` nodes integrates exactly. With the product over all of ``P`` at each node kept in logarithms, every row's
values are: the side of each split, an AND per path feature, one sparse product into the nodes' log-products, their
exponentials, two sparse products back to the path features and one onto the features. The same values as
LightGBM's to float32 rounding (the weights and products are float32, the logarithms float64;
``tests/matcher/test_treeshap.py`` holds them to 1e-5 on models of every numerical missing-value kind).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from matcher.splits import ZERO

_MISSING_ZERO, _MISSING_NAN = 1, 2


@dataclass(frozen=True)
class _Tree:
    """A tree's arrays under the model text's names."""

    split_feature: list[int]
    threshold: list[float]
    decision_type: list[int]
    left_child: list[int]
    right_child: list[int]
    leaf_value: list[float]
    leaf_count: list[float]
    internal_count: list[float]


def _tree(block: str) -> _Tree | None:
    """One ``Tree=`` block of a model's text; None for a tree with categorical splits or linear leaves."""
    f = dict(line.split("=", 1) for line in block.split("\nend of trees")[0].splitlines() if "=" in line)
    if int(f.get("num_cat", 0)) or int(f.get("is_linear", 0)):
        return None
    numbers = {key: [float(v) for v in f.get(key, "").split()] for key in _Tree.__dataclass_fields__}
    ints = {
        key: [int(v) for v in numbers[key]] for key in ("split_feature", "decision_type", "left_child", "right_child")
    }
    if any(d & 1 for d in ints["decision_type"]):
        return None
    return _Tree(**{**numbers, **ints})


class PathShap:
    """A model's TreeSHAP tables: its splits, its leaves' path features (cover fraction, sides) and quadrature."""

    def __init__(self, trees: list[_Tree], n_features: int) -> None:
        self.n_features = n_features
        split_feature, threshold, decision = [], [], []
        step_split, step_left, step_element = [], [], []  # one step a split on a leaf's path
        element_feature, element_zero, element_leaf = [], [], []  # one element a distinct feature on a leaf's path
        leaf_value, bias = [], 0.0
        for tree in trees:
            base = len(split_feature)
            split_feature += tree.split_feature
            threshold += tree.threshold
            decision += tree.decision_type
            if not tree.split_feature:  # a single leaf: its value is all bias
                bias += tree.leaf_value[0]
                continue
            root = tree.internal_count[0]
            stack = [(0, ())]  # (node, path of (split, went left, fraction))
            while stack:
                node, path = stack.pop()
                for child, went_left in ((tree.left_child[node], True), (tree.right_child[node], False)):
                    count = tree.internal_count[child] if child >= 0 else tree.leaf_count[~child]
                    walked = (*path, (node, went_left, count / tree.internal_count[node]))
                    if child >= 0:
                        stack.append((child, walked))
                        continue
                    leaf = len(leaf_value)
                    leaf_value.append(tree.leaf_value[~child])
                    bias += tree.leaf_value[~child] * tree.leaf_count[~child] / root
                    of_feature: dict[int, int] = {}
                    for split, left, fraction in walked:
                        f = tree.split_feature[split]
                        if f not in of_feature:
                            of_feature[f] = len(element_feature)
                            element_feature.append(f)
                            element_zero.append(1.0)
                            element_leaf.append(leaf)
                        e = of_feature[f]
                        element_zero[e] *= fraction
                        step_split.append(base + split)
                        step_left.append(left)
                        step_element.append(e)
        self.bias = bias
        self._feature = np.array(split_feature, dtype=np.int64)
        self._threshold = np.array(threshold, dtype=np.float64)
        decision_type = np.array(decision, dtype=np.int64)
        self._default_left = (decision_type & 2) > 0
        self._missing = (decision_type >> 2) & 3
        self._step_split = np.array(step_split, dtype=np.int64)
        self._step_left = np.array(step_left, dtype=bool)[:, None]
        self._steps_of = sp.csr_array(
            (np.ones(len(step_element), np.float32), (np.array(step_element), np.arange(len(step_element)))),
            shape=(len(element_feature), len(step_element)),
        )
        self._element_feature = np.array(element_feature, dtype=np.int64)
        self._element_zero = np.array(element_zero, dtype=np.float64)
        self._build_quadrature(np.array(element_leaf, dtype=np.int64), np.array(leaf_value, dtype=np.float64))

    def _build_quadrature(self, element_leaf: np.ndarray, leaf_value: np.ndarray) -> None:
        """The sparse maps between path features and quadrature nodes (``⌈d/2⌉`` a leaf, on [0, 1])."""
        if not len(element_leaf):  # every tree a single leaf
            return
        d = np.bincount(element_leaf, minlength=len(leaf_value))
        nodes = np.maximum(1, (d + 1) // 2)
        first = np.concatenate([[0], np.cumsum(nodes)[:-1]])
        rows, cols, u, g = [], [], [], []
        for q_count in np.unique(nodes):  # leaves with as many nodes share their rule
            x, w = np.polynomial.legendre.leggauss(int(q_count))
            of = np.flatnonzero(nodes[element_leaf] == q_count)
            for q in range(int(q_count)):
                rows.append(of)
                cols.append(first[element_leaf[of]] + q)
                u.append(np.full(len(of), (x[q] + 1) / 2))
                g.append(np.full(len(of), w[q] / 2))
        rows, cols, u, g = (np.concatenate(a) for a in (rows, cols, u, g))
        z = self._element_zero[rows]
        off, on = z * (1 - u), z * (1 - u) + u  # the factor of a path feature the row leaves or takes, at node u
        shape = (len(self._element_zero), int(nodes.sum()))
        value = leaf_value[element_leaf[rows]]
        self._log_off = np.bincount(cols, weights=np.log(off), minlength=shape[1])[:, None]
        self._log_gain = sp.csr_array((np.log(on) - np.log(off), (cols, rows)), shape=shape[::-1])
        # a path feature's value, v (o - z) × the integral without its own factor, for either o
        self._value_off = sp.csr_array(((-value * z * g / off).astype(np.float32), (rows, cols)), shape=shape)
        self._value_on = sp.csr_array(((value * (1 - z) * g / on).astype(np.float32), (rows, cols)), shape=shape)
        self._onto_features = sp.csr_array(
            (np.ones(shape[0], np.float32), (self._element_feature, np.arange(shape[0]))),
            shape=(self.n_features, shape[0]),
        )

    @classmethod
    def parse(cls, model: str) -> PathShap | None:
        """The tables of a LightGBM text model; None for one this does not cover (several outputs or classes,
        categorical splits, linear trees), which LightGBM's own ``pred_contrib`` then explains."""
        header, _, body = model.partition("\nTree=")
        fields = dict(line.split("=", 1) for line in header.splitlines() if "=" in line)
        if int(fields.get("num_tree_per_iteration", 1)) != 1 or "max_feature_idx" not in fields:
            return None
        trees = [_tree(block) for block in ("Tree=" + body).split("\nTree=")] if body else []
        if any(tree is None for tree in trees):
            return None
        return cls(trees, int(fields["max_feature_idx"]) + 1)

    def _goes_left(self, X: np.ndarray) -> np.ndarray:
        """(splits × rows): LightGBM's numerical decision (NaN is 0 unless the split's missing type is NaN; a
        missing value goes the default way)."""
        value = X.T[self._feature].astype(np.float64)
        nan = np.isnan(value)
        missing = self._missing[:, None]
        value[nan & (missing != _MISSING_NAN)] = 0.0
        default = ((missing == _MISSING_ZERO) & (np.abs(value) <= ZERO)) | ((missing == _MISSING_NAN) & nan)
        with np.errstate(invalid="ignore"):
            return np.where(default, self._default_left[:, None], value <= self._threshold[:, None])

    def contributions(self, X: np.ndarray) -> np.ndarray:
        """(rows × features + 1): each feature's contribution to each row's score, and the bias last."""
        X = np.asarray(X, dtype=np.float32)
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise ValueError(f"the model has {self.n_features} features; got data of shape {X.shape}")
        out = np.empty((len(X), self.n_features + 1), dtype=np.float64)
        out[:, -1] = self.bias
        if not len(X) or not len(self._element_zero):
            out[:, :-1] = 0.0
            return out
        strayed = (self._goes_left(X)[self._step_split] != self._step_left).astype(np.float32)  # (steps × rows)
        on = self._steps_of @ strayed == 0  # (path features × rows): the row takes every step
        product = np.exp(self._log_gain @ on.astype(np.float64) + self._log_off).astype(np.float32)  # each node
        value = np.where(on, self._value_on @ product, self._value_off @ product)
        out[:, :-1] = (self._onto_features @ value).T
        return out
