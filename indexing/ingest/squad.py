"""SQuAD JSON (``{"data": [{"title", "paragraphs": [{"context", ...}]}]}``): one Document per context.

Used to add the SQuAD paragraphs to the open-domain evaluation corpus. Ids are ``squad:{title}:{i}``
(``i`` = paragraph index within the article); the title is the article title with ``_`` as spaces.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from drqa_ng.errors import DataFormatError
from drqa_ng.inputs import open_text, read_json
from drqa_ng.types import Document
from indexing.ingest.text import check_encodable, normalize_text


def read_squad(path: Path) -> Iterator[Document]:
    """Documents for every paragraph context of a SQuAD-format file (plain, .gz or .bz2)."""
    with open_text(path) as f:
        data = read_json(f, path)
    articles = data.get("data") if isinstance(data, dict) else None
    if not isinstance(articles, list):
        raise DataFormatError(f'{path}: not SQuAD JSON (no "data" list)')
    for a, article in enumerate(articles):
        if not isinstance(article, dict) or not isinstance(article.get("title"), str):
            raise DataFormatError(f'{path}: data[{a}] has no string "title"')
        paragraphs = article.get("paragraphs")
        if not isinstance(paragraphs, list):
            raise DataFormatError(f'{path}: data[{a}] ({article["title"]}) has no "paragraphs" list')
        raw_title: str = article["title"]
        title = raw_title.replace("_", " ")
        for i, para in enumerate(paragraphs):
            context = para.get("context") if isinstance(para, dict) else None
            if not isinstance(context, str):
                raise DataFormatError(f'{path}: data[{a}].paragraphs[{i}] has no string "context"')
            where = f"{path}: data[{a}].paragraphs[{i}]"
            check_encodable(raw_title, where, '"title"')
            check_encodable(context, where, '"context"')
            yield Document(f"squad:{raw_title}:{i}", title, normalize_text(context))
