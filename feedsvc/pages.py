"""The pages around the feeds: the HTML index and the OPML list, rendered once per snapshot."""

from __future__ import annotations

from datetime import datetime
from email.utils import format_datetime

import jinja2
from lxml import etree

from . import __version__
from .config import Settings
from .model import SITE_SCOPE, FeedFormat, Resource, Scope, ScopeKind, Site
from .rendering import EPOCH, as_resource, feed_title, feed_url
from .urls import absolute

INDEX_PATH = "/"
OPML_PATH = "/feeds.opml"
_HEADINGS = {
    ScopeKind.SITE: "Whole site",
    ScopeKind.CATEGORY: "Categories",
    ScopeKind.TAG: "Tags",
    ScopeKind.AUTHOR: "Authors",
}
_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("feedsvc", "templates"),
    autoescape=True,
    trim_blocks=False,
)


def _newest(site: Site) -> datetime:
    return max((p.updated for p in site.posts), default=EPOCH)


def _grouped(site: Site) -> list[tuple[ScopeKind, list[Scope]]]:
    groups = []
    for kind in ScopeKind:
        scopes = [s for s in site.scopes if s.kind is kind]
        if scopes:
            groups.append((kind, sorted(scopes, key=lambda s: (s.label.casefold(), s.slug))))
    return groups


def render_index(site: Site, settings: Settings) -> Resource:
    groups = []
    for kind, scopes in _grouped(site):
        rows = [
            {
                "label": "All posts" if kind is ScopeKind.SITE else scope.label,
                "count": len(site.scopes[scope]),
                "feeds": [(fmt, feed_url(settings, scope, fmt)) for fmt in FeedFormat],
            }
            for scope in scopes
        ]
        groups.append({"heading": _HEADINGS[kind], "rows": rows})
    body = _ENV.get_template("index.html").render(
        title=settings.title,
        description=settings.description,
        lang=settings.lang or "en",
        formats=list(FeedFormat),
        site_feeds={fmt: feed_url(settings, SITE_SCOPE, fmt) for fmt in FeedFormat},
        opml_url=absolute(settings.public_url, OPML_PATH),
        groups=groups,
        version=__version__,
    )
    return as_resource(INDEX_PATH, "text/html; charset=utf-8", body.encode("utf-8"), _newest(site))


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
    for kind, scopes in _grouped(site):
        group = etree.SubElement(body, "outline", text=_HEADINGS[kind])
        for scope in scopes:
            title = feed_title(settings, scope)
            for fmt in FeedFormat:
                etree.SubElement(
                    group, "outline", type="rss", text=f"{title} ({fmt.label})", title=f"{title} ({fmt.label})",
                    xmlUrl=feed_url(settings, scope, fmt), htmlUrl=settings.site_url + "/",
                )
    data = etree.tostring(opml, encoding="UTF-8", xml_declaration=True, pretty_print=True)
    return as_resource(OPML_PATH, "text/x-opml; charset=utf-8", data, newest)

