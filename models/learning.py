"""learning tables (placeholder: filled in by the learning capability)."""

from __future__ import annotations
