"""GraphiQL, served by the app itself (development only): the page at each endpoint's URL, its assets from
``server/static/graphiql`` (GraphiQL 3.8.3 and React 18.3.1, vendored from their npm packages with their
licences), so it works without internet and loads nothing from a CDN.

The page keeps nothing in the browser's storage (``start.js`` gives GraphiQL an in-memory store): an access
token typed into the headers pane never reaches ``localStorage``. The page's Content-Security-Policy admits
scripts from this origin only and requests to this origin only.
"""

from __future__ import annotations

from pathlib import Path

from starlette.responses import HTMLResponse
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

ASSETS = Path(__file__).parent / "static" / "graphiql"
PREFIX = "/graphiql-assets"

_PAGE = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>schoolgraph GraphiQL</title>
<link rel="stylesheet" href="{PREFIX}/graphiql.min.css">
<style>html, body, #graphiql {{ height: 100%; margin: 0; }}</style>
</head>
<body>
<div id="graphiql">Loading...</div>
<script src="{PREFIX}/react.production.min.js"></script>
<script src="{PREFIX}/react-dom.production.min.js"></script>
<script src="{PREFIX}/graphiql.min.js"></script>
<script src="{PREFIX}/start.js"></script>
</body>
</html>
"""

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)


def graphiql_page() -> HTMLResponse:
    return HTMLResponse(_PAGE, headers={"content-security-policy": CSP})


def assets_mount() -> Mount:
    """The vendored files; the app mounts them only where GraphiQL is served (not in production)."""
    return Mount(PREFIX, app=StaticFiles(directory=ASSETS), name="graphiql-assets")
