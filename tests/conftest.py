"""Shared fixtures: a clean environment, and small content folders written per test."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from feedsvc.config import Settings, build_settings, parse_config_yaml
from feedsvc.refresh import Refresher, SnapshotStore

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_CONTENT = ROOT / "content"
SHARED = ROOT.parent / "shared"
JEKYLL_NEWS = SHARED / "corpora" / "jekyll-news"

BASIC_CONFIG = """\
title: Test Site
description: A site for tests
url: https://example.org
author:
  name: Site Owner
  email: owner@example.org
timezone: Europe/Berlin
permalink: pretty
lang: en
"""


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("FEEDSVC_"):
            monkeypatch.delenv(name)


def settings_from(config: str = BASIC_CONFIG, environ: dict[str, str] | None = None,
                  content_dir: Path = Path("content")) -> Settings:
    return build_settings(environ or {}, parse_config_yaml(textwrap.dedent(config)), content_dir)


def post_text(front: str, body: str = "Hello **world**.\n") -> str:
    return "---\n" + textwrap.dedent(front).strip("\n") + "\n---\n" + textwrap.dedent(body)


class Clock:
    """An injected clock: tests move time instead of sleeping."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 6, 1, 12, 0, tzinfo=UTC))


@pytest.fixture
def site_dir(tmp_path: Path) -> Callable[..., Path]:
    """Write a content folder: `site_dir({"_posts/2026-01-02-a.md": text}, config=...)`."""

    def write(files: dict[str, str | bytes], config: str | None = BASIC_CONFIG) -> Path:
        root = tmp_path / "content"
        root.mkdir(exist_ok=True)
        if config is not None:
            (root / "_config.yml").write_text(textwrap.dedent(config), encoding="utf-8")
        for relpath, data in files.items():
            path = root / relpath
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(data, bytes):
                path.write_bytes(data)
            else:
                path.write_text(data, encoding="utf-8")
        return root

    return write


@pytest.fixture
def make_refresher(clock: Clock) -> Callable[..., Refresher]:
    def make(root: Path, environ: dict[str, str] | None = None) -> Refresher:
        return Refresher(SnapshotStore(), root, environ or {}, clock=clock)

    return make
