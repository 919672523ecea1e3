"""Hugo's `aliases`: old URLs of a page, where Hugo writes a redirect page and feedsvc answers `301`.

As Hugo 0.111 places them: an alias starting with `/` is a path from the site root as written (case and
spaces kept, no language prefix); any other is beside the page's own link (`earlier` on a page at
`/fr/2024/01/post/` is `/fr/2024/01/earlier/`). An alias ending in `.html`/`.htm` is that file; any other is a folder
whose `index.html` Hugo writes, which a web server answered at `/old/`, `/old` and `/old/index.html`.
"""

from __future__ import annotations

import posixpath
from typing import Any

MAX_ALIASES = 100  # per page: front matter is untrusted, and each alias is up to three routes


def alias_paths(aliases: Any, link: str) -> tuple[str, ...]:
    """The paths (unescaped) answering `301` for a page whose URL path is `link`; aliases that are not text,
    or climb above the root, are skipped."""
    if isinstance(aliases, str):
        aliases = [aliases]
    if not isinstance(aliases, list):
        return ()
    found: list[str] = []
    for alias in aliases[:MAX_ALIASES]:
        if not isinstance(alias, str) or not alias.strip() or "://" in alias or alias.strip().startswith("//"):
            continue
        alias = alias.strip()
        if not alias.startswith("/"):
            alias = f"{posixpath.dirname(link.rstrip('/'))}/{alias}"
        if ".." in alias.split("/"):
            continue
        alias = posixpath.normpath(alias) + ("/" if alias.endswith("/") else "")
        alias = alias.replace("//", "/")
        if alias.lower().endswith((".html", ".htm")):
            found.append(alias)
        else:
            folder = alias.rstrip("/")
            if folder:
                found.extend((folder + "/", folder, folder + "/index.html"))
    return tuple(dict.fromkeys(found))
