"""roster tables (placeholder: filled in by the roster capability)."""

from __future__ import annotations
