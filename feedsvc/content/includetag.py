"""Jekyll's `{% include %}` and `{% include_relative %}` as python-liquid tags (templating.py registers them).

Pure: the files' texts arrive in the render's globals (`_includes` read at the config edge,
includes.py; the post's neighbours read by the reader, reading.py), never from disk here.

Jekyll's syntax, not Liquid's: the file name is written bare and may hold `{{ … }}`
(`{% include {{ page.file | append: '.html' }} %}`); `key="text"`, `key='text'` and `key=variable`
parameters are the included file's `include.key`. An included file may include others. A file
that is missing, or a name Jekyll would refuse (`..`, an absolute path), is left out with a warning
naming the post's line and the include; the rest of the post renders.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, TextIO

from liquid.ast import Node
from liquid.exceptions import LiquidError, LiquidSyntaxError
from liquid.tag import Tag
from liquid.token import TOKEN_EXPRESSION, TOKEN_TAG

from feedsvc.content.includes import (
    INCLUDES_FOLDER,
    INCLUDES_VAR,
    POST_PATH_VAR,
    PROBLEMS_VAR,
    RELATIVE_VAR,
    WANTED_VAR,
)

_STACK_VAR = "__feedsvc_including"  # the includes being rendered, outermost first: (shown name, body line)

_PARAM = re.compile(r"""([\w-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'|([\w.\-\[\]]+))""")
_UNSAFE_NAME = re.compile(r"(^/)|(^|/)\.\.(/|$)|[\x00-\x1f]")


def split_markup(markup: str) -> tuple[str, str]:
    """`file params…` -> (file, params); the file name ends at the first space outside `{{ … }}`."""
    markup = markup.strip()
    depth, index = 0, 0
    while index < len(markup):
        if markup.startswith("{{", index):
            depth, index = depth + 1, index + 2
            continue
        if markup.startswith("}}", index) and depth:
            depth, index = depth - 1, index + 2
            continue
        if markup[index].isspace() and not depth:
            break
        index += 1
    return markup[:index], markup[index:].strip()


def include_path(name: str, relative_to: str | None) -> str | None:
    """Where an include lives, from the site's root (`_includes/x.html`, or next to the post for
    include_relative); None for a name Jekyll refuses (climbing out with `..`, absolute)."""
    if not name or _UNSAFE_NAME.search(name):
        return None
    base = INCLUDES_FOLDER if relative_to is None else posixpath.dirname(relative_to)
    return posixpath.normpath(posixpath.join(base, name)) if base else posixpath.normpath(name)


@lru_cache(maxsize=256)
def _parsed(env: Any, text: str, path: str) -> Any:
    """An include parsed once per process, not once per post that includes it."""
    return env.from_string(text, name=path)


class IncludeNode(Node):
    """One include: its name (a small template when it holds `{{ … }}`) and its parameters, then the file."""

    __slots__ = ("name", "name_template", "params", "relative")

    def __init__(self, token: Any, name: str, name_template: Any, params: str, relative: bool) -> None:
        super().__init__(token)
        self.name = name
        self.name_template = name_template
        self.params = params
        self.relative = relative
        self.blank = False

    def render_to_output(self, context: Any, buffer: TextIO) -> int:
        name = self.name
        if self.name_template is not None:
            rendered = context.get_buffer()
            self.name_template.render_with_context(context, rendered)
            name = rendered.getvalue().strip()
        post_path = context.resolve(POST_PATH_VAR, default="")
        path = include_path(name, post_path if self.relative else None)
        texts: Mapping[str, str] = context.resolve(RELATIVE_VAR if self.relative else INCLUDES_VAR, default={})
        text = texts.get(path) if path is not None and isinstance(texts, Mapping) else None
        stack: list[tuple[str, int]] = context.resolve(_STACK_VAR, default=[])
        if text is None:
            wanted = context.resolve(WANTED_VAR, default=None)
            if path is not None and self.relative and isinstance(wanted, list) and path not in texts:
                wanted.append(path)
            self._report(context, stack, name, path)
            return 0
        here = (path, stack[0][1] if stack else self._line())
        inner = context.get_buffer()
        try:
            template = _parsed(context.env, text, path)
            # Without parameters, `include` stays what the including file had (Jekyll sets it only with some).
            namespace = {"include": self._parameters(context)} if self.params else {}
            with context.extend({**namespace, _STACK_VAR: [*stack, here]}, template=template):
                template.render_with_context(context, inner, partial=True)
        except LiquidError as exc:
            self._report(context, stack, name, path, f"{path}: {exc.message}")
            return 0
        return buffer.write(inner.getvalue())

    def _line(self) -> int:
        return self.token.source.count("\n", 0, max(self.token.start_index, 0)) + 1

    def _parameters(self, context: Any) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for match in _PARAM.finditer(self.params):
            key, double, single, variable = match.groups()
            if variable is not None:
                found[key] = context.get(re.split(r"[.\[\]]+", variable.strip(".[]")), token=self.token,
                                         default=None)
            else:
                found[key] = re.sub(r"\\([\"'])", r"\1", double if double is not None else single)
        return found

    def _report(self, context: Any, stack: list[tuple[str, int]], name: str, path: str | None,
                failure: str = "") -> None:
        problems = context.resolve(PROBLEMS_VAR, default=None)
        if not isinstance(problems, list):
            return
        tag = "include_relative" if self.relative else "include"
        where = f" (in {stack[-1][0]}, line {self._line()})" if stack else ""
        why = failure or (f"no file {path}" if path is not None else "a name Jekyll refuses (.. or an absolute path)")
        problems.append((f"Liquid: `{{% {tag} {name} %}}`{where}: {why}; left out", stack[0][1] if stack
                         else self._line()))


class _IncludeTag(Tag):
    block = False
    relative = False

    def parse(self, stream: Any) -> Node:
        token = stream.eat(TOKEN_TAG)
        if stream.current.kind != TOKEN_EXPRESSION or not stream.current.value.strip():
            raise LiquidSyntaxError(f"{self.name} needs the name of a file", token=token)
        name, params = split_markup(stream.current.value)
        name_template = self.env.from_string(name) if "{{" in name or "{%" in name else None
        return IncludeNode(token, name, name_template, params, self.relative)


class IncludeTag(_IncludeTag):
    name = "include"


class IncludeRelativeTag(_IncludeTag):
    name = "include_relative"
    relative = True
