"""Discord's limits on message payloads, checked the way Discord checks them.

Every failure is collected as (json path, message) so the 400 answer reads like Discord's own
`{"code": 50035, "errors": {...}, "message": "Invalid Form Body"}`.
"""

from __future__ import annotations

from typing import Any

CONTENT_MAX = 2000
EMBEDS_MAX = 10
EMBED_TITLE_MAX = 256
EMBED_DESCRIPTION_MAX = 4096
EMBED_FIELDS_MAX = 25
FIELD_NAME_MAX = 256
FIELD_VALUE_MAX = 1024
FOOTER_MAX = 2048
AUTHOR_NAME_MAX = 256
EMBEDS_TOTAL_MAX = 6000
ACTION_ROWS_MAX = 5
ROW_ITEMS_MAX = 5
CUSTOM_ID_MAX = 100
BUTTON_LABEL_MAX = 80
SELECT_OPTIONS_MAX = 25

Problems = list[tuple[str, str]]


def _check_len(problems: Problems, path: str, value: Any, limit: int) -> int:
    if value is None:
        problems.append((path, "null is not a valid value here (omit the field instead)"))
        return 0
    if not isinstance(value, str):
        problems.append((path, f"must be a string, got {type(value).__name__}"))
        return 0
    if len(value) > limit:
        problems.append((path, f"Must be {limit} or fewer in length (got {len(value)})."))
    return len(value)


def _check_url(problems: Problems, path: str, value: Any) -> None:
    if not isinstance(value, str) or not value.startswith(("http://", "https://")):
        problems.append((path, f"Not a well formed URL: {value!r}"))


def validate_embed(embed: Any, path: str, problems: Problems) -> int:
    """Checks one embed; returns the characters it counts toward the 6000 total."""
    if not isinstance(embed, dict):
        problems.append((path, "must be an object"))
        return 0
    total = 0
    for key in ("title", "description", "url", "color", "timestamp", "type"):
        if key in embed and embed[key] is None:
            problems.append((f"{path}.{key}", "null is not a valid value here (omit the field)"))
    if "title" in embed:
        total += _check_len(problems, f"{path}.title", embed["title"], EMBED_TITLE_MAX)
    if "description" in embed:
        total += _check_len(
            problems, f"{path}.description", embed["description"], EMBED_DESCRIPTION_MAX
        )
    if "url" in embed and embed["url"] is not None:
        _check_url(problems, f"{path}.url", embed["url"])
    fields = embed.get("fields", [])
    if len(fields) > EMBED_FIELDS_MAX:
        problems.append((f"{path}.fields", f"Must be {EMBED_FIELDS_MAX} or fewer in length."))
    for i, f in enumerate(fields):
        fpath = f"{path}.fields[{i}]"
        total += _check_len(problems, f"{fpath}.name", f.get("name"), FIELD_NAME_MAX)
        total += _check_len(problems, f"{fpath}.value", f.get("value"), FIELD_VALUE_MAX)
        if f.get("name") == "" or f.get("value") == "":
            problems.append((fpath, "field name and value must not be empty"))
    if "footer" in embed:
        total += _check_len(
            problems, f"{path}.footer.text", embed["footer"].get("text"), FOOTER_MAX
        )
    if "author" in embed:
        author = embed["author"]
        total += _check_len(problems, f"{path}.author.name", author.get("name"), AUTHOR_NAME_MAX)
        if "url" in author:
            _check_url(problems, f"{path}.author.url", author["url"])
    return total


def validate_components(rows: Any, problems: Problems) -> None:
    if not isinstance(rows, list):
        problems.append(("components", "must be an array"))
        return
    if len(rows) > ACTION_ROWS_MAX:
        problems.append(("components", f"Must be {ACTION_ROWS_MAX} or fewer in length."))
    for r, row in enumerate(rows):
        rpath = f"components[{r}]"
        if row.get("type") != 1:
            problems.append((rpath, "top-level components must be action rows (type 1)"))
            continue
        items = row.get("components", [])
        if not 1 <= len(items) <= ROW_ITEMS_MAX:
            problems.append((f"{rpath}.components", "an action row holds 1 to 5 components"))
        for i, item in enumerate(items):
            ipath = f"{rpath}.components[{i}]"
            is_link = item.get("type") == 2 and item.get("style") == 5
            if is_link:
                _check_url(problems, f"{ipath}.url", item.get("url"))
                if "custom_id" in item:
                    problems.append((f"{ipath}.custom_id", "link buttons cannot have a custom_id"))
            else:
                _check_len(problems, f"{ipath}.custom_id", item.get("custom_id"), CUSTOM_ID_MAX)
            if "label" in item:
                _check_len(problems, f"{ipath}.label", item["label"], BUTTON_LABEL_MAX)
            if item.get("type") == 3 and len(item.get("options", [])) > SELECT_OPTIONS_MAX:
                problems.append((f"{ipath}.options", "Must be 25 or fewer in length."))


def validate_message(payload: Any, *, require_allowed_mentions: bool = True) -> Problems:
    """Checks a message create/edit payload (also the `data` of an interaction callback)."""
    problems: Problems = []
    if not isinstance(payload, dict):
        return [("", "body must be a JSON object")]
    for key, value in payload.items():
        if value is None and key not in ("content", "embeds", "components", "attachments"):
            problems.append((key, "null is not a valid value here (omit the field instead)"))
    if "content" in payload and payload["content"] is not None:
        _check_len(problems, "content", payload["content"], CONTENT_MAX)
    embeds = payload.get("embeds") or []
    if len(embeds) > EMBEDS_MAX:
        problems.append(("embeds", f"Must be {EMBEDS_MAX} or fewer in length."))
    total = sum(validate_embed(e, f"embeds[{i}]", problems) for i, e in enumerate(embeds))
    if total > EMBEDS_TOTAL_MAX:
        problems.append(("embeds", f"Embed size exceeds maximum size of {EMBEDS_TOTAL_MAX}"))
    if payload.get("components"):
        validate_components(payload["components"], problems)
    carries_text = bool(payload.get("content")) or bool(embeds)
    if require_allowed_mentions and carries_text:
        am = payload.get("allowed_mentions")
        if not isinstance(am, dict) or am.get("parse") != []:
            problems.append(
                ("allowed_mentions", "the emulator requires allowed_mentions with parse: []")
            )
    return problems


def error_body(problems: Problems) -> dict:
    errors: dict[str, Any] = {}
    for path, message in problems:
        errors.setdefault(path or "_errors", {"_errors": []})["_errors"].append(
            {"code": "BASE_TYPE_INVALID", "message": message}
        )
    return {"code": 50035, "errors": errors, "message": "Invalid Form Body"}
