"""Answer quality on real questions (issue 4): SQuAD v1.1 dev, with BBC + Reuters distractors,
and out of archive; every configuration beside BM25 alone and dense alone, in one run.

    .venv/bin/python benchmarks/quality.py [--sets squad,mixed,out,news] [--limit N] [--write]

Reads ../shared/data (skips with a message when it is absent). Embeddings and the built stores
are cached under ~/.cache/archivist-bench (ARCHIVIST_BENCH_CACHE): the first run with the news
distractors embeds ~72k passages (tens of minutes on 2 cores); later runs reuse them.
The harness: quality_data.py (data, cache, archives), quality_measure.py (metrics, fitting),
quality_report.py (docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from news_quality import evaluate_news
from quality_data import PROJECT_ROOT, data_available
from quality_measure import configurations, evaluate, fit
from quality_report import NOTES, format_news, markdown, write_section

DOCS = PROJECT_ROOT / "docs" / "benchmarks.md"
DEFAULT_SETS = "squad,mixed,out,news"


def main(argv: Sequence[str] | None = None) -> int:
    """Measure answer quality, print it, optionally write docs/benchmarks.md."""
    parser = argparse.ArgumentParser(prog="quality", description=main.__doc__)
    parser.add_argument(
        "--sets",
        default=DEFAULT_SETS,
        help="comma-separated: squad, mixed (with news distractors), out, news (the news "
        "question set, benchmarks/news_questions)",
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
        "--news-reuters",
        type=int,
        default=None,
        help="news set: store only the first N Reuters articles besides those it asks about",
    )
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
    if "news" in sets:
        results["news"] = evaluate_news(configurations(), args.limit, reuters=args.news_reuters)
        if results["news"]:
            print(format_news(results["news"]))
    results["notes"] = [NOTES]
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    if args.write:
        command = "python benchmarks/quality.py --write" + (
            f" --sets {args.sets}" if args.sets != DEFAULT_SETS else ""
        )
        if args.news_reuters is not None:
            command += f" --news-reuters {args.news_reuters}"
        write_section(DOCS, markdown(results, command))
        print(f"written to {DOCS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
