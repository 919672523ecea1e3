"""A parsed post (or the problem a file had) as plain JSON, read back field by field.

The post cache (postcache.py) keeps these on disk between builders. What is read back is
untrusted input: it is JSON (never a pickle, which runs code as it loads), and every field must
have the type and shape `Post` promises, or the whole value is refused (`Malformed`) and the
file is simply parsed again. A body kept as its Markdown (content/bodies.py) is stored so, naming
its flavour by a key the caller maps; read back, its bounds are proven again (`Unproven` if not).
"""

from __future__ import annotations

import base64
import binascii
import sys
import zlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from feedsvc.content.bodies import proven_deferrable
from feedsvc.content.limits import LIMITS
from feedsvc.model import Author, BodyMarkup, Image, Language, Post, Problem, pack_html

MAX_BODY_BYTES = 64 * 1024 * 1024  # an inflated post body; a cache entry past it is refused
# A body kept as Markdown holds at most `LIMITS.chars` characters, each at most 4 bytes of UTF-8
MAX_KEPT_BYTES = 4 * LIMITS.chars


class Malformed(ValueError):
    """A cached value that is not what this version of feedsvc writes."""


class Unproven(Malformed):
    """A body kept as Markdown that `parse_post` could not have kept (its HTML may pass the bounds)."""


def encode(value: Post | Problem, kept: str | None = None) -> dict[str, Any]:
    """`kept`: the key of the flavour a body kept as Markdown is stored in (as Markdown); None: stored as HTML."""
    if isinstance(value, Problem):
        return {"problem": _problem(value)}
    return {"post": {
        "source": value.source, "fingerprint": value.fingerprint, "slug": value.slug, "title": value.title,
        "date": value.date.isoformat(), "updated": value.updated.isoformat(), "url": value.url,
        "authors": [[a.name, a.email, a.uri] for a in value.authors], "categories": list(value.categories),
        "tags": list(value.tags), "summary_html": value.summary_html, "summary_text": value.summary_text,
        "content_zlib": base64.b64encode(value.content_zlib if kept is not None else _html_body(value)).decode(
            "ascii"),
        "image": None if value.image is None else [value.image.url, value.image.mime_type, value.image.alt],
        "published": value.published, "warnings": [_problem(p) for p in value.warnings],
        "references": [[key, line] for key, line in value.references], "liquid": value.liquid,
        "listing": value.listing,
        "relatives": [[path, digest] for path, digest in value.relatives],
        "publish_at": _moment_text(value.publish_at), "expire_at": _moment_text(value.expire_at),
        "entry_id": value.entry_id, "lang": value.lang,
        "language": None if value.language is None else [value.language.prefix, value.language.code,
                                                         value.language.title],
        "weight": value.weight, "link_title": value.link_title, "aliases": list(value.aliases),
        "body_markup": kept,
        "taxonomies": [[plural, list(terms)] for plural, terms in value.taxonomies],
    }}


def decode(data: Any, *, body_verified: bool = False,
           flavours: Mapping[str, BodyMarkup] | None = None) -> Post | Problem:
    """The value `encode` wrote; Malformed for anything else (Unproven for a kept body past the bounds).

    `body_verified`: the caller matched these bytes against a hash it wrote itself (postcache.py),
    so a body of HTML need not be inflated to be checked (half the cost of a warm start's load).
    `flavours`: how to render a body kept as Markdown, by the key `encode` was given.
    Repeated values (names of categories, tags, authors) are interned: one string for the whole site.
    """
    if not isinstance(data, dict) or len(data) != 1:
        raise Malformed("not a cached post or problem")
    if "problem" in data:
        return _read_problem(data["problem"])
    fields = data.get("post")
    if not isinstance(fields, dict):
        raise Malformed("not a cached post or problem")
    image = fields.get("image")
    key = fields.get("body_markup")
    markup = None if key is None else (flavours or {}).get(_str(key))
    if key is not None and markup is None:
        raise Malformed("a body kept as Markdown in a flavour the cache does not name")
    if markup is not None:
        content = kept_source(_packed(fields))
    else:
        content = _packed(fields) if body_verified else _body(fields)
    return Post(
        source=_text(fields, "source"), fingerprint=_text(fields, "fingerprint"), slug=_text(fields, "slug"),
        title=_text(fields, "title"), date=_moment(fields, "date"), updated=_moment(fields, "updated"),
        url=_text(fields, "url"),
        authors=tuple(Author(_name(a[0]), _optional_name(a[1]), _optional_name(a[2]))
                      for a in _triples(fields, "authors")),
        categories=tuple(_name(c) for c in _list(fields, "categories")),
        tags=tuple(_name(t) for t in _list(fields, "tags")),
        summary_html=_text(fields, "summary_html"), summary_text=_text(fields, "summary_text"),
        content_zlib=content,
        image=None if image is None else Image(*_image(image)),
        published=_flag(fields, "published"),
        warnings=tuple(_read_problem(p) for p in _list(fields, "warnings")),
        references=tuple(_reference(r) for r in _list(fields, "references")),
        liquid=_flag(fields, "liquid"), listing=_str(fields.get("listing", "")),
        relatives=tuple(_relative(item) for item in _list(fields, "relatives")),
        publish_at=_optional_moment(fields, "publish_at"), expire_at=_optional_moment(fields, "expire_at"),
        entry_id=_text(fields, "entry_id"), lang=_text(fields, "lang"),
        language=_language(fields.get("language")),
        weight=_number(fields, "weight"), link_title=_text(fields, "link_title"),
        aliases=tuple(_str(path) for path in _list(fields, "aliases")),
        taxonomies=tuple(_taxonomy(t) for t in _list(fields, "taxonomies")),
        body_markup=markup,
    )


def kept_source(packed: bytes, prove: bool = True) -> bytes:
    """`packed`, a body kept as Markdown read back from a cache, once it inflates to text `parse_post`
    could have kept: Unproven (or Malformed) otherwise. Digests prove only who wrote the bytes.
    `prove` False: only its size and text are checked here; its bounds, when it is first rendered (a
    `MarkdownBody` whose `proven` is False)."""
    try:
        inflater = zlib.decompressobj()
        source = inflater.decompress(packed, MAX_KEPT_BYTES)
        if not inflater.eof or inflater.unconsumed_tail:
            raise Unproven("a body kept as Markdown is truncated or too large")
        text = source.decode("utf-8", "surrogatepass")
    except (zlib.error, UnicodeDecodeError):
        raise Malformed("a body kept as Markdown does not inflate to text") from None
    if prove and not proven_deferrable(text):
        raise Unproven("a body kept as Markdown may render past the bounds on HTML")
    return packed


def _html_body(post: Post) -> bytes:
    """The body as HTML, compressed: one kept as its source (content/bodies.py) is rendered for the cache."""
    return post.content_zlib if post.body_markup is None else pack_html(post.content_html)


def _problem(problem: Problem) -> list[Any]:
    return [problem.path, problem.message, problem.severity, problem.line]


def _read_problem(data: Any) -> Problem:
    if not isinstance(data, list) or len(data) != 4:
        raise Malformed("a problem is [path, message, severity, line]")
    path, message, severity, line = data
    if line is not None and (not isinstance(line, int) or isinstance(line, bool)):
        raise Malformed("a problem's line is a number")
    return Problem(_str(path), _str(message), _str(severity), line)


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise Malformed(f"expected text, found {type(value).__name__}")
    return value


def _name(value: Any) -> str:
    return sys.intern(_str(value))


def _optional_name(value: Any) -> str | None:
    return None if value is None else _name(value)


def _optional(value: Any) -> str | None:
    return None if value is None else _str(value)


def _text(fields: dict[str, Any], name: str) -> str:
    return _str(fields.get(name))


def _number(fields: dict[str, Any], name: str) -> int:
    value = fields.get(name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise Malformed(f"{name} is not a whole number")
    return value


def _flag(fields: dict[str, Any], name: str) -> bool:
    value = fields.get(name)
    if not isinstance(value, bool):
        raise Malformed(f"{name} is not true or false")
    return value


def _list(fields: dict[str, Any], name: str) -> list[Any]:
    value = fields.get(name)
    if not isinstance(value, list):
        raise Malformed(f"{name} is not a list")
    return value


def _triples(fields: dict[str, Any], name: str) -> list[list[Any]]:
    items = _list(fields, name)
    if not all(isinstance(item, list) and len(item) == 3 for item in items):
        raise Malformed(f"{name} holds something other than [name, email, uri]")
    return items


def _moment(fields: dict[str, Any], name: str) -> datetime:
    try:
        moment = datetime.fromisoformat(_text(fields, name))
    except ValueError:
        raise Malformed(f"{name} is not a date") from None
    if moment.tzinfo is None:
        raise Malformed(f"{name} has no time zone")
    return moment


def _moment_text(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _optional_moment(fields: dict[str, Any], name: str) -> datetime | None:
    return None if fields.get(name) is None else _moment(fields, name)


def _language(data: Any) -> Language | None:
    if data is None:
        return None
    if not isinstance(data, list) or len(data) != 3:
        raise Malformed("a language is [prefix, code, title]")
    return Language(_str(data[0]), _str(data[1]), _str(data[2]))


def _image(data: Any) -> tuple[str, str, str | None]:
    if not isinstance(data, list) or len(data) != 3:
        raise Malformed("an image is [url, type, alt]")
    return _str(data[0]), _str(data[1]), _optional(data[2])


def _reference(data: Any) -> tuple[str, int]:
    if not isinstance(data, list) or len(data) != 2 or not isinstance(data[1], int) or isinstance(data[1], bool):
        raise Malformed("a reference is [key, line]")
    return _str(data[0]), data[1]


def _relative(data: Any) -> tuple[str, str]:
    if not isinstance(data, list) or len(data) != 2:
        raise Malformed("an include_relative is [path, digest]")
    return _str(data[0]), _str(data[1])


def _packed(fields: dict[str, Any]) -> bytes:
    try:
        return base64.b64decode(_text(fields, "content_zlib"), validate=True)
    except binascii.Error:
        raise Malformed("the body is not base64") from None


def _taxonomy(data: Any) -> tuple[str, tuple[str, ...]]:
    if not isinstance(data, list) or len(data) != 2 or not isinstance(data[1], list):
        raise Malformed("a taxonomy is [plural, [term, ...]]")
    return _str(data[0]), tuple(_str(term) for term in data[1])


def _body(fields: dict[str, Any]) -> bytes:
    """The compressed body, checked to inflate (within bounds) to UTF-8 text, as `Post.content_html` will."""
    packed = _packed(fields)
    try:
        inflater = zlib.decompressobj()
        html = inflater.decompress(packed, MAX_BODY_BYTES)
        if not inflater.eof or inflater.unconsumed_tail:
            raise Malformed("the body is truncated or too large")
        html.decode("utf-8", "surrogatepass")
    except (binascii.Error, zlib.error, UnicodeDecodeError):
        raise Malformed("the body does not inflate to text") from None
    return packed


# -- rows: the build cache's pack (postpack.py) --------------------------------------------------------------
# The same fields as `encode`, by position and without the body (the pack keeps bodies beside the rows as
# bytes): a row is a third of the JSON and decodes in a fraction of the time, which a build after one
# edit spends on every one of its posts.

POST_ROW_FIELDS = 28


def post_row(post: Post) -> list[Any]:
    """`post` as a row, and the bytes of its body as HTML (`content_zlib` with `body_markup` None)."""
    return [
        post.source, post.fingerprint, post.slug, post.title, post.date.isoformat(), post.updated.isoformat(),
        post.url, [[a.name, a.email, a.uri] for a in post.authors], list(post.categories), list(post.tags),
        post.summary_html, post.summary_text,
        None if post.image is None else [post.image.url, post.image.mime_type, post.image.alt],
        post.published, [_problem(p) for p in post.warnings], [[key, line] for key, line in post.references],
        post.liquid, post.listing, _moment_text(post.publish_at), _moment_text(post.expire_at), post.entry_id,
        post.lang,
        None if post.language is None else [post.language.prefix, post.language.code, post.language.title],
        post.weight, post.link_title, list(post.aliases), [[plural, list(terms)] for plural, terms in post.taxonomies],
        [[path, digest] for path, digest in post.relatives],
    ]


def html_body(post: Post) -> bytes:
    """The body as compressed HTML, as the caches keep it (one kept as its source is rendered here)."""
    return _html_body(post)


def problem_row(problem: Problem) -> list[Any]:
    return _problem(problem)


def problem_from_row(row: Any) -> Problem:
    return _read_problem(row)


def post_from_row(row: Any, body: bytes, body_markup: BodyMarkup | None = None, prove: bool = True) -> Post:
    """The post `post_row` wrote, its body being bytes the caller verified; Malformed for anything else.

    `body_markup`: how to render the body, if it is kept as its source (content/bodies.py); its bounds
    are proven again here (Unproven if not), or with `prove` False when it is first rendered."""
    if type(row) is not list or len(row) != POST_ROW_FIELDS:
        raise Malformed("not a cached post row")
    (source, fingerprint, slug, title, date, updated, url, authors, categories, tags, summary_html, summary_text,
     image, published, warnings, references, liquid, listing, publish_at, expire_at, entry_id, lang, language,
     weight, link_title, aliases, taxonomies, relatives) = row
    for value in (source, fingerprint, slug, title, url, summary_html, summary_text, listing, entry_id, lang,
                  link_title):
        if type(value) is not str:
            raise Malformed("a text field is not text")
    if type(published) is not bool or type(liquid) is not bool or type(weight) is not int:
        raise Malformed("a flag or the weight has the wrong type")
    for value in (authors, categories, tags, warnings, references, aliases, taxonomies, relatives):
        if type(value) is not list:
            raise Malformed("a list field is not a list")
    for names in (categories, tags, aliases):
        for name in names:
            if type(name) is not str:
                raise Malformed("a name is not text")
    return Post(
        source=source, fingerprint=fingerprint, slug=slug, title=title, date=_moment_of(date),
        updated=_moment_of(updated), url=url,
        authors=tuple(map(_author, authors)) if authors else (),
        categories=tuple(map(sys.intern, categories)) if categories else (),
        tags=tuple(map(sys.intern, tags)) if tags else (),
        summary_html=summary_html, summary_text=summary_text,
        content_zlib=body if body_markup is None else kept_source(body, prove),
        image=None if image is None else Image(*_image(image)), published=published,
        warnings=tuple(map(_read_problem, warnings)) if warnings else (),
        references=tuple(map(_reference, references)) if references else (),
        liquid=liquid, listing=listing,
        publish_at=None if publish_at is None else _moment_of(publish_at),
        expire_at=None if expire_at is None else _moment_of(expire_at),
        entry_id=entry_id, lang=lang, language=_language(language), weight=weight, link_title=link_title,
        aliases=tuple(aliases) if aliases else (), taxonomies=tuple(map(_taxonomy, taxonomies)) if taxonomies else (),
        relatives=tuple(map(_relative, relatives)) if relatives else (), body_markup=body_markup,
    )


def _author(data: Any) -> Author:
    if type(data) is not list or len(data) != 3:
        raise Malformed("an author is not [name, email, uri]")
    return Author(_name(data[0]), _optional_name(data[1]), _optional_name(data[2]))


def _moment_of(text: Any) -> datetime:
    try:
        moment = datetime.fromisoformat(_str(text))
    except ValueError:
        raise Malformed("not a date") from None
    if moment.tzinfo is None:
        raise Malformed("a date has no time zone")
    return moment
