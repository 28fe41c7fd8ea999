"""Errors a user can cause and fix: the CLI prints them as one line and exits non-zero."""

from __future__ import annotations


class UserError(ValueError):
    """Bad input (flag, path, budget, tracking URI...). The message names the problem in one line."""
