"""Hugo's multilingual mode: which language a content file is in, and where that language's pages live.

A file is in a language by its name (`index.fr.md`: a configured language before the suffix), else by the
content folder it is in (`[languages.fr] contentDir`), else it is in the default language. Each language
other than the default one lives under `/<language>/`; so does the default one under
`defaultContentLanguageInSubdir`. Its feeds carry its `languageCode` and `title`.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from typing import Any

from feedsvc.content.dialects.hugo.rules import HugoRules
from feedsvc.model import Language


def language_settings(config: Mapping[str, Any], default_language: str
                      ) -> tuple[tuple[str, ...], tuple[tuple[str, str, str], ...], tuple[tuple[str, str], ...]]:
    """(other languages, their (language, code, title), each language's own content folder) from `[languages]`."""
    languages = config.get("languages")
    if not isinstance(languages, Mapping):
        return (), (), ()
    tags: list[tuple[str, str, str]] = []
    dirs: list[tuple[str, str]] = []
    for name, values in sorted(languages.items(), key=lambda item: str(item[0]).lower()):
        language = str(name).lower()
        values = values if isinstance(values, Mapping) else {}
        folder = values.get("contentdir")
        if isinstance(folder, str) and folder.strip("/ "):
            dirs.append((language, folder.strip("/ ")))
        if language != default_language:
            code, title = values.get("languagecode"), values.get("title")
            tags.append((language, code if isinstance(code, str) else "", title if isinstance(title, str) else ""))
    return tuple(name for name, _, _ in tags), tuple(tags), tuple(dirs)


def file_language(filename: str, rules: HugoRules) -> str | None:
    """The language a file's name gives it (`index.fr.md` -> `fr`), if it names a configured one."""
    stem = posixpath.splitext(filename)[0]
    _head, dot, language = stem.rpartition(".")
    return language.lower() if dot and language.lower() in rules.languages else None


def locate(relpath: str, rules: HugoRules) -> tuple[str, str]:
    """(language, path within its content folder) of a file at `relpath` in the site folder."""
    folder_language, path = rules.default_language, relpath
    best = ""
    for language, folder in ((rules.default_language, rules.content_dir), *rules.language_dirs):
        prefix = folder.rstrip("/") + "/"
        if relpath.startswith(prefix) and len(prefix) > len(best):
            best, folder_language, path = prefix, language, relpath[len(prefix):]
    return file_language(posixpath.basename(relpath), rules) or folder_language, path


def url_prefix(language: str, rules: HugoRules) -> str:
    """What a page's link starts with in its language: "" or `/<language>`."""
    if language == rules.default_language and not rules.default_in_subdir:
        return ""
    return "/" + language


def language_value(language: str, rules: HugoRules) -> Language | None:
    """The `Language` a post of this language carries (None for the default one)."""
    if language == rules.default_language:
        return None
    tags = {name: (code, title) for name, code, title in rules.language_tags}
    code, title = tags.get(language, ("", ""))
    return Language(prefix=language, code=code or language, title=title)
