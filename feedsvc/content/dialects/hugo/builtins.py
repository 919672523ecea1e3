"""What Hugo's built-in shortcodes become in a feed, and a site's own ones (whose templates feedsvc cannot run).

A figure is a figure, `highlight` a code block, `ref`/`relref` the linked post's URL (resolved at index time,
content/references.py), embedded players (`youtube`, `vimeo`, `x`/`tweet`, `instagram`, `gist`) a link a feed
reader can follow, `param` the page's or the site's parameter.
"""

from __future__ import annotations

import html
import posixpath
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

from feedsvc.content.dialects.hugo.shortcodes import Output, Shortcode, param_value, protect
from feedsvc.content.highlight import SHORTCODE_MARK
from feedsvc.content.references import file_key, placeholder, post_url_key, shortcode_key


def _attr(value: str) -> str:
    return protect(html.escape(value), attribute=True)


def _link(url: str, text: str) -> str:
    return f'<a href="{_attr(url)}">{protect(html.escape(text))}</a>'


def _figure(code: Shortcode) -> Output:
    src, link = code.get("src"), code.get("link")
    img = f'<img src="{_attr(src)}"' + "".join(f' {key}="{_attr(code.get(key))}"' for key in ("alt", "width", "height")
                                              if code.get(key)) + ">"
    if link:
        img = f'<a href="{_attr(link)}">{img}</a>'
    caption = ""
    title, text, attr = code.get("title"), code.get("caption"), code.get("attr")
    if title or text or attr:
        heading = f"<h4>{protect(html.escape(title))}</h4>" if title else ""
        credit = _link(code.get("attrlink"), attr) if attr and code.get("attrlink") else protect(html.escape(attr))
        words = f"<p>{protect(html.escape(text))}{credit}</p>" if text or attr else ""
        caption = f"<figcaption>{heading}{words}</figcaption>"
    css = f' class="{_attr(code.get("class"))}"' if code.get("class") else ""
    return Output(f"<figure{css}>{img}{caption}</figure>")


def _highlight(code: Shortcode) -> Output:
    language = code.get("lang", 0)
    source = (code.inner or "").strip("\n")
    css = f' class="language-{_attr(language)}"' if language else ""
    options = _attr(code.get("options", 1))  # line numbers: content/highlight.py, after Markdown
    return Output(f'<pre {SHORTCODE_MARK}="{options}"><code{css}>{protect(html.escape(source, quote=False))}\n'
                  "</code></pre>")


def _video(host: str, url: str) -> Callable[[Shortcode], Output]:
    def render(code: Shortcode) -> Output:
        video = code.get("id", 0)
        if not video:
            return Output("", "no video id: left out")
        return Output(_link(url.format(quote(video, safe="")), code.get("title") or f"Watch the video on {host}"))
    return render


def _post(code: Shortcode) -> Output:
    user, post = code.get("user", 0), code.get("id", 1)
    if not post and user.isdigit():  # the old form: the post's id alone
        user, post = "", user
    if not post:
        return Output("", "no post id: left out")
    url = f"https://x.com/{quote(user, safe='')}/status/{quote(post, safe='')}" if user \
        else f"https://x.com/i/status/{quote(post, safe='')}"
    return Output(_link(url, f"View the post by @{user} on X" if user else "View the post on X"))


def _instagram(code: Shortcode) -> Output:
    post = code.get("id", 0)
    if not post:
        return Output("", "no post id: left out")
    return Output(_link(f"https://www.instagram.com/p/{quote(post, safe='')}/", "View the post on Instagram"))


def _gist(code: Shortcode) -> Output:
    user, gist, file = code.get("user", 0), code.get("id", 1), code.get("file", 2)
    if not (user and gist):
        return Output("", "needs a user and a gist id: left out")
    url = f"https://gist.github.com/{quote(user, safe='')}/{quote(gist, safe='')}"
    return Output(_link(url, f"View {file or 'the gist'} on GitHub"))


BUILT_IN: dict[str, Callable[[Shortcode], Output]] = {
    "figure": _figure,
    "highlight": _highlight,
    "youtube": _video("YouTube", "https://www.youtube.com/watch?v={}"),
    "vimeo": _video("Vimeo", "https://vimeo.com/{}"),
    "x": _post,
    "tweet": _post,
    "twitter": _post,
    "instagram": _instagram,
    "gist": _gist,
}


def renderer(relpath: str, front: Mapping[Any, Any], site_params: Mapping[str, str],
             content_dir: str) -> Callable[[Shortcode], Output]:
    """The shortcode renderer of one page: built-ins as above, the site's own ones reduced to their inner content."""

    def render(code: Shortcode) -> Output:
        if code.name in BUILT_IN:
            return BUILT_IN[code.name](code)
        if code.name in ("ref", "relref"):
            target = code.get("path", 0)
            if not target:
                return Output("", "no page named: left out")
            return _reference(code.name, target, relpath, content_dir)
        if code.name == "param":
            value = param_value(code.get("name", 0), front, site_params)
            if value is None:
                return Output("", f"no parameter {code.get('name', 0)!r} in the page or the site: left out")
            return Output(value if code.markdown else protect(html.escape(value, quote=False)))
        if code.inner is None:
            return Output("", "the site's own shortcode, whose template feedsvc cannot run: left out")
        inner = code.inner if code.markdown else protect(code.inner)
        return Output(inner, "the site's own shortcode, whose template feedsvc cannot run: its inner content is shown")

    return render


def _reference(shortcode: str, target: str, relpath: str, content_dir: str) -> Output:
    """The linked post's URL, as a placeholder resolved once every post is known: by its path in the content
    folder when it names one, else by its file name."""
    path, hash_mark, anchor = target.partition("#")
    fragment = hash_mark + anchor
    if not path:
        return Output(fragment)
    if "/" in path.strip("/"):
        folder = posixpath.dirname(relpath) if path.startswith(("./", "../")) else content_dir
        candidate = posixpath.normpath(posixpath.join(folder, path.lstrip("/")))
        if not posixpath.splitext(candidate)[1]:
            candidate += "/index.md"
        key = file_key(candidate)
    else:
        key = post_url_key(posixpath.splitext(path)[0])
    key = shortcode_key(shortcode, target, key)
    return Output(placeholder(key) + fragment, reference=key)
