"""The README is the front door and the docs site holds the rest: every page of docs/ is in mkdocs.yml's nav
(and the README links it), every nav entry exists, every internal link names a page and heading that exist,
and the Configuration page names only variables the settings models read."""

import importlib.util
import re
from pathlib import Path

import yaml
from markdown.extensions.toc import slugify

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
# The site's hook that generates the configuration reference, loaded from its file (docs/ is not a package).
_spec = importlib.util.spec_from_file_location("docs_hooks_generated", DOCS / "hooks" / "generated.py")
generated = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(generated)
README = ROOT / "README.md"
PAGES = sorted(p for p in DOCS.rglob("*.md") if "hooks" not in p.relative_to(DOCS).parts)
LINK = re.compile(r"\]\(([^)\s]+)\)")


def github_anchor(title: str) -> str:
    """GitHub's heading anchor: lower case, punctuation but hyphens dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")


def mkdocs_anchor(title: str) -> str:
    """The anchor MkDocs gives the heading (Python-Markdown's toc, on the heading's text)."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", title).replace("`", "")
    return slugify(text, "-")


def headings(text: str) -> list[str]:
    found, fence = [], False
    for line in text.splitlines():
        if line.startswith("```"):
            fence = not fence
        elif not fence and (m := re.match(r"^#{1,6} (.+)$", line)):
            found.append(m[1])
    return found


def nav_pages(nav) -> list[str]:
    if isinstance(nav, str):
        return [nav]
    if isinstance(nav, list):
        return [page for item in nav for page in nav_pages(item)]
    return [page for value in nav.values() for page in nav_pages(value)]


def links(page: Path) -> list[tuple[str, str]]:
    """(target path, anchor) of each link to something of this repository, outside code."""
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    text = re.sub(r"`[^`\n]*`", "", text)
    out = []
    for target in LINK.findall(text):
        if re.match(r"^[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        out.append((path, anchor))
    return out


def test_every_page_is_in_the_nav_and_every_nav_entry_exists():
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    listed = nav_pages(config["nav"])
    assert len(listed) == len(set(listed)), "a page is listed twice"
    assert sorted(listed) == sorted(p.relative_to(DOCS).as_posix() for p in PAGES)


def test_the_readme_is_a_front_door_that_links_every_page():
    text = README.read_text()
    assert len(text.splitlines()) <= 200
    linked = {path for path, _ in links(README)}
    missing = {f"docs/{p.relative_to(DOCS).as_posix()}" for p in PAGES if p.name != "index.md"} - linked
    assert not missing, f"the README does not link {sorted(missing)}"


def test_every_internal_link_names_a_page_and_heading_that_exist():
    broken = []
    for page in [README, *PAGES]:
        for path, anchor in links(page):
            target = (page.parent / path).resolve() if path else page
            name = f"{page.relative_to(ROOT)}: {path}#{anchor}"
            if not target.exists():
                broken.append(f"{name} (no such file)")
                continue
            if page != README and not target.is_relative_to(DOCS):
                broken.append(f"{name} (outside docs/: a code span, not a link)")
            if anchor:
                titles = headings(target.read_text()) if target.suffix == ".md" else []
                # README links are read on GitHub, the docs' links on the site (and on GitHub): both must find it.
                kinds = [github_anchor] if page == README else [mkdocs_anchor, github_anchor]
                if not all(anchor in {kind(t) for t in titles} for kind in kinds):
                    broken.append(f"{name} (no such heading)")
    assert not broken, "\n".join(broken)


def test_the_configuration_page_names_only_settings_the_models_read():
    text = (DOCS / "operate" / "configuration.md").read_text()
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    named = {v for row in rows for v in re.findall(r"`((?:ASYNCINFER|OPENAI)_[A-Z0-9_]+)`", row.split("|")[1])}
    assert named, "the Configuration page has no table of variables"
    unknown = named - set(generated.settings_variables())
    assert not unknown, f"the Configuration page names variables no settings model reads: {sorted(unknown)}"
