"""A LightGBM model file loaded for scoring through LightGBM's own C library, without its Python package: importing
``lightgbm`` imports scikit-learn and pandas (2–3 s of a server's start) for a booster that only ever predicts.

``ServingBooster`` answers what ``matcher.ranker.Scorer`` asks of a booster — ``feature_name()``,
``predict(X, num_threads=…)`` and ``predict(X, pred_contrib=True, …)`` on a dense float32 matrix with the same calls
``lightgbm.Booster.predict`` makes (``LGBM_BoosterPredictForMat``, every iteration), so scores are the same, and
``model_to_string()`` (its file).
Anything else (``feature_importance``, ``dump_model``…) goes to a ``lightgbm.Booster`` loaded from the same file on
first use.
"""

from __future__ import annotations

import ctypes
import importlib.util
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

_NORMAL, _CONTRIB = 0, 3  # C_API_PREDICT_*
_FLOAT32 = 0  # C_API_DTYPE_FLOAT32


class BoosterError(Exception):
    """LightGBM's C library refused a call; the message is its own."""


def _library() -> ctypes.CDLL:
    """``lib_lightgbm`` of the installed ``lightgbm`` package, found without importing the package."""
    spec = importlib.util.find_spec("lightgbm")
    if spec is None or not spec.submodule_search_locations:
        raise BoosterError("the lightgbm package is not installed")
    for folder in spec.submodule_search_locations:
        for name in ("lib_lightgbm.so", "lib_lightgbm.dylib", "lib_lightgbm.dll"):
            if (path := Path(folder) / "lib" / name).is_file():
                lib = ctypes.cdll.LoadLibrary(str(path))
                lib.LGBM_GetLastError.restype = ctypes.c_char_p
                return lib
    raise BoosterError(f"lib_lightgbm not found in {list(spec.submodule_search_locations)}")


_LIB: ctypes.CDLL | None = None


def _lib() -> ctypes.CDLL:
    global _LIB
    if _LIB is None:
        _LIB = _library()
    return _LIB


def _call(status: int) -> None:
    if status != 0:
        raise BoosterError(_lib().LGBM_GetLastError().decode("utf-8"))


class ServingBooster:
    """A booster read from a LightGBM model file, for prediction."""

    def __init__(self, model_file: str | Path) -> None:
        self.model_file = str(model_file)
        self._handle = ctypes.c_void_p()
        iterations = ctypes.c_int(0)
        _call(_lib().LGBM_BoosterCreateFromModelfile(self.model_file.encode("utf-8"), ctypes.byref(iterations),
                                                     ctypes.byref(self._handle)))  # fmt: skip
        classes, features = ctypes.c_int(0), ctypes.c_int(0)
        _call(_lib().LGBM_BoosterGetNumClasses(self._handle, ctypes.byref(classes)))
        _call(_lib().LGBM_BoosterGetNumFeature(self._handle, ctypes.byref(features)))
        self.num_class, self.num_features = classes.value, features.value
        self._names = self._feature_names()

    def __reduce__(self) -> tuple:
        return ServingBooster, (self.model_file,)  # the C handle does not pickle; a registered file does not change

    def __del__(self) -> None:
        if getattr(self, "_handle", None) and _LIB is not None:
            _LIB.LGBM_BoosterFree(self._handle)
            self._handle = None

    def _feature_names(self) -> list[str]:
        n, size = self.num_features, 256
        while True:
            buffers = [ctypes.create_string_buffer(size) for _ in range(n)]
            pointers = (ctypes.c_char_p * n)(*map(ctypes.addressof, buffers))
            got, needed = ctypes.c_int(0), ctypes.c_size_t(0)
            _call(_lib().LGBM_BoosterGetFeatureNames(
                self._handle, ctypes.c_int(n), ctypes.byref(got), ctypes.c_size_t(size), ctypes.byref(needed), pointers
            ))  # fmt: skip
            if needed.value <= size:
                return [b.value.decode("utf-8") for b in buffers[: got.value]]
            size = needed.value

    def feature_name(self) -> list[str]:
        return list(self._names)

    def model_to_string(self) -> str:
        """The model's text, as ``lightgbm.Booster.model_to_string`` gives it (its file)."""
        return Path(self.model_file).read_text(encoding="utf-8")

    def num_feature(self) -> int:
        return self.num_features

    def predict(self, X: np.ndarray, *, pred_contrib: bool = False, num_threads: int | None = None) -> np.ndarray:
        """Scores of the rows of ``X`` (float64, as ``lightgbm.Booster.predict``), or with ``pred_contrib`` their
        per-feature contributions and bias, one row each."""
        X = np.ascontiguousarray(X, dtype=np.float32)
        if X.ndim != 2 or X.shape[1] != self.num_features:
            raise BoosterError(f"the model has {self.num_features} features; got data of shape {X.shape}")
        kind = _CONTRIB if pred_contrib else _NORMAL
        per_row = self.num_class * (self.num_features + 1) if pred_contrib else self.num_class
        out = np.empty(len(X) * per_row, dtype=np.float64)
        written = ctypes.c_int64(0)
        parameter = f"num_threads={num_threads}" if num_threads is not None else ""
        _call(_lib().LGBM_BoosterPredictForMat(
            self._handle, X.ctypes.data_as(ctypes.c_void_p), ctypes.c_int(_FLOAT32), ctypes.c_int32(X.shape[0]),
            ctypes.c_int32(X.shape[1]), ctypes.c_int(1), ctypes.c_int(kind), ctypes.c_int(0), ctypes.c_int(-1),
            parameter.encode("utf-8"), ctypes.byref(written), out.ctypes.data_as(ctypes.POINTER(ctypes.c_double)),
        ))  # fmt: skip
        if written.value != len(out):
            raise BoosterError(f"LightGBM wrote {written.value} predictions, {len(out)} were expected")
        return out.reshape(len(X), -1) if pred_contrib or self.num_class > 1 else out

    @cached_property
    def _full(self) -> Any:
        import lightgbm as lgb

        return lgb.Booster(model_file=self.model_file)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._full, name)
