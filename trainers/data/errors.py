"""The error every dataset problem the user can fix is reported as."""

from __future__ import annotations


class DatasetError(ValueError):
    """A dataset cannot be built; the message is one line naming the dataset and the path or problem."""
