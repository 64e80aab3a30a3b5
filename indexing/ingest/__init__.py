"""Corpus ingestion: stream ``Document``s from JSONL, WikiExtractor, MediaWiki XML and SQuAD files."""

from indexing.ingest.corpus import FORMATS, detect_format, iter_files, read_corpus, read_file

__all__ = ["FORMATS", "detect_format", "iter_files", "read_corpus", "read_file"]
