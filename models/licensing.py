"""licensing tables (placeholder: filled in by the licensing capability)."""

from __future__ import annotations
