"""Block every network connection that does not go to loopback (127.0.0.0/8, ::1, a Unix socket).

Installed in the pytest process by tests/conftest.py and in every kernel or subprocess the
tests start, through the sitecustomize.py beside this file (put on PYTHONPATH).
"""
from __future__ import annotations

import ipaddress
import socket

_original_connect = socket.socket.connect
_original_connect_ex = socket.socket.connect_ex
_original_getaddrinfo = socket.getaddrinfo
LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", ""}


class NetworkBlocked(ConnectionRefusedError):
    """Raised for any attempt to reach a non-loopback address under test."""


def _is_loopback(host: object) -> bool:
    if not isinstance(host, str):
        return False
    host = host.strip("[]").split("%")[0]
    if host in LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check(sock: socket.socket, address: object) -> None:
    if sock.family == getattr(socket, "AF_UNIX", None):
        return
    host = address[0] if isinstance(address, tuple) and address else address
    if not _is_loopback(host):
        raise NetworkBlocked(f"network access to {address!r} is blocked in the course's tests (loopback only)")


def _connect(self: socket.socket, address: object) -> None:
    _check(self, address)
    return _original_connect(self, address)


def _connect_ex(self: socket.socket, address: object) -> int:
    _check(self, address)
    return _original_connect_ex(self, address)


def _getaddrinfo(host, *args, **kwargs):
    name = host.decode() if isinstance(host, bytes) else host
    if name is not None and not _is_loopback(name):
        raise NetworkBlocked(f"name lookup for {name!r} is blocked in the course's tests (loopback only)")
    return _original_getaddrinfo(host, *args, **kwargs)


def install() -> None:
    """Patch socket so that only loopback connections and lookups succeed."""
    socket.socket.connect = _connect
    socket.socket.connect_ex = _connect_ex
    socket.getaddrinfo = _getaddrinfo
