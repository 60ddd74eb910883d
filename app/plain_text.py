"""User-given names (projects, scenes, model versions) shown as text, never as Markdown: Streamlit renders
Markdown in headers, captions and messages, so a name like ``![x](http://host/p.png)`` would make every
browser fetch that address. ``plain`` escapes with a backslash every character that starts inline Markdown (links,
images, emphasis, code, HTML, entities, maths, Streamlit's ``:icon:`` / ``:color[...]``) or a heading or table,
which CommonMark then shows literally, and folds line breaks (so no block structure can start)."""
from __future__ import annotations

import re

_PUNCTUATION = re.compile(r"([\\`*_\[\]()!<>#|~$:{}&])")


def plain(text: object) -> str:
    """``text`` escaped for st.markdown / st.header / st.caption / st.error: shown exactly as written."""
    folded = " ".join(str(text).split())
    return _PUNCTUATION.sub(r"\\\1", folded)


_LINK_MARKUP = re.compile(r"([\\\[\]<>])")


def inert(message: object) -> str:
    """A whole message (our words around names, paths, reasons) made harmless rather than fully plain: no link,
    image, autolink or HTML can form (backslash, brackets and angle brackets escaped), line breaks folded, so the
    rest stays readable in the page source and in tests."""
    folded = " ".join(str(message).split())
    return _LINK_MARKUP.sub(r"\\\1", folded)
