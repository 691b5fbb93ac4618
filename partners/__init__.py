"""Integration partners (issue 14): the operator's registry of OAuth2 clients and their credentials, each
school's approvals with scopes, the client-credentials grant with revocation and introspection, and the
OneRoster 1.1 REST provider. The HTTP routes are in ``server/oauth_http.py`` and ``server/oneroster_http.py``,
the GraphQL in ``graph/platform/partners.py`` and ``graph/school/partners/``."""
