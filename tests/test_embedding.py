"""The ONNX embedder gives sentence-transformers' vectors, and falls back when it cannot."""

from __future__ import annotations

import json

import numpy as np
import pytest

from archivist.embedding import (
    MODEL_NAME,
    OnnxEmbedder,
    SentenceTransformerEmbedder,
    default_embedder,
    onnx_dir,
)

pytestmark = pytest.mark.slow

TEXTS = [
    "Who won the 1987 cocoa harvest review?",
    "Shares rose 4.5% after record profits.",
    "",
    "Les exportations de café ont chuté en mars.",
    "A much longer passage about monetary policy. " * 40,  # past the 256-token window
    "x",
    "The council approved the harbour budget of 12 million on Tuesday evening.",
]


@pytest.fixture(scope="module")
def torch_vectors():
    return SentenceTransformerEmbedder().encode(TEXTS)


def cosines(a, b):
    return np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_onnx_vectors_equal_pytorch(torch_vectors):
    onnx = OnnxEmbedder()
    got = onnx.encode(TEXTS)
    assert onnx.backend == "onnx", onnx.fallback_reason
    assert got.shape == (len(TEXTS), 384) and got.dtype == np.float32
    assert cosines(got, torch_vectors).min() >= 0.9999
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)


def test_batching_keeps_order(torch_vectors):
    onnx = OnnxEmbedder(batch_size=2)
    shuffled = [TEXTS[i] for i in (4, 0, 6, 2, 5, 1, 3)]
    got = onnx.encode(shuffled)
    assert cosines(got, torch_vectors[[4, 0, 6, 2, 5, 1, 3]]).min() >= 0.9999
    assert onnx.encode([TEXTS[0]]).shape == (1, 384)
    assert onnx.encode([]).shape == (0, 384)


def test_same_name_so_archives_are_interchangeable():
    assert OnnxEmbedder.name == SentenceTransformerEmbedder.name == MODEL_NAME
    assert OnnxEmbedder.dim == SentenceTransformerEmbedder.dim
    assert default_embedder().name == MODEL_NAME


def test_falls_back_to_pytorch_when_the_export_disagrees(tmp_path, torch_vectors, caplog):
    good = onnx_dir()
    OnnxEmbedder().encode(["make sure the export exists"])
    bad = onnx_dir(tmp_path)
    bad.mkdir(parents=True)
    for name in ("model.onnx", "meta.json"):
        (bad / name).write_bytes((good / name).read_bytes())
    np.save(bad / "probe.npy", -np.load(good / "probe.npy"))  # a reference it cannot match
    embedder = OnnxEmbedder(root=tmp_path)
    got = embedder.encode(TEXTS)
    assert embedder.backend == "torch" and "differ" in embedder.fallback_reason
    assert "using sentence-transformers" in caplog.text
    assert cosines(got, torch_vectors).min() >= 0.9999


def test_export_from_other_weights_is_not_used(tmp_path):
    good = onnx_dir()
    OnnxEmbedder().encode(["x"])
    bad = onnx_dir(tmp_path)
    bad.mkdir(parents=True)
    for name in ("model.onnx", "probe.npy"):
        (bad / name).write_bytes((good / name).read_bytes())
    meta = json.loads((good / "meta.json").read_text())
    (bad / "meta.json").write_text(json.dumps({**meta, "fingerprint": "something else"}))
    embedder = OnnxEmbedder(root=tmp_path)
    embedder.encode(["x"])
    assert embedder.backend == "torch" and "other weights" in embedder.fallback_reason
