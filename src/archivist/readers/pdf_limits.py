"""The PDF reader's limits: the work a PDF may make pypdf do grows with the file's size, so that
a small hostile file (a "PDF bomb": one small compressed content stream drawn on every page)
cannot make a lot of it. Going over any limit refuses the file with the limit named."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from archivist.errors import InputTooLarge, library_reason

MAX_PAGES = 2_000
# Characters of text a PDF may give: TEXT_PER_BYTE per byte of the file, at least MIN_TEXT_CHARS,
# at most MAX_TEXT_CHARS. Real PDFs give a few per byte at most; an article holds at most
# `max_passages_per_article` passages (~2M characters), so more text would be refused anyway.
TEXT_PER_BYTE = 50
MIN_TEXT_CHARS = 200_000
MAX_TEXT_CHARS = 5_000_000
# a page gives far less (a dense page ~10,000): this bounds what one page holds in memory
MAX_PAGE_CHARS = 500_000
# Content-stream operations (text, moves, paths ...) run over all pages, and likewise: real PDFs
# run well under one per byte, and pypdf takes 20-100 microseconds for each
OPERATIONS_PER_BYTE = 10
MIN_OPERATIONS = 100_000
MAX_OPERATIONS = 5_000_000
# Bytes of content streams parsed, a page's own and each form XObject it draws, counted every
# time they are drawn (pypdf parses them again each time, ~0.5 s per MB even when they are only
# blank space). Real PDFs parse a few times their size.
CONTENT_PER_BYTE = 100
MIN_CONTENT_BYTES = 4_000_000
MAX_CONTENT_BYTES = 400_000_000
# images and forms (XObjects) listed in a page's resources, nested forms' resources included
MAX_XOBJECTS = 100_000
# pypdf's limits, lowered from 75 MB and 2M items: what one stream may inflate to, and the items
# (operators and operands) one content stream may parse to (~100 bytes of memory each)
MAX_STREAM_BYTES = 20_000_000
MAX_STREAM_ITEMS = 2_000_000


class Budget:
    """The work a PDF may make pypdf do, by its size: operations run and text extracted. pypdf
    reports both through its visitor callbacks, which raise once a budget is spent."""

    def __init__(self, origin: str, size: int) -> None:
        self.origin = origin
        self.max_chars = min(MAX_TEXT_CHARS, max(MIN_TEXT_CHARS, TEXT_PER_BYTE * size))
        self.max_operations = min(MAX_OPERATIONS, max(MIN_OPERATIONS, OPERATIONS_PER_BYTE * size))
        self.max_content = min(MAX_CONTENT_BYTES, max(MIN_CONTENT_BYTES, CONTENT_PER_BYTE * size))
        # what one content stream may parse to: an operation and its operands, three times over
        self.max_items = min(MAX_STREAM_ITEMS, 3 * self.max_operations)
        self.chars = 0
        self.operations = 0
        self.content = 0
        self.forms: dict[str, list[Any]] = {}  # the forms the page may draw, by name
        # a page's resources -> its forms (pages often share their resources)
        self.forms_of: dict[int, tuple[Any, dict[str, list[Any]]]] = {}
        self.form_sizes: dict[int, int] = {}  # id of a form -> its decoded size
        self.page = 0  # the page being read, from 1
        self.page_chars = 0

    def start_page(self, number: int) -> None:
        self.page, self.page_chars = number, 0

    def restart_page(self) -> None:
        """The page is read again from its start: its text so far is not counted twice."""
        self.chars -= self.page_chars
        self.page_chars = 0

    def parse(self, size: int) -> None:
        self.content += size
        if self.content > self.max_content:
            raise InputTooLarge(
                self.origin,
                f"page {self.page} brings the content to parse to more than "
                f"{self.max_content / 1e6:,.0f} MB (the limit for a file this size); "
                "refused as a possible PDF bomb",
            )

    def operation(self, operator: bytes, operands: Any, *_: Any) -> None:
        # once spent, every later call raises again: pypdf swallows errors inside a form XObject,
        # but the next operation of the page itself is outside of it
        self.operations += 1
        if operator == b"Do" and operands and isinstance(operands[0], str):
            self.draw_form(operands[0])
        if self.operations > self.max_operations:
            raise InputTooLarge(
                self.origin,
                f"the pages draw more than {self.max_operations:,} operations (the limit for a "
                f"file this size); refused as a possible PDF bomb",
            )

    def draw_form(self, name: str) -> None:
        """Count a form XObject about to be drawn (and so parsed again). The visitor sees only
        its name, not whose resources it comes from: the largest form of that name counts."""
        sizes = [0]
        for form in self.forms.get(name, ()):
            size = self.form_sizes.get(id(form))
            if size is None:  # inflated once, then kept by pypdf
                size = self.form_sizes[id(form)] = len(form.get_data())
                self.parse(size)
            sizes.append(size)
        self.parse(max(sizes))

    def text(self, piece: str) -> None:
        self.chars += len(piece)
        self.page_chars += len(piece)
        if self.page_chars > MAX_PAGE_CHARS:
            raise InputTooLarge(
                self.origin,
                f"page {self.page} has more than {MAX_PAGE_CHARS:,} characters of text, over the "
                "limit for one page; refused as a possible PDF bomb",
            )
        if self.chars > self.max_chars:
            raise InputTooLarge(
                self.origin,
                f"the PDF has more than {self.max_chars:,} characters of text (the limit for a "
                "file this size); refused as a possible PDF bomb",
            )


@contextmanager
def pypdf_limits(budget: Budget) -> Iterator[None]:
    import pypdf

    with pypdf.apply_configuration(
        zlib_maximum_output_length=MAX_STREAM_BYTES,
        lzw_maximum_output_length=MAX_STREAM_BYTES,
        run_length_maximum_output_length=MAX_STREAM_BYTES,
        brotli_maximum_output_length=MAX_STREAM_BYTES,
        array_based_stream_maximum_output_length=MAX_STREAM_BYTES,
        stream_decoding_work_maximum_length=4 * MAX_STREAM_BYTES,
        stream_parsing_work_maximum_count=budget.max_items,
        page_tree_maximum_entries=10 * MAX_PAGES,
    ):
        yield


def over_pypdf_limit(exc: Exception, budget: Budget) -> str:
    text = library_reason(exc)
    if "decompress" in text:
        reason = f"a stream inflates to more than {MAX_STREAM_BYTES / 1e6:.0f} MB"
    elif "tokens per stream" in text:
        reason = f"a content stream has more than {budget.max_items:,} operators and operands"
    else:  # pypdf's first sentence names the limit; the rest is detail
        reason = text.split(". ")[0].rstrip(".")
    return f"{reason}, over a limit of the PDF reader; refused as a possible PDF bomb"
