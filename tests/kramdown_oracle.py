"""Real Jekyll (kramdown + kramdown-parser-gfm + rouge) as the oracle for Markdown rendering.

One `jekyll build` of a throwaway site renders every document at once: each becomes a post with Liquid
off and a layout that prints only `{{ content }}`, so the output is kramdown's HTML and nothing else.
`tree_of` turns HTML into a comparable value: whitespace runs collapsed (kept inside <pre>), attributes
sorted, entities decoded, so two renderings compare equal when a browser would show the same tree.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import lxml.html
import yaml

SNIPPETS = Path(__file__).parent / "data" / "kramdown"
CORPORA = Path(__file__).resolve().parents[2] / "shared" / "corpora"
CORPUS_POSTS = (CORPORA / "jekyll-news" / "_posts", CORPORA / "jekyll-test-source" / "_posts")

Tree = tuple[Any, ...]


def jekyll_available() -> bool:
    return shutil.which("jekyll") is not None


def snippets() -> dict[str, str]:
    """Our hand-written Markdown, one feature each."""
    return {path.stem: path.read_text(encoding="utf-8") for path in sorted(SNIPPETS.glob("*.md"))}


def corpus_bodies() -> dict[str, str]:
    """The bodies (front matter removed) of the shared Jekyll corpora's Markdown posts."""
    from feedsvc.content.dialects.jekyll import JEKYLL
    from feedsvc.content.front_matter import FrontMatterError, split_front_matter

    bodies: dict[str, str] = {}
    for folder in CORPUS_POSTS:
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            if path.suffix not in (".md", ".markdown") or not path.is_file():
                continue
            text = path.read_text(encoding="utf-8").replace("\r\n", "\n")
            try:
                front = split_front_matter(text, JEKYLL.front_matter_readers)
            except FrontMatterError:  # the test site holds broken posts on purpose
                continue
            if front is not None:
                bodies[f"{folder.parent.name}/{path.stem}"] = front.body
    return bodies


def render_with_jekyll(documents: Mapping[str, str], kramdown: Mapping[str, Any] | None = None) -> dict[str, str]:
    """Each document's HTML as real Jekyll renders it (one build for all of them)."""
    names = {name: f"d{index:04d}" for index, name in enumerate(documents)}
    with tempfile.TemporaryDirectory(prefix="kramdown-oracle-") as tmp:
        site = Path(tmp)
        config: dict[str, Any] = {
            "permalink": "/:title.html",
            "defaults": [{"scope": {"path": ""}, "values": {"layout": "bare", "render_with_liquid": False}}],
        }
        if kramdown is not None:
            config["kramdown"] = dict(kramdown)
        (site / "_config.yml").write_text(json.dumps(config), encoding="utf-8")  # JSON is YAML
        (site / "_layouts").mkdir()
        (site / "_layouts" / "bare.html").write_text("{{ content }}", encoding="utf-8")
        (site / "_posts").mkdir()
        for name, body in documents.items():
            post = site / "_posts" / f"2020-01-01-{names[name]}.md"
            post.write_text("---\n" + yaml.safe_dump({"title": names[name]}) + "---\n" + body, encoding="utf-8")
        subprocess.run(["jekyll", "build", "--quiet", "--safe", "-s", str(site), "-d", str(site / "_site")],
                       check=True, capture_output=True, timeout=300)
        return {name: (site / "_site" / f"{slug}.html").read_text(encoding="utf-8") for name, slug in names.items()}


def tree_of(fragment: str) -> Tree:
    """A comparable value for an HTML fragment (see the module docstring)."""
    root = lxml.html.fragment_fromstring(fragment or "", create_parent="div")
    return _node(root, in_pre=False)


def _text(value: str | None, in_pre: bool) -> str:
    if not value:
        return ""
    return value if in_pre else " ".join(value.split())


def _node(element: Any, in_pre: bool) -> Tree:
    if not isinstance(element.tag, str):  # a comment or processing instruction
        return ("#comment", _text(element.text, False))
    in_pre = in_pre or element.tag == "pre"
    children: list[Any] = []
    text = _text(element.text, in_pre)
    if text:
        children.append(text)
    for child in element:
        children.append(_node(child, in_pre))
        tail = _text(child.tail, in_pre)
        if tail:
            children.append(tail)
    if element.tag == "pre" and children and isinstance(children[-1], str):
        children[-1] = children[-1].rstrip("\n")
    return (element.tag, tuple(sorted(element.attrib.items())), tuple(children))


def first_difference(left: Tree, right: Tree, path: str = "") -> str | None:
    """Where two trees first differ, for a readable failure."""
    if isinstance(left, str) or isinstance(right, str):
        return None if left == right else f"{path}: {left!r} != {right!r}"
    if left[0] != right[0] or left[1] != right[1]:
        return f"{path}/{left[0]}{dict(left[1])} != {right[0]}{dict(right[1])}"
    for index, (a, b) in enumerate(zip(left[2], right[2], strict=False)):
        found = first_difference(a, b, f"{path}/{left[0]}[{index}]")
        if found:
            return found
    if len(left[2]) != len(right[2]):
        return f"{path}/{left[0]}: {len(left[2])} children != {len(right[2])}"
    return None
