"""Coordinator addresses (``host:port``): the one place that splits them and knows loopback."""

from __future__ import annotations

import ipaddress

_LOOPBACK_NAMES = ("localhost", "ip6-localhost")


def split_address(address: str) -> tuple[str, int | None]:
    """``("host", port)`` of ``host:port``, ``[v6]:port`` or a bare host (port None)."""
    if address.startswith("["):
        host, _, rest = address[1:].partition("]")
        port = rest.removeprefix(":")
    elif address.count(":") == 1:
        host, _, port = address.partition(":")
    else:  # a bare host name, or an IPv6 address without brackets or port
        host, port = address, ""
    return host, int(port) if port.isdigit() else None


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an IP address, brackets allowed) is this machine's loopback."""
    host = host.strip("[]")
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_loopback_address(address: str) -> bool:
    """Whether the coordinator at ``host:port`` listens on loopback (reachable from here only)."""
    return is_loopback(split_address(address)[0])
