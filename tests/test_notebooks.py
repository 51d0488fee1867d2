"""The data team's notebooks (``notebooks/``): each runs top to bottom in a real kernel (nbclient) on a small demo
world, its database and a registry with a champion history, and draws its plots; the copies in git carry no
outputs and follow the naming pattern."""

from __future__ import annotations

import os
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
PATHS = sorted(NOTEBOOKS.glob("*.ipynb"))
NAME = re.compile(r"\d+\.\d+-[a-z0-9]+(-[a-z0-9]+)*\.ipynb")
CELL_TIMEOUT = 300


def test_notebooks_are_named_and_stripped_of_outputs():
    assert len(PATHS) >= 3, f"expected the data team's notebooks in {NOTEBOOKS}"
    for path in PATHS:
        assert NAME.fullmatch(path.name), f"{path.name}: name notebooks <n>.<m>-<topic>.ipynb, e.g. 1.0-world.ipynb"
        book = nbformat.read(path, as_version=4)
        nbformat.validate(book)
        for i, cell in enumerate(book.cells):
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, (
                    f"{path.name}, cell {i}: outputs or an execution count are committed; run `make notebooks-strip`"
                )


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 400-talent demo world, the same records imported into a SQLite database, and a registry where version 1
    became champion, version 2 stayed challenger at the gate and was then promoted by hand (a champion history)."""
    from demo.world import generate_world
    from features.indices import Indices
    from features.io import load_world
    from matcher import registry
    from matcher.truth import load_truth
    from matcher.workflow import train_and_register
    from service.store import Store

    root = tmp_path_factory.mktemp("notebooks")
    generate_world(root / "world", talents=400, seed=4)
    with Store(f"sqlite:///{root / 'talentmatch.db'}") as store:
        store.upgrade()
        assert store.import_path(root / "world").ok
    world = load_world(root / "world")
    idx = Indices.build(world, encoder=None)
    truth = load_truth(root / "world")
    with pytest.MonkeyPatch.context() as mp:  # the environment, not configure(dir): a run re-reads it on the way
        mp.setenv("TALENTMATCH_MODELS_DIR", str(root / "models"))
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        registry.configure()
        fast = {"n_estimators": 20, "n_jobs": 1}
        first = train_and_register(idx, world["feedback"], truth=truth, params=fast)
        second = train_and_register(idx, world["feedback"], truth=truth, params={**fast, "n_estimators": 30}, margin=1)
        assert (first["alias"], second["alias"]) == ("champion", "challenger")
        registry.promote(second["version"])
    registry.configure()  # back to the session's store
    return root


def execute(path: Path, env: dict[str, str], monkeypatch: pytest.MonkeyPatch, home: Path) -> nbformat.NotebookNode:
    """Run the notebook in a fresh kernel of this interpreter, from ``notebooks/``, with ``env`` over this process's
    environment and this checkout first on the path; a failing cell raises ``CellExecutionError`` naming it.

    The ``python3`` kernel is this venv's (ipykernel's kernelspec in the venv, its ``python`` replaced by this
    interpreter): an empty ``home`` as the user's Jupyter folder hides a user-level ``python3`` kernel that may
    point at another Python."""
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "MPLBACKEND", "JUPYTER_PATH"):  # Agg hides plots
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(home))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    book = nbformat.read(path, as_version=4)
    client = NotebookClient(
        book, timeout=CELL_TIMEOUT, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}
    )
    client.execute()
    return book


def images(book: nbformat.NotebookNode) -> int:
    return sum(
        "image/png" in out.get("data", {}) for cell in book.cells if cell.cell_type == "code" for out in cell.outputs
    )


def lab_env(lab: Path, path: Path) -> dict[str, str]:
    """The lab for the notebook: the world notebook reads the database (the others read the world folder through
    the same loading cell, so both sources are covered)."""
    env = {
        "TALENTMATCH_NOTEBOOK_WORLD": str(lab / "world"),
        "TALENTMATCH_DATABASE_URL": f"sqlite:///{lab / 'talentmatch.db'}",
        "TALENTMATCH_MODELS_DIR": str(lab / "models"),
        "TALENTMATCH_ENCODER": "none",
        "TALENTMATCH_VECTOR_CACHE_DIR": str(lab / "vectors"),
        "MLFLOW_DISABLE_TELEMETRY": "true",
    }
    if path.name == "1.0-world-and-database.ipynb":
        env["TALENTMATCH_NOTEBOOK_WORLD"] = ""
    return env


def printed(book: nbformat.NotebookNode) -> str:
    return "".join(out.get("text", "") for cell in book.cells for out in cell.get("outputs", []))


EXPECTED = {
    "1.0-world-and-database.ipynb": ("records from the database sqlite:///",),
    "2.0-model-report.ipynb": ("champion: talent-ranker version 2", "exposure of the champion's top 10 on"),
    "3.0-mlflow-runs.ipynb": ("history, oldest first: 1 → 2",),
}
"""What a notebook must print about the lab beyond naming its folder (the source, the champion promoted by hand,
its history, its exposure table)."""


@pytest.mark.slow
@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_notebook_runs_on_a_small_world(path: Path, lab: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    book = execute(path, lab_env(lab, path), monkeypatch, tmp_path)
    assert images(book) >= 1, f"{path.name} drew no plot"
    text = printed(book)
    assert str(lab) in text  # it read the test's database, world or registry, not the checkout's
    for expected in EXPECTED.get(path.name, ()):
        assert expected in text
