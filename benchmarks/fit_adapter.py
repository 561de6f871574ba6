"""Fit a query-side linear map for the dense side (issue 15) and measure it against the identity.

The only model is a symmetric bi-encoder: a question and the passage that answers it sit apart
in its space, most for paraphrases. A map applied to the question vector only (I + A B^T, low
rank, the result normalised), before its cosine with the stored passage vectors, would leave
ingest, the stored vectors and the index as they are. It is fitted on the tune halves only
(SQuAD's `split_titles` tune titles, the news set's tune half) and reported on the test halves.

    cd benchmarks
    ../.venv/bin/python fit_dump.py --set news --out /tmp/fit/news.pkl
    ../.venv/bin/python fit_dump.py --set squad --out /tmp/fit/squad.pkl
    ../.venv/bin/python fit_adapter.py --dumps /tmp/fit --out /tmp/fit/adapter.npz [--measure]

The fit: for each tune question whose gold passage is among its hybrid candidates, a softmax
over those candidates (hard negatives) and the batch's other gold passages (in-batch), on the
adapted cosine over a temperature; news questions weigh more (they are few). A fifth of the
tune articles (news) and titles (SQuAD) is held aside, and each setting of the grid stops at
its best mean reciprocal rank there; the setting with the best one is kept. The test halves
are never read before the report.

The report re-ranks the dumped candidates (offline): dense alone among the candidates, the
hybrid with the adapted cosine as its cosine feature under the shipped weights, and under
weights refitted on both tune halves (`quality_measure.fit_listwise`, each news question
counted as 10 SQuAD ones, as `model.FIRST_STAGE_WEIGHTS` were). `--measure` then asks both test
halves through the archive's own ranking (`Ranker`, with the copies, the date preference, the
feedback pass and the answered rule), interleaved: the identity map, the adapted cosine on the
original vector's candidates (a), and the adapted vector fetching its own candidates (b).
Passage vectors are read from the cached stores read-only; `--measure` opens the archives, so
point ARCHIVIST_BENCH_CACHE at a copy of the stores when another run may share them.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import pickle
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from news_quality import (
    first_right,
    gold_paragraphs,
    load_questions,
    summarise,
)
from quality_data import (
    COLLECTION,
    STORE_VERSION,
    CachingEmbedder,
    cache_root,
    load_squad,
    open_archive,
    split_titles,
)
from quality_measure import Outcome, fit_listwise, quality

from archivist.ranking import SearchConfig
from archivist.ranking.features import RANKING_FEATURES
from archivist.ranking.model import FIRST_STAGE_WEIGHTS

NEWS_COPIES = 10  # each news question counts as this many SQuAD ones in the combiner's refit
HELD_ASIDE = 5  # one tune group in this many is held aside for early stopping
SHIPPED = np.asarray(FIRST_STAGE_WEIGHTS, np.float32)


@dataclass(frozen=True)
class Example:
    """One dumped question with its candidates' stored vectors."""

    set: str  # "news" or "squad"
    split: str
    style: str
    group: str  # the news article or the SQuAD title: the held-aside slice is cut by it
    answerable: bool
    vector: np.ndarray
    passages: np.ndarray  # the candidates' stored vectors, in the dump's order
    passage_ids: tuple[int, ...]
    features: np.ndarray  # the combiner's columns
    labels: np.ndarray


@dataclass(frozen=True)
class Setting:
    rank: int
    l2: float
    temperature: float
    news_weight: float


GRID = (
    Setting(4, 1e-3, 0.05, 20.0),
    Setting(16, 1e-2, 0.05, 5.0),
    Setting(32, 1e-2, 0.05, 5.0),
    Setting(32, 1e-3, 0.02, 10.0),
    Setting(64, 1e-1, 0.05, 10.0),
)


# -- data ---------------------------------------------------------------------------------------
def store_file(name: str) -> Path:
    return cache_root() / "stores" / f"v{STORE_VERSION}" / name / "store" / "archive.db"


def stored_vectors(path: Path, ids: Sequence[int]) -> dict[int, np.ndarray]:
    """The passages' stored vectors, read without writing (the store may be shared)."""
    if not path.exists():
        raise SystemExit(f"store not found: {path} (run quality.py or fit_dump.py first)")
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    out: dict[int, np.ndarray] = {}
    wanted = sorted(set(ids))
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        marks = ",".join("?" * len(chunk))
        for pid, blob in db.execute(
            f"SELECT id, vector FROM passage_vectors WHERE id IN ({marks})", chunk
        ):
            out[pid] = np.frombuffer(blob, np.float32)
    db.close()
    return out


def load_examples(dumps: Path) -> list[Example]:
    """The news and SQuAD dumps (fit_dump.py's `--set news` and `--set squad`)."""
    articles = {q.id: q.article_id for q in load_questions()}
    out = []
    for name in ("news", "squad"):
        with open(dumps / f"{name}.pkl", "rb") as fh:
            records = pickle.load(fh)["records"]
        vectors = stored_vectors(store_file(name), [i for r in records for i in r["ids"]])
        for r in records:
            group = articles.get(r["id"]) if name == "news" else r["gold"].split("#")[0]
            out.append(
                Example(
                    name,
                    r["split"],
                    r["style"],
                    group or r["id"],
                    r["answerable"],
                    np.asarray(r["vector"], np.float32),
                    np.stack([vectors[i] for i in r["ids"]])
                    if r["ids"]
                    else np.zeros((0, len(r["vector"])), np.float32),
                    tuple(r["ids"]),
                    np.asarray(r["features"][:, :RANKING_FEATURES], np.float32),
                    np.asarray(r["labels"], bool),
                )
            )
    return out


def held_aside(example: Example) -> bool:
    return int(hashlib.sha1(example.group.encode()).hexdigest(), 16) % HELD_ASIDE == 0


# -- the map ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Adapter:
    """z = q + (q A) B^T, normalised: the identity when B is zero."""

    a: np.ndarray
    b: np.ndarray

    def __call__(self, vectors: np.ndarray) -> np.ndarray:
        z = vectors + (vectors @ self.a) @ self.b.T
        norm = np.linalg.norm(z, axis=-1, keepdims=True)
        return (z / np.where(norm > 0, norm, 1.0)).astype(np.float32)


def identity(dim: int) -> Adapter:
    return Adapter(np.zeros((dim, 1), np.float32), np.zeros((dim, 1), np.float32))


@dataclass(frozen=True)
class Fitted:
    adapter: Adapter
    mrr: float  # on the held-aside tune slice, at the kept epoch
    epoch: int
    identity_mrr: float


class Batches:
    """The tune examples as padded tensors over one table of unique passage vectors."""

    def __init__(self, examples: Sequence[Example], table: dict[tuple[str, int], int]) -> None:
        import torch

        width = max(len(e.passage_ids) for e in examples)
        n = len(examples)
        self.index = torch.zeros(n, width, dtype=torch.long)
        self.mask = torch.zeros(n, width, dtype=torch.bool)
        self.labels = torch.zeros(n, width)
        for j, e in enumerate(examples):
            m = len(e.passage_ids)
            self.index[j, :m] = torch.tensor([table[(e.set, p)] for p in e.passage_ids])
            self.mask[j, :m] = True
            self.labels[j, :m] = torch.tensor(e.labels.astype(np.float32))
        self.questions = torch.tensor(np.stack([e.vector for e in examples]))
        self.news = torch.tensor([e.set == "news" for e in examples])


def passage_table(examples: Sequence[Example]) -> tuple[dict[tuple[str, int], int], np.ndarray]:
    table: dict[tuple[str, int], int] = {}
    rows = []
    for e in examples:
        for pid, vector in zip(e.passage_ids, e.passages, strict=True):
            if (e.set, pid) not in table:
                table[(e.set, pid)] = len(rows)
                rows.append(vector)
    return table, np.stack(rows)


def fit_adapter(
    train: Sequence[Example],
    aside: Sequence[Example],
    setting: Setting,
    epochs: int = 20,
    seed: int = 0,
) -> Fitted:
    """The map after the epoch with the best held-aside MRR (epoch 0: the identity)."""
    import torch

    torch.manual_seed(seed)
    table, matrix = passage_table([*train, *aside])
    passages = torch.tensor(matrix)
    fit, held = Batches(train, table), Batches(aside, table)
    dim = passages.shape[1]
    a = (torch.randn(dim, setting.rank) * 0.01).requires_grad_()
    b = torch.zeros(dim, setting.rank, requires_grad=True)
    optimiser = torch.optim.Adam([a, b], lr=3e-4)

    def adapted(q: torch.Tensor) -> torch.Tensor:
        z = q + (q @ a) @ b.T
        return z / z.norm(dim=-1, keepdim=True)

    def held_mrr() -> float:
        with torch.no_grad():
            cos = torch.einsum("nd,nld->nl", adapted(held.questions), passages[held.index])
            cos = cos.masked_fill(~held.mask, -1e9)
            gold = cos.masked_fill(held.labels <= 0, -1e9).max(1).values
            rr = 1.0 / (1.0 + (cos > gold[:, None]).sum(1).float())
            # news and SQuAD alike, else SQuAD's thousands decide alone
            return 0.5 * (rr[held.news].mean() + rr[~held.news].mean()).item()

    start_mrr = held_mrr()
    best = (start_mrr, 0, Adapter(a.detach().numpy().copy(), b.detach().numpy().copy()))
    n = len(fit.questions)
    for epoch in range(1, epochs + 1):
        order = torch.randperm(n)
        for start in range(0, n, 128):
            pick = order[start : start + 128]
            z = adapted(fit.questions[pick])
            cos = torch.einsum("nd,nld->nl", z, passages[fit.index[pick]])
            cos = cos.masked_fill(~fit.mask[pick], -1e9)
            labels = fit.labels[pick]
            # in-batch negatives: the other questions' first gold passage, unless it answers
            # this question too (SQuAD asks several questions of one paragraph)
            index = fit.index[pick]
            golds = index[torch.arange(len(pick)), labels.argmax(1)]
            answers_too = (
                (index[:, None, :] == golds[None, :, None]) & (labels[:, None, :] > 0)
            ).any(2)
            others = (z @ passages[golds].T).masked_fill(answers_too, -1e9)
            logits = torch.cat([cos, others], 1) / setting.temperature
            positive = torch.cat([labels, torch.zeros_like(others)], 1) > 0
            loss_each = torch.logsumexp(logits, 1) - torch.logsumexp(
                logits.masked_fill(~positive, -1e9), 1
            )
            weight = torch.where(fit.news[pick], setting.news_weight, 1.0)
            loss = (loss_each * weight).sum() / weight.sum()
            loss = loss + setting.l2 * ((a**2).sum() + (b**2).sum())
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        score = held_mrr()
        if score > best[0]:
            best = (score, epoch, Adapter(a.detach().numpy().copy(), b.detach().numpy().copy()))
    return Fitted(best[2], best[0], best[1], start_mrr)


# -- offline report -----------------------------------------------------------------------------
Cosine = Callable[[Example], np.ndarray]


def adapted_cosine(adapter: Adapter) -> Cosine:
    return lambda e: e.passages @ adapter(e.vector[None])[0]


def first_label(scores: np.ndarray, labels: np.ndarray) -> int | None:
    ordered = labels[np.argsort(-scores, kind="stable")]
    return int(np.argmax(ordered)) if ordered.any() else None


def hits(examples: Sequence[Example], cosine: Cosine, weights: np.ndarray) -> dict[str, str]:
    """hit@1 / hit@5 of the hybrid (the cosine feature replaced) and of the cosine alone."""
    hybrid, dense = [], []
    for e in examples:
        if not len(e.passage_ids):
            hybrid.append(None)
            dense.append(None)
            continue
        features = e.features.copy()
        features[:, 0] = cosine(e)
        hybrid.append(first_label(features @ weights, e.labels))
        dense.append(first_label(features[:, 0], e.labels))

    def at(ranks: list[int | None]) -> str:
        n = len(ranks) or 1
        one = sum(r is not None and r < 1 for r in ranks) / n
        five = sum(r is not None and r < 5 for r in ranks) / n
        return f"{one:.3f} / {five:.3f}"

    return {"hybrid": at(hybrid), "dense": at(dense)}


def refit(examples: Sequence[Example], cosine: Cosine) -> np.ndarray:
    """The combiner's weights refitted with this cosine, as FIRST_STAGE_WEIGHTS were."""
    samples = []
    for e in examples:
        features = e.features.copy()
        features[:, 0] = cosine(e)
        samples += [(features, e.labels)] * (NEWS_COPIES if e.set == "news" else 1)
    return np.asarray(fit_listwise(samples), np.float32)


def report_offline(examples: Sequence[Example], tune: Sequence[Example], adapter: Adapter) -> None:
    parts = {
        "news test": [
            e for e in examples if e.set == "news" and e.split == "test" and e.answerable
        ],
        "paraphrase": [
            e
            for e in examples
            if e.set == "news" and e.split == "test" and e.answerable and e.style == "paraphrase"
        ],
        "SQuAD held out": [e for e in examples if e.set == "squad" and e.split == "test"],
    }
    dim = examples[0].vector.shape[0]
    for name, cosine in (
        ("identity", adapted_cosine(identity(dim))),
        ("adapted", adapted_cosine(adapter)),
    ):
        weights = refit(tune, cosine)
        print(f"{name}: refitted weights {tuple(round(float(w), 2) for w in weights)}")
        for part, chosen in parts.items():
            shipped, refitted = hits(chosen, cosine, SHIPPED), hits(chosen, cosine, weights)
            print(
                f"  {part:15s} (n {len(chosen)}) hit@1 / hit@5: dense {shipped['dense']}"
                f"  hybrid {shipped['hybrid']}  hybrid refitted {refitted['hybrid']}"
            )


# -- through the archive's ranking -------------------------------------------------------------
Arm = tuple[str, Callable[[np.ndarray], np.ndarray], bool]  # name, map, own candidates


def measure(
    adapter: Adapter, weights: dict[str, np.ndarray], limit: int | None, sets: Sequence[str]
) -> None:
    """Both test halves through `Ranker`, each question under every arm in turn."""
    from archivist.embedding import default_embedder

    dim = adapter.a.shape[0]
    arms: list[Arm] = [
        ("identity", identity(dim), True),
        ("(a) adapted cosine, original candidates", adapter, False),
        ("(b) adapted vector, its own candidates", adapter, True),
    ]
    embedder = CachingEmbedder(default_embedder())
    # the tune half too: the answered rule's threshold is the one answering 95% of its questions
    news = load_questions()
    _, squad = load_squad()
    _, test_titles = split_titles(squad)
    held = [q for q in squad if q.article_title in test_titles]
    if limit:
        held = held[:: max(1, len(held) // limit)][:limit]
    paragraphs = gold_paragraphs(news)

    def configs(arm: str) -> dict[str, SearchConfig]:
        refitted = tuple(float(w) for w in weights["identity" if arm == "identity" else "adapted"])
        return {
            "hybrid": SearchConfig(),
            "hybrid refitted": SearchConfig(weights=refitted),
            "dense": SearchConfig(mode="dense"),
        }

    for set_name, questions in (("news", news), ("squad", held)):
        if set_name not in sets:
            continue
        started = time.perf_counter()
        archive = open_archive(set_name, embedder)
        ranker = archive.ranker
        vectors = embedder.encode([q.text for q in questions])
        outcomes: dict[str, list[Outcome]] = {}
        for i, question in enumerate(questions):
            original = ranker.retrieve(question.text, COLLECTION, depth=10, vector=vectors[i])
            for arm, mapping, own in arms:
                moved = mapping(vectors[i][None])[0]
                if own:
                    retrieval = ranker.retrieve(question.text, COLLECTION, depth=10, vector=moved)
                else:  # the cosines are recomputed from the stored vectors, not the index's
                    retrieval = dataclasses.replace(original, vector=moved, exact_scores=False)
                for name, cfg in configs(arm).items():
                    if name == "dense" and not own:
                        continue  # dense alone ranks the original list: the identity's
                    scored = ranker.scored_answer(retrieval, 10, 0, cfg, highlighted=1)
                    got = scored.answer.hits
                    if set_name == "news":
                        rank = first_right(question, got, paragraphs)
                    else:
                        ids = [h.article_id for h in got]
                        rank = ids.index(question.gold) if question.gold in ids else None
                    outcome = Outcome(rank, scored.signal, scored.answer.answered, None)
                    outcomes.setdefault(f"{arm} / {name}", []).append(outcome)
        archive.close()
        took = time.perf_counter() - started
        print(f"{set_name}: {len(questions)} questions asked, {took:.0f}s; the test half's figures")
        for name, outs in outcomes.items():
            if set_name == "news":
                test = summarise(questions, outs)["test"]
                every, para = test["groups"]["all"], test["groups"]["paraphrase"]
                print(
                    f"  {name:58s} hit@1 / hit@5 {every['hit@1']:.3f} / {every['hit@5']:.3f}"
                    f"  paraphrase {para['hit@1']:.3f} / {para['hit@5']:.3f}"
                    f"  declined {test['declined']:.2f} at {test['answered']:.3f} answered"
                )
            else:
                q = quality(outs)
                print(f"  {name:58s} hit@1 / hit@5 {q['hit@1']:.3f} / {q['hit@5']:.3f}")


# -- the run ------------------------------------------------------------------------------------
def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fit_adapter", description=__doc__.splitlines()[0])
    parser.add_argument("--dumps", type=Path, required=True, help="fit_dump.py's folder")
    parser.add_argument("--out", type=Path, required=True, help="the fitted map (.npz)")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--measure", action="store_true", help="also through the archive")
    parser.add_argument("--limit", type=int, default=None, help="--measure: SQuAD questions")
    parser.add_argument(
        "--measure-sets", default="news,squad", help="--measure: news, squad or both"
    )
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)  # a shared 2-core machine
    examples = load_examples(args.dumps)
    tune = [e for e in examples if e.split == "tune" and e.answerable and e.labels.any()]
    train = [e for e in tune if not held_aside(e)]
    aside = [e for e in tune if held_aside(e)]
    print(f"tune: {len(train)} fitted, {len(aside)} held aside")
    fits = []
    for setting in GRID:
        fitted = fit_adapter(train, aside, setting, args.epochs)
        print(f"  {setting}: held-aside MRR {fitted.mrr:.4f} (epoch {fitted.epoch})", flush=True)
        fits.append((fitted, setting))
    kept, setting = max(fits, key=lambda pair: pair[0].mrr)
    print(f"kept {setting}: held-aside MRR {kept.identity_mrr:.4f} (identity) -> {kept.mrr:.4f}")
    adapter = kept.adapter
    dim = examples[0].vector.shape[0]
    np.savez(args.out, a=adapter.a.astype(np.float16), b=adapter.b.astype(np.float16))
    report_offline(examples, tune, adapter)
    if args.measure:
        weights = {
            "identity": refit(tune, adapted_cosine(identity(dim))),
            "adapted": refit(tune, adapted_cosine(adapter)),
        }
        measure(adapter, weights, args.limit, args.measure_sets.split(","))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
