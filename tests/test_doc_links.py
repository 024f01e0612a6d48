"""Links in the project's Markdown (READMEs, docs/, bench/) stay inside the repository and
resolve: every relative link names a file of the clone (its `#anchor` a heading of it).

Links with a scheme (`https://...`) are references to the web and are left alone; a link that
climbs out of the repository (`../shared/API.md`) is broken in every clone, so it fails.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import pytest

from tests.support.servers import PROJECT_ROOT

FENCED_CODE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"`[^`\n]*`")
# [text](target) and ![alt](target), an optional "title" after the target.
LINK = re.compile(r"!?\[(?:[^\]\[]|\[[^\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
HTML_LINK = re.compile(r"""(?:href|src)\s*=\s*["']([^"']+)["']""")
HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$", re.MULTILINE)
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def markdown_files() -> list[Path]:
    """The project's own Markdown files (not those of .venv, node_modules or instance/)."""
    return sorted(
        path
        for path in PROJECT_ROOT.rglob("*.md")
        if not any(
            part.startswith(".") or part == "instance"
            for part in path.relative_to(PROJECT_ROOT).parts
        )
    )


def prose(path: Path) -> str:
    """The file without its code, where link-like text is not a link."""
    return INLINE_CODE.sub("", FENCED_CODE.sub("", path.read_text()))


def links(path: Path) -> list[str]:
    text = prose(path)
    return LINK.findall(text) + HTML_LINK.findall(text)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower-cased, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).replace("`", "").lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every heading's anchor (a repeated heading gets -1, -2, ... as on GitHub)."""
    seen: dict[str, int] = {}
    found = set()
    for heading in HEADING.findall(FENCED_CODE.sub("", path.read_text())):
        base = slug(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def local_links(path: Path) -> list[tuple[str, Path, str]]:
    """(link, the file it names, its anchor) for every link without a scheme."""
    found = []
    for link in links(path):
        if SCHEME.match(link):
            continue
        target, _, anchor = link.partition("#")
        resolved = (path.parent / unquote(target)).resolve() if target else path
        found.append((link, resolved, anchor))
    return found


FILES = markdown_files()
IDS = [str(path.relative_to(PROJECT_ROOT)) for path in FILES]


def test_the_readme_and_the_api_reference_are_checked():
    assert {"README.md", "docs/api.md"} <= set(IDS)


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_no_link_leaves_the_repository(path):
    outside = [
        link for link, target, _ in local_links(path) if not target.is_relative_to(PROJECT_ROOT)
    ]
    assert outside == []


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_every_link_names_an_existing_file(path):
    missing = [link for link, target, _ in local_links(path) if not target.exists()]
    assert missing == []


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_every_anchor_names_a_heading(path):
    broken = [
        link
        for link, target, anchor in local_links(path)
        if anchor and target.suffix == ".md" and target.exists() and anchor not in anchors(target)
    ]
    assert broken == []
