"""The generators feedsvc reads, and `detect`: the one place that decides which one a folder is.

A config file decides: `_config.yml` makes a folder Jekyll whatever else is there; otherwise a Hugo
config file makes it Hugo. Without either, the folder that holds posts tells: `_posts` (Jekyll) or
`content/posts` (Hugo). A folder with both posts folders and no config file is ambiguous, and one
with none of these is neither: both are errors that say what was looked for, never a guess.

`Settings` holds the dialect's name (`settings.dialect`), a plain string that pickles and compares;
`dialect_named` turns it back into the dialect, a module-level singleton.
"""

from __future__ import annotations

from pathlib import Path

from feedsvc.content.dialects.base import ConfigFileError, Dialect, FileName, PostPlace, SiteKindError
from feedsvc.content.dialects.hugo import HUGO
from feedsvc.content.dialects.jekyll import JEKYLL

__all__ = ["DEFAULT_DIALECT", "DIALECTS", "ConfigFileError", "Dialect", "FileName", "PostPlace", "SiteKindError",
           "detect", "dialect_for", "dialect_named"]

#: Every dialect, in the order their config files decide (a `_config.yml` wins over a `hugo.toml`).
DIALECTS: tuple[Dialect, ...] = (JEKYLL, HUGO)
DEFAULT_DIALECT = JEKYLL.name
_BY_NAME = {dialect.name: dialect for dialect in DIALECTS}


def dialect_named(name: str) -> Dialect:
    """The dialect `Settings.dialect` names; raises ValueError for a name no dialect has."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise ValueError(f"unknown site dialect {name!r}; known: {', '.join(_BY_NAME)}") from None


def dialect_for(name: str, rules: str) -> Dialect:
    """The dialect `Settings.dialect` names, with the site's own rules (`Settings.dialect_rules`)."""
    return dialect_named(name).configured(rules)


def detect(root: Path) -> Dialect:
    """Which generator's site `root` is (a few `stat`s); raises SiteKindError when it cannot be told."""
    if not root.exists():
        raise SiteKindError(f"content folder {root} does not exist")
    if not root.is_dir():
        raise SiteKindError(f"content folder {root} is not a folder")
    for dialect in DIALECTS:
        if dialect.config_file(root) is not None:
            return dialect
    hinted = [dialect for dialect in DIALECTS if dialect.has_posts_folder(root)]
    if len(hinted) == 1:
        return hinted[0]
    looked_for = "; ".join(dialect.looked_for for dialect in DIALECTS)
    if hinted:
        names = " and ".join(dialect.name.capitalize() for dialect in hinted)
        raise SiteKindError(f"content folder {root} looks like both {names} and has no config file to tell "
                            f"which ({looked_for}): add the config file of the one it is")
    raise SiteKindError(f"content folder {root} is not a site feedsvc can read ({looked_for})")
