"""Deterministic corpus of Jekyll-style posts, plus the same posts laid out for Hugo.

`python -m bench.gen_corpus N [--seed S]` writes `bench/corpora/n{N}-s{S}/` with
`jekyll/` (`_config.yml` + `_posts/YYYY-MM-DD-slug.md`) and `hugo/content/posts/*.md`.
A finished corpus carries a `COMPLETE` stamp (generator version and a digest of every
byte) and is reused as it is; the same N and seed always give the same digest.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

GENERATOR_VERSION = "1"
CORPORA = Path(__file__).resolve().parent / "corpora"
SITE_URL = "https://bench.example.org"

WORDS = """
able about above across act add after again air all almost along also always amount and animal another answer
any appear apple area arm around art ask autumn away back bake ball bank base basket bean bear beat bed before
begin behind bell below berry best better between big bike bird black blue board boat body bone book both bottle
bottom box branch bread break bridge bright bring brother brown build burn busy cake call calm camp candle car
card care carry case cat catch cause cell chain chair change charge check cheese chest child city class clean
clear climb clock close cloth cloud coast coat cold colour common cook copper corn corner cotton count country
course cover cow craft cream crop cross crowd cup current cut dark day deep desk detail door down draw dream
dress drink drive dry dust early earth east easy edge egg end engine enough even evening every example eye face
fact fall family farm fast father feather feel few field fill find fine finger fire first fish flat floor flour
flower fly fold follow food foot forest fork form frame free fresh friend front fruit full game garden gate
gather gentle glass gold good grain grass great green ground group grow hair half hall hammer hand happy hard
harbour harvest head heart heat heavy help high hill hold hole home honey hook horse hot house idea iron island
jam job join journey jump keep kettle key kind kitchen knife knot ladder lake lamp land large late laugh lead
leaf learn leather left letter level light line list little long loose low lunch machine map market match meal
measure milk mill mind minute mirror model moon morning mountain move music nail name narrow near needle nest
net new night noise north note number oak ocean office oil old open orange order oven page paint paper park
part paste path pattern pen pencil people pepper piece pin pipe place plain plant plate point pole pond port
pot powder print pull pump purple push quick quiet rail rain range reach read real record red ring river road
rock roof room root rope round rule run sail salt sand school sea season seed shade shape sharp sheep shelf
ship shirt shoe short side sign silver simple sister size sky sleep slow small smoke snow soap soft soil song
sound soup south space spoon spring square stage stamp star station steam steel stem step stick stone store
storm story street string strong sugar summer sun table tail tea test thread thunder ticket tide tight time
tin toast tool top touch tower town track trade train tree true turn umbrella valley value village voice walk
wall warm wash watch water wave wax week weight west wheel whistle white wide wind window wing winter wire
wood wool word work yard year yellow young
""".split()

ZONES = ("+0000", "+0100", "+0200", "-0500", "-0700", "+0530", "+0900", "-0300")
LANGUAGES = ("python", "bash", "yaml", "javascript")
FIRST = 1_325_376_000  # 2012-01-01 UTC: every post is in the past, so every post is visible
SPAN = 13 * 365 * 86_400


@dataclass(frozen=True, slots=True)
class Post:
    """One generated post: what both layouts need."""

    slug: str
    title: str
    date: datetime  # aware, in the post's own zone
    author: str
    categories: tuple[str, ...]
    tags: tuple[str, ...]
    excerpt: str
    image: str
    body: str


@dataclass(frozen=True, slots=True)
class Vocabulary:
    authors: tuple[str, ...]
    categories: tuple[str, ...]
    tags: tuple[str, ...]
    tag_weights: tuple[float, ...]
    category_weights: tuple[float, ...]


def corpus_dir(count: int, seed: int) -> Path:
    return CORPORA / f"n{count}-s{seed}"


def make_vocabulary(rng: random.Random) -> Vocabulary:
    """~20 authors, ~30 categories, ~500 tags; tag and category use follow a Zipf-like curve."""
    authors = tuple(f"{_cap(rng.choice(WORDS))} {_cap(rng.choice(WORDS))}son" for _ in range(20))
    categories = tuple(dict.fromkeys(f"{_cap(rng.choice(WORDS))} {_cap(rng.choice(WORDS))}" for _ in range(30)))
    tags: dict[str, None] = {}
    while len(tags) < 500:
        tags[rng.choice(WORDS) if rng.random() < 0.3 else f"{rng.choice(WORDS)}-{rng.choice(WORDS)}"] = None
    return Vocabulary(
        authors=authors,
        categories=categories,
        tags=tuple(tags),
        tag_weights=tuple(1 / (rank + 1) ** 0.8 for rank in range(len(tags))),
        category_weights=tuple(1 / (rank + 1) ** 0.6 for rank in range(len(categories))),
    )


def _cap(word: str) -> str:
    return word[:1].upper() + word[1:]


def _distinct(rng: random.Random, items: tuple[str, ...], weights: tuple[float, ...], count: int) -> tuple[str, ...]:
    chosen: dict[str, None] = {}
    while len(chosen) < count:
        chosen[rng.choices(items, weights)[0]] = None
    return tuple(chosen)


def _sentence(rng: random.Random, low: int = 8, high: int = 18) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(low, high))]
    return _cap(" ".join(words)) + "."


def _paragraph(rng: random.Random, sentences: int, slug: str) -> str:
    parts = [_sentence(rng) for _ in range(sentences)]
    link_at = rng.randrange(len(parts))
    word = rng.choice(WORDS)
    parts[link_at] += f" See [the {word} notes](https://example.com/{word}/{slug}) and *{rng.choice(WORDS)}*."
    return " ".join(parts)


def _code_block(rng: random.Random) -> str:
    name, arg = rng.choice(WORDS), rng.choice(WORDS)
    lines = [f"def {name}_{arg}({arg}):", f"    total = len({arg}) * {rng.randint(2, 99)}"]
    lines += [f"    {rng.choice(WORDS)} = total + {rng.randint(1, 9)}" for _ in range(rng.randint(2, 6))]
    lines.append("    return total")
    return f"```{rng.choice(LANGUAGES)}\n" + "\n".join(lines) + "\n```"


def make_body(rng: random.Random, slug: str, image: str) -> str:
    """About 600 words: an intro, headed sections, a list, an image and a code block."""
    blocks = [_paragraph(rng, 4, slug)]
    for section in range(4):
        blocks.append(f"## {_cap(rng.choice(WORDS))} and {rng.choice(WORDS)}")
        blocks.append(_paragraph(rng, rng.randint(7, 9), slug))
        if section == 1:
            blocks.append("\n".join(f"- {_cap(rng.choice(WORDS))} {rng.choice(WORDS)} `{rng.choice(WORDS)}`"
                                    for _ in range(rng.randint(3, 6))))
        if section == 2:
            blocks.append(f"![A {rng.choice(WORDS)} by the {rng.choice(WORDS)}]({image})")
            blocks.append(_code_block(rng))
    blocks.append(f"### {_cap(rng.choice(WORDS))}")
    blocks.append(_paragraph(rng, 4, slug))
    return "\n\n".join(blocks) + "\n"


def make_posts(count: int, seed: int) -> Iterator[Post]:
    """The posts, oldest first, spread evenly over 2012-2024 with jitter and mixed zones."""
    rng = random.Random(seed)
    vocabulary = make_vocabulary(rng)
    step = SPAN / count
    for index in range(count):
        zone = rng.choice(ZONES)
        offset = timedelta(hours=int(zone[:3]), minutes=int(zone[0] + zone[3:]))
        moment = FIRST + int(index * step + rng.random() * step * 0.9)
        date = datetime.fromtimestamp(moment, UTC).astimezone(timezone(offset))
        title_words = [rng.choice(WORDS) for _ in range(rng.randint(3, 7))]
        slug = "-".join(title_words) + f"-{index}"
        image = f"/assets/images/{date.year}/{slug}.jpg"
        yield Post(
            slug=slug,
            title=_cap(" ".join(title_words)),
            date=date,
            author=rng.choice(vocabulary.authors),
            categories=_distinct(rng, vocabulary.categories, vocabulary.category_weights, rng.randint(1, 3)),
            tags=_distinct(rng, vocabulary.tags, vocabulary.tag_weights, rng.randint(2, 6)),
            excerpt=_sentence(rng, 12, 24),
            image=image,
            body=make_body(rng, slug, image),
        )


def _yaml_list(items: tuple[str, ...]) -> str:
    return "[" + ", ".join(f'"{item}"' for item in items) + "]"


def jekyll_text(post: Post) -> str:
    return (
        "---\n"
        f'title: "{post.title}"\n'
        f"date: {post.date.strftime('%Y-%m-%d %H:%M:%S %z')}\n"
        f"author: {post.author}\n"
        f"categories: {_yaml_list(post.categories)}\n"
        f"tags: {_yaml_list(post.tags)}\n"
        f'excerpt: "{post.excerpt}"\n'
        f"image: {post.image}\n"
        "---\n" + post.body
    )


def hugo_text(post: Post) -> str:
    """The same post for Hugo: RFC 3339 date, `summary` for the excerpt, `images` for the image."""
    return (
        "---\n"
        f'title: "{post.title}"\n'
        f"date: {post.date.isoformat()}\n"
        f"author: {post.author}\n"
        f"categories: {_yaml_list(post.categories)}\n"
        f"tags: {_yaml_list(post.tags)}\n"
        f'summary: "{post.excerpt}"\n'
        f"images: [{post.image}]\n"
        "---\n" + post.body
    )


CONFIG_YML = f"""\
title: "Bench Notes"
description: "A generated corpus for the feedsvc benchmark."
url: "{SITE_URL}"
timezone: UTC
lang: en
author:
  name: "Bench Editor"
  email: "editor@bench.example.org"
feed:
  posts_limit: 20
"""


def write_corpus(root: Path, count: int, seed: int) -> str:
    """Write both layouts under `root` and return the digest of every file written."""
    digest = hashlib.sha256()
    posts_dir = root / "jekyll" / "_posts"
    hugo_dir = root / "hugo" / "content" / "posts"
    posts_dir.mkdir(parents=True)
    hugo_dir.mkdir(parents=True)
    _write(root / "jekyll" / "_config.yml", CONFIG_YML, digest)
    for post in make_posts(count, seed):
        _write(posts_dir / f"{post.date.strftime('%Y-%m-%d')}-{post.slug}.md", jekyll_text(post), digest)
        _write(hugo_dir / f"{post.slug}.md", hugo_text(post), digest)
    return digest.hexdigest()


def _write(path: Path, text: str, digest: hashlib._Hash) -> None:
    data = text.encode("utf-8")
    digest.update(path.name.encode() + b"\0" + data)
    path.write_bytes(data)


def ensure_corpus(count: int, seed: int = 1) -> tuple[Path, str]:
    """The corpus folder for N and seed, generated once and reused; returns (folder, digest)."""
    root = corpus_dir(count, seed)
    stamp = root / "COMPLETE"
    if stamp.is_file():
        version, _, digest = stamp.read_text().strip().partition(" ")
        if version == GENERATOR_VERSION:
            return root, digest
    if root.exists():
        shutil.rmtree(root)
    partial = root.with_name(root.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    digest = write_corpus(partial, count, seed)
    (partial / "COMPLETE").write_text(f"{GENERATOR_VERSION} {digest}\n")
    partial.rename(root)
    return root, digest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("count", type=int, help="number of posts (e.g. 1000, 10000, 100000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, help="write here instead of bench/corpora (must not exist)")
    args = parser.parse_args(argv)
    if args.out is not None:
        digest = write_corpus(args.out, args.count, args.seed)
        root = args.out
    else:
        root, digest = ensure_corpus(args.count, args.seed)
    print(f"{root} {digest}", file=sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
