"""Answer quality on real questions (issue 4): SQuAD v1.1 dev, with BBC + Reuters distractors,
and out of archive; every configuration beside BM25 alone and dense alone, in one run.

    .venv/bin/python benchmarks/quality.py [--sets squad,mixed,out] [--limit N] [--write]

Reads ../shared/data (skips with a message when it is absent). Embeddings and the built stores
are cached under ~/.cache/archivist-bench (ARCHIVIST_BENCH_CACHE): the first run with the news
distractors embeds ~72k passages (tens of minutes on 2 cores); later runs reuse them.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from archivist.evaluation import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main())
