"""The pages around the feeds: the HTML index, a page per category, tag and author, and the OPML list.

The HTML pages are for people: the newest entries and one-click subscribe links, readable on a
phone, with no script and nothing fetched from elsewhere (the CSP in web/app.py allows neither).
Like the feeds, a scope page depends only on the settings, its scope and the entries it shows,
so the refresher can key it exactly as it keys that scope's feeds.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from email.utils import format_datetime
from types import MappingProxyType
from typing import Any
from urllib.parse import quote

import jinja2
from lxml import etree

from feedsvc import __version__
from feedsvc.config import Settings
from feedsvc.content.markup import plain_title
from feedsvc.model import SITE_SCOPE, FeedFormat, Post, Resource, Scope, ScopeKind, Site
from feedsvc.render.documents import EPOCH
from feedsvc.render.feeds import ResourceParts, as_resource, feed_title, feed_url
from feedsvc.site.archives import archive_count, archive_path
from feedsvc.urls import absolute, scope_dir

INDEX_PATH = "/"
OPML_PATH = "/feeds.opml"
HTML_TYPE = "text/html; charset=utf-8"
SUMMARY_CHARS = 280
_HEADINGS = MappingProxyType({
    ScopeKind.SITE: "Whole site",
    ScopeKind.CATEGORY: "Categories",
    ScopeKind.TAG: "Tags",
    ScopeKind.AUTHOR: "Authors",
})
# The one module-level object of render/: the templates that ship with the package, compiled once on
# first use and never changed after (no auto-reload); it holds nothing from any render.
_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("feedsvc.render", "templates"),
    autoescape=True,
    trim_blocks=False,
    auto_reload=False,  # the templates ship with the package: no stat of every template file per page
)


def _newest(site: Site) -> datetime:
    return max((p.updated for p in site.posts), default=EPOCH)


def _grouped(site: Site) -> list[tuple[ScopeKind, str, list[Scope]]]:
    """(kind, heading, scopes) of each kind of scope the site has; the terms of each other taxonomy apart."""
    groups = []
    for kind in ScopeKind:
        of_kind = [s for s in site.scopes if s.kind is kind]
        taxonomies = sorted({s.taxonomy for s in of_kind})
        for taxonomy in taxonomies:
            scopes = [s for s in of_kind if s.taxonomy == taxonomy]
            heading = _HEADINGS.get(kind) or taxonomy.capitalize()
            groups.append((kind, heading, sorted(scopes, key=lambda s: (s.label.casefold(), s.slug))))
    return groups


def page_path(scope: Scope) -> str:
    """Where a scope's HTML page is served: its feeds' folder (`/tags/python/`); the site's is the index."""
    return scope_dir(scope)


def index_key(site: Site, settings: Settings) -> tuple[object, ...]:
    """What `render_index` shows, and nothing else: while this is equal, so are its bytes. An edit to a
    post's body past its summary, or to a post the index does not list, leaves it as it was."""
    scopes = tuple((scope, len(posts)) for scope, posts in site.scopes.items())
    shown = tuple(tuple(_entry(post).items()) for post in site.posts[: settings.feed_limit])
    return settings, scopes, len(site.posts), shown


def render_index(site: Site, settings: Settings, custom_feeds: bool = True) -> Resource:
    """The front page: subscribe to the site, its newest entries, and every scope's page and feeds;
    `custom_feeds`: examples of what only the server answers (filtered feeds, archive pages)."""
    groups = []
    for kind, heading, scopes in _grouped(site):
        if kind is ScopeKind.SITE:
            continue
        rows = [
            {
                "label": scope.label,
                "page": absolute(settings.public_url, page_path(scope)),
                "count": len(site.scopes[scope]),
                "feeds": [(fmt, feed_url(settings, scope, fmt)) for fmt in FeedFormat],
            }
            for scope in scopes
        ]
        groups.append({"heading": heading, "rows": rows})
    shown = site.posts[: settings.feed_limit]
    body = _ENV.get_template("index.html").render(
        **_common(settings, SITE_SCOPE),
        title=settings.title,
        description=settings.description,
        entries=[_entry(post) for post in shown],
        groups=groups,
        examples=_custom_feed_examples(site, settings) if custom_feeds else [],
    )
    return as_resource(INDEX_PATH, HTML_TYPE, body.encode("utf-8"), _newest(site))


def render_status_page(status: Mapping[str, Any], settings: Settings) -> bytes:
    """/status for people: the same facts as its JSON (`status`), as a page in the index's look."""
    def records(value: object) -> list[Mapping[str, Any]]:
        return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []

    recent = records(status.get("recent_refreshes")) or records([status.get("last_refresh")])
    state = "starting" if not status.get("ready") else "degraded" if status.get("degraded") else "serving"
    git, schedule = status.get("git"), status.get("scheduler")
    return _ENV.get_template("status.html").render(
        lang=settings.lang or "en", title=settings.title, version=__version__, state=state,
        home=absolute(settings.public_url, INDEX_PATH), generation=status.get("generation"),
        posts=status.get("posts"), feeds=status.get("feeds"), git=git if isinstance(git, Mapping) else None,
        refreshes=recent, problems=records(status.get("problems")),
        schedule=schedule if isinstance(schedule, Mapping) else None,
    ).encode("utf-8")


def _custom_feed_examples(site: Site, settings: Settings) -> list[tuple[str, str]]:
    """Filtered feeds and the oldest archive page, made from this site's own names, so a reader sees
    how the URLs work (filters.py, archives.py); the index is re-rendered when scopes or counts change."""
    def biggest(kind: ScopeKind) -> list[Scope]:
        return sorted((s for s in site.scopes if s.kind is kind), key=lambda s: (-len(site.scopes[s]), s.slug))

    rss = absolute(settings.public_url, "/" + FeedFormat.RSS.filename)
    tags, categories = biggest(ScopeKind.TAG), biggest(ScopeKind.CATEGORY)
    examples = []
    if len(tags) >= 2:
        examples.append((f"Posts tagged {tags[0].label} or {tags[1].label}",
                         f"{rss}?tags={quote(tags[0].slug)},{quote(tags[1].slug)}"))
    if tags and categories:
        examples.append((f"Posts tagged {tags[0].label} in {categories[0].label}",
                         f"{rss}?tags={quote(tags[0].slug)}&categories={quote(categories[0].slug)}"))
    if archive_count(len(site.posts), settings.feed_limit):
        examples.append(("The oldest posts (archive page 1; feed readers that support RFC 5005 find every page)",
                         absolute(settings.public_url, archive_path(SITE_SCOPE, 1, FeedFormat.RSS))))
    return examples


def scope_page_parts(scope: Scope, shown: tuple[Post, ...], settings: Settings) -> ResourceParts:
    """One category's, tag's or author's page, up to `as_resource`'s arguments (hashing and gzip
    can then run on another thread, as for the feeds). `shown`: the entries its feeds show."""
    body = _ENV.get_template("scope.html").render(
        **_common(settings, scope),
        title=f"{scope.taxonomy.capitalize()}: {scope.label}" if scope.kind is ScopeKind.TERM
        else _SCOPE_TITLES[scope.kind].format(scope.label),
        kind=scope.kind.name.lower(),
        entries=[_entry(post) for post in shown],
    )
    newest = max((p.updated for p in shown), default=None)
    return page_path(scope), HTML_TYPE, body.encode("utf-8"), newest, ()


def render_scope_page(scope: Scope, shown: tuple[Post, ...], settings: Settings) -> Resource:
    return as_resource(*scope_page_parts(scope, shown, settings))


_SCOPE_TITLES = MappingProxyType({
    ScopeKind.CATEGORY: "Category: {}",
    ScopeKind.TAG: "Tag: {}",
    ScopeKind.AUTHOR: "Posts by {}",
})


def _common(settings: Settings, scope: Scope) -> dict[str, object]:
    """What every page shows: the site's name, and how to subscribe to `scope` in each format."""
    feeds = [
        {
            "label": fmt.label,
            "type": fmt.content_type.split(";")[0],
            "url": feed_url(settings, scope, fmt),
            "feed_uri": "feed:" + feed_url(settings, scope, fmt),
            "title": f"{feed_title(settings, scope)} ({fmt.label})",
        }
        for fmt in FeedFormat
    ]
    return {
        "site_title": settings.title,
        "lang": settings.lang or "en",
        "home": absolute(settings.public_url, INDEX_PATH),
        "site_home": settings.site_url + "/",
        "feeds": feeds,
        "opml_url": absolute(settings.public_url, OPML_PATH),
        "version": __version__,
    }


def _entry(post: Post) -> dict[str, object]:
    summary = post.summary_text.strip()
    if len(summary) > SUMMARY_CHARS:
        cut = summary[:SUMMARY_CHARS]
        words = cut.rsplit(None, 1)[0]  # end at a word, unless a very long one (a URL) would take half
        summary = (words if len(words) > SUMMARY_CHARS // 2 else cut).rstrip(".,;: ") + "\u2026"
    return {
        "title": plain_title(post.title),
        "url": post.url,
        "date": post.date.date().isoformat(),
        "datetime": post.date.isoformat(),
        "authors": ", ".join(author.name for author in post.authors),
        "summary": summary,
    }


def render_opml(site: Site, settings: Settings) -> Resource:
    newest = _newest(site)
    opml = etree.Element("opml", version="2.0")
    head = etree.SubElement(opml, "head")
    etree.SubElement(head, "title").text = f"{settings.title}: feeds"
    etree.SubElement(head, "dateModified").text = format_datetime(newest)
    if settings.author:
        etree.SubElement(head, "ownerName").text = settings.author.name
        if settings.author.email:
            etree.SubElement(head, "ownerEmail").text = settings.author.email
    body = etree.SubElement(opml, "body")
    for _, heading, scopes in _grouped(site):
        group = etree.SubElement(body, "outline", text=heading)
        for scope in scopes:
            title = feed_title(settings, scope)
            for fmt in FeedFormat:
                etree.SubElement(
                    group, "outline", type="rss", text=f"{title} ({fmt.label})", title=f"{title} ({fmt.label})",
                    xmlUrl=feed_url(settings, scope, fmt), htmlUrl=settings.site_url + "/",
                )
    data = etree.tostring(opml, encoding="UTF-8", xml_declaration=True, pretty_print=True)
    return as_resource(OPML_PATH, "text/x-opml; charset=utf-8", data, newest)

