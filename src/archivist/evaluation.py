"""Answer quality on real questions: SQuAD v1.1 dev, with news distractors, and out of archive.

Used by `benchmarks/quality.py` (and `archivist eval`). The data is read from `../shared/data`
relative to the project root (or `ARCHIVIST_EVAL_DATA`); nothing of it is copied into the
repository. Embeddings are cached on disk (`ARCHIVIST_BENCH_CACHE`, default
`~/.cache/archivist-bench`) so the 100k distractor passages are embedded once, not every run.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from archivist.config import Limits
from archivist.embedding import Embedder
from archivist.models import Article, Paragraph

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def data_root() -> Path:
    return Path(os.environ.get("ARCHIVIST_EVAL_DATA") or PROJECT_ROOT.parent / "shared" / "data")


def cache_root() -> Path:
    default = Path.home() / ".cache" / "archivist-bench"
    return Path(os.environ.get("ARCHIVIST_BENCH_CACHE") or default)


def _say(message: str) -> None:
    print(message, flush=True)


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
    from archivist.readers.jsonfile import article_from_record

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
def _key(text: str) -> bytes:
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

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """The inner embedder's vectors, kept apart by the precision it runs in (int8 or fp32,
        see `archivist.embedding`)."""
        precision = getattr(self.inner, "precision", "fp32")
        keys = [_key(t if precision == "fp32" else f"{precision}\0{t}") for t in texts]
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


SETS = ("squad", "squad-tune", "squad-test", "mixed")
COLLECTION = "default"
STORE_VERSION = 2  # bump when what the stores hold changes (2: int8 passage vectors)


def open_archive(name: str, embedder: Embedder, root: Path | None = None, progress=None):
    """One archive per set, each in its own data dir (so idf is the set's own): all SQuAD
    paragraphs (`squad`), each half alone (`squad-tune`, `squad-test`: the out-of-archive
    questions are the other half's), and SQuAD among the news passages (`mixed`).
    Built once under the cache directory and reopened afterwards."""
    from archivist.archive import Archive

    directory = (root or cache_root() / "stores" / f"v{STORE_VERSION}") / name
    archive = Archive(directory, embedder=embedder)
    marker = directory / "built.json"
    if marker.exists():
        return archive
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
    stats = archive.store.stats(COLLECTION)
    stats["failed"] = failed
    marker.write_text(json.dumps(stats, indent=2))
    return archive


# -- measuring -----------------------------------------------------------------------------------
@dataclass
class Outcome:
    """One question under one configuration."""

    rank: int | None  # 0-based rank of the first passage of the gold article in the top 10
    signal: float  # what `answered` is decided on
    answered: bool
    bold_has_answer: bool | None  # for a right rank-1 hit: does the highlight hold an answer


def run_questions(
    archive,
    questions: Sequence[Question],
    configs: dict,
    vectors: np.ndarray,
    depth: int = 10,
    progress=None,
) -> dict[str, list[Outcome]]:
    """Every question once through retrieval, then through each configuration's ranking (the
    code of `Archive.ask`, with the candidate lists shared)."""
    out: dict[str, list[Outcome]] = {name: [] for name in configs}
    for i, question in enumerate(questions):
        retrieval = archive._retrieve(question.text, COLLECTION, depth=depth, vector=vectors[i])
        for name, cfg in configs.items():
            answer, ranked = archive._ranked_answer(retrieval, depth, 0, cfg, highlight=1)
            ids = [h.article_id for h in answer.hits]
            position = ids.index(question.gold) if question.gold in ids else None
            bold = None
            if position == 0:
                text = (answer.hits[0].highlight or "").lower()
                bold = any(a.lower() in text for a in question.answers)
            out[name].append(Outcome(position, ranked.signal, answer.answered, bold))
        if progress and (i + 1) % 500 == 0:
            progress(i + 1, len(questions))
    return out


def quality(outcomes: Sequence[Outcome]) -> dict[str, float]:
    n = len(outcomes) or 1
    ranks = [o.rank for o in outcomes]
    right = [o for o in outcomes if o.rank == 0]
    return {
        "hit@1": sum(r is not None and r < 1 for r in ranks) / n,
        "hit@5": sum(r is not None and r < 5 for r in ranks) / n,
        "hit@10": sum(r is not None and r < 10 for r in ranks) / n,
        "mrr@10": sum(1.0 / (r + 1) for r in ranks if r is not None) / n,
        "bold": sum(bool(o.bold_has_answer) for o in right) / (len(right) or 1),
        "answered": sum(o.answered for o in outcomes) / n,
        "n": len(outcomes),
    }


def threshold_for(in_signals: Sequence[float], answer_share: float = 0.95) -> float:
    """The highest threshold that still answers `answer_share` of in-archive questions."""
    ordered = np.sort(np.asarray(in_signals, dtype=np.float64))
    return float(ordered[int(np.floor((1.0 - answer_share) * len(ordered)))])


def declined_at(out_signals: Sequence[float], threshold: float) -> float:
    values = np.asarray(out_signals, dtype=np.float64)
    return float(np.mean(values < threshold)) if len(values) else 0.0


# -- fitting the combiner ------------------------------------------------------------------------
def gather_features(archive, questions: Sequence[Question], vectors: np.ndarray, cfg=None):
    """(features, labels) per question: the hybrid ranking's candidate features plus the
    second stage's (the best cosine among the passage's `sentence_pool` sentences that share
    most with the question), for every candidate."""
    from archivist.search import SearchConfig, candidate_features

    cfg = cfg or SearchConfig()
    out = []
    for i, question in enumerate(questions):
        r = archive._retrieve(question.text, COLLECTION, depth=10, vector=vectors[i])
        candidates = list(dict.fromkeys([p for p, _ in r.dense] + [p for p, _ in r.lexical]))
        rows = archive.store.passages_by_ids(candidates, COLLECTION)
        candidates = [p for p in candidates if p in rows]
        if not candidates:
            continue
        stored = archive.store.vectors_by_ids(candidates, archive.embedder.dim, COLLECTION)
        matrix = np.stack([stored[p] for p in candidates])
        features, sentences, coverage = candidate_features(
            r.terms, r.vector, [rows[p] for p in candidates], matrix, dict(r.lexical)
        )
        best = []
        for n in range(len(candidates)):
            pool = sorted(range(len(sentences[n])), key=lambda j: -coverage[n][j])
            pooled = [sentences[n][j] for j in pool[: cfg.sentence_pool]]
            best.append(
                float(np.max(archive.embedder.encode(pooled) @ r.vector)) if pooled else 0.0
            )
        features = np.hstack([features, np.array(best, np.float32)[:, None]])
        labels = np.array([rows[p].article_id == question.gold for p in candidates])
        out.append((features, labels))
    return out


def fit(say=_say) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Fit both stages' weights on the SQuAD tune half (all paragraphs stored); say them."""
    from archivist.embedding import default_embedder
    from archivist.search import FEATURES

    embedder = CachingEmbedder(default_embedder())
    _, questions = load_squad()
    tune, _ = split_titles(questions)
    asked = [q for q in questions if q.article_title in tune]
    vectors = embedder.encode([q.text for q in asked])
    archive = open_archive("squad", embedder)
    samples = gather_features(archive, asked, vectors)
    embedder.save()
    archive.close()
    first = fit_listwise([(x[:, : len(FEATURES)], y) for x, y in samples])
    second = fit_listwise(samples)
    first_t = tuple(round(float(w), 2) for w in first)
    second_t = tuple(round(float(w), 2) for w in second)
    say(f"FIRST_STAGE_WEIGHTS = {first_t}\nSECOND_STAGE_WEIGHTS = {second_t}")
    return first_t, second_t


def fit_listwise(samples, l2: float = 1e-3, steps: int = 300) -> np.ndarray:
    """Weights of a linear scorer trained with a listwise softmax loss (the gold passage
    against the other candidates of its question), on standardized features, returned on
    the raw scale. Questions whose gold passage was not retrieved teach nothing and are
    skipped. Plain numpy, Adam steps."""
    samples = [(x.astype(np.float64), y) for x, y in samples if y.any()]
    stacked = np.concatenate([x for x, _ in samples])
    mu, sd = stacked.mean(0), stacked.std(0) + 1e-6
    width = max(len(x) for x, _ in samples)
    n, f = len(samples), stacked.shape[1]
    X = np.zeros((n, width, f))
    Y = np.zeros((n, width))
    mask = np.full((n, width), -1e9)
    for i, (x, y) in enumerate(samples):
        X[i, : len(x)] = (x - mu) / sd
        Y[i, : len(y)] = y / y.sum()
        mask[i, : len(x)] = 0.0
    w = np.zeros(f)
    m = np.zeros(f)
    v = np.zeros(f)
    for step in range(1, steps + 1):
        s = X @ w + mask
        s -= s.max(1, keepdims=True)
        p = np.exp(s)
        p /= p.sum(1, keepdims=True)
        g = np.einsum("nlf,nl->f", X, p - Y) / n + l2 * w
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        w -= 0.05 * (m / (1 - 0.9**step)) / (np.sqrt(v / (1 - 0.999**step)) + 1e-8)
    return w / sd


# -- the run -------------------------------------------------------------------------------------
def configurations() -> dict:
    from archivist.search import SearchConfig

    return {
        "hybrid (shipped)": SearchConfig(),
        "hybrid + sentence stage": SearchConfig(rerank=3),
        "rrf": SearchConfig(mode="rrf"),
        "bm25 (FTS5)": SearchConfig(mode="bm25"),
        "dense": SearchConfig(mode="dense"),
        **_variants(),
    }


def _variants() -> dict:
    """Extra configurations to compare, from ARCHIVIST_EVAL_VARIANTS: `name=field:value,...;...`."""
    from archivist.search import SearchConfig

    out = {}
    for spec in filter(None, os.environ.get("ARCHIVIST_EVAL_VARIANTS", "").split(";")):
        name, _, fields = spec.partition("=")
        values = {}
        for item in filter(None, fields.split(",")):
            key, _, raw = item.partition(":")
            values[key] = type(getattr(SearchConfig(), key))(raw)
        out[name] = SearchConfig(**values)
    return out


def evaluate(
    sets: Sequence[str] = ("squad", "mixed", "out"),
    limit: int | None = None,
    latency_samples: int = 300,
    say=_say,
) -> dict:
    """Measure every configuration on the chosen sets; returns the results (and says them)."""
    import time

    from archivist.embedding import default_embedder

    inner = default_embedder()
    embedder = CachingEmbedder(inner)
    _, questions = load_squad()
    tune, test = split_titles(questions)  # of every question, as the stores were split
    if limit:
        step = max(1, len(questions) // limit)
        questions = questions[::step][:limit]
    started = time.perf_counter()
    vectors = embedder.encode([q.text for q in questions])
    embedder.save()
    say(f"{len(questions)} questions embedded in {time.perf_counter() - started:.0f}s")
    qvec = {q.id: v for q, v in zip(questions, vectors, strict=True)}
    configs = configurations()
    results: dict = {"questions": len(questions), "sets": {}}

    def progress(done, total):
        say(f"  {done}/{total} ({time.perf_counter() - started:.0f}s)")

    def rows_for(outcomes, selected):
        return {
            name: quality([o for o, q in zip(outs, questions, strict=True) if selected(q)])
            for name, outs in outcomes.items()
        }

    for name in [s for s in ("squad", "mixed") if s in sets]:
        if name == "mixed" and not (data_root() / "reuters-21578" / "articles.jsonl").exists():
            say("mixed: skipped (news data missing)")
            continue
        started = time.perf_counter()
        archive = open_archive(name, embedder, progress=lambda n, d, t: say(f"  {n}: {d}/{t}"))
        say(f"{name}: {archive.store.stats(COLLECTION)['passages']} passages")
        outcomes = run_questions(archive, questions, configs, vectors, progress=progress)
        embedder.save()
        results["sets"][name] = {
            "passages": archive.store.stats(COLLECTION)["passages"],
            "held_out": rows_for(outcomes, lambda q: q.article_title in test),
            "all": rows_for(outcomes, lambda q: True),
        }
        if latency_samples:
            results["sets"][name]["latency_ms"] = ask_latency(
                archive.data_dir, inner, questions, latency_samples
            )
        archive.close()
        say(format_set(name, results["sets"][name]))

    if "out" in sets:
        results["out"] = out_of_archive(embedder, questions, qvec, tune, test, configs, say)
        say(format_out(results["out"]))
    return results


def out_of_archive(embedder, questions, qvec, tune, test, configs, say) -> dict:
    """Index one half of SQuAD, ask both halves' questions. The threshold each configuration
    would ship with is fitted on the tune half's archive (answer 95% of its own questions)
    and applied to the test half's archive; `oracle` is the share declined at the threshold
    that answers 95% of in-archive questions, chosen on the set itself."""
    signals: dict[str, dict] = {}
    for half, own in (("squad-tune", tune), ("squad-test", test)):
        archive = open_archive(half, embedder)
        asked = questions
        vectors = np.stack([qvec[q.id] for q in asked])
        outcomes = run_questions(archive, asked, configs, vectors)
        archive.close()
        for name, outs in outcomes.items():
            entry = signals.setdefault(name, {})
            entry[half] = (
                [o.signal for o, q in zip(outs, asked, strict=True) if q.article_title in own],
                [o.signal for o, q in zip(outs, asked, strict=True) if q.article_title not in own],
            )
    out = {}
    for name, entry in signals.items():
        tune_in, _ = entry["squad-tune"]
        test_in, test_out = entry["squad-test"]
        fitted = threshold_for(tune_in)
        pooled_in = entry["squad-tune"][0] + test_in
        pooled_out = entry["squad-tune"][1] + test_out
        out[name] = {
            "threshold_fitted_on_tune": fitted,
            "held_out_answered": 1.0 - declined_at(test_in, fitted),
            "held_out_declined": declined_at(test_out, fitted),
            "oracle_declined_held_out": declined_at(test_out, threshold_for(test_in)),
            "oracle_declined_all": declined_at(pooled_out, threshold_for(pooled_in)),
        }
    return out


def ask_latency(directory: Path, embedder, questions, samples: int) -> dict:
    """`Archive.ask` end to end (the real model, not the cache), warm, in process."""
    import time

    from archivist.archive import Archive

    archive = Archive(directory, embedder=embedder)
    picked = questions[:: max(1, len(questions) // samples)][:samples]
    for q in picked[:10]:  # warm up: the model, the index, SQLite's pages
        archive.ask(q.text, collection=COLLECTION)
    timings = []
    for q in picked:
        started = time.perf_counter()
        archive.ask(q.text, collection=COLLECTION)
        timings.append((time.perf_counter() - started) * 1000)
    archive.close()
    ordered = sorted(timings)
    return {
        "p50": ordered[len(ordered) // 2],
        "p95": ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))],
        "n": len(ordered),
    }


def format_set(name: str, result: dict) -> str:
    lines = [f"{name} ({result['passages']:,} passages)"]
    for part in ("held_out", "all"):
        for config, q in result[part].items():
            lines.append(
                f"  {part:8s} {config:28s} hit@1 {q['hit@1']:.3f}  hit@5 {q['hit@5']:.3f}  "
                f"hit@10 {q['hit@10']:.3f}  MRR@10 {q['mrr@10']:.3f}  bold {q['bold']:.3f}  "
                f"n {q['n']}"
            )
    if "latency_ms" in result:
        lat = result["latency_ms"]
        lines.append(f"  ask latency p50 {lat['p50']:.1f} ms, p95 {lat['p95']:.1f} ms")
    return "\n".join(lines)


def format_out(result: dict) -> str:
    lines = ["out of archive"]
    for config, r in result.items():
        lines.append(
            f"  {config:28s} declined {r['oracle_declined_held_out']:.3f} (held out), "
            f"{r['oracle_declined_all']:.3f} (all) at 95% answered; with the threshold fitted "
            f"on tune ({r['threshold_fitted_on_tune']:.3f}): answered "
            f"{r['held_out_answered']:.3f}, declined {r['held_out_declined']:.3f}"
        )
    return "\n".join(lines)


# -- the report ----------------------------------------------------------------------------------
SECTION = "## Answer quality"


NOTES = """\
**Shipped default** (`SearchConfig()`, mode `hybrid`, in `Archive.ask`): FAISS top 50 and FTS5 top
50. The FTS5 query is an OR of the question's content words without those found in more than 3,000
passages (the 3 rarest stay), taken rarest first while they bring at most 6,000 passages in all (an
irregular verb's other forms counted as FTS5 indexes them; so its cost is bounded at any archive
size), ranked by FTS5 without joining every match to its passage
(the collection is checked on the best 200 only). The union is scored linearly: cosine, bm25 / best
bm25, the share of the question's idf weight in the passage's best sentence and in title + heading +
passage, and matched adjacent word pairs; the highlight is the sentence covering the most of the
question. Weights: listwise softmax regression on the tune half (`benchmarks/quality.py --fit`).
`answered`: the best passage's score at or above `search.FIRST_STAGE_CENTER`, fitted to answer 95%
of the tune half's questions.

**The sentence stage** (`SearchConfig(rerank=3)`, "hybrid + sentence stage") re-scores the
best 3 with the best cosine among each one's 2 sentences sharing most words with the question.
It gains about 0.01 hit@1 but costs 6 sentence encodes an ask: on this machine, under the load
of the other jobs (load average 8-10 on 2 cores), `ask` at 74,848 passages took p50 173 ms /
p95 404 ms with it and p50 39 ms / p95 90 ms without (200 questions, both in one process,
alternating; a single question encode took p50 13.5 ms then, about 3 ms on an idle machine).
So it is off by default.

**Tried and lost** (measured with this benchmark): plain reciprocal-rank fusion (above); the
two lists' ranks and title coverage as features (no gain; title coverage was fitted negative
because every paragraph of a SQuAD article shares its title, which would not carry over to
news); cosines of every sentence of the best 8 passages (hit@1 0.868 vs 0.867 for 2 sentences
of the best 3, on 2,000 questions, for about 8 times the encoding); 1 sentence per passage
(-0.006 hit@1); leaving out words found in more than 5% of passages (bm25 alone lost 0.03
hit@1 on SQuAD, hence an absolute limit); a logistic answerability model over the best
passage's features and the share of question words unknown to the archive (declined 0.954 of
out-of-archive questions at 95% answered, vs 0.959 for the plain score).

**Left out**: a cross-encoder re-ranker (no cross-encoder weights can be had offline here);
neighbouring-passage context and a recency preference (each SQuAD paragraph is stored as its
own undated article, so neither can be measured on these sets, and neither ships unmeasured);
sentence vectors stored at ingest (about twice the embedding work of an ingest, against issue
5's ingest target).

**Dense side with distractors**: at 74,848 passages the archive's index is IVF with 8-bit
codes (issue 5; nprobe 256 of 1,024 lists); the hybrid ranks on exact cosines from the stored
vectors. The BM25 row is FTS5 with the shipped bounded query, which costs it a little against an
unbounded OR (0.865 hit@5 on 3,000 of these questions before the bounds); the hybrid lost
nothing to them (hit@5 0.9417 with, 0.9416 without, on every question).
"""


def markdown(results: dict, command: str) -> str:
    import platform
    import time

    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    lines = [
        SECTION,
        "",
        f"Measured {time.strftime('%Y-%m-%d', time.gmtime())} on {os.cpu_count()} cores "
        f"({platform.machine()}, {mem:.0f} GB RAM, Python {platform.python_version()}), load "
        f"average {os.getloadavg()[0]:.1f} when written. Reproduce with `" + command + "`.",
        "",
        f"SQuAD v1.1 dev: {results['questions']:,} questions; each paragraph is stored as its own "
        "article titled with its Wikipedia article, so a hit is right when it comes from the "
        "gold paragraph. The 48 articles are split in two halves by a hash of their titles: the "
        "combiner's weights and the `answered` threshold were fitted on the tune half; "
        "*held out* is the other half's questions, *all* every question. `bold`: share of "
        "right rank-1 hits whose highlighted sentence contains a SQuAD answer.",
        "",
    ]
    for name, result in results.get("sets", {}).items():
        title = {
            "squad": "SQuAD v1.1 dev",
            "mixed": "SQuAD v1.1 dev among BBC + Reuters news passages (distractors)",
        }.get(name, name)
        lines += [f"### {title}: {result['passages']:,} passages", ""]
        lines.append("| configuration | part | hit@1 | hit@5 | hit@10 | MRR@10 | bold |")
        lines.append("|---|---|---|---|---|---|---|")
        for part in ("held_out", "all"):
            for config, q in result[part].items():
                lines.append(
                    f"| {config} | {part.replace('_', ' ')} | {q['hit@1']:.3f} | {q['hit@5']:.3f}"
                    f" | {q['hit@10']:.3f} | {q['mrr@10']:.3f} | {q['bold']:.3f} |"
                )
        if "latency_ms" in result:
            lat = result["latency_ms"]
            lines += [
                "",
                f"`Archive.ask` (k=5, the shipped default, real model, warm, in process): "
                f"p50 {lat['p50']:.1f} ms, p95 {lat['p95']:.1f} ms over {lat['n']} questions.",
            ]
        lines.append("")
    if "out" in results:
        lines += [
            "### Out of archive",
            "",
            "One half of SQuAD stored, both halves' questions asked: the other half's should get "
            "`answered: false`. *declined at 95%*: share of out-of-archive questions declined at "
            "the threshold that still answers 95% of in-archive ones (chosen on the set itself); "
            "*fitted*: the threshold fitted on the tune half's archive, applied to the test "
            "half's.",
            "",
            "| configuration | declined at 95%, held out | declined at 95%, all "
            "| fitted: answered | fitted: declined |",
            "|---|---|---|---|---|",
        ]
        for config, r in results["out"].items():
            lines.append(
                f"| {config} | {r['oracle_declined_held_out']:.3f} | "
                f"{r['oracle_declined_all']:.3f} | {r['held_out_answered']:.3f} | "
                f"{r['held_out_declined']:.3f} |"
            )
        lines.append("")
    for note in results.get("notes", []):
        lines.append(note)
    return "\n".join(lines).rstrip() + "\n"


def write_section(path: Path, section: str) -> None:
    """Replace (or append) this section of the file, leaving everyone else's sections alone.
    The file is read right before it is written: other benchmarks write their own sections."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.strip() == SECTION), None)
    if start is None:
        text = text.rstrip() + "\n\n" + section
    else:
        end = next(
            (i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines)
        )
        tail = "".join(lines[end:])
        text = "".join(lines[:start]) + section + ("\n" + tail if tail else "")
    tmp = path.with_suffix(".md.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def main(argv: Sequence[str] | None = None) -> int:
    """`benchmarks/quality.py` / `archivist eval`: measure, print, optionally write the docs."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(prog="quality", description=main.__doc__)
    parser.add_argument(
        "--sets",
        default="squad,mixed,out",
        help="comma-separated: squad, mixed (with news distractors), out",
    )
    parser.add_argument("--limit", type=int, default=None, help="ask only this many questions")
    parser.add_argument("--latency", type=int, default=300, help="questions timed (0: none)")
    parser.add_argument(
        "--write",
        action="store_true",
        help="write the results to docs/benchmarks.md (## Answer quality)",
    )
    parser.add_argument("--json", type=Path, default=None, help="also save the results here")
    parser.add_argument(
        "--fit",
        action="store_true",
        help="fit the hybrid's weights on the SQuAD tune half and print them",
    )
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    missing = data_available()
    if missing:
        print(f"skipped: {missing}")
        return 0
    logging.basicConfig(level=logging.WARNING)
    if args.fit:
        fit()
        return 0
    sets = [s.strip() for s in args.sets.split(",") if s.strip()]
    results = evaluate(sets, args.limit, args.latency)
    results["notes"] = [NOTES]
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    if args.write:
        command = "python benchmarks/quality.py --write" + (
            f" --sets {args.sets}" if args.sets != "squad,mixed,out" else ""
        )
        write_section(PROJECT_ROOT / "docs" / "benchmarks.md", markdown(results, command))
        print("written to docs/benchmarks.md")
    return 0
