"""The reference back end: all-MiniLM-L6-v2 through sentence-transformers, fp32 on the CPU.

Slower to start and to run than `onnx.OnnxEmbedder`, which gives the same vectors under the
same name; the exporter takes its probe vectors from here, and the ONNX back end falls back to
it when its export is unusable (ARCHIVIST_EMBEDDER=torch asks for it).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from archivist.embedding.base import DIM, MODEL_NAME, count_model_tokens, model_path, offline_env

log = logging.getLogger("archivist.embedding")


class SentenceTransformerEmbedder:
    """all-MiniLM-L6-v2 through sentence-transformers, fp32 on the CPU."""

    name = MODEL_NAME
    dim = DIM
    backend = "torch"

    def __init__(self, batch_size: int = 64) -> None:
        self.batch_size = batch_size
        self._model: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                offline_env()
                from sentence_transformers import SentenceTransformer

                try:  # the weight-loading progress bar is noise on a terminal
                    from transformers.utils import logging as hf_logging

                    hf_logging.disable_progress_bar()
                    hf_logging.set_verbosity_error()
                except ImportError:
                    pass

                log.info("loading embedding model %s (sentence-transformers)", MODEL_NAME)
                self._model = SentenceTransformer(str(model_path()), device="cpu")
        return self._model

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        model = self._load()
        vectors = model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def count_tokens(self, text: str) -> int:
        return count_model_tokens(text)
