"""The school schema's privacy domain: data subjects' rights (erasure, subject access, restriction, objection)."""
