"""From a question to an answer: analysis, the lexical query, features, the model, highlights.

`Ranker` (ranking.answer) is the entry; the rest are its steps, one module each.
"""

from __future__ import annotations

from archivist.ranking.analysis import ANALYSIS_VERSION, stored_analysis
from archivist.ranking.answer import Ranker, Retrieval, ScoredAnswer
from archivist.ranking.lexical import validate_question
from archivist.ranking.model import MODES, SearchConfig

__all__ = [
    "ANALYSIS_VERSION",
    "MODES",
    "Ranker",
    "Retrieval",
    "ScoredAnswer",
    "SearchConfig",
    "stored_analysis",
    "validate_question",
]
