"""The OneRoster 1.1 REST provider (issue 14): the school's roster as the specification's JSON, with its
paging, filter, sort and field selection, from the same rows and mapping as the CSV export."""
