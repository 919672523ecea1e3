"""Settings: the site's config (`_config.yml`, or its generator's), overridden by `FEEDSVC_*` variables.

Built in one place and validated all at once, so a site owner sees every mistake in
one go instead of fixing them one restart at a time. Where the config lives and how it reads
is the site's dialect's business (content/dialects/).
"""

from __future__ import annotations

import hashlib
import json
import os
import pwd
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from feedsvc.content.kramdown import KramdownOptions
from feedsvc.model import Author, Problem
from feedsvc.site.compat import CompatConfig, compat_config
from feedsvc.urls import escape_path, is_outbound_safe

if TYPE_CHECKING:  # the dialects bring every parser: imported where settings are read, not where they are held
    from feedsvc.content.dialects import Dialect
    from feedsvc.content.markup import MarkdownFlavour

CONFIG_FILE = "_config.yml"  # the name settings problems are reported under
DEFAULT_URL = "http://localhost:8000"
# Jekyll's name and its default permalink pattern (dialects/jekyll.py; a test checks they agree): the defaults of
# `Settings`, named here so that holding settings does not import the dialects.
DEFAULT_DIALECT = "jekyll"
DEFAULT_PATTERN = '/:categories/:year/:month/:day/:title:output_ext'


class ConfigError(Exception):
    """Settings that cannot be used; carries every problem found, not just the first."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class Settings:
    content_dir: Path = Path("content")
    title: str = "feedsvc"
    description: str = ""
    url: str = DEFAULT_URL  # scheme + host of the site, no trailing slash
    baseurl: str = ""  # "" or "/path", no trailing slash
    public_url: str = DEFAULT_URL  # where feedsvc itself is reached, no trailing slash
    author: Author | None = None
    timezone: str = "UTC"
    lang: str | None = None
    permalink: str = DEFAULT_PATTERN
    future: bool = False
    excerpt_separator: str = "\n\n"
    feed_limit: int = 20
    excerpt_only: bool = False
    rescan_seconds: float = 60.0
    cache_max_age: int = 300
    websub_hubs: tuple[str, ...] = ()  # WebSub hubs every feed names and every change is pinged to
    compat: CompatConfig = CompatConfig()  # old feed URLs to keep answering (compat.py)
    warnings: tuple[str, ...] = ()
    site_config: str = field(default="", repr=False)  # all of _config.yml as JSON: Liquid's `site` (templating.py)
    site_data: str = field(default="", repr=False)  # the `_data` folder as JSON: Liquid's `site.data` (datafiles.py)
    site_includes: str = field(default="", repr=False)  # the `_includes` folder as JSON: {% include %} (includes.py)
    # Liquid's `site.posts` as JSON (siteposts.py): set by the refresher for the posts that read it, never from config.
    site_posts: str = field(default="", repr=False, compare=False)
    fingerprint: str = field(default="", compare=False)
    liquid_fingerprint: str = field(default="", compare=False)  # fingerprint + all that Liquid's `site` shows
    dialect: str = DEFAULT_DIALECT  # the site's generator: its layout and URL rules (`dialects.dialect_named`)
    dialect_rules: str = ""  # what the site's own config decides under that generator's rules (`dialects.dialect_for`)
    markdown: MarkdownFlavour = KramdownOptions()  # the generator's Markdown and the site's settings; None: plain GFM

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def site_url(self) -> str:
        """The root entry links hang from: `url` + `baseurl`."""
        return self.url + self.baseurl


def _truthy(value: str) -> bool | None:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    return None


def _clean_url(value: str, name: str, errors: list[str]) -> str:
    value = value.strip().rstrip("/")
    if value and not (value.startswith("http://") or value.startswith("https://")):
        errors.append(f"{name}: must be an absolute http(s) URL, got {value!r}")
    return value


def _hub_urls(value: str | None, errors: list[str]) -> tuple[str, ...]:
    """`FEEDSVC_WEBSUB_HUBS`: comma-separated absolute http(s) URLs, kept as given (hubs may need a path)."""
    hubs: list[str] = []
    for item in (value or "").split(","):
        hub = item.strip()
        if not hub:
            continue
        try:
            parts = urlsplit(hub)
            usable = parts.scheme in ("http", "https") and bool(parts.hostname)
        except ValueError:  # e.g. an unclosed IPv6 bracket
            usable = False
        if not usable or any(c.isspace() or c in '<>"' for c in hub):
            errors.append(f"FEEDSVC_WEBSUB_HUBS: each hub must be an absolute http(s) URL, got {hub!r}")
        elif hub not in hubs:
            hubs.append(hub)
    return tuple(hubs)


def _clean_baseurl(value: str) -> str:
    """`/path`, percent-encoded: every link hangs from it, and a space or non-ASCII letter must not break them."""
    value = value.strip().strip("/")
    return escape_path(f"/{value}") if value else ""


def _author_from(value: Any, errors: list[str], name: str) -> Author | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return Author(value.strip())
    if isinstance(value, Mapping):
        person = value.get("name")
        if not isinstance(person, str) or not person.strip():
            errors.append(f"{name}: a mapping needs a `name`")
            return None
        email = value.get("email")
        uri = value.get("uri") or value.get("url")
        if uri and not is_outbound_safe(str(uri)):
            errors.append(f"{name}.uri: only http, https and mailto links (or relative ones) are allowed")
            return None
        return Author(person.strip(), str(email) if email else None, str(uri) if uri else None)
    errors.append(f"{name}: expected a name or a mapping with `name`, got {type(value).__name__}")
    return None


def parse_config_yaml(text: str) -> dict[str, Any]:
    """Read the text of a `_config.yml`; raises ConfigError naming the line of a YAML mistake."""
    from feedsvc.content.dialects.base import ConfigFileError
    from feedsvc.content.dialects.jekyll import parse_config

    try:
        return parse_config(text)
    except ConfigFileError as exc:
        raise ConfigError([str(exc)]) from None


def build_settings(environ: Mapping[str, str], config: Mapping[str, Any], content_dir: Path,
                   dialect: Dialect | None = None, data: Mapping[str, Any] | None = None,
                   includes: Mapping[str, str] | None = None) -> Settings:
    """Merge the site's config (the common mapping its dialect loads) with `FEEDSVC_*` overrides;
    raise ConfigError listing every problem. `data`: the site's `_data` folder, as read (`dialect`: Jekyll)."""
    if dialect is None:
        from feedsvc.content.dialects.jekyll import JEKYLL

        dialect = JEKYLL
    errors: list[str] = []
    warnings: list[str] = []

    def env(name: str) -> str | None:
        value = environ.get(f"FEEDSVC_{name}")
        return value if value is not None and value.strip() != "" else None

    def text(name: str, key: str, default: str) -> str:
        override = env(name)
        if override is not None:
            return override
        value = config.get(key, default)
        if value is None:
            return default
        if not isinstance(value, (str, int, float)):
            errors.append(f"{CONFIG_FILE}: `{key}` must be text, got {type(value).__name__}")
            return default
        return str(value)

    def flag(name: str, value: Any, default: bool, key: str) -> bool:
        override = env(name)
        if override is not None:
            parsed = _truthy(override)
            if parsed is None:
                errors.append(f"FEEDSVC_{name}: expected true or false, got {override!r}")
                return default
            return parsed
        if value is None:
            return default
        if not isinstance(value, bool):
            errors.append(f"{CONFIG_FILE}: `{key}` must be true or false, got {value!r}")
            return default
        return value

    def number(name: str, value: Any, default: float, minimum: float, kind: type, key: str = "") -> Any:
        source = f"FEEDSVC_{name}"
        override = env(name)
        if override is not None:
            value = override
        elif value is None:
            return kind(default)
        else:
            source = f"{CONFIG_FILE}: `{key}`"
        try:
            if isinstance(value, bool):
                raise ValueError
            result = kind(value)
        except (TypeError, ValueError):
            errors.append(f"{source}: expected a number, got {value!r}")
            return kind(default)
        if result < minimum:
            errors.append(f"{source}: must be at least {minimum}, got {result}")
            return kind(default)
        return result

    feed_config = config.get("feed") or {}
    if not isinstance(feed_config, Mapping):
        errors.append(f"{CONFIG_FILE}: `feed` must be a mapping")
        feed_config = {}

    url = _clean_url(text("URL", "url", ""), "url", errors)
    baseurl = _clean_baseurl(text("BASEURL", "baseurl", ""))
    if not url:
        url = _clean_url(env("BASE_URL") or "", "FEEDSVC_BASE_URL", errors) or DEFAULT_URL
        warnings.append(f"{CONFIG_FILE}: no `url` set; entry links use {url}")
    public_url = _clean_url(env("BASE_URL") or "", "FEEDSVC_BASE_URL", errors) or url + baseurl

    author = _author_from(env("AUTHOR") or config.get("author"), errors, "author")

    timezone = text("TIMEZONE", "timezone", "UTC") or "UTC"
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        errors.append(f"timezone: unknown IANA time zone {timezone!r}")
        timezone = "UTC"

    permalink = env("PERMALINK") or dialect.permalink_setting(config) or dialect.default_permalink
    if not isinstance(permalink, str):
        errors.append(f"permalink: expected a style name or a pattern, got {permalink!r}")
        permalink = dialect.default_permalink
    permalink = dialect.permalink_pattern(permalink)

    separator = env("EXCERPT_SEPARATOR")
    if separator is None:
        separator = config.get("excerpt_separator", "\n\n")
    if not isinstance(separator, str) or separator == "":
        errors.append(f"excerpt_separator: expected non-empty text, got {separator!r}")
        separator = "\n\n"

    lang = env("LANG") or config.get("lang") or config.get("language")
    if lang is not None and not isinstance(lang, str):
        errors.append(f"lang: expected a language tag such as en-GB, got {lang!r}")
        lang = None

    settings = Settings(
        content_dir=content_dir,
        title=text("TITLE", "title", str(config.get("name") or content_dir.resolve().name)).strip() or "feedsvc",
        description=text("DESCRIPTION", "description", "").strip(),
        url=url,
        baseurl=baseurl,
        public_url=public_url,
        author=author,
        timezone=timezone,
        lang=lang,
        permalink=permalink,
        future=flag("FUTURE", config.get("future"), False, "future"),
        excerpt_separator=separator,
        feed_limit=number("FEED_LIMIT", feed_config.get("posts_limit"), 20, 1, int, "feed: posts_limit"),
        excerpt_only=flag("EXCERPT_ONLY", feed_config.get("excerpt_only"), False, "feed: excerpt_only"),
        rescan_seconds=number("RESCAN_SECONDS", None, 60.0, 0.1, float),
        cache_max_age=number("CACHE_MAX_AGE", None, 300, 0, int),
        websub_hubs=_hub_urls(env("WEBSUB_HUBS"), errors),
        compat=compat_config(environ, config, errors, warnings),
        warnings=tuple(warnings),
        site_config=_as_json(config),
        site_data=_as_json(data) if data else "",
        site_includes=_as_json(includes) if includes else "",
        dialect=dialect.name,
        dialect_rules=dialect.site_rules(config),
        markdown=dialect.markdown_flavour(config, errors),
    )
    if errors:
        raise ConfigError(errors)
    return _with_fingerprint(settings)


def _as_json(config: Mapping[str, Any]) -> str:
    """Canonical JSON of the whole config (hashable, comparable, and cheap to hand to worker processes)."""
    try:
        return json.dumps(config, sort_keys=True, default=str, ensure_ascii=False)
    except (TypeError, ValueError):  # keys of mixed types cannot be sorted
        return json.dumps({str(k): v for k, v in config.items()}, default=str, ensure_ascii=False)


def _with_fingerprint(settings: Settings) -> Settings:
    """Posts parsed under one fingerprint are reusable under another only if it is equal."""
    relevant = (
        settings.url, settings.baseurl, settings.author, settings.timezone,
        settings.permalink, settings.excerpt_separator, settings.markdown,
    ) + ((settings.dialect, settings.dialect_rules) if settings.dialect != DEFAULT_DIALECT  # so Jekyll's stay
         else (settings.dialect_rules,) if settings.dialect_rules else ())
    defaults = json.loads(settings.site_config or "{}").get("defaults")  # front matter of every post
    relevant += (json.dumps(defaults, sort_keys=True, default=str),) if defaults else ()
    authors = json.loads(settings.site_data or "{}").get("authors")  # who a post's `author: key` is
    relevant += (json.dumps(authors, sort_keys=True, default=str),) if authors else ()
    digest = hashlib.sha256(repr(relevant).encode()).hexdigest()[:16]
    # Posts with Liquid also see the rest (`site.*`): they alone are re-read when only this changes.
    site = (digest, settings.site_config, settings.title, settings.description) + \
        ((settings.site_data,) if settings.site_data else ()) + \
        ((settings.site_includes,) if settings.site_includes else ())
    liquid = hashlib.sha256(repr(site).encode()).hexdigest()[:16]
    return replace(settings, fingerprint=digest, liquid_fingerprint=liquid)


def content_dir_from(environ: Mapping[str, str], override: str | os.PathLike[str] | None = None) -> Path:
    return Path(override or environ.get("FEEDSVC_CONTENT_DIR") or "content")


def load_settings(environ: Mapping[str, str], content_dir: Path | None = None) -> Settings:
    """Read the site's config from the content folder (the I/O edge of this module)."""
    from feedsvc.content.datafiles import DataFileError, read_data_folder
    from feedsvc.content.dialects import ConfigFileError, SiteKindError, detect
    from feedsvc.content.includes import read_includes_folder

    root = content_dir or content_dir_from(environ)
    try:
        dialect = detect(root)
        config = dialect.load_config(root)
        data = read_data_folder(root) if dialect.renders_liquid else {}  # Liquid's site.data (Jekyll)
        includes = read_includes_folder(root) if dialect.renders_liquid else {}  # {% include %} (Jekyll)
    except (SiteKindError, ConfigFileError, DataFileError) as exc:
        raise ConfigError([str(exc)]) from None
    return build_settings(environ, config, root, dialect, data, includes)


def config_path(root: Path) -> Path:
    """The file settings come from: the site's config file (`_config.yml` when it has none, or none yet)."""
    from feedsvc.content.dialects import SiteKindError, detect

    try:
        found = detect(root).config_file(root)
    except SiteKindError:
        found = None
    return found or root / CONFIG_FILE


def config_problems(settings: Settings) -> tuple[Problem, ...]:
    return tuple(Problem(CONFIG_FILE, w, "warning") for w in settings.warnings)


def settings_key(settings: Settings) -> str:
    """Equal only when every feed byte would be equal: all settings, and this version of feedsvc."""
    from feedsvc import __version__

    return hashlib.sha256(f"{__version__}\0{settings!r}".encode()).hexdigest()[:32]


def webhook_secret(environ: Mapping[str, str]) -> str:
    """Kept out of `Settings`, so no settings dump, log line or error can ever carry it. Empty: hook disabled."""
    return environ.get("FEEDSVC_WEBHOOK_SECRET", "").strip()


def webhook_body_seconds(environ: Mapping[str, str], default: float) -> float:
    """FEEDSVC_WEBHOOK_BODY_SECONDS: how long a webhook body may take to arrive (web/hookbudget.py); a process
    setting, not a feed one, so it stays out of `Settings` and of the state folder's key."""
    value = environ.get("FEEDSVC_WEBHOOK_BODY_SECONDS", "").strip()
    if not value:
        return default
    try:
        seconds = float(value)
    except ValueError:
        raise ConfigError([f"FEEDSVC_WEBHOOK_BODY_SECONDS: expected a number, got {value!r}"]) from None
    if not 0.1 <= seconds <= 3600:
        raise ConfigError([f"FEEDSVC_WEBHOOK_BODY_SECONDS: must be between 0.1 and 3600, got {value!r}"])
    return seconds


def watch_enabled(environ: Mapping[str, str]) -> bool:
    """FEEDSVC_WATCH=off: find changes by the interval rescan only, never by OS events (pipeline/watching.py)."""
    return environ.get("FEEDSVC_WATCH", "on").strip().lower() not in ("0", "off", "false", "no")


# Never part of the state folder's name: anyone who can list its parent could test guesses against it.
_SECRET_WORDS = ("SECRET", "TOKEN", "PASSWORD", "PASSPHRASE", "CREDENTIAL", "KEY")


def default_state_home(environ: Mapping[str, str]) -> Path:
    """Where the service keeps its state unless told: systemd's `StateDirectory=` ($STATE_DIRECTORY), else
    `$XDG_STATE_HOME/feedsvc`, else `~/.local/state/feedsvc`: a place of the service's user, never the temp dir."""
    systemd = environ.get("STATE_DIRECTORY", "").split(":")[0]
    if systemd and os.path.isabs(systemd):
        return Path(systemd)
    xdg = environ.get("XDG_STATE_HOME", "")
    if xdg and os.path.isabs(xdg):  # the XDG spec: a relative path is to be ignored
        return Path(xdg) / "feedsvc"
    home = environ.get("HOME") or pwd.getpwuid(os.getuid()).pw_dir
    return Path(home) / ".local" / "state" / "feedsvc"


def state_dir_from(environ: Mapping[str, str], content_dir: Path) -> Path:
    """Where the worker processes of one deployment meet: FEEDSVC_STATE_DIR, else a folder per deployment
    under `default_state_home`. deploy/privatefolder.py checks it is ours before anything in it is used.

    A deployment is a content folder with its FEEDSVC_* settings: two services over the same folder with
    different settings (say another base URL) must never serve each other's bytes. Secrets are left out.
    """
    explicit = environ.get("FEEDSVC_STATE_DIR")
    if explicit:
        return Path(explicit)
    settings = sorted(f"{k}={_without_credentials(k, v)}" for k, v in environ.items()
                      if k.startswith("FEEDSVC_") and not any(word in k for word in _SECRET_WORDS))
    identity = [str(content_dir.resolve()), *settings]
    key = hashlib.sha256("\0".join(identity).encode()).hexdigest()[:16]
    return default_state_home(environ) / key


def _without_credentials(name: str, value: str) -> str:
    """A repository URL's `user:token@` is no part of a deployment's identity (nor may it end up in a name)."""
    return re.sub(r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/@]*@", r"\1", value) if name == "FEEDSVC_GIT_URL" else value
