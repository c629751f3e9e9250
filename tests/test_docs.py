"""The documentation holds together: the README stays a manual, every topic page is reachable from
it, and no relative link points to a file that does not exist."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"
README_MAX_LINES = 650

FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
CODE_SPAN = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)


def relative_links(page: Path) -> list[tuple[str, Path]]:
    """Each relative link of a Markdown page (outside code), with the path it resolves to."""
    text = CODE_SPAN.sub("", FENCE.sub("", page.read_text(encoding="utf-8")))
    found = []
    for target in LINK.findall(text):
        if EXTERNAL.match(target) or target.startswith("#"):
            continue
        path = target.split("#", 1)[0]
        found.append((target, (page.parent / path).resolve()))
    return found


def pages() -> list[Path]:
    return [README, *sorted(DOCS.glob("*.md"))]


def test_the_readme_is_at_most_650_lines() -> None:
    lines = len(README.read_text(encoding="utf-8").splitlines())
    assert lines <= README_MAX_LINES, (
        f"README.md has {lines} lines; keep it a manual and move detail to docs/<topic>.md"
    )


def test_every_docs_page_is_linked_from_the_readme() -> None:
    linked = {path for _, path in relative_links(README)}
    unlinked = [page.name for page in sorted(DOCS.glob("*.md")) if page.resolve() not in linked]
    assert not unlinked, f"docs pages the README does not link: {unlinked}"


def test_every_relative_link_points_to_a_file_that_exists() -> None:
    broken = [
        f"{page.relative_to(ROOT)}: {target}"
        for page in pages()
        for target, path in relative_links(page)
        if not path.exists()
    ]
    assert not broken, "links to files that do not exist:\n" + "\n".join(broken)


def test_only_relative_links_outside_code_are_checked(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "```\n[a](fenced.md)\n```\n"
        "See `[b](spanned.md)`, [c](https://example.com), [d](#top) and [e](other.md#part).\n",
        encoding="utf-8",
    )
    assert relative_links(page) == [("other.md#part", (tmp_path / "other.md").resolve())]
