"""The tags the prompts give meaning to, and the one way user text is kept from forming them.

The prompt modes (``chatbot.modes``) wrap a question in ``<article>``, ``<review>`` or
``<text>`` and read the answer from ``<result>``; the summaries (``chatbot.documents``) wrap
a file in ``<document>`` or ``<summaries>``. A user's text or a file that contains one of
these tags could close the wrapper early and pose as instructions, or fake a result, so both
escape it with ``neutralise_tags`` first.
"""

from __future__ import annotations

import re

RESERVED_TAGS: frozenset[str] = frozenset(
    {
        "article",
        "review",
        "text",
        "result",
        "example",
        "document",
        "summaries",
        "year",
        "month",
        "day",
        "hour",
        "minute",
    }
)

# Whitespace, and the zero-width characters a reader does not see either.
_GAP = r"[\s\u200b-\u200d\u2060\ufeff]*"
# What a model may read as one of the tags opening or closing: "<", a gap, an optional "/", a
# gap, the name in any case, then anything but a name character ("<texts>" is another name),
# or the end: "</article>", "< /Article >", "</article\n>", '<result id="1">', and "</article"
# cut off without its ">". The ">" that ends it, if any, is escaped too.
_TAG = re.compile(
    rf"<({_GAP}/?{_GAP}(?:{'|'.join(sorted(RESERVED_TAGS))}))(?![A-Za-z0-9_.:-])([^<>]*>)?",
    re.IGNORECASE,
)


def neutralise_tags(text: str) -> str:
    """``text`` with the prompts' tags escaped (``&lt;/article&gt;``); the rest as typed."""
    return _TAG.sub(_escaped, text)


def _escaped(match: re.Match[str]) -> str:
    name, rest = match.group(1), match.group(2)
    return f"&lt;{name}{rest[:-1]}&gt;" if rest else f"&lt;{name}"
