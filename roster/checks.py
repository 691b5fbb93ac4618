"""Checks over the staged rows, set-based: duplicates, references, identifiers taken, ages, accounts.

Two passes: :meth:`Checks.package` looks at the package on its own (roster/checks_package.py), before
its records are matched; :meth:`Checks.against_school` at the package against the school's rows
(roster/checks_school.py), after. Each check is one SQL statement whose offending rows are logged with
their file, row and column (roster/checks_base.py). Nothing here writes a school table.
"""

from __future__ import annotations

from roster.checks_base import emit
from roster.checks_package import PackageChecks
from roster.checks_school import SchoolChecks

__all__ = ["Checks", "emit"]


class Checks(PackageChecks, SchoolChecks):
    """The checks of one import. ``school_id`` is the school's; the session is bound to it."""
