"""Errors raised while loading, validating or pricing a search space."""

from __future__ import annotations


class SpaceError(ValueError):
    """A search-space definition or configuration is invalid.

    The message is a single line naming the offending field (and the file when known), so the CLI can
    print it as is and exit non-zero.
    """

    def __init__(self, message: str, *, field: str | None = None, source: str | None = None) -> None:
        self.field = field
        self.source = source
        parts = []
        if source:
            parts.append(str(source))
        if field:
            parts.append(field)
        prefix = ": ".join(parts)
        super().__init__(f"{prefix}: {message}" if prefix else message)
