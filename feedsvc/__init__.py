"""feedsvc: a Jekyll-style content folder -> RSS, Atom and JSON feeds, served fast and kept current."""

__version__ = "0.1.0"
