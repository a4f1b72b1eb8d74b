"""The README's table of contents lists every section, in order, with GitHub's anchor for it."""

import re
from pathlib import Path

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def anchor(title: str) -> str:
    """GitHub's heading anchor: lower case, punctuation but hyphens dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")


def test_the_contents_list_every_section_in_order():
    sections = [h for h in re.findall(r"^## (.+)$", README, re.M) if h != "Contents"]
    listed = re.search(r"^## Contents\n\n((?:- .*\n)+)", README, re.M)
    assert listed, "the README has no Contents"
    links = re.findall(r"^- \[.*\]\(#([\w-]+)\)$", listed.group(1), re.M)
    assert links == [anchor(h) for h in sections]


def test_every_internal_link_names_a_heading():
    anchors = {anchor(h) for h in re.findall(r"^#{1,4} (.+)$", README, re.M)}
    targets = set(re.findall(r"\]\(#([\w-]+)\)", README))
    assert targets <= anchors, targets - anchors
