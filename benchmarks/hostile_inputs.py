"""Realistic inputs of growing size for `hostile.py`'s linearity table: each reader's time should
grow in step with its input."""

from __future__ import annotations

import json


def linear_input(reader: str, scale: int) -> bytes:
    """A realistic input for `reader`, `scale` times a long news article (about 40 KB) or a small
    set of them. (Much smaller inputs read faster per byte, from the CPU's caches alone, which
    would show as a first step over 10x.)"""
    import hostile_corpus as hc

    rng = hc.seeded(f"linear {reader} {scale}")
    if reader == "txt":
        return hc.news_text(rng, 30 * scale, sentences=12).encode()
    if reader in ("json", "jsonl"):
        records = [
            {
                "id": f"a{n}",
                "title": hc.sentence(rng, 6),
                "source": "Harbour Gazette",
                "date": "2024-05-06",
                "paragraphs": [hc.paragraph(rng) for _ in range(5)],
            }
            for n in range(30 * scale)
        ]
        if reader == "json":
            return json.dumps(records).encode()
        return "\n".join(json.dumps(r) for r in records).encode()
    if reader == "html":
        body = "".join(f"<p>{hc.paragraph(rng, 12)}</p>" for _ in range(30 * scale))
        return (
            "<html><head><title>Ferry timetable changes - Harbour Gazette</title></head>"
            f"<body><nav><a href='/'>Home</a></nav><article><h1>Ferry timetable changes</h1>"
            f"{body}</article><footer>© Harbour Gazette</footer></body></html>"
        ).encode()
    if reader == "pdf":
        pages = []
        for _ in range(6 * scale):
            lines = []
            for _ in range(4):
                text = hc.paragraph(rng)
                lines += [text[i : i + 90] for i in range(0, len(text), 90)] + [""]
            pages.append(hc.text_content(lines))
        return hc.pdf_bytes(hc.PdfSpec(pages=pages, title="Annual report"))
    if reader == "docx":
        return hc.docx_bytes("Annual report", [hc.paragraph(rng, 12) for _ in range(40 * scale)])
    if reader == "zip":
        entries = {f"story{n}.txt": hc.news_text(rng, 10, 12).encode() for n in range(5 * scale)}
        return hc.zip_bytes(entries)
    raise ValueError(reader)
