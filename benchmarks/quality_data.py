"""The data of the quality benchmark: SQuAD v1.1 dev and the news distractors, embeddings
cached on disk, and the archives built from them.

The data is read from `../shared/data` relative to the project root (or `ARCHIVIST_EVAL_DATA`);
nothing of it is copied into the repository. Embeddings are cached on disk
(`ARCHIVIST_BENCH_CACHE`, default `~/.cache/archivist-bench`) so the 100k distractor passages
are embedded once, not every run.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT / "src"))

from archivist.archive import Archive  # noqa: E402
from archivist.config import Limits  # noqa: E402
from archivist.embedding import Embedder  # noqa: E402
from archivist.models import Article, Paragraph  # noqa: E402
from archivist.readers.jsonfile import article_from_record  # noqa: E402

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]


def data_root() -> Path:
    return Path(os.environ.get("ARCHIVIST_EVAL_DATA") or PROJECT_ROOT.parent / "shared" / "data")


def cache_root() -> Path:
    default = Path.home() / ".cache" / "archivist-bench"
    return Path(os.environ.get("ARCHIVIST_BENCH_CACHE") or default)


# -- the data --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Question:
    id: str
    text: str
    answers: tuple[str, ...]
    gold: str  # the article id of the gold paragraph
    article_title: str  # the SQuAD (Wikipedia) article it belongs to


def _jsonl(path: Path) -> Iterator[dict]:
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def squad_paragraph_id(paragraph_id: str) -> str:
    """A SQuAD paragraph id (`Super_Bowl_50#0`) as an article id fit for a store."""
    return "squad:" + paragraph_id


def load_squad(root: Path | None = None) -> tuple[list[tuple[str, Article]], list[Question]]:
    """Each SQuAD paragraph as its own article (titled with its Wikipedia article), and the
    questions with the article id of their gold paragraph."""
    folder = (root or data_root()) / "squad-v1.1-dev"
    articles = []
    for row in _jsonl(folder / "paragraphs.jsonl"):
        article = Article(
            title=row["article_title_display"],
            paragraphs=(Paragraph(row["text"]),),
            source="Wikipedia",
            category=row["article_title"],
            id=squad_paragraph_id(row["paragraph_id"]),
        )
        articles.append((row["paragraph_id"], article))
    questions = [
        Question(
            id=row["id"],
            text=row["question"],
            answers=tuple(row["answers"]),
            gold=squad_paragraph_id(row["paragraph_id"]),
            article_title=row["article_title"],
        )
        for row in _jsonl(folder / "questions.jsonl")
        if not row.get("is_impossible")
    ]
    return articles, questions


def news_articles(path: Path) -> Iterator[tuple[int, dict, Article]]:
    """(record number, record, Article) of a shared news JSONL file (the JSONL reader's own
    mapping), exact duplicates and records it refuses left out."""
    limits = Limits()
    for number, record in enumerate(_jsonl(path), start=1):
        if record.get("duplicate_of"):
            continue
        try:
            yield number, record, article_from_record(record, limits)
        except ValueError:
            continue


def load_news(
    root: Path | None = None, limit_passages: int | None = None
) -> list[tuple[str, Article]]:
    """BBC and Reuters articles, exact duplicates left out."""
    root = root or data_root()
    return [
        (f"{name}:{number}", article)
        for name in ("bbc-news", "reuters-21578")
        for number, _, article in news_articles(root / name / "articles.jsonl")
    ]


def data_available(root: Path | None = None) -> str | None:
    """None when the evaluation data is there, else a message saying what is missing."""
    root = root or data_root()
    for need in ("squad-v1.1-dev/paragraphs.jsonl", "squad-v1.1-dev/questions.jsonl"):
        if not (root / need).exists():
            return f"evaluation data not found: {root / need} (set ARCHIVIST_EVAL_DATA)"
    return None


# -- embeddings, cached on disk ----------------------------------------------------------------
def cache_key(text: str) -> bytes:
    """The key of a text's vector in the cache (the benchmarks look vectors up by it)."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()


class CachingEmbedder:
    """Wraps an embedder; vectors are kept by text hash in memory and in shard files on disk,
    so re-running an evaluation (or re-ingesting the same texts) costs no model time."""

    def __init__(self, inner: Embedder, directory: Path | None = None) -> None:
        self.inner = inner
        self.name = inner.name
        self.dim = inner.dim
        self.directory = (directory or cache_root() / "vectors") / inner.name
        self._rows: dict[bytes, int] = {}
        self._blocks: list[np.ndarray] = []
        self._pending_keys: list[bytes] = []
        self._pending_vectors: list[np.ndarray] = []
        self._size = 0
        self._matrix: np.ndarray | None = None
        self._lock = threading.Lock()
        self.hits = self.misses = 0
        self._load()

    def _load(self) -> None:
        if not self.directory.exists():
            return
        for keys_path in sorted(self.directory.glob("keys-*.npy")):
            vectors_path = keys_path.with_name(keys_path.name.replace("keys-", "vectors-"))
            if not vectors_path.exists():
                continue
            keys = [bytes(row) for row in np.load(keys_path)]
            vectors = np.load(vectors_path, mmap_mode="r")
            if vectors.shape != (len(keys), self.dim):
                log.warning("ignoring mismatched cache shard %s", keys_path)
                continue
            self._append(keys, np.asarray(vectors, dtype=np.float32))

    def _append(self, keys: list[bytes], vectors: np.ndarray) -> None:
        for offset, key in enumerate(keys):
            self._rows.setdefault(key, self._size + offset)
        self._blocks.append(vectors)
        self._size += len(keys)
        self._matrix = None

    def _all(self) -> np.ndarray:
        if self._matrix is None:
            self._matrix = (
                np.concatenate(self._blocks)
                if self._blocks
                else np.zeros((0, self.dim), np.float32)
            )
            self._blocks = [self._matrix]
        return self._matrix

    def key(self, text: str) -> bytes:
        """A text's key, kept apart by the precision the inner embedder runs in (int8 or fp32,
        see `archivist.embedding`)."""
        precision = getattr(self.inner, "precision", "fp32")
        return cache_key(text if precision == "fp32" else f"{precision}\0{text}")

    def cached(self, texts: Sequence[str]) -> np.ndarray | None:
        """The cached vectors of `texts`, or None when one of them is not cached (nothing is
        embedded)."""
        keys = [self.key(t) for t in texts]
        with self._lock:
            if any(k not in self._rows for k in keys):
                return None
            return np.ascontiguousarray(self._all()[[self._rows[k] for k in keys]])

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """The inner embedder's vectors (from the cache when there)."""
        keys = [self.key(t) for t in texts]
        with self._lock:
            missing = {}
            for key, text in zip(keys, texts, strict=True):
                if key not in self._rows and key not in missing:
                    missing[key] = text
            self.misses += len(missing)
            self.hits += len(keys) - len(missing)
        if missing:
            vectors = self.inner.encode(list(missing.values()))
            with self._lock:
                fresh = [k for k in missing if k not in self._rows]
                keep = [i for i, k in enumerate(missing) if k in set(fresh)]
                self._append(fresh, vectors[keep])
                self._pending_keys.extend(fresh)
                self._pending_vectors.append(vectors[keep])
        with self._lock:
            matrix = self._all()
            return np.ascontiguousarray(matrix[[self._rows[k] for k in keys]])

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def save(self) -> None:
        """Write the vectors computed since the last save as a new shard."""
        with self._lock:
            if not self._pending_keys:
                return
            self.directory.mkdir(parents=True, exist_ok=True)
            stamp = f"{len(list(self.directory.glob('keys-*.npy'))):05d}-{os.getpid()}"
            keys = np.frombuffer(b"".join(self._pending_keys), dtype=np.uint8).reshape(-1, 16)
            vectors = np.concatenate(self._pending_vectors).astype(np.float32)
            tmp = self.directory / f"vectors-{stamp}.tmp.npy"
            np.save(tmp, vectors)
            os.replace(tmp, self.directory / f"vectors-{stamp}.npy")
            np.save(self.directory / f"keys-{stamp}.npy", keys)
            self._pending_keys, self._pending_vectors = [], []


# -- the stores --------------------------------------------------------------------------------
def split_titles(questions: Sequence[Question]) -> tuple[set[str], set[str]]:
    """SQuAD articles in two halves (tune, test): alternate over the titles sorted by a hash,
    so the split is fixed, balanced and unrelated to the articles' order or subject."""
    titles = sorted(
        {q.article_title for q in questions}, key=lambda t: hashlib.sha1(t.encode()).hexdigest()
    )
    return set(titles[0::2]), set(titles[1::2])


SETS = ("squad", "squad-tune", "squad-test", "mixed", "news")
COLLECTION = "default"
STORE_VERSION = 2  # bump when what the stores hold changes (2: int8 passage vectors)


def open_archive(
    name: str,
    embedder: Embedder,
    root: Path | None = None,
    progress: Progress | None = None,
    items: list[tuple[str, Article]] | None = None,
) -> Archive:
    """One archive per set, each in its own data dir (so idf is the set's own): all SQuAD
    paragraphs (`squad`), each half alone (`squad-tune`, `squad-test`: the out-of-archive
    questions are the other half's), and SQuAD among the news passages (`mixed`).
    Built once under the cache directory and reopened afterwards; `items`, when given, are
    what a new archive of another name holds."""
    directory = (root or cache_root() / "stores" / f"v{STORE_VERSION}") / name
    archive = Archive(directory, embedder=embedder)
    marker = directory / "built.json"
    if marker.exists():
        return archive
    if items is None and name == "news":  # every BBC and Reuters article: the news question set's
        items = load_news()
    if items is None:
        articles, questions = load_squad()
        tune, test = split_titles(questions)
        items = {
            "squad": articles,
            "squad-tune": [(o, a) for o, a in articles if a.category in tune],
            "squad-test": [(o, a) for o, a in articles if a.category in test],
        }.get(name)
        if items is None:
            items = load_news() + articles
    log.info("ingesting %d articles into %s", len(items), directory)
    failed = 0
    for start in range(0, len(items), 2000):
        report = archive.add_articles(items[start : start + 2000], collection=COLLECTION)
        failed += len(report.failed)
        save = getattr(embedder, "save", None)
        if save:
            save()
        if progress:
            progress(name, min(start + 2000, len(items)), len(items))
    stats = archive.stats(collection=COLLECTION).to_json()
    stats["failed"] = failed
    marker.write_text(json.dumps(stats, indent=2))
    return archive
