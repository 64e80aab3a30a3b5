"""Raw MediaWiki XML dumps (``pages-articles.xml[.bz2]``) parsed with mwxml + mwparserfromhell.

Kept: main-namespace (0) pages that are neither redirects nor disambiguation pages. Wikitext is
reduced to plain text with ``strip_code`` after dropping references, tables, galleries, file/image
links and category links; each remaining non-blank line becomes a paragraph.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from xml.etree.ElementTree import ParseError

import mwparserfromhell
import mwxml
from mwparserfromhell.nodes import Node, Tag, Template, Wikilink
from mwparserfromhell.wikicode import Wikicode
from mwxml.errors import MalformedXML

from drqa_ng.errors import DataFormatError
from drqa_ng.inputs import open_binary
from drqa_ng.types import Document
from indexing.ingest.text import lines_to_text

# Tags whose content is not article prose.
_DROP_TAGS = frozenset(
    {"ref", "references", "table", "gallery", "timeline", "math", "score", "syntaxhighlight"}
)
# Link namespaces that are media or page metadata, not text.
_DROP_LINK_PREFIXES = frozenset({"file", "image", "media", "category"})
# Short names of English Wikipedia's disambiguation templates (others contain "disambig").
_DISAMBIG_TEMPLATES = frozenset(
    {"dab", "disamb", "dis", "hndis", "geodis", "numberdis", "schooldis", "mil-unit-dis"}
)
_BEHAVIOUR_SWITCH = re.compile(r"__[A-Z]+__")


def _template_name(t: Template) -> str:
    return " ".join(str(t.name).replace("_", " ").split()).lower()


def is_disambiguation(title: str, code: Wikicode) -> bool:
    """A disambiguation page: "(disambiguation)" title or a {{disambig}}-family template."""
    if title.lower().endswith("(disambiguation)"):
        return True
    for t in code.filter_templates(recursive=False):
        name = _template_name(t)
        if "disambig" in name or name in _DISAMBIG_TEMPLATES:
            return True
    return False


def _droppable(node: Node) -> bool:
    if isinstance(node, Tag):
        return str(node.tag).strip().lower() in _DROP_TAGS
    if isinstance(node, Wikilink):
        prefix, sep, _ = str(node.title).strip().lstrip(":").partition(":")
        return bool(sep) and prefix.strip().lower() in _DROP_LINK_PREFIXES
    return False


def wikitext_to_text(code: Wikicode) -> str:
    """Plain text of parsed wikitext, one paragraph per line joined by blank lines."""
    for node in code.filter(recursive=True):
        if _droppable(node):
            try:
                code.remove(node)
            except ValueError:  # already gone with an enclosing node that was removed first
                continue
    text = code.strip_code(normalize=True, collapse=True)
    text = _BEHAVIOUR_SWITCH.sub("", text)
    return lines_to_text(text.split("\n"))


def read_mediawiki(path: Path) -> Iterator[Document]:
    """Stream article documents from a MediaWiki XML dump (plain or .bz2/.gz)."""
    with open_binary(path) as f:
        try:
            dump = mwxml.Dump.from_file(f)
            for page in dump:
                if page.namespace != 0 or page.redirect:
                    # Revisions must still be consumed for the stream to advance past the page.
                    for _ in page:
                        pass
                    continue
                wikitext = ""
                for revision in page:  # dumps normally hold one (the latest) revision
                    wikitext = revision.text or ""
                if wikitext.lstrip().lower().startswith("#redirect"):
                    continue
                code = mwparserfromhell.parse(wikitext)
                if is_disambiguation(page.title, code):
                    continue
                yield Document(str(page.id), page.title, wikitext_to_text(code))
        except ParseError as e:
            line, col = e.position
            raise DataFormatError(f"{path}:{line}: malformed XML (column {col}): {e}") from e
        except MalformedXML as e:
            raise DataFormatError(f"{path}: malformed MediaWiki dump: {e}") from e
