"""A real SMTP server for tests: aiosmtpd on 127.0.0.1, STARTTLS required, then authentication required.

The server's certificate is signed by a certificate authority made for the test (``cryptography``), so the
sending side must be told of that CA (``MailSettings.ca_file``), exactly as a deployment whose mail relay
has a private CA; a client that trusts only the system's CAs is refused at the handshake. Every message the
server accepts is kept, parsed, with the account it was sent under and whether it came over TLS.
"""

from __future__ import annotations

import dataclasses
import email
import email.policy
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from subscriptions.outbox import MailSettings

HOST = "127.0.0.1"
USERNAME = "schoolgraph-notices"
PASSWORD = "relay password for the tests"
VALID_FROM = datetime(2000, 1, 1, tzinfo=UTC)
VALID_UNTIL = datetime(2099, 12, 31, tzinfo=UTC)


@dataclass(frozen=True)
class Delivered:
    """One message as the server accepted it."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    login: str
    """The account the client authenticated as."""
    over_tls: bool


@dataclass
class MailServer:
    """A running server: where it listens, the CA that signs its certificate, what it has accepted."""

    port: int
    ca_file: Path
    delivered: list[Delivered] = field(default_factory=list)

    def settings(self, **changes: Any) -> MailSettings:
        """Settings that reach this server, STARTTLS and authentication included; ``changes`` override."""
        base = MailSettings(
            host=HOST,
            port=self.port,
            username=USERNAME,
            password=PASSWORD,
            sender="notices@schoolgraph.test",
            starttls=True,
            ca_file=str(self.ca_file),
        )
        return dataclasses.replace(base, **changes)

    def to(self, address: str) -> list[Delivered]:
        """The messages delivered to ``address`` (the server may see other tests' notices too)."""
        return [d for d in self.delivered if address in d.rcpt_tos]


class _Inbox:
    def __init__(self, server: MailServer) -> None:
        self.server = server

    async def handle_DATA(self, smtp: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        message = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.server.delivered.append(
            Delivered(
                mail_from=str(envelope.mail_from),
                rcpt_tos=list(envelope.rcpt_tos),
                message=message,
                login=str(session.auth_data),
                over_tls=session.ssl is not None,
            )
        )
        return "250 Message accepted for delivery"


def _authenticate(smtp: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any) -> AuthResult:
    if (
        isinstance(data, LoginPassword)
        and data.login.decode() == USERNAME
        and data.password.decode() == PASSWORD
    ):
        return AuthResult(success=True, auth_data=USERNAME)
    return AuthResult(success=False, handled=False)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_certificates(directory: Path) -> tuple[Path, ssl.SSLContext]:
    """A CA (its certificate written to ``ca.pem``) and a server certificate for 127.0.0.1 that it signs.

    Returns the CA file and the server's TLS context. OpenSSL checks validity against the host's clock, so
    the certificates are valid for decades either side of any plausible run rather than around a "now".
    """
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(_name("schoolgraph test CA"))
        .issuer_name(_name("schoolgraph test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(VALID_FROM)
        .not_valid_after(VALID_UNTIL)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(_name("mail relay"))
        .issuer_name(ca_cert.subject)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(VALID_FROM)
        .not_valid_after(VALID_UNTIL)
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(IPv4Address(HOST))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_file = directory / "ca.pem"
    ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    chain = directory / "server.pem"
    chain.write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    key = directory / "server.key"
    key.write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(chain, key)
    return ca_file, context


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


@contextmanager
def mail_server(directory: Path) -> Iterator[MailServer]:
    """Run the server for the block; it has stopped listening when the block ends."""
    ca_file, tls = make_certificates(directory)
    server = MailServer(port=_free_port(), ca_file=ca_file)
    controller = Controller(
        _Inbox(server),
        hostname=HOST,
        port=server.port,
        tls_context=tls,
        require_starttls=True,
        auth_required=True,
        auth_require_tls=True,
        authenticator=_authenticate,
    )
    controller.start()  # returns once the server accepts connections
    try:
        yield server
    finally:
        controller.stop()
