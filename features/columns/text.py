"""Text relevance columns: BM25 of the need's words in the profile and the best works (raw, and as a share of the
most the need can score, comparable across needs), taxonomy concept overlap, and the
share of required skills the talent covers (by words, or by a concept the skill names, across languages)."""

from __future__ import annotations

import numpy as np

from features.pairs import Pairs
from features.table import script_overlap
from features.text import SparseIndex


class Bm25:
    names = SparseIndex.FEATURES

    def run(self, p: Pairs) -> dict[str, np.ndarray]:
        if p.needs is None:  # one need: gather the candidates' terms
            return p.idx.sparse.score(p.query_text, p.rows)
        return p.idx.sparse.score_queries(p.needs.terms(p.sel), p.row)  # the talent's term weights, many queries


class ConceptOverlap:
    names = ("concept_overlap", "discipline_match")

    def run(self, p: Pairs) -> dict[str, np.ndarray]:
        if p.needs is None:
            return p.idx.concepts.score(p.query, p.rows)
        return p.idx.concepts.score_queries(*p.needs.concepts(p.sel), p.row)


class SkillCoverage:
    names = ("skill_coverage",)

    def run(self, p: Pairs) -> dict[str, np.ndarray]:
        idx = p.idx
        if p.needs is None:
            return {"skill_coverage": idx.sparse.skill_coverage(p.query, p.rows, idx.concepts, concept_rows=p.rows)}
        out = np.zeros(len(p.sel), np.float32)
        owner, terms, concepts = p.needs.skills(p.sel)
        if len(owner):
            covered = idx.sparse.covers_skills(terms, p.row) | idx.concepts.names_any(concepts, p.row)
            hits = np.bincount(owner, weights=covered.astype(np.float64), minlength=len(p.sel))
            n_skills = p.need["n_skills"]
            np.divide(hits, n_skills, out=out, where=n_skills > 0, casting="unsafe")
        return {"skill_coverage": out}


class ScriptOverlap:
    """How much of the need's text is in a script the profile also writes (``features.table.han_share``): words,
    and the taxonomy names concepts are found by, match only within a script, so a Chinese post and an English
    profile share none whoever the person is. ``text_relevance`` weighs lexical evidence by it."""

    names = ("script_overlap",)

    def run(self, p: Pairs) -> dict[str, np.ndarray]:
        return {"script_overlap": np.where(p.known, script_overlap(p.need["han"], p.talent("han")), 0.0)}
