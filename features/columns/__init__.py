"""The feature column groups: one module each, every group a component with one ``run(pairs)`` returning its named
columns (float arrays that broadcast to the pairs), for one need against many talents or many needs against one
talent alike.

``COMPONENTS`` lists the groups in schema order; their names, concatenated, are ``SCHEMA.names`` exactly (checked
on import), so a new signal is one module here plus its ``features/schema.py`` entry. A group may read the columns
of the groups before it (``Pairs.col``): the fit columns build on the text, graph and eligibility ones.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from features.columns.attributes import Freshness, Margins, Preferences, Seniority
from features.columns.dense import DenseSimilarity
from features.columns.fit import Fit
from features.columns.graph import GraphProximity
from features.columns.post import PostKind
from features.columns.text import Bm25, ConceptOverlap, ScriptOverlap, SkillCoverage
from features.pairs import Pairs
from features.schema import SCHEMA


class ColumnGroup(Protocol):
    names: tuple[str, ...]

    def run(self, pairs: Pairs) -> dict[str, np.ndarray]: ...


COMPONENTS: tuple[ColumnGroup, ...] = (
    Bm25(),
    DenseSimilarity(),
    ConceptOverlap(),
    SkillCoverage(),
    ScriptOverlap(),
    GraphProximity(),
    Margins(),
    Preferences(),
    Fit(),
    Seniority(),
    Freshness(),
    PostKind(),
)

CLOCKED: tuple[ColumnGroup, ...] = tuple(c for c in COMPONENTS if getattr(c, "clock", False))
"""The groups whose columns read the clock (``Pairs.now_day``); every other column depends on the need, the talent
and the indices alone."""

if [n for c in COMPONENTS for n in c.names] != SCHEMA.names:
    raise RuntimeError("features.columns.COMPONENTS do not produce SCHEMA.names in order; fix one or the other")
