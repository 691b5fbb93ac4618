"""Privacy settings of a school: for now the extended-data opt-in (LL-A 3.2, ``extended_data``)."""
