"""`{% post_url %}` references resolved at indexing: a post whose targets did not move is not resolved
again on the next refresh (its body is not inflated, substituted and compressed for nothing), and one whose
target moved is: the link readers follow is always the target's current URL."""

from __future__ import annotations

import pytest
from conftest import post_text

import feedsvc.content.references as references

A = "_posts/2026-01-01-a.md"
B = "_posts/2026-01-02-b.md"
C = "_posts/2026-01-03-c.md"
D = "_posts/2026-01-04-d.md"


@pytest.fixture
def resolutions(monkeypatch) -> list[str]:
    """The sources of the posts whose references are substituted."""
    made: list[str] = []
    real = references.replace

    def replace(post, **changes):
        made.append(post.source)
        return real(post, **changes)

    monkeypatch.setattr(references, "replace", replace)
    return made


def test_only_posts_whose_targets_moved_are_resolved_again(site_dir, make_refresher, resolutions) -> None:
    root = site_dir({
        A: post_text("title: A\n", "See [B]({% post_url 2026-01-02-b %}).\n"),
        B: post_text("title: B\n"),
        C: post_text("title: C\n"),
    })
    refresher = make_refresher(root)
    refresher.refresh()
    assert resolutions == [A]
    assert b"/2026/01/02/b/" in refresher.store.snapshot.resources["/atom.xml"].body

    resolutions.clear()
    (root / D).write_text(post_text("title: D\n"))  # a new post: the site is indexed whole
    refresher.refresh("webhook")
    assert b"<title>D</title>" in refresher.store.snapshot.resources["/atom.xml"].body
    assert resolutions == []  # A's target did not move: A is not resolved again

    (root / B).write_text(post_text("title: B\npermalink: /moved-b/\n"))
    refresher.refresh("webhook")
    assert resolutions == [A]
    feed = refresher.store.snapshot.resources["/atom.xml"].body
    assert b"/moved-b/" in feed and b"/2026/01/02/b/" not in feed
