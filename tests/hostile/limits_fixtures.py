"""A real ``gateway serve --public-port`` process with small limits, and raw HTTP over loopback."""

from __future__ import annotations

import os
import select
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy.engine import URL

from gateway.kit.crypto import generate_key_entry
from gateway.kit.db import sync_url
from tests.fixtures.servers import free_port

HEADER_TIMEOUT = 1.0
MAX_HEADER_BYTES = 8192
MAX_HEADER_COUNT = 40
MAX_BODY_BYTES = 256 * 1024
PROXY_MAX_BODY_BYTES = 2 * 1024 * 1024


@dataclass(frozen=True)
class Gateway:
    process: subprocess.Popen[bytes]
    internal: int
    public: int

    def rss_kib(self) -> int:
        with open(f"/proc/{self.process.pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise AssertionError("no VmRSS")


@pytest.fixture(scope="module")
def gateway(database_url: URL) -> Iterator[Gateway]:
    internal, public = free_port(), free_port()
    env = {
        **os.environ,
        "GATEWAY_DATABASE_URL": sync_url(database_url),
        "GATEWAY_ENCRYPTION_KEYS": generate_key_entry("k1"),
        "GATEWAY_PUBLIC_URL": f"http://127.0.0.1:{public}",
        "GATEWAY_CONTIO_WEBHOOK_SECRETS": "whsec-test",
        "GATEWAY_CONTIO_CLIENT_ID": "limits-client",
        "GATEWAY_CONTIO_CLIENT_SECRET": "limits-secret",
        "GATEWAY_LOG_FORMAT": "text",
        "GATEWAY_LOG_LEVEL": "WARNING",
        "GATEWAY_HEADER_TIMEOUT_SECONDS": str(HEADER_TIMEOUT),
        "GATEWAY_MAX_HEADER_BYTES": str(MAX_HEADER_BYTES),
        "GATEWAY_MAX_HEADER_COUNT": str(MAX_HEADER_COUNT),
        "GATEWAY_MAX_BODY_BYTES": str(MAX_BODY_BYTES),
        "GATEWAY_PROXY_MAX_BODY_BYTES": str(PROXY_MAX_BODY_BYTES),
    }
    command = [sys.executable, "-m", "gateway", "serve", "--no-worker"]
    command += ["--port", str(internal), "--public-port", str(public)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                ports = (internal, public)
                if all(
                    httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
                    for port in ports
                ):
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                output = process.stderr.read().decode(errors="replace") if process.stderr else ""
                raise RuntimeError(f"serve did not start: {output}")
            time.sleep(0.05)
        yield Gateway(process, internal, public)
    finally:
        process.terminate()
        process.wait(10)


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes


def connect(port: int, timeout: float = 5.0) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def read_reply(sock: socket.socket) -> Reply | None:
    """The response on ``sock`` (None if it was closed without one)."""
    data = b""
    while b"\r\n\r\n" not in data:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(
        (name.strip().lower(), value.strip())
        for name, _, value in (line.partition(":") for line in lines[1:])
    )
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return Reply(int(lines[0].split()[1]), headers, body)


def request_head(method: str, path: str, headers: Iterable[tuple[str, str]] = ()) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{name}: {value}" for name, value in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def send_stream(sock: socket.socket, chunks: Iterable[bytes]) -> int:
    """Send ``chunks`` until they end, the server answers or it stops taking them; the bytes
    taken."""
    sent = 0
    for chunk in chunks:
        if select.select([sock], [], [], 0)[0]:
            break
        try:
            sock.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            break
        sent += len(chunk)
    return sent


def zeros(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    block = b"0" * size
    while total > 0:
        yield block[:total]
        total -= size


def chunked(chunks: Iterable[bytes]) -> Iterator[bytes]:
    for chunk in chunks:
        yield b"%x\r\n%s\r\n" % (len(chunk), chunk)
    yield b"0\r\n\r\n"
