"""A small generated demo world with its truth, shared by the matcher part-B tests (built once per session)."""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from demo.world import generate_world
from features.indices import Indices
from features.io import World, load_world
from matcher.truth import load_truth


@dataclass(frozen=True)
class Demo:
    dir: Path
    world: World
    idx: Indices
    truth: dict[str, dict[str, int]]


@functools.cache
def demo() -> Demo:
    """800 talents, 40 needs, seed 3; indices without dense vectors and without hire edges (see matcher.train)."""
    root = Path(tempfile.mkdtemp(prefix="tm-partb-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    generate_world(root, talents=800, seed=3)
    world = load_world(root)
    assert not world.issues
    idx = Indices.build(world, encoder=None)
    return Demo(root, world, idx, load_truth(root))
