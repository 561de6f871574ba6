"""Ranking: stems, the scalable FTS5 query, the stored analysis, the hybrid ranking's modes and
paging (fast: the hashing embedder, no model)."""

from __future__ import annotations

import pytest

from archivist.models import Article, Paragraph
from archivist.ranking import MODES, SearchConfig
from archivist.ranking.analysis import (
    ANALYSIS_VERSION,
    LazySentences,
    analyse_text,
    fts_term,
    passage_analysis,
    read_stored_analysis,
    stem,
    stems,
    stored_analysis,
    thread_stemmer,
)
from archivist.ranking.lexical import lookup_keys, query_terms, scalable_fts_query

ARTICLES = [
    (
        "ferry",
        "Night ferry to Oslo returns",
        [
            "The night ferry between Kiel and Oslo returns in May after a two-year pause.",
            "Tickets for the crossing cost from 89 euros; cabins sell out quickly in summer.",
        ],
    ),
    (
        "orchard",
        "Apple harvest in the Altes Land",
        [
            "Growers in the Altes Land expect a record apple harvest of 330,000 tonnes"
            " this autumn.",
            "A warm spring and little frost helped the blossom, the growers' association said.",
        ],
    ),
    (
        "robots",
        "Robots sort parcels in Leipzig",
        [
            "A new parcel centre in Leipzig sorts 50,000 parcels an hour with robot arms.",
            "The operator said 400 people still work there, mostly in maintenance and control.",
        ],
    ),
]


def add_articles(archive, collection="c"):
    items = [
        (key, Article(title=title, paragraphs=tuple(Paragraph(t) for t in texts), id=key))
        for key, title, texts in ARTICLES
    ]
    report = archive.add_articles(items, collection=collection)
    assert not report.failed


def test_stems_match_fts5_porter():
    assert stem("harvests") == stem("harvest") == "harvest"
    assert stems("Parcels sorted") == ["parcel", "sort"]


def test_scalable_query_leaves_out_common_terms_but_keeps_the_rarest():
    doc_freq = {"ferri": 3, "oslo": 5, "return": 900, "night": 800, "mai": 950}
    terms = query_terms("When does the night ferry to Oslo return in May?", doc_freq, 1000)
    cfg = SearchConfig(max_term_docs=50, min_query_terms=3)
    match = scalable_fts_query(terms, doc_freq, cfg)
    assert match == '"night" OR "ferry" OR "oslo"'  # the 3 rarest kept, in the question's order
    cfg = SearchConfig(max_term_docs=50, min_query_terms=1)
    assert scalable_fts_query(terms, doc_freq, cfg) == '"ferry" OR "oslo"'
    # a common word kept for being among the rarest, only within the postings budget
    cfg = SearchConfig(max_term_docs=50, min_query_terms=3, max_query_postings=500)
    assert scalable_fts_query(terms, doc_freq, cfg) == '"ferry" OR "oslo"'
    # a question whose rarest word is over the budget is left to the dense side
    common = {"ferri": 700, "oslo": 750, "return": 900, "night": 800, "mai": 950}
    terms = query_terms("When does the night ferry to Oslo return in May?", common, 1000)
    assert scalable_fts_query(terms, common, cfg) is None
    assert terms.idf["ferri"] > terms.idf["return"]


def test_scalable_query_counts_irregular_forms_by_their_own_fts5_terms():
    # FTS5 stems "ate" to "at" (a stop word, in most passages): asked for, it would score them all
    assert fts_term("ate") == "at" and fts_term("met") == "met" and stem("met") == "meet"
    assert set(lookup_keys(["eat", "met"])) == {"eat", "at", "eaten", "meet", "met"}
    doc_freq = {"ctenophora": 4, "eat": 70, "at": 900, "eaten": 7, "meet": 40, "met": 60}
    cfg = SearchConfig(max_term_docs=300, min_query_terms=3, max_query_postings=10_000)
    terms = query_terms("What do ctenophora eat?", doc_freq, 1000)
    assert scalable_fts_query(terms, doc_freq, cfg) == '"ctenophora" OR "eat" OR "eaten"'
    # the other forms come within the postings budget: "met" (60) does not fit after "meet"
    terms = query_terms("Who did the ctenophora meet?", doc_freq, 1000)
    cfg = SearchConfig(max_term_docs=300, min_query_terms=3, max_query_postings=80)
    assert scalable_fts_query(terms, doc_freq, cfg) == '"ctenophora" OR "meet"'
    cfg = SearchConfig(max_term_docs=300, min_query_terms=3, max_query_postings=200)
    assert scalable_fts_query(terms, doc_freq, cfg) == '"ctenophora" OR "meet" OR "met"'
    # a question's own irregular word costs what FTS5 indexes for it
    terms = query_terms("Whom had the ctenophora met?", doc_freq, 1000)
    assert scalable_fts_query(terms, doc_freq, cfg) == '"ctenophora" OR "met" OR "meet"'


def test_scalable_query_quotes_fts_syntax():
    terms = query_terms('AND NEAR( "x* -y" OR', {}, 10)
    match = scalable_fts_query(terms, {}, SearchConfig())
    assert match is not None and all(part.startswith('"') for part in match.split(" OR "))


def test_doc_freqs_come_from_the_store(fake_archive):
    add_articles(fake_archive)
    freqs = fake_archive.store.doc_freqs(["parcel", "harvest", "zzz"])
    assert freqs["parcel"] >= 1 and freqs["harvest"] >= 1 and "zzz" not in freqs
    assert fake_archive.store.passage_total() >= 3


@pytest.mark.parametrize("mode", ["hybrid", "rrf", "bm25"])  # dense needs a real model
def test_every_mode_finds_the_article(fake_archive, mode):
    add_articles(fake_archive)
    fake_archive.search_config = SearchConfig(mode=mode)
    answer = fake_archive.ask("How many parcels does the Leipzig centre sort?", collection="c")
    assert answer.hits[0].article_id == "robots"
    assert answer.hits[0].highlight in answer.hits[0].passage


@pytest.mark.parametrize("mode", MODES)
def test_fts_syntax_never_raises(fake_archive, mode):
    add_articles(fake_archive)
    fake_archive.search_config = SearchConfig(mode=mode)
    for question in ['"unbalanced', "AND OR NOT", "NEAR(a b)", "col:umn*", "-x +y ^z", "a*"]:
        fake_archive.ask(question, collection="c")


def test_hybrid_pages_do_not_overlap(fake_archive):
    add_articles(fake_archive)
    first = fake_archive.ask("apple harvest parcels ferry", k=2, collection="c")
    second = fake_archive.ask("apple harvest parcels ferry", k=2, offset=2, collection="c")
    ids = [(h.article_id, h.position) for h in first.hits + second.hits]
    assert len(ids) == len(set(ids)) == 3  # each article is one passage


def test_hybrid_stays_in_its_collection(fake_archive):
    add_articles(fake_archive, "a")
    answer = fake_archive.ask("apple harvest", collection="b")
    assert answer.hits == () and not answer.answered


def test_source_filter_applies_to_hybrid(fake_archive):
    add_articles(fake_archive)
    answer = fake_archive.ask("apple harvest", collection="c", source="nobody")
    assert answer.hits == ()


def test_hybrid_ranks_on_stored_cosines_when_the_index_scores_are_approximate(fake_archive):
    from dataclasses import replace

    add_articles(fake_archive)
    ranker = fake_archive.ranker
    retrieval = ranker.retrieve("How many parcels does the Leipzig centre sort?", "c")
    best = retrieval.dense[0][0]
    stored = fake_archive.store.vectors_by_ids([best], fake_archive.embedder.dim, "c")[best]
    true_cosine = float(stored @ retrieval.vector)
    # an 8-bit index's score is off a little; here by a lot, to make the difference visible;
    # `best` is the only candidate, so the ranking's top features are its own
    only = replace(retrieval, dense=[(best, true_cosine - 0.25)], lexical=[])

    def dense_feature(exact_scores: bool) -> float:
        ranked = ranker.rank(replace(only, exact_scores=exact_scores), 1)
        assert ranked.ids == [best]
        return float(ranked.top_features[0])

    assert dense_feature(False) == pytest.approx(true_cosine, abs=1e-5)
    assert dense_feature(True) == pytest.approx(true_cosine - 0.25, abs=1e-5)


def test_each_thread_stems_with_its_own_stemmer():
    # PyStemmer objects must not be shared by threads; the lexical half runs in a worker
    from concurrent.futures import ThreadPoolExecutor

    here = thread_stemmer()
    assert here is thread_stemmer()
    with ThreadPoolExecutor(1) as pool:
        there = pool.submit(thread_stemmer).result()
    assert there is not here and there.stemWord("parcels") == here.stemWord("parcels") == "parcel"


def _answer_key(answer):
    return [(h.article_id, h.position, round(h.score, 6), h.highlight) for h in answer.hits]


def test_ingest_stores_the_ranking_analysis_and_asking_reads_it(fake_archive):
    add_articles(fake_archive)
    ids = [int(i) for i in fake_archive.store.passage_ids("c")]
    rows = fake_archive.store.passages_by_ids(ids, "c")
    assert rows and all(r.stems and r.stems.startswith(ANALYSIS_VERSION) for r in rows.values())
    # the stored analysis is read, not made again: its sentences are split only when read
    assert isinstance(passage_analysis(next(iter(rows.values()))).sentences, LazySentences)
    texts = [*(r.text for r in rows.values()), "", "One. Two? 'Three' (four). U.S. officials met."]
    for text in texts:
        made = analyse_text(text)
        read = read_stored_analysis(text, stored_analysis(text))
        assert read is not None
        assert (read.sentence_stems, read.body) == (made.sentence_stems, made.body)
        assert list(read.sentences) == made.sentences  # split only when read
    # an analysis of another version is not trusted: the text is analysed again
    assert read_stored_analysis("One. Two.", "a0\none\ntwo") is None


def test_passages_stored_before_the_analysis_are_analysed_when_asked_and_by_reindex(tmp_path):
    from archivist.archive import Archive
    from archivist.embedding import HashingEmbedder

    folder = tmp_path / "old"
    archive = Archive(folder, embedder=HashingEmbedder())
    add_articles(archive)
    question = "How many parcels does the Leipzig centre sort an hour?"
    expected = _answer_key(archive.ask(question, collection="c"))
    # the archive as migration 4 found it: no stems column, the migration not yet recorded
    with archive.store.transaction() as db:
        db.execute("ALTER TABLE passages DROP COLUMN stems")
        db.execute("DELETE FROM _migrations WHERE name = 'm004_passage_stems'")
    archive.close()
    archive = Archive(folder, embedder=HashingEmbedder())
    try:
        count = archive.store.passage_total()
        assert len(archive.store.unanalysed(100, "a1")) == count > 0
        assert _answer_key(archive.ask(question, collection="c")) == expected
        assert archive.analyse_stored(batch=2) == count
        assert archive.store.unanalysed(100, "a1") == [] and archive.analyse_stored() == 0
        assert _answer_key(archive.ask(question, collection="c")) == expected
        # an analysis of an older version is made again (a version "a1x" is not "a1")
        with archive.store.transaction() as db:
            db.execute("UPDATE passages SET stems = 'a0' || substr(stems, 3) WHERE id % 2 = 0")
            db.execute("UPDATE passages SET stems = 'a1x' || substr(stems, 3) WHERE id % 2 = 1")
        assert _answer_key(archive.ask(question, collection="c")) == expected
        assert archive.analyse_stored() == count
        assert all(
            r.stems and r.stems.split("\n")[0] == "a1"
            for r in archive.store.passages_by_ids(range(1, count + 1), "c").values()
        )
    finally:
        archive.close()
