"""Links in rendered post bodies: only http, https and mailto ones leave feedsvc (urls.is_outbound_safe).

Applied to the renderer's HTML, after relative links were made absolute, so it holds whichever Markdown
renderer markup.py uses. Raw HTML in Markdown passes through (as in Jekyll), so a body can carry
`<a href="javascript:…">` or `<img src="data:…">`; such an attribute is removed, the element kept.
"""

from __future__ import annotations

import html
import re

import lxml.html

from feedsvc.content.references import REF_PREFIX
from feedsvc.urls import is_outbound_safe

# A value that does not plainly start with a safe prefix (values with entities or odd spacing also match, and
# are then judged on lxml's unescaped reading). The search starts at a literal `=`, which the regex engine
# finds at C speed; a search starting at each attribute name cost as much as the parser it saves. The
# quantifiers are possessive: with `["']?` free to match nothing, every `href="https://…"` would match.
_UNSAFE_VALUE = re.compile(r"""=\s*+["']?+(?!https?://[^"'\s&]|#|mailto:)""")
# ...given to an attribute that may hold a link: every one lxml's `iterlinks` reads, after whatever may end
# the previous attribute (`<a/href=…>`, `title="t"href=…`), and any name ending in href (`xlink:href`).
_LINK_NAME = re.compile(
    r"""(?:[\s/"'](?:src|srcset|poster|cite|action|formaction|data|background|codebase|archive|longdesc|lowsrc|"""
    r"""dynsrc|usemap|ping|manifest|icon|profile|classid|content|value|style)|href)\Z""",
    re.IGNORECASE,
)
_NAME_WINDOW = 16  # characters before the `=` (spaces aside) that hold the longest name


def _suspect(fragment: str) -> bool:
    for match in _UNSAFE_VALUE.finditer(fragment):
        end = match.start()
        while end and fragment[end - 1].isspace():
            end -= 1
        if _LINK_NAME.search(fragment, max(end - _NAME_WINDOW, 0), end):
            return True
    return False


def drop_unsafe_links(fragment: str) -> str:
    """The fragment without attributes whose link has a scheme other than http, https or mailto."""
    if not _suspect(fragment):
        return fragment
    return _checked_by_parser(fragment)


def _checked_by_parser(fragment: str) -> str:
    """What `drop_unsafe_links` gives, judged on lxml's reading of every link in the fragment."""
    root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    unsafe = [(element, attribute) for element, attribute, link, _ in root.iterlinks()
              if attribute is not None and link is not None and not _kept(link)]  # <param valuetype=ref>: None
    if not unsafe:
        return fragment  # untouched: the renderer's bytes, not lxml's re-serialisation
    for element, attribute in unsafe:
        element.attrib.pop(attribute, None)
    for element in root.iter():
        for name in [name for name in element.attrib if name.lower().endswith("href") and name != "href"]:
            if not _kept(element.attrib[name]):
                del element.attrib[name]  # xlink:href and kin, which iterlinks does not list
    parts = [html.escape(root.text, quote=False)] if root.text else []
    parts.extend(lxml.html.tostring(child, encoding="unicode") for child in root)
    return "".join(parts)


def _kept(link: str) -> bool:
    """Safe, or our own placeholder for a link to another post (references.py resolves it to the post's URL)."""
    return is_outbound_safe(link) or link.startswith(REF_PREFIX)
