"""The shipped back end: all-MiniLM-L6-v2 exported to ONNX, run with ONNX Runtime and the
`tokenizers` fast tokenizer. About twice the throughput of sentence-transformers on a CPU, a
query in ~2 ms, and no torch import at start.

Passages and questions go through the int8 copy (`export.quantize`): a question reads a quarter
of the weights, which matters beside the lexical search (both are bound by memory traffic). At
every load the model is checked against sentence-transformers' stored probe vectors
(MIN_PROBE_COSINE for fp32, MIN_INT8_COSINE for int8); an int8 copy that is missing or off
leaves the model in fp32, with a warning, and an unusable export falls back to PyTorch.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from archivist.config import EmbeddingSettings, embedding_settings
from archivist.embedding.base import (
    BATCH_ROWS,
    DIM,
    INT8_FILE,
    LOAD_PROBES,
    MIN_INT8_COSINE,
    MIN_PROBE_COSINE,
    MODEL_NAME,
    ONNX_FORMAT,
    PROBE_TEXTS,
    cosines,
    count_model_tokens,
    model_fingerprint,
    offline_env,
    old_onnx_dir,
    onnx_dir,
    open_session,
    run_model,
)
from archivist.embedding.export import OnnxUnavailable, prepare_model
from archivist.embedding.torch import SentenceTransformerEmbedder

log = logging.getLogger("archivist.embedding")


def precision_setting() -> str:
    """ARCHIVIST_PRECISION: "int8" (the default) or "fp32"."""
    return embedding_settings().precision


def adopt_old_export(root: Path | None = None) -> bool:
    """Move an export kept under the old folder name (`base.old_onnx_dir`) to `onnx_dir`, so
    an upgrade does not export again; True when one was moved."""
    old, new = old_onnx_dir(root), onnx_dir(root)
    if new.exists() or not (old / "meta.json").exists():
        return False
    try:
        os.replace(old, new)
    except OSError:  # another process moved it first, or the cache is read-only: export
        return new.exists()
    log.info("the ONNX export moved from %s to %s", old.name, new.name)
    return True


class OnnxEmbedder:
    """all-MiniLM-L6-v2 through ONNX Runtime: its int8 copy (vectors within ~0.99 cosine of
    sentence-transformers'), or fp32 (the same vectors) when asked or when the copy is unusable.

    Exports and verifies the model on first use; falls back to sentence-transformers (logging
    the reason) when the export or the check fails. `settings` default to the environment's;
    `root` moves the cache (default `settings.cache_dir`).
    """

    name = MODEL_NAME
    dim = DIM

    def __init__(
        self,
        root: Path | None = None,
        batch_size: int = BATCH_ROWS,
        settings: EmbeddingSettings | None = None,
    ) -> None:
        # a bad setting is said now, not at the first upload
        self.settings = settings or embedding_settings()
        self.root = root if root is not None else self.settings.cache_dir
        self.batch_size = batch_size
        self._session: Any = None
        self._fallback: SentenceTransformerEmbedder | None = None
        self._lock = threading.Lock()
        self.fallback_reason: str | None = None
        self._precision = self.settings.precision

    @property
    def precision(self) -> str:
        """What the model runs in: "int8" unless asked otherwise or unavailable."""
        self._load()
        return self._precision

    @property
    def backend(self) -> str:
        self._load()
        return "torch" if self._fallback is not None else "onnx"

    def _load(self) -> None:
        if self._session is not None or self._fallback is not None:
            return
        with self._lock:
            if self._session is not None or self._fallback is not None:
                return
            try:
                self._session = self._open()
            except Exception as exc:  # any failure: the reference model still works
                self._precision = "fp32"
                self.fallback_reason = str(exc) or type(exc).__name__
                log.warning(
                    "ONNX embedder unavailable (%s): using sentence-transformers",
                    self.fallback_reason,
                )
                self._fallback = SentenceTransformerEmbedder()

    def _open(self) -> Any:
        offline_env()
        adopt_old_export(self.root)
        folder = onnx_dir(self.root)
        meta_path = folder / "meta.json"
        meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
        if meta.get("format") != ONNX_FORMAT:  # none yet, or an older layout
            prepare_model(folder)  # the first run waits for this
            meta = json.loads(meta_path.read_text())
        if meta.get("format") != ONNX_FORMAT or meta.get("fingerprint") != model_fingerprint():
            raise OnnxUnavailable(f"{folder} was exported from other weights")
        # the short probes only: the whole set (with a 256-token text) was checked at export,
        # and this runs at every start
        reference = np.load(folder / "probe.npy")[list(LOAD_PROBES)]
        probes = [PROBE_TEXTS[i] for i in LOAD_PROBES]
        if self._precision == "int8":  # one model is loaded: the int8 one when it is usable
            session = self._open_int8(folder / INT8_FILE, probes, reference)
            if session is not None:
                return session
            self._precision = "fp32"
        session = open_session(folder / "model.onnx", self.settings.threads)
        worst = float(cosines(self._run(session, probes), reference).min())
        if worst < MIN_PROBE_COSINE:
            raise OnnxUnavailable(f"ONNX vectors differ from the reference (cosine {worst:.6f})")
        return session

    def _open_int8(self, path: Path, probes: list[str], reference: np.ndarray) -> Any:
        if not path.exists():
            log.warning("no int8 model at %s: the model runs in fp32", path)
            return None
        try:
            session = open_session(path, self.settings.threads)
            worst = float(cosines(self._run(session, probes), reference).min())
        except Exception as exc:
            log.warning("the int8 model cannot be run (%s): the model runs in fp32", exc)
            return None
        if worst < MIN_INT8_COSINE:
            log.warning("int8 vectors are off (cosine %.4f): the model runs in fp32", worst)
            return None
        return session

    def _run(self, session: Any, texts: list[str]) -> np.ndarray:
        return run_model(session, texts, self.batch_size, self.settings.workers)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        self._load()
        if self._fallback is not None:
            return self._fallback.encode(texts)
        return self._run(self._session, list(texts))

    def count_tokens(self, text: str) -> int:
        return count_model_tokens(text)
