"""The ONNX embedder gives sentence-transformers' vectors, and falls back when it cannot; the
first run's preparation is one line; the export's folder says what it holds."""

from __future__ import annotations

import io
import json
import shutil
import warnings

import numpy as np
import pytest

from archivist.config import EmbeddingSettings
from archivist.embedding import (
    INT8_FILE,
    MODEL_NAME,
    PREPARING,
    OnnxEmbedder,
    SentenceTransformerEmbedder,
    default_embedder,
    onnx_dir,
)
from archivist.embedding.base import old_onnx_dir
from archivist.embedding.export import preparing_the_model
from archivist.embedding.onnx import adopt_old_export

FP32 = EmbeddingSettings(precision="fp32")

TEXTS = [
    "Who won the 1987 cocoa harvest review?",
    "Shares rose 4.5% after record profits.",
    "",
    "Les exportations de café ont chuté en mars.",
    "A much longer passage about monetary policy. " * 40,  # past the 256-token window
    "x",
    "The council approved the harbour budget of 12 million on Tuesday evening.",
]


def test_preparing_the_model_is_one_line_and_no_warnings():
    """What the first run shows while the exporter works: PREPARING once, none of the
    tracer's TracerWarning/UserWarning noise (a real export is test_errors.py's, slow)."""
    stream = io.StringIO()
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        with preparing_the_model(stream):
            warnings.warn("Converting a tensor to a Python boolean", UserWarning, stacklevel=1)
            warnings.warn("torch.onnx.export is deprecated", DeprecationWarning, stacklevel=1)
        warnings.warn("after the export, warnings show again", UserWarning, stacklevel=1)
    assert stream.getvalue() == PREPARING + "\n"
    assert [str(w.message) for w in shown] == ["after the export, warnings show again"]


def test_the_export_folder_is_named_for_what_it_holds(tmp_path):
    """It holds the ONNX model and its int8 copy: an export kept under the old `-fp32-` name is
    moved there, not made again (which takes a minute and torch)."""
    new, old = onnx_dir(tmp_path), old_onnx_dir(tmp_path)
    assert "fp32" not in new.name and new.name.startswith(f"{MODEL_NAME}-onnx-")
    old.mkdir(parents=True)
    (old / "meta.json").write_text("{}")
    (old / INT8_FILE).write_bytes(b"int8 weights")
    assert adopt_old_export(tmp_path)
    assert not old.exists() and (new / INT8_FILE).read_bytes() == b"int8 weights"
    assert not adopt_old_export(tmp_path)  # once moved, nothing more to do


def test_an_unfinished_old_folder_is_left_alone(tmp_path):
    old = old_onnx_dir(tmp_path)
    old.mkdir(parents=True)  # no meta.json: an export that did not complete
    assert not adopt_old_export(tmp_path)
    assert old.exists() and not onnx_dir(tmp_path).exists()


@pytest.fixture(scope="module")
def torch_vectors():
    return SentenceTransformerEmbedder().encode(TEXTS)


def cosines(a, b):
    return np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


@pytest.mark.slow
def test_onnx_vectors_equal_pytorch(torch_vectors):
    onnx = OnnxEmbedder(settings=FP32)  # the export itself (int8: below)
    got = onnx.encode(TEXTS)
    assert onnx.backend == "onnx", onnx.fallback_reason
    assert got.shape == (len(TEXTS), 384) and got.dtype == np.float32
    assert cosines(got, torch_vectors).min() >= 0.9999
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)


@pytest.mark.slow
def test_batching_keeps_order(torch_vectors):
    onnx = OnnxEmbedder(batch_size=2, settings=FP32)
    shuffled = [TEXTS[i] for i in (4, 0, 6, 2, 5, 1, 3)]
    got = onnx.encode(shuffled)
    assert cosines(got, torch_vectors[[4, 0, 6, 2, 5, 1, 3]]).min() >= 0.9999
    assert onnx.encode([TEXTS[0]]).shape == (1, 384)
    assert onnx.encode([]).shape == (0, 384)


@pytest.mark.slow
def test_same_name_so_archives_are_interchangeable():
    assert OnnxEmbedder.name == SentenceTransformerEmbedder.name == MODEL_NAME
    assert OnnxEmbedder.dim == SentenceTransformerEmbedder.dim
    assert default_embedder().name == MODEL_NAME


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
def test_the_model_runs_int8_close_to_fp32(torch_vectors):
    onnx = OnnxEmbedder()
    assert onnx.precision == "int8"
    got = onnx.encode(TEXTS)
    assert got.shape == (len(TEXTS), 384) and got.dtype == np.float32
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    close = cosines(got, torch_vectors)
    # int8, so not the same vectors: close ones (the empty text is the farthest)
    assert close.min() >= 0.97 and np.median(close) >= 0.99
    assert close.max() < 0.99999  # really the int8 model, not the fp32 one
    assert onnx.encode([]).shape == (0, 384)


@pytest.mark.slow
def test_fp32_when_asked(torch_vectors):
    onnx = OnnxEmbedder(settings=FP32)
    assert onnx.precision == "fp32"
    assert cosines(onnx.encode(TEXTS), torch_vectors).min() >= 0.9999


@pytest.mark.slow
def test_a_bad_int8_model_leaves_the_model_in_fp32(tmp_path, torch_vectors, caplog):
    good = onnx_dir()
    OnnxEmbedder().encode(["x"])
    bad = onnx_dir(tmp_path)
    bad.mkdir(parents=True)
    for name in ("model.onnx", "meta.json", "probe.npy"):
        (bad / name).write_bytes((good / name).read_bytes())
    (bad / INT8_FILE).write_bytes(b"not an onnx model")
    embedder = OnnxEmbedder(root=tmp_path)
    got = embedder.encode(TEXTS)
    assert embedder.backend == "onnx" and embedder.precision == "fp32"
    assert "the model runs in fp32" in caplog.text
    assert cosines(got, torch_vectors).min() >= 0.9999


@pytest.mark.slow
def test_an_export_of_an_older_format_is_made_again(tmp_path, monkeypatch):
    """An older layout is exported again (here: a copy of the cached export stands in for the
    minute-long export, which test_errors.py makes for real)."""
    good = onnx_dir()
    OnnxEmbedder().encode(["make sure the export exists"])
    folder = onnx_dir(tmp_path)
    shutil.copytree(good, folder)
    meta = json.loads((folder / "meta.json").read_text())
    (folder / "meta.json").write_text(json.dumps({**meta, "format": 1}))
    (folder / INT8_FILE).unlink()
    exported = []

    def export(target):
        exported.append(target)
        shutil.rmtree(target)
        shutil.copytree(good, target)
        return target

    monkeypatch.setattr("archivist.embedding.onnx.prepare_model", export)
    again = OnnxEmbedder(root=tmp_path)
    assert again.precision == "int8" and again.backend == "onnx"
    assert exported == [folder]
    assert json.loads((folder / "meta.json").read_text())["format"] == meta["format"]
    assert (folder / INT8_FILE).exists()
