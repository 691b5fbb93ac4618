"""The scopes an integration partner can be granted (issue 14), named here, below every layer that
declares or checks them: ``auth.policies`` (which GraphQL fields a scope opens), ``partners`` (approvals,
tokens, the OneRoster provider)."""

from __future__ import annotations

ROSTER_READ = "roster.read"
ROSTER_EXTENDED_READ = "roster.extended.read"
ROSTER_WRITE = "roster.write"
PROGRESS_READ = "progress.read"
ACHIEVEMENTS_READ = "achievements.read"
