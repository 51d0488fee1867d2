"""Graph columns: personalized PageRank, shared concepts (common neighbours, Adamic–Adar), the route to the need's
enterprise and the incubator route. One need: the graph's per-need passes (cached per graph version). Many needs:
one reverse solve and one BFS from the talent."""

from __future__ import annotations

import numpy as np

from features.graph import FEATURE_NAMES, ROUTE_CAP
from features.pairs import Pairs


class GraphProximity:
    names = FEATURE_NAMES

    def run(self, p: Pairs) -> dict[str, np.ndarray]:
        graph = p.idx.graph
        if p.needs is not None:
            return graph.features_to(p.talent_ids[0], p.needs.links, p.sel)
        if f"need:{p.query.id}" in graph:
            return graph.features(p.query.id, p.talent_ids)
        # an ad-hoc query (free-text search) has no node: no graph evidence, and no route to an enterprise
        out = {name: np.zeros(len(p.X), np.float32) for name in self.names}
        out["graph_route_length"][:] = ROUTE_CAP + 1
        return out
