"""Coordinator addresses (``host:port``, or a list ``a:1,b:2`` of replicas): the one place
that splits them, turns them into a gRPC target and knows loopback."""

from __future__ import annotations

import ipaddress
import socket

from hpo.errors import InvalidArgumentError

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
    """Whether the coordinator at ``host:port`` (every one, for a list) listens on loopback
    (reachable from here only)."""
    return all(is_loopback(split_address(one)[0]) for one in address_list(address))


#: Targets gRPC resolves itself (several addresses, a DNS name with several records, ...).
_GRPC_SCHEMES = ("ipv4:", "ipv6:", "dns:", "unix:", "unix-abstract:", "vsock:", "xds:")


def address_list(address: str) -> list[str]:
    """The coordinators named by ``address``: ``"a:1,b:2"`` gives ``["a:1", "b:2"]``; a gRPC
    target with its own scheme (``ipv4:...``, ``dns:///...``) stays one."""
    if address.startswith(_GRPC_SCHEMES):
        return [address]
    return [one.strip() for one in address.split(",")]


def channel_target(address: str) -> tuple[str, str | None]:
    """The gRPC target for ``address`` and the authority to present (None: gRPC's own).

    A list of replicas ``a:1,b:2`` becomes one ``ipv4:`` (or ``ipv6:``) target, each name
    resolved once here, so that gRPC's round-robin spreads calls over all of them and skips
    one that is down; the authority (what TLS checks the certificate against) is the first
    entry's. A single address or a target with a scheme passes through unchanged.
    """
    entries = address_list(address)
    if len(entries) == 1:
        return address, None
    resolved = [_resolved(entry, address) for entry in entries]
    families = {family for family, _ in resolved}
    if len(families) > 1:
        raise InvalidArgumentError.for_field(
            "address", f"{address!r} mixes IPv4 and IPv6 coordinators; list one kind"
        )
    scheme = "ipv4:" if families == {socket.AF_INET} else "ipv6:"
    return scheme + ",".join(target for _, target in resolved), entries[0]


def _resolved(entry: str, address: str) -> tuple[socket.AddressFamily, str]:
    """``(family, "ip:port")`` for one ``host:port`` of a list (IPv4 preferred for a name)."""
    host, port = split_address(entry)
    if not host or port is None:
        raise InvalidArgumentError.for_field(
            "address", f"{entry!r} in {address!r} is not host:port (every replica needs a port)"
        )
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as e:
        raise InvalidArgumentError.for_field(
            "address", f"cannot resolve {host!r} in {address!r}: {e.strerror or e}"
        ) from None
    found.sort(key=lambda info: info[0] != socket.AF_INET)
    family, ip = found[0][0], found[0][4][0]
    return family, (f"[{ip}]:{port}" if family == socket.AF_INET6 else f"{ip}:{port}")
