"""read_imap against a real Dovecot on 127.0.0.1: plain (loopback only), STARTTLS and
imaps with a self-signed certificate, --since, read-only access, bad logins.

Dovecot (``dovecot-imapd``, installed by scripts/install-test-deps) runs from a private
config in a temporary directory; the tests skip when it is not installed.
"""

from __future__ import annotations

import gzip
import imaplib
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest

from spfmanager.discover import imap
from spfmanager.discover.imap import parse_url, read_imap, resolve_password
from spfmanager.discover.limits import Limits
from spfmanager.discover.model import Report, Skipped
from spfmanager.errors import MailboxError

pytestmark = pytest.mark.integration
DATA = Path(__file__).parent.parent / "data" / "dmarc"
USER, PASSWORD = "reports", "s3cret-pa55"
DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Server:
    plain_port: int  # imap:// with STARTTLS offered
    tls_port: int  # imaps://
    clear_port: int  # imap:// without TLS at all
    cert: Path


def _config(root: Path, port: int, tls_port: int, ssl_on: bool, cert: Path, key: Path) -> str:
    uid = os.getuid()
    mail_uid = 65534 if uid == 0 else uid  # Dovecot refuses logins as root
    ssl_lines = f"ssl = yes\nssl_cert = <{cert}\nssl_key = <{key}\n" if ssl_on else "ssl = no\n"
    user = (
        ""
        if uid == 0
        else f"default_internal_user = {os.getlogin()}\ndefault_login_user = {os.getlogin()}\n"
    )
    return f"""protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
instance_name = spfm-{port}
log_path = {root}/dovecot.log
{ssl_lines}{user}disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = 1
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={mail_uid} gid={mail_uid} home={root}/home/%u
}}
mail_location = maildir:~/Maildir
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    port = 0
  }}
}}
service submission-login {{
  inet_listener submission {{
    port = 0
  }}
}}
"""


def _wait(port: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"dovecot did not listen on {port}")


def _message(subject: str, payload: bytes | None, filename: str = "r.xml.gz") -> bytes:
    message = EmailMessage()
    message["From"] = "noreply-dmarc-support@google.com"
    message["Subject"] = subject
    message.set_content("report")
    if payload is not None:
        message.add_attachment(payload, "application", "gzip", filename=filename)
    return message.as_bytes()


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    if not Path(DOVECOT).exists() or shutil.which("openssl") is None:
        pytest.skip("dovecot-imapd and openssl are needed (scripts/install-test-deps)")
    # Not tmp_path: pytest's 0700 directories keep the unprivileged mail user out.
    root = Path(tempfile.mkdtemp(prefix="spfm-dovecot-"))
    instances: list[Path] = []
    try:
        root.chmod(0o755)
        (root / "home").mkdir()
        uid = os.getuid()
        if uid == 0:
            os.chown(root / "home", 65534, 65534)
        (root / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}::::\n", encoding="ascii")
        cert, key = root / "cert.pem", root / "key.pem"
        subprocess.run(
            [
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=127.0.0.1",
                "-addext",
                "subjectAltName=IP:127.0.0.1",
                "-keyout",
                str(key),
                "-out",
                str(cert),
            ],
            check=True,
            capture_output=True,
        )
        key.chmod(0o644)
        ports = {}
        for label, ssl_on in (("tls", True), ("clear", False)):
            directory = root / label
            directory.mkdir()
            (directory / "passwd").write_text((root / "passwd").read_text(), encoding="ascii")
            (directory / "home").symlink_to(root / "home")
            port, tls_port = _free_port(), _free_port() if ssl_on else 0
            (directory / "dovecot.conf").write_text(
                _config(directory, port, tls_port, ssl_on, cert, key), encoding="ascii"
            )
            subprocess.run([DOVECOT, "-c", str(directory / "dovecot.conf")], check=True)
            instances.append(directory)
            _wait(port)
            ports[label] = (port, tls_port)
        # Deliver through the server itself: four messages, one older than a week.
        connection = imaplib.IMAP4("127.0.0.1", ports["clear"][0])
        connection.login(USER, PASSWORD)
        sample = (DATA / "dmarc-report" / "dmarc-sample-1.xml").read_bytes()
        old = imaplib.Time2Internaldate(time.time() - 30 * 86400)
        connection.append("INBOX", None, old, _message("old report", gzip.compress(sample)))
        connection.append("INBOX", None, None, _message("new report", gzip.compress(sample)))
        connection.append("INBOX", None, None, _message("lunch?", None))
        connection.append("INBOX", None, None, _message("bomb", b"\x1f\x8b" + b"junk"))
        connection.create('"DMARC Reports"')
        connection.logout()
        yield Server(ports["tls"][0], ports["tls"][1], ports["clear"][0], cert)
    finally:
        for directory in instances:
            subprocess.run(
                ["doveadm", "-c", str(directory / "dovecot.conf"), "stop"],
                capture_output=True,
                check=False,
            )
        shutil.rmtree(root, ignore_errors=True)


def _trusting(server: Server) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(server.cert))


def test_plain_imap_on_loopback_reads_every_message(server: Server) -> None:
    results = list(read_imap(f"imap://{USER}@127.0.0.1:{server.clear_port}/INBOX", PASSWORD))
    reports = [r for r in results if isinstance(r, Report)]
    skipped = [r for r in results if isinstance(r, Skipped)]
    assert len(reports) == 2 and all(r.org_name == "Google, Inc." for r in reports)
    assert reports[0].source.startswith(f"imap://{USER}@127.0.0.1:{server.clear_port}/INBOX/;UID=")
    assert reports[0].source.endswith("!r.xml.gz")
    assert {s.reason.split(" (")[0] for s in skipped} >= {
        "a message without a DMARC report attached"
    }
    assert any("gzip" in s.reason for s in skipped)


def test_starttls_and_imaps_with_a_trusted_certificate(server: Server) -> None:
    context = _trusting(server)
    for url in (
        f"imap://{USER}@127.0.0.1:{server.plain_port}",
        f"imaps://{USER}@127.0.0.1:{server.tls_port}/INBOX",
    ):
        reports = [
            r for r in read_imap(url, PASSWORD, ssl_context=context) if isinstance(r, Report)
        ]
        assert len(reports) == 2, url
    with pytest.raises(MailboxError, match="cannot connect"):
        read_imap(f"imaps://{USER}@127.0.0.1:{server.tls_port}/INBOX", PASSWORD)  # untrusted


def test_since_and_read_only(server: Server) -> None:
    url = f"imap://{USER}@127.0.0.1:{server.clear_port}/INBOX"
    recent = list(read_imap(url, PASSWORD, since=date.today() - timedelta(days=7)))
    assert len([r for r in recent if isinstance(r, Report)]) == 1
    connection = imaplib.IMAP4("127.0.0.1", server.clear_port)
    connection.login(USER, PASSWORD)
    connection.select("INBOX", readonly=True)
    status, data = connection.search(None, "UNSEEN")
    connection.logout()
    assert status == "OK" and len(data[0].split()) == 4  # nothing was marked seen


def test_limits_apply_to_imap_messages(server: Server) -> None:
    url = f"imap://{USER}@127.0.0.1:{server.clear_port}/INBOX"
    results = list(read_imap(url, PASSWORD, Limits(max_message_bytes=500)))
    assert results and not any(isinstance(r, Report) for r in results)
    over = [r for r in results if isinstance(r, Skipped) and "max_message_bytes" in r.reason]
    assert len(over) == 3  # the two reports and the bomb; "lunch?" is smaller


def test_errors_never_show_the_password(server: Server) -> None:
    with pytest.raises(MailboxError, match="refused") as raised:
        read_imap(f"imap://{USER}@127.0.0.1:{server.clear_port}/", PASSWORD + "x")
    assert PASSWORD not in str(raised.value)
    with pytest.raises(MailboxError, match="cannot open mailbox"):
        read_imap(f"imap://{USER}@127.0.0.1:{server.clear_port}/Nope", PASSWORD)
    empty = read_imap(f"imap://{USER}@127.0.0.1:{server.clear_port}/DMARC%20Reports", PASSWORD)
    assert list(empty) == []
    with pytest.raises(MailboxError, match="cannot connect"):
        read_imap(f"imap://{USER}@127.0.0.1:{_free_port()}/", PASSWORD, timeout=2)


def test_urls_and_password_references(monkeypatch: pytest.MonkeyPatch) -> None:
    where = parse_url("imaps://me%40example.com@mail.example.com/Reports%202026")
    assert (where.user, where.host, where.port, where.mailbox) == (
        "me@example.com",
        "mail.example.com",
        993,
        "Reports 2026",
    )
    assert parse_url("imap://u@127.0.0.1").mailbox == "INBOX"
    assert parse_url("imap://u@127.0.0.1").loopback
    assert not parse_url("imap://u@localhost").loopback
    for bad in ("http://u@h/", "imap://h/", "imaps://u:pw@h/", "imap://u@h:99999/"):
        with pytest.raises(MailboxError):
            parse_url(bad)
    monkeypatch.setenv("SPFM_IMAP_PASSWORD", "pw")
    assert resolve_password("env:SPFM_IMAP_PASSWORD") == "pw"
    with pytest.raises(MailboxError, match="not set"):
        resolve_password("env:SPFM_NO_SUCH_VARIABLE")
    with pytest.raises(MailboxError, match="env:NAME"):
        resolve_password("pw")


def test_no_starttls_to_a_remote_host_is_refused(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The clear server offers no STARTTLS: seen as a remote host, it is refused.
    monkeypatch.setattr(imap.MailboxURL, "loopback", property(lambda self: False))
    with pytest.raises(MailboxError, match="no STARTTLS"):
        read_imap(f"imap://{USER}@127.0.0.1:{server.clear_port}/", PASSWORD)
