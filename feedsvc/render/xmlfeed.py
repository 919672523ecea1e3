"""RSS 2.0 and Atom 1.0 documents through feedgen: the only feedgen import.

Each entry's bytes are made once per (post, format, EntryShape) and reused by every document that shows
the entry (entrycache.py) when the caller passes its cache in; without one (None), feedgen builds whole
documents, and the bytes are the same.
"""

from __future__ import annotations

import html
import re
from datetime import datetime
from types import MappingProxyType

from feedgen.entry import FeedEntry
from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.feed import FeedGenerator
from lxml import etree

from feedsvc import __version__
from feedsvc.config import Settings
from feedsvc.content.markup import plain_title, title_has_markup
from feedsvc.model import Author, FeedFormat, Post
from feedsvc.render.documents import EPOCH, EntryShape, FeedDoc, feed_language, terms_of
from feedsvc.render.entrycache import EntryCache

_DC = "http://purl.org/dc/elements/1.1/"
_MEDIA = "http://search.yahoo.com/mrss/"
_ATOM = "http://www.w3.org/2005/Atom"
_HISTORY = "http://purl.org/syndication/history/1.0"  # RFC 5005
_CONTENT = "http://purl.org/rss/1.0/modules/content/"  # feedgen declares it on every RSS root
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_RSS_TITLE = re.compile(rb"<title>([^<]*)</title>")
#: glibc's `%Y` writes year 1 as "1"; RFC 822 dates need at least two digits and readers expect four.
_SHORT_YEAR = re.compile(r"^([A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} )(\d{1,3}) ")
_MARKUP = re.compile(r"<[a-zA-Z/!?]|&(?:#[0-9]+|#x[0-9a-fA-F]+|[a-zA-Z][a-zA-Z0-9]*);")
# How a document ends after its entries; the entries go right before.
_CLOSING = MappingProxyType({FeedFormat.ATOM: b"</feed>\n", FeedFormat.RSS: b"  </channel>\n</rss>\n"})
_ENTRY_NS = MappingProxyType({"dc": _DC, "media": _MEDIA})  # what _FeedExtension declares on every root
_OPENING = MappingProxyType({FeedFormat.ATOM: b">\n", FeedFormat.RSS: b"<channel>\n"})  # before the first entry
_ENTRY_END = MappingProxyType({FeedFormat.ATOM: b"  </entry>\n", FeedFormat.RSS: b"    </item>\n"})


def render_xml(doc: FeedDoc, settings: Settings, newest: datetime | None, entries: EntryCache | None) -> bytes:
    fmt = doc.fmt
    fg = FeedGenerator()
    fg.register_extension("feedsvc", _FeedExtension, _EntryExtension)
    fg.id(doc.feed_id)
    fg.title(doc.title)
    fg.subtitle(settings.description or settings.title)  # RSS requires a description
    fg.link(href=doc.self_url, rel="self", type=fmt.content_type.split(";")[0])
    for hub in doc.hubs:  # Atom output only: feedgen's RSS keeps rel="self" alone
        fg.link(href=hub, rel="hub")
    fg.feedsvc.hubs = doc.hubs
    fg.feedsvc.links = doc.links
    fg.feedsvc.archive = doc.archive
    fg.link(href=settings.site_url + "/", rel="alternate", type="text/html")  # last: RSS <link> takes it
    language = feed_language(settings, doc.language)
    if language:
        fg.language(language)
    if settings.author:
        fg.author(_author_dict(settings.author))
    fg.generator("feedsvc", version=__version__)
    fg.docs("https://www.rssboard.org/rss-specification")
    fg.updated(newest or EPOCH)
    shape = EntryShape.of(settings)
    if entries is None:  # feedgen builds the whole document, entries included
        for post in doc.entries:
            _fill_entry(fg.add_entry(order="append"), post, shape)
        return _feed_bytes(fg, fmt)
    # The feed without entries, then each entry's bytes where feedgen would have put them:
    # the entries are the last children of <feed> (Atom) and of <channel> (RSS).
    head = _feed_bytes(fg, fmt)
    closing = _CLOSING[fmt]
    if not head.endswith(closing):
        raise ValueError(f"{doc.path}: the {fmt.label} document does not end as expected: {head[-40:]!r}")
    split = len(head) - len(closing)
    return b"".join([head[:split], *entries.get(doc.entries, fmt, shape, _xml_entries), head[split:]])


def _feed_bytes(fg: FeedGenerator, fmt: FeedFormat) -> bytes:
    if fmt is FeedFormat.ATOM:
        atom: bytes = fg.atom_str(pretty=True, encoding="UTF-8", xml_declaration=True)
        return atom
    return _RSS_TITLE.sub(_profile_escape, fg.rss_str(pretty=True, encoding="UTF-8", xml_declaration=True))


def _xml_entries(posts: list[Post], fmt: FeedFormat, shape: EntryShape) -> list[bytes]:
    """Each entry's bytes as they appear in a whole document: the elements feedgen builds, serialised
    under a root that declares the namespaces a feed's root declares, at the depth of the entries,
    then split after each entry's end tag (the only place it occurs: text and attributes escape `<`)."""
    if fmt is FeedFormat.ATOM:
        root = container = etree.Element("feed", xmlns=_ATOM, nsmap=_ENTRY_NS)  # as feedgen's
    else:
        root = etree.Element("rss", version="2.0", nsmap={**_ENTRY_NS, "atom": _ATOM, "content": _CONTENT})
        container = etree.SubElement(root, "channel")
    for post in posts:
        entry = FeedEntry()
        entry.register_extension("feedsvc", _EntryExtension)
        _fill_entry(entry, post, shape)
        container.append(entry.atom_entry() if fmt is FeedFormat.ATOM else entry.rss_entry())
    text = etree.tostring(root, pretty_print=True, encoding="UTF-8")
    if fmt is FeedFormat.RSS:
        text = _RSS_TITLE.sub(_profile_escape, text)  # the probe has no titles but the entries'
    end = _ENTRY_END[fmt]
    start = text.index(_OPENING[fmt]) + len(_OPENING[fmt])
    entries = []
    for _ in posts:
        stop = text.index(end, start) + len(end)
        entries.append(text[start:stop])
        start = stop
    if start != len(text) - len(_CLOSING[fmt]):
        raise ValueError(f"{fmt.label} entries: {len(posts)} made, more found")
    return entries


def _profile_escape(match: re.Match[bytes]) -> bytes:
    """The RSS Profile's advice: `&` and `<` in titles as hexadecimal character references."""
    text = match.group(1).replace(b"&amp;", b"&#x26;").replace(b"&lt;", b"&#x3C;")
    return b"<title>" + text + b"</title>"


def _pad_years(parent: etree._Element, *tags: str) -> None:
    """Year 1 (Hugo's date of an undated page) as `0001`, as Hugo writes it, not feedgen's `1`."""
    for tag in tags:
        element = parent.find(tag)
        if element is not None and element.text:
            element.text = _SHORT_YEAR.sub(lambda m: f"{m.group(1)}{int(m.group(2)):04d} ", element.text)


def _author_dict(author: Author) -> dict[str, str]:
    data = {"name": author.name}
    if author.email:
        data["email"] = author.email
    if author.uri:
        data["uri"] = author.uri
    return data


def _fill_entry(fe: FeedEntry, post: Post, shape: EntryShape) -> None:
    fe.id(post.url)
    fe.guid(post.url, permalink=True)
    fe.title(plain_title(post.title))
    fe.published(post.date)
    fe.updated(post.updated)
    authors = post.authors or shape.fallback
    if authors:
        fe.author([_author_dict(a) for a in authors])
    content = "" if shape.excerpt_only else post.content_html  # inflated (and rendered, if kept as Markdown) once
    if content:
        fe.content(content, type="html")
    if post.summary_html:
        fe.summary(post.summary_html, type="html")
    terms = terms_of(post)
    if terms:
        fe.category([{"term": term} for term in terms])
    # The alternate link first: readers that take an entry's first link send people to the post, not its image.
    fe.link(href=post.url, rel="alternate", type="text/html")
    if post.image:
        fe.link(href=post.image.url, rel="enclosure", type=post.image.mime_type)
    fe.feedsvc.post = post
    fe.feedsvc.authors = authors


class _FeedExtension(BaseExtension):  # type: ignore[misc]  # feedgen ships no types
    """What feedgen leaves out: WebSub hub links in RSS (it writes only the rel="self" atom:link), and
    RFC 5005's paging and archive links (feedgen accepts only Atom's own link relations)."""

    hubs: tuple[str, ...] = ()
    links: tuple[tuple[str, str], ...] = ()
    archive: bool = False

    def extend_ns(self) -> dict[str, str]:
        namespaces = {"dc": _DC, "media": _MEDIA}
        if self.archive:
            namespaces["fh"] = _HISTORY
        return namespaces

    def extend_rss(self, rss: etree._Element) -> etree._Element:
        channel = rss.find("channel")
        if channel is not None:
            _pad_years(channel, "lastBuildDate", "pubDate")
        if channel is None or not (self.hubs or self.links or self.archive):
            return rss
        links = [("hub", hub) for hub in self.hubs] + list(self.links)
        anchor = channel.find(f"{{{_ATOM}}}link[@rel='self']")
        position = list(channel).index(anchor) + 1 if anchor is not None else len(channel)
        for offset, (rel, href) in enumerate(links):
            channel.insert(position + offset, etree.Element(f"{{{_ATOM}}}link", href=href, rel=rel))
        if self.archive:
            channel.insert(position + len(links), etree.Element(f"{{{_HISTORY}}}archive"))
        return rss

    def extend_atom(self, feed: etree._Element) -> etree._Element:
        if not (self.links or self.archive):
            return feed
        last_link = feed.findall("link")[-1]
        position = list(feed).index(last_link) + 1
        for offset, (rel, href) in enumerate(self.links):
            feed.insert(position + offset, etree.Element("link", href=href, rel=rel))
        if self.archive:
            feed.insert(position + len(self.links), etree.Element(f"{{{_HISTORY}}}archive"))
        return feed


class _EntryExtension(BaseEntryExtension):  # type: ignore[misc]  # feedgen ships no types
    """What feedgen leaves out or gets wrong: one RSS author, dc:creator, media:thumbnail, Atom title types."""

    post: Post | None = None
    authors: tuple[Author, ...] = ()

    def extend_rss(self, item: etree._Element) -> etree._Element:
        # RSS allows one <author>, an email address; any other case is said with dc:creator only,
        # never both (the validator flags duplicate semantics).
        for element in item.findall("author"):
            item.remove(element)
        if len(self.authors) == 1 and self.authors[0].email:
            only = self.authors[0]
            etree.SubElement(item, "author").text = f"{only.email} ({only.name})"
        else:
            for author in self.authors:
                etree.SubElement(item, f"{{{_DC}}}creator").text = author.name
        if self.post and self.post.image:
            etree.SubElement(item, f"{{{_MEDIA}}}thumbnail", url=self.post.image.url)
        _pad_years(item, "pubDate")
        return item

    def extend_atom(self, entry: etree._Element) -> etree._Element:
        # feedgen builds Atom elements without a namespace and declares it on the root.
        if self.post and self.post.lang:
            entry.set(_XML_LANG, self.post.lang)  # the post's own `lang:`, as jekyll-feed writes it
        entry_id = entry.find("id")
        if entry_id is not None and self.post and self.post.entry_id:
            # The generator's own Atom id (jekyll-feed's), so a site switching to feedsvc is no news to
            # its subscribers; RSS guids and JSON Feed ids stay the link (feedgen ties them together).
            entry_id.text = self.post.entry_id
        title = entry.find("title")
        if title is not None and self.post and title_has_markup(self.post.title):
            title.set("type", "html")  # the title's own inline HTML, as the site shows it
            title.text = self.post.title
        elif title is not None and title.text and _MARKUP.search(title.text):
            # Shown literally, as in RSS and JSON Feed, but declared so validators see no stray markup.
            title.set("type", "html")
            title.text = html.escape(title.text, quote=False)
        # feedgen 1.0 drops rel and type from entry links (a shadowed variable); put them back.
        for link in entry.iterfind("link"):
            if self.post and self.post.image and link.get("href") == self.post.image.url:
                link.set("rel", "enclosure")
                link.set("type", self.post.image.mime_type)
            elif self.post and link.get("href") == self.post.url:
                link.set("rel", "alternate")
                link.set("type", "text/html")
        return entry
