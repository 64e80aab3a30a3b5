"""The project's error hierarchy.

Library code raises these; the CLI maps them to exit codes (``exit_code``) and the HTTP server to
status codes (``http_status``) in one place each. Anything else escaping is a bug.
"""

from __future__ import annotations


class DrqaError(Exception):
    """Base of every error the user can cause or fix."""

    exit_code: int = 1
    http_status: int = 500


class InputError(DrqaError):
    """Bad user input: empty or too long question, bad option value, k out of range."""

    exit_code = 2
    http_status = 422


class DataFormatError(DrqaError):
    """A corpus, question file or subtitle file that cannot be parsed."""

    exit_code = 3
    http_status = 422


class IndexFormatError(DrqaError):
    """An index or doc store that is corrupt, of another kind, or of an unsupported version."""

    exit_code = 4
    http_status = 500


class NotFoundError(DrqaError):
    """A file, folder, document or model that does not exist."""

    exit_code = 5
    http_status = 404


class UnsupportedError(DrqaError):
    """Valid input this build cannot handle (a video codec, a missing optional dependency)."""

    exit_code = 6
    http_status = 415


class ResourceError(DrqaError):
    """The machine ran out of something the job needs: disk space, memory for a requested size."""

    exit_code = 7
    http_status = 507


class OverloadedError(DrqaError):
    """The server is busy (queue full) or a request ran past its deadline; retry after ``retry_after`` s."""

    exit_code = 8
    http_status = 503

    def __init__(self, message: str, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after
