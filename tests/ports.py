"""Loopback ports for tests whose programs must bind a port fixed in advance."""

from __future__ import annotations

import random
import socket
from pathlib import Path


def _ephemeral_ports() -> tuple[int, int]:
    """The range the kernel picks local ports from (Linux; its default elsewhere)."""
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def free_tcp_port() -> int:
    """A loopback TCP port nobody listens on now, for a daemon that must bind a fixed one.

    Taken below the kernel's ephemeral range. A port from that range (what binding port
    0 gives) can be handed, before the daemon binds it, to the local end of any
    connection made meanwhile, the subscriber's own attempts to connect to it among
    them (on Linux a connection to a loopback port of that range with no listener can
    be given that very port, and connect to itself). A CI run saw rsyslogd fail to bind
    such a port twice ("zsock_attach ... failed").
    """
    low, _ = _ephemeral_ports()
    for port in random.sample(range(max(1024, low - 8192), low), 200):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue  # someone has it
            return port
    raise RuntimeError(f"no free loopback port in the 8,192 below {low}")
