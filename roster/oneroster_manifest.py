"""A OneRoster package's manifest.csv and file list: which version it is, which files it has, and whether
each is read in bulk, delta or not at all.
"""

from __future__ import annotations

import difflib

from roster.csvio import TableSpec, read_header_only, read_rows
from roster.oneroster_spec import IGNORED_FILES, MANIFEST_KEYS, MANIFEST_VALUES, table_spec
from roster.package import Package
from roster.problems import ProblemLog
from roster.reading import ABSENT, BULK, DELTA
from roster.values import Values

MANIFEST = "manifest.csv"


def read_manifest(package: Package, log: ProblemLog) -> tuple[dict[str, str], str]:
    """The manifest's properties (misspelt keys read as the close one, with a warning) and the OneRoster
    version, "1.1" or "1.2" (from the files present when the manifest does not say; "1.1" when it is
    missing or unsupported, which are errors)."""
    if MANIFEST not in package.files:
        log.error(
            "MISSING_FILE",
            "manifest.csv is missing: a OneRoster package declares its version and files there.",
            file=MANIFEST,
            expected=MANIFEST,
        )
        return {}, "1.1"
    spec = TableSpec(MANIFEST, ("propertyName", "value"), frozenset({"propertyName"}))
    table = read_header_only(package, spec, log)
    if table is None:
        return {}, "1.1"
    values = Values(log, MANIFEST)
    manifest: dict[str, str] = {}
    for row_no, row in read_rows(package, table, log):
        key = _known_key(log, row_no, table.get(row, "propertyName"))
        if key is None:
            continue
        value = table.get(row, "value")
        if key.startswith("file."):
            if not value:
                log.warning(
                    "MANIFEST_VALUE_MISSING",
                    f"{key} has no value: read as absent.",
                    file=MANIFEST,
                    row=row_no,
                    column="value",
                )
                value = ABSENT
            else:
                value = values.enum(row_no, "value", value, MANIFEST_VALUES) or ABSENT
        manifest[key] = value
    return manifest, _version(package, log, manifest.get("oneroster.version", ""))


def _known_key(log: ProblemLog, row_no: int, key: str) -> str | None:
    """The manifest property ``key`` is, or a close one it is read as (with a warning), or None (ignored)."""
    if key in MANIFEST_KEYS:
        return key
    guess = difflib.get_close_matches(key, sorted(MANIFEST_KEYS), n=1, cutoff=0.8)
    if guess:
        log.warning(
            "UNKNOWN_MANIFEST_KEY",
            f"{key!r} is not a manifest property: read as {guess[0]!r}.",
            file=MANIFEST,
            row=row_no,
            column="propertyName",
            expected=guess[0],
        )
        return guess[0]
    log.warning(
        "UNKNOWN_MANIFEST_KEY",
        f"{key!r} is not a manifest property and is ignored.",
        file=MANIFEST,
        row=row_no,
        column="propertyName",
    )
    return None


def _version(package: Package, log: ProblemLog, version: str) -> str:
    if version in ("1.1", "1.0"):
        return "1.1"
    if version == "1.2":
        return "1.2"
    if not version:
        guessed = "1.2" if "roles.csv" in package.files else "1.1"
        log.warning(
            "MANIFEST_VALUE_MISSING",
            f"oneroster.version is missing: read as {guessed} from the files present.",
            file=MANIFEST,
            column="value",
        )
        return guessed
    log.error(
        "UNSUPPORTED_VERSION",
        f"OneRoster version {version!r} is not supported (1.1 or 1.2).",
        file=MANIFEST,
        column="value",
    )
    return "1.1"


def file_modes(
    package: Package,
    log: ProblemLog,
    manifest: dict[str, str],
    specs: dict[str, tuple[str, ...]],
    *,
    mode_override: str,
    org_known: bool,
) -> dict[str, str]:
    """Each file the manifest declares and the package has, with its mode (bulk or delta; ``mode_override``
    replaces a declared one). Reports files misnamed, unknown, missing or present but declared absent.
    ``org_known``: the school's org is set, so orgs.csv is not needed."""
    _check_names(package, log, specs)
    present = set(package.files)
    modes: dict[str, str] = {}
    for file in specs:
        declared = manifest.get(f"file.{file[:-4]}", ABSENT)
        if mode_override in (BULK, DELTA) and declared != ABSENT:
            declared = mode_override
        if declared == ABSENT and file in present:
            log.warning(
                "FILE_NOT_IN_MANIFEST",
                f"{file} is present but the manifest says it is absent: it is ignored.",
                file=file,
            )
        if declared != ABSENT and file not in present:
            if file.lower() not in {p.lower() for p in present}:
                log.error(
                    "MISSING_FILE",
                    f"The manifest lists {file} as {declared} but the package has no such file.",
                    file=file,
                    expected=file,
                )
            continue
        modes[file] = declared
    if modes.get("orgs.csv", ABSENT) == ABSENT and not org_known:
        log.error(
            "MISSING_FILE",
            "orgs.csv is needed to see that the package is this school's (or set this school's "
            "OneRoster org first).",
            file="orgs.csv",
            expected="orgs.csv",
        )
    return modes


def _check_names(package: Package, log: ProblemLog, specs: dict[str, tuple[str, ...]]) -> None:
    """Files OneRoster does not define (ignored), and files named in the wrong case (an error)."""
    known = {name.lower(): name for name in [*specs, *IGNORED_FILES, MANIFEST]}
    for name in sorted(package.files):
        right = known.get(name.lower())
        if right is None:
            log.warning("UNKNOWN_FILE", f"{name} is not a OneRoster file and is ignored.", file=name)
        elif right != name:
            log.error(
                "FILE_NAME_CASE",
                f"{name} must be named {right} (OneRoster file names are case-sensitive).",
                file=name,
                expected=right,
            )
            if right in specs:
                # Check its header too, so the report says everything wrong with it at once.
                read_header_only(package, table_spec(right, specs[right], name=name), log)
