"""Roster sync: importing a school's MIS data (OneRoster 1.1/1.2 CSV, or schoolgraph's own Schedule 1 layout)
and exporting it as OneRoster; activating the accounts an import creates.

``service`` runs an import (read, stage with COPY, check, merge: all or nothing), ``export`` writes the
OneRoster package, ``activation`` issues and redeems one-time codes, ``cli`` is ``schoolgraph roster``.
docs/roster-csv.md is the user's guide; docs/adr/0012-roster-import.md says why it is built this way.
"""
