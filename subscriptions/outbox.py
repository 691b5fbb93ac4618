"""The notification outbox: written in the transaction of the change it announces, sent by a job step.

A notice is only ever queued together with its change (a novation proposed, a licence renewed, a price
change, a suspension), so a change that rolls back never announces itself. ``schoolgraph jobs run`` sends
what is queued: by e-mail through SMTP when ``SCHOOLGRAPH_SMTP_HOST`` is set, otherwise as a log line on
``schoolgraph.outbox``. STARTTLS (on unless ``SCHOOLGRAPH_SMTP_STARTTLS`` is false) checks the relay's
certificate and name against the system's CAs, or ``SCHOOLGRAPH_SMTP_CA_FILE`` for a relay with a private CA. Each message is locked while it is sent (``FOR UPDATE SKIP LOCKED``), so two
runners never send the same one; a failed send is retried on the next run, up to five attempts.

Recipients are resolved at sending time: the Super-Users of a school (LRS "Super-User": up to three
nominated school admins, LL 21 / LRS 3: they hear of changes to the agreement), or a trust's admins.
"""

from __future__ import annotations

import asyncio
import logging
import os
import smtplib
import ssl
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage

from sqlalchemy import and_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from models import Account, Staff
from models.platform import OutboxMessage, SuperUser, TrustAdminAccount
from tenants.context import bound
from tenants.scoping import in_school, same_school

log = logging.getLogger("schoolgraph.outbox")
MAX_ATTEMPTS = 5


@dataclass(frozen=True)
class MailSettings:
    """SMTP settings, read from the environment (``SCHOOLGRAPH_SMTP_*``); no host means "log instead"."""

    host: str | None = None
    port: int = 587
    username: str | None = None
    password: str | None = None
    sender: str = "schoolgraph@localhost"
    starttls: bool = True
    ca_file: str | None = None
    """PEM file of the CAs that sign the SMTP server's certificate (a private CA); else the system's."""

    def tls_context(self) -> ssl.SSLContext:
        """What STARTTLS checks the server against: its certificate chain and its name (``host``)."""
        return ssl.create_default_context(cafile=self.ca_file)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> MailSettings:
        env = dict(os.environ if env is None else env)
        port = env.get("SCHOOLGRAPH_SMTP_PORT") or "587"
        if not port.isdigit():
            raise ValueError(f"SCHOOLGRAPH_SMTP_PORT={port!r}: expected a port number")
        return cls(
            host=env.get("SCHOOLGRAPH_SMTP_HOST") or None,
            port=int(port),
            username=env.get("SCHOOLGRAPH_SMTP_USER") or None,
            password=env.get("SCHOOLGRAPH_SMTP_PASSWORD") or None,
            sender=env.get("SCHOOLGRAPH_SMTP_FROM") or "schoolgraph@localhost",
            starttls=(env.get("SCHOOLGRAPH_SMTP_STARTTLS") or "true").lower() not in ("0", "false", "no"),
            ca_file=env.get("SCHOOLGRAPH_SMTP_CA_FILE") or None,
        )


@dataclass(frozen=True)
class Recipient:
    name: str
    email: str


async def enqueue(
    session: AsyncSession,
    *,
    kind: str,
    subject: str,
    body: str,
    now: datetime,
    tenant_id: uuid.UUID | None = None,
    trust_id: uuid.UUID | None = None,
    dedupe_key: str | None = None,
) -> None:
    """Queue one notice to a school's Super-Users (``tenant_id``) or a trust's admins (``trust_id``).

    With a ``dedupe_key``, a second notice with the same key is silently dropped (a job raising the same
    notice again is a no-op).
    """
    if (tenant_id is None) == (trust_id is None):
        raise ValueError("a notice goes to one school's Super-Users or one trust's admins")
    stmt = insert(OutboxMessage).values(
        id=uuid.uuid4(),
        kind=kind,
        audience="SUPER_USERS" if tenant_id is not None else "TRUST_ADMINS",
        tenant_id=tenant_id,
        trust_id=trust_id,
        subject=subject[:200],
        body=body[:4000],
        dedupe_key=dedupe_key,
        created_at=now,
        recipients=0,
        attempts=0,
    )
    await session.execute(stmt.on_conflict_do_nothing(index_elements=["dedupe_key"]))


async def recipients(session: AsyncSession, message: OutboxMessage) -> list[Recipient]:
    if message.audience == "TRUST_ADMINS":
        rows = await session.execute(
            select(TrustAdminAccount.display_name, TrustAdminAccount.email)
            .where(
                TrustAdminAccount.trust_id == message.trust_id,
                TrustAdminAccount.status.in_(("ACTIVE", "PENDING")),  # type: ignore[attr-defined]
            )
            .order_by(TrustAdminAccount.username)
        )
        return [Recipient(name, email) for name, email in rows.all()]
    assert message.tenant_id is not None
    school = message.tenant_id
    async with bound(session, [school]):
        rows = await session.execute(
            select(Staff.forename, Staff.surname, Staff.work_email)
            .select_from(SuperUser)
            .join(Account, and_(same_school(Account, SuperUser), Account.id == SuperUser.account_id))
            .join(Staff, and_(same_school(Staff, Account), Staff.id == Account.staff_id))
            .where(
                in_school(SuperUser, school),
                Account.status.in_(("ACTIVE", "PENDING")),  # type: ignore[attr-defined]
            )
            .order_by(Staff.surname, Staff.forename)
        )
        return [Recipient(f"{f} {s}", email) for f, s, email in rows.all()]


def _send_smtp(mail: MailSettings, message: OutboxMessage, to: Sequence[Recipient]) -> None:
    assert mail.host is not None
    email = EmailMessage()
    email["From"] = mail.sender
    email["To"] = ", ".join(f"{r.name} <{r.email}>" for r in to)
    email["Subject"] = message.subject
    email.set_content(message.body)
    with smtplib.SMTP(mail.host, mail.port, timeout=30) as smtp:
        if mail.starttls:
            # smtplib's own default would accept any certificate; this one checks chain and host name.
            smtp.starttls(context=mail.tls_context())
        if mail.username and mail.password:
            smtp.login(mail.username, mail.password)
        smtp.send_message(email)


async def deliver(mail: MailSettings, message: OutboxMessage, to: Sequence[Recipient]) -> None:
    """Send by SMTP when configured; otherwise log the notice (subject and how many it is for)."""
    if not to:
        log.info("outbox %s (%s): no recipients; %s", message.id, message.kind, message.subject)
        return
    if mail.host is None:
        log.info("outbox %s (%s) to %d recipient(s): %s", message.id, message.kind, len(to), message.subject)
        return
    await asyncio.to_thread(_send_smtp, mail, message, list(to))


def pick_unsent(skip: Sequence[uuid.UUID]) -> object:
    stmt = (
        select(OutboxMessage)
        .where(OutboxMessage.sent_at.is_(None), OutboxMessage.attempts < MAX_ATTEMPTS)  # type: ignore[union-attr]
        .order_by(OutboxMessage.created_at, OutboxMessage.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    if skip:
        stmt = stmt.where(OutboxMessage.id.not_in(skip))  # type: ignore[attr-defined]
    return stmt


async def send_one(session: AsyncSession, mail: MailSettings, message: OutboxMessage, now: datetime) -> bool:
    """Send a locked message and mark it; True when sent, False when it failed (to be retried)."""
    message.attempts += 1
    try:
        to = await recipients(session, message)
        await deliver(mail, message, to)
    except (OSError, smtplib.SMTPException) as error:
        message.last_error = f"{type(error).__name__}: {error}"[:500]
        await session.flush()
        return False
    message.sent_at = now
    message.recipients = len(to)
    message.last_error = None
    await session.flush()
    return True
