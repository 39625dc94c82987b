"""Real mail peers for the SMTP gateway's tests: a sink (an aiosmtpd server that keeps what it is given)
and a private Postfix instance (its own configuration, queue and ports; never the system's) that
relays everything to one host:port and retries a deferred message every second."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from email.policy import SMTP
from pathlib import Path

import psutil
from aiosmtpd.controller import Controller

from tests.faults import free_port


class Sink:
    """A real SMTP server that keeps what it is given: (sender, recipients, raw message) per message."""

    def __init__(self):
        self.got: list[tuple[str, list[str], bytes]] = []
        self.lock = threading.Lock()
        self.controller: Controller | None = None

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        with self.lock:
            self.got.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 OK"

    def start(self) -> Sink:
        self.controller = Controller(self, hostname="127.0.0.1", port=free_port())
        self.controller.start()
        return self

    @property
    def port(self) -> int:
        return self.controller.port

    def stop(self) -> None:
        self.controller.stop()

    def recipients(self) -> list[str]:
        """Every recipient of every message that arrived, one entry per copy."""
        with self.lock:
            return [r for _, rcpts, _ in self.got for r in rcpts]


def postfix_or_skip() -> None:
    """Skip (saying why) where a private Postfix cannot run; `.ci/run` sets SUPPRESSOR_REQUIRE_POSTFIX."""
    import pytest

    why = None
    if shutil.which("postfix") is None or shutil.which("postconf") is None:
        why = "no postfix on PATH (Debian: apt-get install postfix, 'No configuration')"
    elif os.geteuid() != 0:
        why = "a Postfix master process must start as root"
    else:
        try:
            pwd.getpwnam("postfix")
        except KeyError:
            why = "no 'postfix' user (the Debian package creates it)"
    if why:
        if os.environ.get("SUPPRESSOR_REQUIRE_POSTFIX") == "1":
            pytest.fail(f"{why}, and SUPPRESSOR_REQUIRE_POSTFIX=1")
        pytest.skip(why)


class Postfix:
    """A private Postfix 3 instance: ``postfix -c <dir> start`` on its own config, queue and data
    directories, accepting mail from loopback on ``port`` and relaying all of it to ``relay``."""

    def __init__(self, relay: tuple[str, int], **params: str):
        # daemons run as the postfix user: the tree must be reachable by it (pytest's tmp_path is not)
        self.root = Path(tempfile.mkdtemp(prefix="suppressor-postfix-", dir="/tmp"))
        self.root.chmod(0o755)
        self.conf, self.queue, self.data = self.root / "conf", self.root / "queue", self.root / "data"
        for d in (self.conf, self.queue, self.data):
            d.mkdir()
        shutil.chown(self.data, "postfix")
        self.port = free_port()
        self.maillog = self.root / "maillog"
        shutil.copy("/usr/share/postfix/master.cf.dist", self.conf / "master.cf")
        (self.conf / "main.cf").write_text("")
        self.params = {
            "compatibility_level": "3.6",
            "config_directory": str(self.conf),
            "queue_directory": str(self.queue),
            "data_directory": str(self.data),
            "myhostname": "mta.test.example",
            "mydestination": "",
            "inet_interfaces": "127.0.0.1",
            "inet_protocols": "ipv4",
            "mynetworks": "127.0.0.0/8",
            "relayhost": f"[{relay[0]}]:{relay[1]}",
            "alias_maps": "",
            "alias_database": "",
            "maillog_file": str(self.maillog),
            "maillog_file_prefixes": str(self.root),
            # retry a deferred message about every second (the gateway's 451s are what is under test)
            "queue_run_delay": "1s",
            "minimal_backoff_time": "1s",
            "maximal_backoff_time": "1s",
            "default_destination_recipient_limit": "1000",
            "smtp_destination_recipient_limit": "1000",
            "smtp_tls_security_level": "none",
            "biff": "no",
            **params,
        }
        self._postconf("-e", *(f"{k}={v}" for k, v in self.params.items()))
        self._postconf("-MX", "smtp/inet")  # the system instance's port 25: not ours
        self._postconf("-M", f"127.0.0.1:{self.port}/inet=127.0.0.1:{self.port} inet n - n - - smtpd")
        self._postconf("-F", "*/*/chroot = n")  # a chroot would need copies of /etc files in the queue

    def _postconf(self, *args: str) -> None:
        subprocess.run(["postconf", "-c", str(self.conf), *args], check=True, capture_output=True, timeout=30)

    def _postfix(self, command: str) -> subprocess.CompletedProcess:
        return subprocess.run(["postfix", "-c", str(self.conf), command], capture_output=True, text=True, timeout=60)

    def start(self) -> Postfix:
        done = self._postfix("start")
        deadline = time.monotonic() + 30
        while done.returncode == 0 and time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    if s.recv(100).startswith(b"220"):
                        return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"private postfix did not start ({done.returncode}): {done.stderr}\n{self.log()[-3000:]}")

    def stop(self) -> None:
        pid_file = self.queue / "pid" / "master.pid"
        pid = int(pid_file.read_text().split()[0]) if pid_file.exists() else None
        self._postfix("stop")
        deadline = time.monotonic() + 20
        while pid and psutil.pid_exists(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        shutil.rmtree(self.root, ignore_errors=True)

    def log(self) -> str:
        """Its mail log so far."""
        return self.maillog.read_text() if self.maillog.exists() else ""

    def queued(self) -> list[dict]:
        """What waits in its queue (``postqueue -j``): one dict per message, with its recipients."""
        out = subprocess.run(["postqueue", "-c", str(self.conf), "-j"], capture_output=True, text=True, timeout=30)
        return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]

    def flush(self) -> None:
        """Ask it to try every queued message now (``postqueue -f``, as an operator would)."""
        subprocess.run(["postqueue", "-c", str(self.conf), "-f"], capture_output=True, timeout=30)

    def wait_for(self, predicate, seconds: float = 30.0, what: str = "postfix", flush: bool = False) -> None:
        """Poll ``predicate(log)`` until it holds (``flush``: asking Postfix to try the queue every second
        meanwhile); AssertionError with the log's tail when it does not."""
        deadline = time.monotonic() + seconds
        flushed = time.monotonic()
        while time.monotonic() < deadline:
            if predicate(self.log()):
                return
            if flush and time.monotonic() - flushed > 1:
                self.flush()
                flushed = time.monotonic()
            time.sleep(0.2)
        raise AssertionError(f"{what} not seen within {seconds} s; postfix log:\n{self.log()[-4000:]}")


def wire(message) -> bytes:
    """A message as it goes over SMTP (CRLF line ends), for smtplib's ``data`` and ``sendmail``."""
    return message.as_bytes(policy=SMTP)
