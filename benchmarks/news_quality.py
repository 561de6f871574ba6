"""Answer quality on the news question set (issue 15): benchmarks/news_questions/*.jsonl asked of
an archive of every BBC and Reuters article, by half (tune, test) and by style, for every mode.

A hit is right when it is the gold article's passage that holds the gold paragraph, or when its
passage holds the answer sentence (whitespace normalised): a syndicated copy of the story counts.
The paragraphs are read from `../shared/data` at run time; the repository holds none of them.

    .venv/bin/python benchmarks/quality.py --sets news [--write]
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from quality_data import COLLECTION, CachingEmbedder, data_root, load_news, open_archive
from quality_measure import Outcome, Say, declined_at, quality, say_out, threshold_for

from archivist.archive import Archive
from archivist.embedding import default_embedder
from archivist.models import Hit
from archivist.ranking import SearchConfig

QUESTIONS = Path(__file__).resolve().parent / "news_questions"
FILES = ("bbc.jsonl", "reuters.jsonl")
CORPORA = ("bbc-news", "reuters-21578")
STYLES = ("natural", "casual", "keyword", "paraphrase")
GROUPS = ("all", *STYLES, "dated")  # "dated": the questions with a date_hint, any style
HALVES = ("tune", "test")
ANSWER_SHARE = 0.95  # abstention is measured where this share of answerable questions is answered


@dataclass(frozen=True)
class NewsQuestion:
    """One question of the set; the gold fields are None for an unanswerable one."""

    id: str
    text: str
    style: str
    split: str
    answerable: bool
    dated: bool
    article_id: str | None = None
    paragraph_index: int | None = None
    answer_sentence: str | None = None
    answer: str | None = None


def normalise(text: str) -> str:
    return " ".join(text.split())


def question_from_row(row: dict, where: str) -> NewsQuestion:
    """A question from its JSON object (raises ValueError naming `where` and the problem)."""
    try:
        answerable = bool(row["answerable"])
        if row["style"] not in STYLES or row["split"] not in HALVES:
            raise ValueError(f"style {row['style']!r} or split {row['split']!r} unknown")
        gold = (
            {
                "article_id": str(row["article_id"]),
                "paragraph_index": int(row["paragraph_index"]),
                "answer_sentence": normalise(row["answer_sentence"]),
                "answer": str(row["answer"]),
            }
            if answerable
            else {}
        )
        return NewsQuestion(
            id=str(row["id"]),
            text=str(row["question"]),
            style=row["style"],
            split=row["split"],
            answerable=answerable,
            dated=bool(row.get("date_hint")),
            **gold,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{where}: not a news question ({exc!r})") from None


def load_questions(folder: Path = QUESTIONS, files: Sequence[str] = FILES) -> list[NewsQuestion]:
    """Every question of the set's files, in file order."""
    out = []
    for name in files:
        with open(folder / name, encoding="utf-8") as fh:
            for number, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                where = f"{name}:{number}"
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{where}: not JSON ({exc.msg})") from None
                out.append(question_from_row(row, where))
    return out


def gold_paragraphs(
    questions: Iterable[NewsQuestion], root: Path | None = None
) -> dict[str, tuple[str, ...]]:
    """The gold articles' paragraphs (normalised), read from the shared data by article id."""
    wanted = {q.article_id for q in questions if q.article_id}
    found: dict[str, tuple[str, ...]] = {}
    for corpus in CORPORA:
        path = (root or data_root()) / corpus / "articles.jsonl"
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                record = json.loads(line)
                if record.get("id") in wanted:
                    found[record["id"]] = tuple(normalise(p) for p in record["paragraphs"])
    missing = wanted - found.keys()
    if missing:
        raise ValueError(f"gold articles not in the data: {', '.join(sorted(missing)[:5])}")
    return found


def is_right(
    question: NewsQuestion, article_id: str, passage: str, paragraphs: dict[str, tuple[str, ...]]
) -> bool:
    """The hit rule: the gold article's passage holding the gold paragraph (or a piece of a long
    one), or any passage holding the answer sentence (a copy of the story elsewhere)."""
    if not question.answerable or question.answer_sentence is None:
        return False
    text = normalise(passage)
    if question.answer_sentence in text:
        return True
    if article_id != question.article_id or question.paragraph_index is None:
        return False
    gold = paragraphs[article_id][question.paragraph_index]
    return gold in text or text in gold


def first_right(
    question: NewsQuestion, hits: Sequence[Hit], paragraphs: dict[str, tuple[str, ...]]
) -> int | None:
    return next(
        (i for i, h in enumerate(hits) if is_right(question, h.article_id, h.passage, paragraphs)),
        None,
    )


def bold_holds_answer(question: NewsQuestion, hit: Hit) -> bool:
    answer = (question.answer or "").lower()
    return bool(answer) and answer in (hit.highlight or "").lower()


def archive_name_and_items(
    questions: Sequence[NewsQuestion], reuters: int | None
) -> tuple[str, list | None]:
    """The news archive: every BBC and Reuters article, or (`reuters`: N) every BBC article,
    the Reuters articles the set names and the first N other Reuters articles: a smaller
    archive for a machine that cannot embed 73k passages in time (its figures are not the full
    archive's: fewer distractors)."""
    if reuters is None:
        return "news", None
    named = {q.article_id for q in questions}
    kept, others = [], 0
    for origin, article in load_news():
        if article.id in named or not (article.id or "").startswith("reuters-"):
            kept.append((origin, article))
        elif others < reuters:
            kept.append((origin, article))
            others += 1
    return f"news-reuters{reuters}", kept


# -- measuring ---------------------------------------------------------------------------------
def run_news(
    archive: Archive,
    questions: Sequence[NewsQuestion],
    configs: dict[str, SearchConfig],
    vectors: np.ndarray,
    paragraphs: dict[str, tuple[str, ...]],
    depth: int = 10,
) -> dict[str, list[Outcome]]:
    """Every question once through retrieval, then through each configuration's ranking."""
    ranker = archive.ranker
    out: dict[str, list[Outcome]] = {name: [] for name in configs}
    for question, vector in zip(questions, vectors, strict=True):
        retrieval = ranker.retrieve(question.text, COLLECTION, depth=depth, vector=vector)
        for name, cfg in configs.items():
            scored = ranker.scored_answer(retrieval, depth, 0, cfg, highlighted=1)
            hits = scored.answer.hits
            rank = first_right(question, hits, paragraphs)
            bold = bold_holds_answer(question, hits[0]) if rank == 0 else None
            out[name].append(Outcome(rank, scored.signal, scored.answer.answered, bold))
    return out


def in_group(question: NewsQuestion, group: str) -> bool:
    return group == "all" or question.style == group or (group == "dated" and question.dated)


def summarise(questions: Sequence[NewsQuestion], outcomes: Sequence[Outcome]) -> dict:
    """One configuration's figures: per half and group the quality of the answerable questions,
    and per half the abstention at the threshold answering 95% of the tune half's."""
    pairs = list(zip(questions, outcomes, strict=True))
    tune_in = [o.signal for q, o in pairs if q.answerable and q.split == "tune"]
    # without answerable tune questions (a --limit run) there is no threshold to measure at
    threshold = threshold_for(tune_in, ANSWER_SHARE) if tune_in else None
    out: dict = {"threshold": threshold}
    for half in HALVES:
        mine = [(q, o) for q, o in pairs if q.split == half]
        answerable = [o.signal for q, o in mine if q.answerable]
        unanswerable = [o.signal for q, o in mine if not q.answerable]
        out[half] = {
            "groups": {
                group: quality([o for q, o in mine if q.answerable and in_group(q, group)])
                for group in GROUPS
            },
            "answered": None if threshold is None else 1 - declined_at(answerable, threshold),
            "declined": None if threshold is None else declined_at(unanswerable, threshold),
            "unanswerable": len(unanswerable),
        }
    return out


def evaluate_news(
    configs: dict[str, SearchConfig],
    limit: int | None = None,
    say: Say = say_out,
    progress: Callable[[str, int, int], None] | None = None,
    reuters: int | None = None,
) -> dict:
    """Measure every configuration on the news set (the archive built once and cached;
    `reuters`: see `archive_name_and_items`)."""
    if not all((data_root() / c / "articles.jsonl").exists() for c in CORPORA):
        say("news: skipped (news data missing)")
        return {}
    questions = load_questions()
    if limit:
        questions = questions[:: max(1, len(questions) // limit)][:limit]
    paragraphs = gold_paragraphs(questions)
    embedder = CachingEmbedder(default_embedder())
    started = time.perf_counter()
    name, items = archive_name_and_items(load_questions(), reuters)
    archive = open_archive(name, embedder, progress=progress, items=items)
    vectors = embedder.encode([q.text for q in questions])
    embedder.save()
    passages = archive.stats(collection=COLLECTION).passages
    outcomes = run_news(archive, questions, configs, vectors, paragraphs)
    archive.close()
    took = time.perf_counter() - started
    say(f"news: {len(questions)} questions, {passages} passages, {took:.0f}s")
    return {
        "archive": name,
        "passages": passages,
        "questions": len(questions),
        "configs": {name: summarise(questions, outs) for name, outs in outcomes.items()},
    }
