"""Archivist: answers questions from stored news articles, offline."""

from __future__ import annotations

from archivist.models import Answer, Article, Hit, Paragraph

__all__ = ["Answer", "Archive", "Article", "Hit", "Paragraph"]
__version__ = "0.1.0"


def __getattr__(name: str):  # lazy: `import archivist` must not pull in torch or faiss
    if name == "Archive":
        from archivist.archive import Archive

        return Archive
    raise AttributeError(name)
