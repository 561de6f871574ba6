"""Making the ONNX model, once per machine: export all-MiniLM-L6-v2 (mean pooling included) with
`torch.onnx.export`, check it against sentence-transformers, and quantize an int8 copy.

The int8 copy is ONNX Runtime's dynamic quantization, per output channel, of every weight matrix
but the feed-forward output's (whose inputs, after GELU, have outliers that 8 bits lose). Its
vectors keep a cosine of ~0.997 to fp32 (0.992 at worst over 1,144 BBC passages), SQuAD hit@5 is
unchanged (docs/benchmarks.md) and it embeds passages 1.4x as fast on this CPU.

Needs torch and sentence-transformers; the running back end (`onnx.py`) needs neither.
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
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from archivist.embedding.base import (
    INT8_FILE,
    MIN_INT8_COSINE,
    MIN_PROBE_COSINE,
    MODEL_NAME,
    ONNX_FORMAT,
    PROBE_TEXTS,
    cosines,
    model_fingerprint,
    model_path,
    offline_env,
    open_session,
    run_model,
)
from archivist.embedding.torch import SentenceTransformerEmbedder

log = logging.getLogger("archivist.embedding")

PREPARING = "Preparing the model, once (about a minute)…"
# the feed-forward output projection of each layer stays fp32 (see the module docstring)
_KEEP_FP32 = re.compile(r"/layer\.\d+/output/dense/")


class OnnxUnavailable(RuntimeError):
    """The ONNX model could not be exported, loaded or verified (the reason is the message)."""


@contextmanager
def preparing_the_model(stream: TextIO | None = None) -> Iterator[None]:
    """Say PREPARING once on `stream` (stderr: stdout may be JSON) and keep the exporter's
    TracerWarning/UserWarning/DeprecationWarning off the terminal while it runs: they speak to
    the exporter's author, not to someone starting Archivist; the probe check is what counts."""
    print(PREPARING, file=stream or sys.stderr, flush=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def prepare_model(target: Path) -> Path:
    """The first run's export into `target`, as the terminal shows it: one line, no warnings."""
    log.info("exporting %s to ONNX in %s (once)", MODEL_NAME, target)
    with preparing_the_model():
        return export_onnx(target)


def export_onnx(target: Path) -> Path:
    """Export the model (mean pooling included) to `target`, check it against
    sentence-transformers on PROBE_TEXTS and store those reference vectors beside it, with
    the int8 copy (`quantize`; left out, with a warning, if it falls short).

    Needs torch and sentence-transformers (a few seconds, once per machine). Atomic: the folder
    appears complete or not at all.
    """
    offline_env()
    import torch

    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".export-", dir=target.parent))
    try:
        started = time.perf_counter()
        _trace(work / "model.onnx")
        reference = SentenceTransformerEmbedder().encode(list(PROBE_TEXTS))
        np.save(work / "probe.npy", reference)
        got = run_model(open_session(work / "model.onnx"), list(PROBE_TEXTS), batch_rows=4)
        worst = float(cosines(got, reference).min())
        if worst < MIN_PROBE_COSINE:
            raise OnnxUnavailable(
                f"the exported model differs from sentence-transformers (cosine {worst:.6f})"
            )
        int8_worst = quantize(work / "model.onnx", work / INT8_FILE, reference)
        meta = {
            "format": ONNX_FORMAT,
            "model": MODEL_NAME,
            "fingerprint": model_fingerprint(),
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


def _trace(path: Path) -> None:
    """BERT + attention-masked mean pooling, traced to ONNX at `path`."""
    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(str(model_path()), attn_implementation="eager")
    model.eval()

    class Pooled(torch.nn.Module):
        """BERT + attention-masked mean pooling, as sentence-transformers' Pooling does."""

        def __init__(self, bert: Any) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
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
    # the tracer warns whoever calls it directly too (not only through prepare_model)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            wrapped,
            (ids, mask, torch.zeros_like(ids)),
            str(path),
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


def quantize(source: Path, target: Path, reference: np.ndarray) -> float | None:
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
        got = run_model(open_session(target), list(PROBE_TEXTS), batch_rows=4)
        worst = float(cosines(got, reference).min())
        if worst < MIN_INT8_COSINE:
            raise OnnxUnavailable(f"its vectors differ from fp32 (cosine {worst:.4f})")
        return worst
    except Exception as exc:  # the fp32 model still serves
        log.warning("no int8 model (%s): the model runs in fp32", exc)
        target.unlink(missing_ok=True)
        return None
