"""What one Hugo site's config decides about its posts, as a value: `HugoRules`.

Read from the config at the edge (config.py), carried in `Settings.dialect_rules` as canonical JSON (it
pickles, compares and fingerprints like the rest of the settings), and turned back into the configured
dialect by `Hugo.configured`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from typing import Any

from feedsvc.content.dialects.hugo.dates import DEFAULT_SOURCES
from feedsvc.content.dialects.hugo.taxonomies import DEFAULT_TAXONOMIES

DEFAULT_SUMMARY_LENGTH = 70  # Hugo's `summaryLength`


@dataclass(frozen=True, slots=True)
class HugoRules:
    """The parts of a Hugo config that decide which files are posts and what their links and summaries are."""

    content_dir: str = "content"
    main_sections: tuple[str, ...] = ("posts",)
    permalinks: tuple[tuple[str, str], ...] = ()  # (section, pattern), as [permalinks] gives them
    nested_sections: tuple[str, ...] = ()  # folders below the top level that are sections: they have an _index
    ugly_urls: bool = False
    summary_length: int = DEFAULT_SUMMARY_LENGTH
    default_language: str = "en"
    other_languages: tuple[str, ...] = ()  # configured languages besides the default one
    # (language, code, title) of each other language: what its feeds say (code and title "" when not set)
    language_tags: tuple[tuple[str, str, str], ...] = ()
    language_dirs: tuple[tuple[str, str], ...] = ()  # (language, its own contentDir), for those that set one
    default_in_subdir: bool = False  # `defaultContentLanguageInSubdir`: the default language's links under /<lang>/
    params: tuple[tuple[str, str], ...] = ()  # the site's [params] with plain values, dotted keys in lower case
    date_sources: tuple[tuple[str, ...], ...] = DEFAULT_SOURCES  # [frontmatter]: (date, source, ...) rows
    taxonomies: tuple[tuple[str, str], ...] = DEFAULT_TAXONOMIES  # [taxonomies]: (singular, plural)
    time_zone: str = ""  # timeZone, for the zero date of an undated page (dates.zero_date)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> HugoRules:
        """The rules `to_json` wrote; the defaults for "" (a site recognised by its content/posts folder)."""
        if not text:
            return cls()
        data: dict[str, Any] = json.loads(text)
        values: dict[str, Any] = {}
        for field in fields(cls):
            if field.name in data:
                value = data[field.name]
                values[field.name] = tuple(tuple(v) if isinstance(v, list) else v for v in value) \
                    if isinstance(value, list) else value
        return cls(**values)

    @property
    def languages(self) -> tuple[str, ...]:
        """Every configured language, the default one first."""
        return (self.default_language, *self.other_languages)

    @property
    def content_dirs(self) -> tuple[str, ...]:
        """Every folder that holds content: the default one and each language's own."""
        return tuple(dict.fromkeys([self.content_dir, *(folder for _, folder in self.language_dirs)]))

    def permalink(self, section: str) -> str | None:
        """The [permalinks] pattern of a top-level section, if the config gives one."""
        return dict(self.permalinks).get(section)
