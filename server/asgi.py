"""The app built from the environment, for each worker process of ``schoolgraph serve`` when
``SCHOOLGRAPH_WORKERS`` > 1 (uvicorn imports ``server.asgi:create`` in every worker it starts)."""

from __future__ import annotations

from starlette.applications import Starlette

from common.settings import load_settings


def create() -> Starlette:
    from server.app import create_app
    from server.collector import settle
    from server.database import create_engine, serving_url
    from server.logs import configure_logging
    from server.runtime import build_runtime, load_keys

    settings = load_settings()
    configure_logging(settings)
    url = serving_url(settings)
    if url is None:
        raise RuntimeError(
            "several workers need DATABASE_APP_URL (or DATABASE_URL): not the embedded database"
        )
    runtime = build_runtime(settings, create_engine(url, settings), load_keys(settings))
    app = create_app(runtime)
    settle()  # this worker's app is built (server.collector)
    return app
