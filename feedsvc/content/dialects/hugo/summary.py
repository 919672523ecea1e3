"""Hugo's automatic summary: the plain text of the content, cut after `summaryLength` words at the end of
that sentence (a post with `summary` front matter or a `<!--more-->` divider has its own)."""

from __future__ import annotations

_END_OF_SENTENCE = frozenset('.?!"\n')
_BREAKS = (("\n", " "), ("</p>", "\n"), ("<br>", "\n"), ("<br />", "\n"))


def plain_text(html: str) -> str:
    """Hugo's `StripHTML`: paragraph ends become line breaks, tags go, runs of white space become their first
    character; entities stay as written (the result is still HTML)."""
    if "<" not in html and ">" not in html:
        return html
    for old, new in _BREAKS:
        html = html.replace(old, new)
    kept: list[str] = []
    in_tag = is_space = was_space = False
    for char in html:  # Hugo's loop, quirks kept: white space inside a tag counts against the next one
        if not in_tag:
            is_space = False
        if char == "<":
            in_tag = True
        elif char == ">":
            in_tag = False
        else:
            is_space = is_space or char.isspace()
            if not in_tag and not (is_space and was_space):
                kept.append(char)
        was_space = is_space
    return "".join(kept)


def truncate_to_sentence(text: str, words: int) -> str:
    """Hugo's `TruncateWordsToWholeSentence`: up to the `words`-th white space, then on to the sentence's end."""
    last_space = -1
    count = 0
    for index, char in enumerate(text):
        if char.isspace():
            count += 1
            last_space = index
            if count >= words:
                break
    if last_space == -1:
        return text
    for index in range(last_space, len(text)):
        if text[index] in _END_OF_SENTENCE:
            return text[: index + 1].strip()
    return text


def auto_summary(content_html: str, words: int) -> str:
    """The summary Hugo gives a post with neither `summary` front matter nor a `<!--more-->` divider."""
    return truncate_to_sentence(plain_text(content_html), words)
