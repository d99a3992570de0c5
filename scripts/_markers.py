"""Generated blocks inside hand-written files, between an HTML-comment start and end marker."""

from __future__ import annotations


def replace_block(text: str, start: str, end: str, body: str) -> str:
    """``text`` with what lies between ``start`` and ``end`` replaced by ``body``.

    Raises:
        SystemExit: a marker is missing (the file was edited by hand).
    """
    head, sep, rest = text.partition(start)
    if not sep or end not in rest:
        raise SystemExit(f"markers {start} / {end} not found")
    _, _, tail = rest.partition(end)
    return f"{head}{start}\n{body}\n{end}{tail}"
