"""Settings, read once from the environment.

Every knob the server has is here with its environment variable, its default and its reason; the README's
configuration table is generated from nothing else. Values are validated when read so that a typo fails at
start-up with the variable's name, never later inside a request.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


class SettingsError(ValueError):
    """An environment variable holds a value the server cannot use."""


def _int(env: dict[str, str], name: str, default: int, *, minimum: int = 0) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r}: expected a whole number") from None
    if value < minimum:
        raise SettingsError(f"{name}={value}: must be at least {minimum}")
    return value


def _switch(env: dict[str, str], name: str) -> bool | None:
    raw = (env.get(name) or "").lower()
    if raw == "":
        return None
    if raw in ("on", "true", "1"):
        return True
    if raw in ("off", "false", "0"):
        return False
    raise SettingsError(f"{name}={raw!r}: expected on or off")


def _choice(env: dict[str, str], name: str, default: str, choices: tuple[str, ...]) -> str:
    value = env.get(name) or default
    if value not in choices:
        raise SettingsError(f"{name}={value!r}: expected one of {', '.join(choices)}")
    return value


def _origins(env: dict[str, str], name: str) -> tuple[str, ...]:
    """Comma-separated origins, each ``scheme://host[:port]`` with no path (how browsers send Origin)."""
    found: list[str] = []
    for raw in (env.get(name) or "").split(","):
        origin = raw.strip().rstrip("/")
        if not origin:
            continue
        scheme, _, rest = origin.partition("://")
        if scheme not in ("http", "https") or not rest or "/" in rest or origin == "*":
            raise SettingsError(f"{name}: {raw.strip()!r} is not an origin such as https://app.example.org")
        found.append(origin.lower())
    return tuple(found)


def _paths(env: dict[str, str], name: str) -> tuple[Path, ...]:
    """Comma-separated file paths (blank entries ignored)."""
    return tuple(Path(raw.strip()) for raw in (env.get(name) or "").split(",") if raw.strip())


def _networks(env: dict[str, str], name: str) -> tuple[str, ...]:
    """Comma-separated addresses or CIDR networks, each checked."""
    found: list[str] = []
    for raw in (env.get(name) or "").split(","):
        if raw.strip():
            try:
                found.append(str(ipaddress.ip_network(raw.strip(), strict=False)))
            except ValueError:
                raise SettingsError(f"{name}: {raw.strip()!r} is not an address or network") from None
    return tuple(found)


@dataclass(frozen=True)
class Settings:
    """The server's configuration. Build it with :func:`load_settings`; tests build it directly."""

    environment: str = "development"
    database_url: str | None = None
    """Owner connection (migrations, provisioning). None: start the embedded PostgreSQL under data_dir."""
    database_app_url: str | None = None
    """Runtime connection as the non-owner NOBYPASSRLS role. None: derived from database_url."""
    app_role: str = "schoolgraph_app"
    app_role_password: str | None = None
    data_dir: Path = REPO_ROOT / ".data"
    host: str = "127.0.0.1"
    port: int = 8000
    signing_key_file: Path | None = None
    signing_keys_json: str | None = None
    access_token_ttl: timedelta = timedelta(minutes=10)
    session_idle_timeout: timedelta = timedelta(minutes=30)
    session_absolute_timeout: timedelta = timedelta(hours=12)
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 65536
    argon2_parallelism: int = 4
    password_min_length: int = 15
    lockout_threshold: int = 5
    """Failed sign-ins in a row as one username from one address that lock it there."""
    account_lockout_threshold: int = 100
    """Failed sign-ins in a row from anywhere that lock the account itself (NIST SP 800-63B's ceiling)."""
    lockout_duration: timedelta = timedelta(minutes=15)
    address_failure_limit: int = 30
    address_failure_window: timedelta = timedelta(minutes=15)
    parent_code_ttl: timedelta = timedelta(days=14)
    statement_timeout_ms: int = 5000
    max_query_depth: int = 12
    max_aliases: int = 30
    max_tokens: int = 4000
    max_page_size: int = 100
    export_key_file: Path | None = None
    """The key that seals an export's password from its build to its release (``privacy.exporter``); None:
    ``<data_dir>/export-key``, made on first use. Production names a file outside the data directory."""
    export_previous_key_files: tuple[Path, ...] = ()
    """Export keys the server used before (``SCHOOLGRAPH_EXPORT_PREVIOUS_KEY_FILES``, comma-separated): they
    still unseal what they sealed, until ``schoolgraph exports reseal`` has re-sealed every pending export
    under the current key and they can be removed (``privacy.exporter.ExportKeys``)."""
    leaver_retention_days: int = 0
    """Days after their leaving date that a leaver is erased by the retention jobs step (LL-S2 (v)); 0 keeps
    leavers (the school erases them by hand)."""
    max_query_chars: int = 100_000
    """A document longer than this is refused before it is lexed."""
    max_directives: int = 8
    """Directives a document may use (``@include``, ``@skip``): more is directive overloading."""
    max_body_bytes: int = 1_000_000
    """A JSON request body; reading stops at this size (413)."""
    max_upload_bytes: int = 100 * 1024 * 1024
    """A multipart (upload) request body; reading stops at this size (413)."""
    max_json_depth: int = 32
    """Nesting of arrays and objects in a JSON body or in the ``variables`` of a GET."""
    body_timeout_seconds: int = 10
    """A JSON body must have arrived within this time of the first read (408)."""
    upload_timeout_seconds: int = 300
    """A multipart body must have arrived within this time of the first read (408)."""
    header_timeout_seconds: int = 10
    """A connection must have sent a request's headers within this time, or it is closed."""
    get_queries: bool | None = None
    """Queries over GET: None follows the environment (off in production, where no persisted queries exist)."""
    demo_password: str | None = None
    partner_token_ttl: timedelta = timedelta(minutes=15)
    """Lifetime of a partner's access token (issue 14): short, and re-checked against the approval anyway."""
    partner_secret_overlap: timedelta = timedelta(hours=24)
    """After a partner's secret is rotated, the previous one keeps working this long."""
    partner_rate_limit: int = 600
    """Requests a partner may make per ``partner_rate_window``; beyond it, 429 with Retry-After."""
    partner_rate_window: timedelta = timedelta(minutes=1)
    cors_origins: tuple[str, ...] = ()
    """Browser origins (``https://app.example.org``) that may call the API from another origin, with
    credentials; any other origin's preflight is refused and its responses carry no CORS headers."""
    cookie_same_site: str = "strict"
    """SameSite of the browser-session cookie (``strict``, ``lax``, or ``none`` for a frontend on another site)."""
    trusted_proxies: tuple[str, ...] = ()
    """Addresses or networks (CIDR) of the reverse proxies whose ``X-Forwarded-For`` is believed."""
    persisted_queries: str = "apq"
    """``apq``: Apollo's automatic persisted queries; ``registered``: only documents in the registered
    operations file run (production's choice for first-party clients); ``off``: neither."""
    registered_operations_file: Path | None = None
    """JSON ``{sha256 hex: document}`` of the registered operations (``persisted_queries=registered``)."""
    metrics: bool = True
    """``/metrics`` in the Prometheus text format."""
    metrics_token: str | None = None
    """Bearer token a scraper sends to ``/metrics``; required in production (else it is refused)."""
    log_format: str | None = None
    """``json`` (one line per request) or ``console``; None follows the environment (json in production)."""
    workers: int = 1
    """uvicorn worker processes of ``schoolgraph serve``."""
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def production(self) -> bool:
        return self.environment == "production"

    @property
    def graphiql(self) -> bool:
        """GraphiQL and introspection are development aids; production serves neither."""
        return not self.production

    @property
    def allows_get_queries(self) -> bool:
        """GET invites cross-site requests once cookies authenticate: production takes queries by POST only."""
        return not self.production if self.get_queries is None else self.get_queries

    @property
    def key_file(self) -> Path:
        return self.signing_key_file or self.data_dir / "signing-keys.json"


def load_settings(env: dict[str, str] | None = None) -> Settings:
    """Read :class:`Settings` from ``env`` (default ``os.environ``); raises :class:`SettingsError`."""
    env = dict(os.environ if env is None else env)
    if env.get("SCHOOLGRAPH_PERSISTED_QUERIES") == "registered" and not env.get(
        "SCHOOLGRAPH_REGISTERED_OPERATIONS"
    ):
        raise SettingsError(
            "SCHOOLGRAPH_PERSISTED_QUERIES=registered needs SCHOOLGRAPH_REGISTERED_OPERATIONS (the operations file)"
        )
    data_dir = Path(env.get("SCHOOLGRAPH_DATA_DIR") or REPO_ROOT / ".data")
    key_file = env.get("SCHOOLGRAPH_SIGNING_KEY_FILE")
    return Settings(
        environment=_choice(env, "SCHOOLGRAPH_ENV", "development", ("development", "test", "production")),
        database_url=env.get("DATABASE_URL") or None,
        database_app_url=env.get("DATABASE_APP_URL") or None,
        app_role=env.get("SCHOOLGRAPH_APP_ROLE") or "schoolgraph_app",
        app_role_password=env.get("SCHOOLGRAPH_APP_ROLE_PASSWORD") or None,
        data_dir=data_dir,
        host=env.get("SCHOOLGRAPH_HOST") or "127.0.0.1",
        port=_int(env, "SCHOOLGRAPH_PORT", 8000, minimum=1),
        signing_key_file=Path(key_file) if key_file else None,
        signing_keys_json=env.get("SCHOOLGRAPH_SIGNING_KEYS") or None,
        access_token_ttl=timedelta(seconds=_int(env, "SCHOOLGRAPH_ACCESS_TOKEN_SECONDS", 600, minimum=30)),
        session_idle_timeout=timedelta(minutes=_int(env, "SCHOOLGRAPH_SESSION_IDLE_MINUTES", 30, minimum=1)),
        session_absolute_timeout=timedelta(
            hours=_int(env, "SCHOOLGRAPH_SESSION_ABSOLUTE_HOURS", 12, minimum=1)
        ),
        argon2_time_cost=_int(env, "SCHOOLGRAPH_ARGON2_TIME_COST", 3, minimum=1),
        argon2_memory_kib=_int(env, "SCHOOLGRAPH_ARGON2_MEMORY_KIB", 65536, minimum=8),
        argon2_parallelism=_int(env, "SCHOOLGRAPH_ARGON2_PARALLELISM", 4, minimum=1),
        password_min_length=_int(env, "SCHOOLGRAPH_PASSWORD_MIN_LENGTH", 15, minimum=8),
        statement_timeout_ms=_int(env, "SCHOOLGRAPH_STATEMENT_TIMEOUT_MS", 5000, minimum=100),
        lockout_threshold=_int(env, "SCHOOLGRAPH_LOCKOUT_THRESHOLD", 5, minimum=1),
        account_lockout_threshold=_int(env, "SCHOOLGRAPH_ACCOUNT_LOCKOUT_THRESHOLD", 100, minimum=1),
        max_query_chars=_int(env, "SCHOOLGRAPH_MAX_QUERY_CHARS", 100_000, minimum=100),
        max_directives=_int(env, "SCHOOLGRAPH_MAX_DIRECTIVES", 8),
        max_body_bytes=_int(env, "SCHOOLGRAPH_MAX_BODY_BYTES", 1_000_000, minimum=1024),
        max_upload_bytes=_int(env, "SCHOOLGRAPH_MAX_UPLOAD_BYTES", 100 * 1024 * 1024, minimum=1024),
        max_json_depth=_int(env, "SCHOOLGRAPH_MAX_JSON_DEPTH", 32, minimum=4),
        leaver_retention_days=_int(env, "SCHOOLGRAPH_LEAVER_RETENTION_DAYS", 0),
        export_key_file=Path(env["SCHOOLGRAPH_EXPORT_KEY_FILE"])
        if env.get("SCHOOLGRAPH_EXPORT_KEY_FILE")
        else None,
        export_previous_key_files=_paths(env, "SCHOOLGRAPH_EXPORT_PREVIOUS_KEY_FILES"),
        body_timeout_seconds=_int(env, "SCHOOLGRAPH_BODY_TIMEOUT_SECONDS", 10, minimum=1),
        upload_timeout_seconds=_int(env, "SCHOOLGRAPH_UPLOAD_TIMEOUT_SECONDS", 300, minimum=1),
        header_timeout_seconds=_int(env, "SCHOOLGRAPH_HEADER_TIMEOUT_SECONDS", 10, minimum=1),
        get_queries=_switch(env, "SCHOOLGRAPH_GET_QUERIES"),
        demo_password=env.get("SCHOOLGRAPH_DEMO_PASSWORD") or None,
        partner_token_ttl=timedelta(seconds=_int(env, "SCHOOLGRAPH_PARTNER_TOKEN_SECONDS", 900, minimum=30)),
        partner_rate_limit=_int(env, "SCHOOLGRAPH_PARTNER_RATE_LIMIT", 600, minimum=1),
        cors_origins=_origins(env, "SCHOOLGRAPH_CORS_ORIGINS"),
        cookie_same_site=_choice(env, "SCHOOLGRAPH_COOKIE_SAMESITE", "strict", ("strict", "lax", "none")),
        trusted_proxies=_networks(env, "SCHOOLGRAPH_TRUSTED_PROXIES"),
        persisted_queries=_choice(env, "SCHOOLGRAPH_PERSISTED_QUERIES", "apq", ("apq", "registered", "off")),
        registered_operations_file=Path(env["SCHOOLGRAPH_REGISTERED_OPERATIONS"])
        if env.get("SCHOOLGRAPH_REGISTERED_OPERATIONS")
        else None,
        metrics=_switch(env, "SCHOOLGRAPH_METRICS") is not False,
        metrics_token=env.get("SCHOOLGRAPH_METRICS_TOKEN") or None,
        log_format=_choice(env, "SCHOOLGRAPH_LOG_FORMAT", "", ("", "json", "console")) or None,
        workers=_int(env, "SCHOOLGRAPH_WORKERS", 1, minimum=1),
    )
