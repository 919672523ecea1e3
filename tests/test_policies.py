"""The refresh's policies on their own, with injected times: Last-Modified, settling, render keys."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from conftest import post_text, settings_from

from feedsvc.config import settings_key
from feedsvc.content.parsing import parse_post
from feedsvc.content.scanning import Changes, FileSignature
from feedsvc.model import SITE_SCOPE, Post, Resource
from feedsvc.pipeline.lastmodified import LastModified
from feedsvc.pipeline.rendercache import RenderCache, render_key
from feedsvc.pipeline.settle import Settling
from feedsvc.render.documents import EPOCH
from feedsvc.render.entrycache import EntryCache
from feedsvc.render.feeds import as_resource
from feedsvc.site.indexing import build_site

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def _ns(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(microseconds=1) * 1000


def _signature(changed: datetime, size: int = 100) -> FileSignature:
    return FileSignature(size, _ns(changed), _ns(changed), 7)


def _post(relpath: str, front: str) -> Post:
    result = parse_post(relpath, post_text(front).encode(), settings_from())
    assert isinstance(result, Post), result
    return result


def _resource(body: bytes, last_modified: datetime | None = None,
              headers: tuple[tuple[str, str], ...] = ()) -> Resource:
    return as_resource("/rss.xml", "application/rss+xml", body, last_modified, headers)


# -- Last-Modified -------------------------------------------------------------------------


def test_new_bytes_are_dated_by_the_newest_of_entry_file_and_folder_changes() -> None:
    post = _post("_posts/2026-01-01-a.md", "title: A")
    file_changed = datetime(2026, 5, 1, 8, 30, 15, tzinfo=UTC)
    dating = LastModified(NOW, datetime(2026, 4, 1, tzinfo=UTC), {post.source: _signature(file_changed)})
    dated = dating.date(_resource(b"one", last_modified=datetime(2026, 1, 1, tzinfo=UTC)), [post], None)
    assert dated.last_modified == file_changed  # a first version: the content says when, not the clock
    folder_changed = datetime(2026, 5, 20, 9, 0, 0, 500_000, tzinfo=UTC)
    dating = LastModified(NOW, folder_changed, {post.source: _signature(file_changed)})
    assert dating.date(_resource(b"one"), [post], None).last_modified == folder_changed.replace(microsecond=0)


def test_changed_bytes_move_forward_even_when_no_date_did() -> None:
    """A deleted or retitled post changes a feed without a newer date: a reader's If-Modified-Since must miss."""
    served = _resource(b"before", last_modified=datetime(2027, 1, 1, tzinfo=UTC))  # a clock that was ahead
    dated = LastModified(NOW, EPOCH, {}).date(_resource(b"after"), [], served)
    assert dated.last_modified == datetime(2027, 1, 1, 0, 0, 1, tzinfo=UTC)
    served = _resource(b"before", last_modified=datetime(2026, 1, 1, tzinfo=UTC))
    assert LastModified(NOW, EPOCH, {}).date(_resource(b"after"), [], served).last_modified == NOW


def test_the_same_bytes_keep_their_validators_and_take_new_headers() -> None:
    served = _resource(b"same", last_modified=datetime(2026, 1, 1, tzinfo=UTC))
    dating = LastModified(NOW, NOW, {})
    assert dating.date(_resource(b"same"), [], served) is served
    link = (("Link", '<https://example.com/rss.xml?page=2>; rel="prev-archive"'),)
    moved = dating.date(_resource(b"same", headers=link), [], served)
    assert moved.headers == link and moved.last_modified == served.last_modified and moved.etag == served.etag


# -- settling ------------------------------------------------------------------------------


def test_a_file_changed_within_the_window_keeps_its_served_version_until_it_settles() -> None:
    settling = Settling(window_seconds=2)
    old = _signature(NOW - timedelta(days=1))
    known = {"_posts/a.md": old, "_posts/b.md": old}
    found = {"_posts/a.md": _signature(NOW - timedelta(seconds=1), 120),  # being written
             "_posts/b.md": _signature(NOW - timedelta(seconds=5), 130),  # written and still since
             "_posts/c.md": _signature(NOW - timedelta(milliseconds=200))}  # new, being written
    changes = Changes(("_posts/c.md",), ("_posts/a.md", "_posts/b.md"), ())
    acted = settling.hold_unsettled(changes, known, found, [], NOW, lambda relpath, now: None)
    assert acted == Changes((), ("_posts/b.md",), ())
    assert found["_posts/a.md"] == old and "_posts/c.md" not in found  # looked at again next time
    assert settling.pending == {"_posts/a.md": NOW + timedelta(seconds=1),
                                "_posts/c.md": NOW + timedelta(seconds=1, milliseconds=800)}
    assert settling.follow_up_at(NOW) == NOW + timedelta(seconds=1)
    assert settling.follow_up_at(NOW + timedelta(seconds=30)) == NOW + timedelta(seconds=30)  # never in the past
    settling.start()
    assert settling.pending == {} and settling.follow_up_at(NOW) is None


def test_a_missing_file_stays_while_its_folder_moves_or_cannot_be_read() -> None:
    settling = Settling(window_seconds=2)
    old = _signature(NOW - timedelta(days=1))
    known = {"_posts/renamed.md": old, "_posts/deleted.md": old, "drafts/x.md": old, "locked/y.md": old}
    found: dict[str, FileSignature] = {}
    asked: list[str] = []

    def removal_settles_at(relpath: str, now: datetime) -> datetime | None:
        asked.append(relpath)
        return now + timedelta(seconds=1) if relpath == "_posts/renamed.md" else None

    changes = Changes((), (), tuple(sorted(known)))
    acted = settling.hold_unsettled(changes, known, found, ["locked/", "drafts/x.md"], NOW, removal_settles_at)
    assert acted == Changes((), (), ("_posts/deleted.md",))
    assert found == {"_posts/renamed.md": old, "drafts/x.md": old, "locked/y.md": old}
    assert set(settling.pending) == {"_posts/renamed.md"}  # unreadable is not pending: it lasts as long as it lasts
    assert sorted(asked) == ["_posts/deleted.md", "_posts/renamed.md"]


def test_a_file_that_vanished_while_read_keeps_what_was_served_and_is_read_again() -> None:
    settling = Settling(window_seconds=2)
    old = _signature(NOW - timedelta(days=1))
    known = {"_posts/a.md": old}
    found = {"_posts/a.md": _signature(NOW - timedelta(seconds=10)), "_posts/new.md": _signature(NOW)}
    settling.hold_vanished("_posts/a.md", known, found, NOW)
    settling.hold_vanished("_posts/new.md", known, found, NOW)
    assert found == {"_posts/a.md": old}
    assert settling.pending == dict.fromkeys(("_posts/a.md", "_posts/new.md"), NOW + timedelta(seconds=2))


# -- render keys -----------------------------------------------------------------------------


def test_a_render_key_changes_with_what_a_feed_shows_and_nothing_else() -> None:
    settings = settings_from()
    every = settings_key(settings)
    posts = tuple(_post(f"_posts/2026-01-0{n}-p{n}.md", f"title: P{n}") for n in range(1, 7))
    key = render_key(every, SITE_SCOPE, posts, 3)
    assert render_key(every, SITE_SCOPE, posts, 3) == key
    assert render_key(every, SITE_SCOPE, posts[:5], 3) != key  # one archive page fewer: a Link header moves
    beyond = posts[:3] + (_post("_posts/2026-01-04-p4.md", "title: P4, retitled"),) + posts[4:]
    assert render_key(every, SITE_SCOPE, beyond, 3) == key  # an entry beyond the limit is not shown
    retitled = (_post("_posts/2026-01-01-p1.md", "title: P1, retitled"),) + posts[1:]
    assert render_key(every, SITE_SCOPE, retitled, 3) != key
    assert render_key(every + "x", SITE_SCOPE, posts, 3) != key


def test_the_render_cache_renders_again_only_what_changed_and_keeps_keys_only_for_bytes_still_served() -> None:
    settings = settings_from()
    posts = [_post("_posts/2026-01-01-a.md", "title: A\ntags: [x]"), _post("_posts/2026-01-02-b.md", "title: B")]
    site = build_site(posts, [], settings, NOW)
    cache = RenderCache(gzip_level=1, entries=EntryCache())
    dating = LastModified(NOW, NOW, {})
    first, changed = cache.render(site, settings, {}, dating, lambda done, total: None)
    assert "/rss.xml" in first and "/tags/x/rss.xml" in changed
    edited = [posts[0], _post("_posts/2026-01-02-b.md", "title: B, edited")]
    steps: list[tuple[int, int]] = []
    second, changed = cache.render(build_site(edited, [], settings, NOW), settings, first, dating,
                                   lambda done, total: steps.append((done, total)))
    assert "/tags/x/rss.xml" not in changed and "/rss.xml" in changed  # B has no tag x
    assert second["/tags/x/rss.xml"] is first["/tags/x/rss.xml"]
    assert steps[-1][0] == steps[-1][1]  # the progress ends where it says
    restarted = RenderCache(gzip_level=1, entries=EntryCache())
    served = dict(second)
    served["/atom.xml"] = first["/atom.xml"]  # bytes older than the key saved for them
    restarted.adopt(cache.keys(), served)
    assert "/atom.xml" not in restarted.keys() and "/tags/x/rss.xml" in restarted.keys()
