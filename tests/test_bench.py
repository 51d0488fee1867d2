"""Benchmarks are not tests, but they must keep importing: a renamed function should fail here, not in `make bench`."""

import importlib
from pathlib import Path

import pytest

BENCHES = sorted(p.stem for p in (Path(__file__).resolve().parents[1] / "bench").glob("bench_*.py"))


@pytest.mark.parametrize("name", BENCHES)
def test_bench_module_imports_and_has_run(name):
    module = importlib.import_module(f"bench.{name}")
    assert callable(module.run)


def test_goldstandard_loss_weights_misordered_pairs_by_the_rating_gap():
    from bench.bench_goldstandard import loss

    truth = {"r": {"a": 5.0, "b": 3.0, "c": 1.0}}  # pair weights: a-b 2, a-c 4, b-c 2
    assert loss(truth, {"r": {"a": 3, "b": 2, "c": 1}}) == 0.0
    assert loss(truth, {"r": {"a": 1, "b": 2, "c": 3}}) == 1.0
    assert loss(truth, {"r": {"a": 0, "b": 0, "c": 0}}) == 0.5  # ties count half
    assert loss(truth, {"r": {"a": 3, "b": 1, "c": 2}}) == 2 / 8  # only b-c (weight 2) mis-ordered


def test_text_weights_fit_learns_the_column_that_finds_the_author():
    """Known answer for the label-free combiner fit: one column tells authors apart, one is noise that runs against
    them; the first gets the weight, the second is dropped (weights never negative), and the scale tops out at 1."""
    import numpy as np

    from bench.text_weights import fit
    from features.matrix import TEXT_COLUMNS

    rng = np.random.default_rng(0)
    n_needs, n_talents = 30, 10
    y = np.zeros((n_needs, n_talents), bool)
    y[np.arange(n_needs), rng.integers(0, n_talents, n_needs)] = True
    X = np.zeros((n_needs * n_talents, len(TEXT_COLUMNS)))
    good, bad = TEXT_COLUMNS.index("bm25_share_works_top3"), TEXT_COLUMNS.index("dense_profile")
    X[:, good] = rng.uniform(0, 0.2, X.shape[0]) + 0.3 * y.ravel()
    X[:, bad] = rng.uniform(0, 0.5, X.shape[0]) - 0.2 * y.ravel() + 0.2
    groups = np.column_stack([np.repeat(np.arange(n_needs), n_talents), np.tile(np.arange(n_talents), n_needs)])
    entry = fit(X, y.ravel(), groups, [True] * len(TEXT_COLUMNS))
    assert set(entry["weight"]) == {"bm25_share_works_top3"}
    assert entry["weight"]["bm25_share_works_top3"] * (1 - entry["floor"]["bm25_share_works_top3"]) == pytest.approx(
        1, abs=1e-3
    )


@pytest.mark.slow
def test_scale_bench_writes_its_json_and_plot(tmp_path):
    """The scale bench end to end at a tiny size (real server, load generator process, offline child, training on
    a Dask cluster): every figure the README's table and plot read is in the JSON, the plot is a PNG, and the server
    ranked with the champion, the ranking cache off, without errors."""
    import json
    import shutil

    from bench.bench_scale import ALONE, GENERATOR_KIND, rows, scale

    doc = scale([300], tmp_path / "out", encoder="none", vectors=tmp_path / "vectors", train_rows=3000,
                seconds=2, writes=2, needs=4)  # fmt: skip
    saved = json.loads((tmp_path / "out" / "scale.json").read_text())
    assert saved == json.loads(json.dumps(doc)) and len(list((tmp_path / "out").glob("scale-*.json"))) == 1
    assert (tmp_path / "out" / "scale.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "DENSE ENCODER OFF" in doc["warning"]
    (size,) = doc["sizes"]
    assert size["talents"] == 300 and size["encoder"] == "none" and size["errors"] == []
    assert size["personalized"] is True and size["model_version"] == "1"
    assert size["candidates_ms"]["n"] > 0 and size["rps"] > 0 and size["candidates_ms"]["p99"] > 0
    wrk = GENERATOR_KIND != "httpx" and shutil.which("wrk")
    assert size["generator"] == ("wrk" if wrk else "httpx threads")
    assert 0 < size["server_cpu_ms_per_request"] < 1000  # the server's processes' CPU over the steady load
    assert size["first_after_start_ms"]["n"] == 3 and size["first_after_write_ms"]["n"] == size["write_ms"]["n"] == 2
    assert size["healthz_ms"]["n"] > 0 and size["floor_ms"]["p99"] > size["healthz_ms"]["p99"]
    assert size["end_to_end_over_floor"]["p99"] > 0 and size["server_rss_mb"] > 50 and size["start_up_s"] > 0
    assert size["alone_ms"]["n"] == 4 * ALONE and size["alone_over_floor"]["p99"] > 0  # each need, one at a time
    off = size["offline"]
    assert off["predict_ms"]["n"] == 12 and off["pool_rows"] > 0 and "dense" not in off  # no vectors: no dense
    assert off["champion"]["trees"] == 100 and off["champion"]["leaves_per_tree"] == 31  # bench_api's, on random rows
    assert 0 < off["bm25"]["top100_agreement"] <= 1 and off["bm25"]["rank_bm25_ms"]["n"] == 4
    assert 0 < off["ppr"]["top100_talent_agreement"] <= 1 and off["ppr"]["networkx_ms"]["n"] == 4
    train = doc["training"]
    assert train["rows"] == 3000 and train["single_process_s"] > 0 and train["dask_2_workers_s"] > 0
    assert {r["bench"] for r in rows(doc)} == {f"scale.{k}" for k in ("candidates", "first_ranking", "floor",
                                                                       "floor_alone", "memory", "train")}  # fmt: skip


def test_readiness_probes_share_one_client_and_each_opens_a_connection(monkeypatch):
    """The start-up poll (16 probes every 0.2 s) once built a TLS context per probe with ``httpx.get``: ~20 ms of CPU
    each, most of a core taken from the server it was timing (restart at 100k 3.3 → 2.8 s without it). Each probe
    must still open its own connection, or a kept one would ask the same worker process every time."""
    import http.server
    import json
    import threading

    import httpx

    from bench import bench_api

    connections = []

    class Ready(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keeps a connection open for a client that would reuse it

        def setup(self):
            connections.append(1)
            super().setup()

        def do_GET(self):
            body = json.dumps({"pid": 4242}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Ready)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    def no_get(*args, **kwargs):
        raise AssertionError("httpx.get: a new client (and TLS context) per probe")

    monkeypatch.setattr(httpx, "get", no_get)
    try:
        with bench_api._probe() as probe:
            assert bench_api._ready_pids(f"http://127.0.0.1:{server.server_port}", probe) == {4242}
    finally:
        server.shutdown()
        server.server_close()
    assert len(connections) == 16
