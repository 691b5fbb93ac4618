"""The school's side of integration partners (issue 14): the directory, approvals and revocations."""
