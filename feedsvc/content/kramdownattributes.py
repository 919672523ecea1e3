"""kramdown's attribute lists (`{: .class #id key="value"}`, ALDs) and abbreviations, applied on the element
tree of the HTML cmark wrote (kramdown.py's pass after rendering)."""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

import lxml.etree
import lxml.html


def resolve_references(attributes: str, alds: Mapping[str, str]) -> str:
    """An IAL may name ALDs (`{: note}`): their attributes come first, then the IAL's own."""
    words = []
    for token in _ATTRIBUTE.finditer(attributes):
        name = token.group(7)
        words.append(alds.get(name, "") if name else token.group(0))
    return " ".join(word for word in words if word)


_STRAIGHT = str.maketrans({"‘": "'", "’": "'", "“": '"', "”": '"'})  # cmark's smart quotes in a span IAL
_ATTRIBUTE = re.compile(r"""\.([\w-]+)|#([\w:.-]+)|([\w:-]+)=(?:"([^"]*)"|'([^']*)'|([^\s"']+))|([\w-]+)""")


def attributes_of(text: str) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for token in _ATTRIBUTE.finditer(text.translate(_STRAIGHT)):
        klass, ident, key = token.group(1), token.group(2), token.group(3)
        if klass:
            pairs.append(("class", klass))
        elif ident:
            pairs.append(("id", ident))
        elif key and not key.lower().startswith("on"):  # no event handlers from an attribute list
            value = next((group for group in token.group(4, 5, 6) if group is not None), "")
            pairs.append((key, value))
    return pairs


def apply_attributes(element: Any, pairs: list[tuple[str, str]]) -> None:
    for key, value in pairs:
        if key == "class" and element.get("class"):
            element.set("class", f"{element.get('class')} {value}")
        else:
            element.set(key, value)


_SPAN_IAL = re.compile(r"^\{:\s*([^}]*)\}")


def tree_pass(rendered: str, abbreviations: Mapping[str, str]) -> str:
    """Attribute lists and abbreviations need the element tree."""
    root = lxml.html.fragment_fromstring(rendered, create_parent="div")
    for comment in list(root.iter(lxml.etree.Comment)):
        text = comment.text or ""
        if not text.startswith("kd-ial:"):
            continue
        where, _, attributes = text[len("kd-ial:"):].partition(":")
        target = comment.getprevious() if where == "prev" else comment.getnext()
        if target is not None and isinstance(target.tag, str):
            apply_attributes(target, attributes_of(unquote(attributes)))
        _drop(comment)
    for element in root.iter():
        if isinstance(element.tag, str) and element.tail and element.tail.startswith("{:"):
            match = _SPAN_IAL.match(element.tail)
            if match:
                apply_attributes(element, attributes_of(match.group(1)))
                element.tail = element.tail[match.end():]
    if abbreviations:
        _mark_abbreviations(root, abbreviations)
    parts = [html.escape(root.text, quote=False)] if root.text else []
    parts.extend(lxml.html.tostring(child, encoding="unicode") for child in root)
    return "".join(parts)


def _drop(node: Any) -> None:
    parent, tail = node.getparent(), node.tail or ""
    previous = node.getprevious()
    if previous is not None:
        previous.tail = (previous.tail or "") + tail
    else:
        parent.text = (parent.text or "") + tail
    parent.remove(node)


def _mark_abbreviations(root: Any, abbreviations: Mapping[str, str]) -> None:
    pattern = re.compile(r"(?<!\w)(" + "|".join(re.escape(a) for a in sorted(abbreviations, key=len, reverse=True))
                         + r")(?!\w)")
    for element in list(root.iter()):
        if not isinstance(element.tag, str) or element.tag in ("code", "pre", "abbr", "script", "style"):
            continue
        for attribute in ("text", "tail"):
            if attribute == "tail" and (element is root or element.getparent().tag in ("code", "pre")):
                continue
            value = getattr(element, attribute)
            if not value or not pattern.search(value):
                continue
            pieces = pattern.split(value)
            setattr(element, attribute, pieces[0])
            anchor = element
            for number, piece in enumerate(pieces[1:]):
                if number % 2 == 0:
                    abbr = lxml.html.Element("abbr", title=abbreviations[piece])
                    abbr.text = piece
                    if attribute == "text" and anchor is element:
                        element.insert(0, abbr)
                    else:
                        anchor.addnext(abbr)
                    anchor = abbr
                else:
                    anchor.tail = piece
