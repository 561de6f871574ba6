"""The quality benchmark's report: lines to print, and its section of docs/benchmarks.md."""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path


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


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def format_news(result: dict) -> str:
    """The news question set's figures, one line per configuration, half and group."""
    lines = [f"news questions ({result['passages']:,} passages, {result['questions']} questions)"]
    for config, r in result["configs"].items():
        for half in ("tune", "test"):
            h = r[half]
            lines.append(
                f"  {half:4s} {config:28s} answered {_share(h['answered'])}  declined "
                f"{_share(h['declined'])} of {h['unanswerable']} unanswerable"
            )
            for group, q in h["groups"].items():
                lines.append(
                    f"    {group:10s} hit@1 {q['hit@1']:.3f}  hit@5 {q['hit@5']:.3f}  hit@10 "
                    f"{q['hit@10']:.3f}  MRR@10 {q['mrr@10']:.3f}  bold {q['bold']:.3f}  n {q['n']}"
                )
    return "\n".join(lines)


def news_markdown(result: dict) -> list[str]:
    """The "### News questions" part of the section."""
    lines = [
        f"### News questions: {result['passages']:,} passages",
        "",
        f"`benchmarks/news_questions` ({result['questions']} questions written for BBC and "
        "Reuters articles, split into tune and test halves by article) asked of an archive of "
        + (
            "every BBC and Reuters article"
            if result.get("archive", "news") == "news"
            else f"every BBC article and part of Reuters (`{result['archive']}`: the Reuters "
            "articles the set asks about and the first others of the file)"
        )
        + ". A hit is right when it is the gold article's passage "
        "holding the gold paragraph, or any passage holding the answer sentence (a copy of the "
        "story). *dated*: the questions naming a date or period, any style. `bold`: share of "
        "right first hits whose highlighted sentence holds the answer.",
        "",
        "| configuration | half | questions | n | hit@1 | hit@5 | hit@10 | MRR@10 | bold |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for config, r in result["configs"].items():
        for half in ("test", "tune"):
            for group, q in r[half]["groups"].items():
                lines.append(
                    f"| {config} | {half} | {group} | {q['n']} | {q['hit@1']:.3f} | "
                    f"{q['hit@5']:.3f} | {q['hit@10']:.3f} | {q['mrr@10']:.3f} | {q['bold']:.3f} |"
                )
    lines += [
        "",
        "Unanswerable questions (topics absent from the archive, and near misses): the share "
        "declined at the threshold that answers 95% of the tune half's answerable questions.",
        "",
        "| configuration | test: answered | test: declined | tune: answered | tune: declined |",
        "|---|---|---|---|---|",
    ]
    for config, r in result["configs"].items():
        t, u = r["test"], r["tune"]
        lines.append(
            f"| {config} | {_share(t['answered'])} | {_share(t['declined'])} (of "
            f"{t['unanswerable']}) | {_share(u['answered'])} | {_share(u['declined'])} (of "
            f"{u['unanswerable']}) |"
        )
    return lines + [""]


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
`answered`: a logistic rule over the best candidate and the question
(`ranking.model.ANSWER_WEIGHTS`: its score, margin, cosine, lexical shares, the rarest question
word it lacks, a year it does not name, the question's words no passage holds), read off the best
score anchored at `FIRST_STAGE_ANSWER_SCORE`; fitted (`benchmarks/fit_answered.py`) to answer 95%
of both tune halves. When the first pass is weak (few question words matched and no close
vector), the candidates are re-scored against the question vector moved toward the best five
(`ranking.feedback`).

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
    if results.get("news"):
        lines += news_markdown(results["news"])
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
