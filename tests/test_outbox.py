"""Sending the outbox by SMTP, against a real server on 127.0.0.1: STARTTLS checked against the relay's CA,
authentication, and a refused send kept for the next run with its reason."""

from __future__ import annotations

import uuid
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from models.platform import OutboxMessage
from subscriptions.outbox import MailSettings, enqueue, send_one
from tests.factories import clock
from tests.factories.mail import mail_server
from tests.factories.trusts import TrustData, TrustFactory


async def _queued(engine: AsyncEngine, trust: TrustData) -> uuid.UUID:
    """One notice to the trust's admins, queued as a change would queue it."""
    key = f"test-{uuid.uuid4().hex}"
    async with AsyncSession(engine) as session, session.begin():
        await enqueue(
            session,
            kind="TEST_NOTICE",
            subject=f"A notice for {trust.name}",
            body="Something about your schools changed.",
            now=clock.now(),
            trust_id=trust.id,
            dedupe_key=key,
        )
        found = await session.execute(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == key))
        message_id: uuid.UUID = found.scalar_one()
        return message_id


async def _send(engine: AsyncEngine, mail: MailSettings, message_id: uuid.UUID) -> tuple[bool, OutboxMessage]:
    """Send that one message as the outbox step does (locked, then marked); its row afterwards."""
    async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
        message = (
            await session.execute(
                select(OutboxMessage).where(OutboxMessage.id == message_id).with_for_update()
            )
        ).scalar_one()
        sent = await send_one(session, mail, message, clock.now())
    return sent, message


async def test_a_notice_is_sent_over_starttls_with_authentication(
    engine: AsyncEngine, trusts: TrustFactory, tmp_path: Path
) -> None:
    """The relay's certificate is checked against the configured CA file; the message goes to every admin
    of the trust, from the configured sender, under the configured account, and is marked sent."""
    trust = await trusts.trust(admins=("trustadmin", "deputy"))
    message_id = await _queued(engine, trust)
    with mail_server(tmp_path) as smtp:
        sent, message = await _send(engine, smtp.settings(), message_id)
    assert sent is True
    assert (message.sent_at, message.recipients, message.attempts, message.last_error) == (
        clock.now(),
        2,
        1,
        None,
    )
    (delivered,) = smtp.to(f"trustadmin@{trust.slug}.example")
    assert delivered.rcpt_tos == [f"deputy@{trust.slug}.example", f"trustadmin@{trust.slug}.example"]
    assert (delivered.mail_from, delivered.login, delivered.over_tls) == (
        "notices@schoolgraph.test",
        "schoolgraph-notices",
        True,
    )
    assert delivered.message["Subject"] == f"A notice for {trust.name}"
    assert delivered.message.get_content().strip() == "Something about your schools changed."


async def test_a_relay_whose_certificate_is_not_trusted_gets_nothing(
    engine: AsyncEngine, trusts: TrustFactory, tmp_path: Path
) -> None:
    """Without the relay's CA the handshake fails: nothing is sent (no password crosses in clear), and the
    notice stays queued with the reason, to be retried once the CA is configured."""
    trust = await trusts.trust()
    message_id = await _queued(engine, trust)
    with mail_server(tmp_path) as smtp:
        sent, message = await _send(engine, smtp.settings(ca_file=None), message_id)
        assert sent is False and smtp.delivered == []
        assert message.sent_at is None and message.attempts == 1
        assert message.last_error is not None and "CERTIFICATE_VERIFY_FAILED" in message.last_error

        retried, message = await _send(engine, smtp.settings(), message_id)
    assert retried is True and message.attempts == 2 and message.last_error is None
    assert len(smtp.to(f"trustadmin@{trust.slug}.example")) == 1


async def test_a_wrong_relay_password_is_refused_and_the_notice_kept(
    engine: AsyncEngine, trusts: TrustFactory, tmp_path: Path
) -> None:
    """The relay refuses a wrong password; the notice is not lost but kept with the reason."""
    trust = await trusts.trust()
    message_id = await _queued(engine, trust)
    with mail_server(tmp_path) as smtp:
        sent, message = await _send(engine, smtp.settings(password="not the relay password"), message_id)
    assert sent is False and smtp.delivered == []
    assert message.sent_at is None and message.attempts == 1
    assert message.last_error is not None and message.last_error.startswith("SMTPAuthenticationError")


def test_the_ca_file_is_read_from_the_environment() -> None:
    """``SCHOOLGRAPH_SMTP_CA_FILE`` names the relay's CA; without it the system's CAs are used."""
    with_ca = MailSettings.from_env(
        {"SCHOOLGRAPH_SMTP_HOST": "relay.example", "SCHOOLGRAPH_SMTP_CA_FILE": "/etc/ca.pem"}
    )
    assert (with_ca.host, with_ca.ca_file, with_ca.starttls) == ("relay.example", "/etc/ca.pem", True)
    assert MailSettings.from_env({"SCHOOLGRAPH_SMTP_HOST": "relay.example"}).ca_file is None
