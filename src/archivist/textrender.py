"""Answers as terminal text (the CLI's counterpart of the bot's render module)."""

from __future__ import annotations

import textwrap


def format_answer(result: dict, color: bool = False) -> str:
    def bold(text: str) -> str:
        return f"\033[1m{text}\033[0m" if color else f"**{text}**"

    if "error" in result:
        return f"Error: {result['error']}"
    hits = result["hits"]
    lines: list[str] = []
    if not result["answered"]:
        lines.append("Nothing relevant found in the archive.")
        if hits:
            lines.append("Closest articles: " + "; ".join(dict.fromkeys(h["title"] for h in hits)))
        return "\n".join(lines)
    for rank, hit in enumerate(hits, start=1):
        meta = ", ".join(x for x in (hit["source"], hit["date"]) if x)
        lines.append(f"{rank}. {hit['title']}" + (f" ({meta})" if meta else ""))
        if hit.get("copies"):
            lines.append("   also in: " + ", ".join(also_in(hit["copies"])))
        if hit.get("url"):
            lines.append(f"   {hit['url']}")
        if hit.get("heading"):
            lines.append(f"   [{hit['heading']}]")
        text = hit["passage"]
        highlight = hit.get("highlight")
        if highlight and highlight in text:
            text = text.replace(highlight, bold(highlight), 1)
        lines.extend(textwrap.wrap(text, width=96, initial_indent="   ", subsequent_indent="   "))
        lines.append("")
    return "\n".join(lines).rstrip()


def also_in(copies: list[dict]) -> list[str]:
    """Where else a story ran: each copy's source (its title when it has none), once."""
    return list(dict.fromkeys(c.get("source") or c["title"] for c in copies))
