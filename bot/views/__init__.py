"""Replies with buttons that keep working after a restart.

Every button is a `DynamicItem` whose custom id carries its state (`archivist:more:3:3`,
`archivist:page:2:<article id>`...); what does not fit in 100 characters (the question) is read
back from the message the button is on. A button the bot no longer knows says it expired.
"""

from __future__ import annotations

from bot.feedback import Vote
from bot.views.answers import MoreResults, answer_reply
from bot.views.articles import (
    ArticlePage,
    CancelDelete,
    ConfirmDelete,
    RecentPage,
    ShowArticle,
    article_reply,
    delete_prompt,
    recent_reply,
)
from bot.views.common import (
    EXPIRED,
    NO_PINGS,
    Expired,
    check_cooldown,
    for_someone_else,
    send_kwargs,
    since_date,
    turn_page,
)

DYNAMIC_ITEMS = (
    MoreResults,
    ShowArticle,
    ArticlePage,
    RecentPage,
    ConfirmDelete,
    CancelDelete,
    Vote,
    Expired,
)

__all__ = [
    "DYNAMIC_ITEMS",
    "EXPIRED",
    "NO_PINGS",
    "ArticlePage",
    "CancelDelete",
    "ConfirmDelete",
    "Expired",
    "MoreResults",
    "RecentPage",
    "ShowArticle",
    "answer_reply",
    "article_reply",
    "check_cooldown",
    "delete_prompt",
    "for_someone_else",
    "recent_reply",
    "send_kwargs",
    "since_date",
    "turn_page",
]
