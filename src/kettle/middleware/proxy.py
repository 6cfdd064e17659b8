"""Trust the client address, scheme and host reported by a reverse proxy."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from ..datastructures import Address
from ..exceptions import ImproperlyConfigured
from .base import HTTPMiddleware

if TYPE_CHECKING:
    from ..app import Kettle
    from ..requests import Request
    from ..responses import Response

__all__ = ("ProxyHeadersMiddleware",)

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network
# The scheme of an HTTP request, from what the proxy saw (ws/wss mean HTTP/HTTPS).
_SCHEMES = {"http": "http", "https": "https", "ws": "http", "wss": "https"}
_HOST = re.compile(r"(?:[A-Za-z0-9._~!$&'()*+,;=%-]+|\[[0-9A-Fa-f:.]+\])(?::\d*)?")
_PAIR = re.compile(
    r"([\s,;]*)([!#$%&'*+.^_`|~0-9A-Za-z-]+)=(\"(?:[^\"\\]|\\.)*\"|[^\s\",;]*)\s*"
)
_ESCAPE = re.compile(r"\\(.)")


class ProxyHeadersMiddleware(HTTPMiddleware):
    """Apply the forwarding headers of trusted reverse proxies to the request.

    Only when the direct peer (``request.client``) is a trusted proxy: the client
    address becomes the rightmost address of ``X-Forwarded-For`` that is not itself
    a trusted proxy (so a client cannot spoof it by sending the header: its own
    entries are to the left), ``X-Forwarded-Proto`` sets ``request.scheme``
    (``https``/``http``; ``wss``/``ws`` count as those) and ``X-Forwarded-Host``
    sets the request's host. When several proxies append to these headers, the
    proto and host entries aligned with the chosen address are used (the last ones
    if the counts differ). A ``Forwarded`` header (RFC 7239) takes precedence over
    the ``X-Forwarded-*`` ones: its ``for``, ``proto`` and ``host`` parameters are
    read from the element of the chosen address. Invalid values are ignored.

    The client port becomes 0 (unknown). ASGI scopes and WSGI environs get the new
    client and scheme too, for mounted apps. Add this middleware last, so that it
    runs before the others (such as :class:`TrustedHostMiddleware`). WebSocket
    handshakes get the same treatment (``wss``/``ws`` from the forwarded proto),
    before the Host and Origin checks.

    Args:
        app: The application.
        trusted_hosts: Addresses or networks of the proxies to trust, as IP
            addresses (``"10.0.0.1"``), CIDR networks (``"10.0.0.0/8"``) or
            ``"*"`` for any peer, in a sequence or a comma-separated string. With
            ``"*"`` every forwarded address is trusted too, so the leftmost one is
            used: only do that when the proxy overwrites the header.
        use_forwarded: Read the ``Forwarded`` header. Turn it off if your proxies
            only set ``X-Forwarded-*`` and pass a client's ``Forwarded`` through.

    Raises:
        ImproperlyConfigured: An option has a wrong type or value.
    """

    #: Also run on WebSocket handshakes (the app calls :meth:`process_request`).
    applies_to_websockets = True

    def __init__(
        self,
        app: Kettle,
        *,
        trusted_hosts: str | Iterable[str] = ("127.0.0.1",),
        use_forwarded: bool = True,
    ) -> None:
        super().__init__(app)
        if type(use_forwarded) is not bool:
            raise ImproperlyConfigured(
                "ProxyHeadersMiddleware: use_forwarded must be True or False, "
                f"not {use_forwarded!r}"
            )
        entries = (
            trusted_hosts.split(",")
            if isinstance(trusted_hosts, str)
            else list(trusted_hosts)
        )
        self.trust_all = False
        addresses: set[str] = set()
        networks: list[_Network] = []
        for entry in entries:
            value = entry.strip() if isinstance(entry, str) else None
            if value == "*":
                self.trust_all = True
                continue
            try:
                network = ipaddress.ip_network(value or "")
            except (ValueError, TypeError) as exc:
                raise ImproperlyConfigured(
                    f"ProxyHeadersMiddleware: {entry!r} in trusted_hosts is not an IP "
                    f"address, a CIDR network or '*' ({exc})"
                ) from None
            if network.num_addresses == 1:
                addresses.add(str(network.network_address))
            else:
                networks.append(network)
        if not self.trust_all and not addresses and not networks:
            raise ImproperlyConfigured(
                "ProxyHeadersMiddleware: trusted_hosts is empty, so no proxy is trusted"
            )
        self.use_forwarded = use_forwarded
        self._addresses = frozenset(addresses)
        self._networks = tuple(networks)

    def is_trusted(self, host: str | None) -> bool:
        """Whether ``host`` (an IP address) is a trusted proxy."""
        if self.trust_all:
            return True
        if host is None:
            return False
        if host in self._addresses:
            return True
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            return False
        if ip.version == 6 and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return str(ip) in self._addresses or any(ip in n for n in self._networks)

    def process_request(self, request: Request) -> Response | None:
        """Rewrite the request's client, scheme and host from a trusted proxy."""
        client = request.client
        if not self.is_trusted(client.host if client is not None else None):
            return None
        headers = request.headers
        if self.use_forwarded and "forwarded" in headers:
            elements = _parse_forwarded(", ".join(headers.getlist("forwarded")))
            if elements is not None:
                element = elements[self._pick([e.get("for") for e in elements])]
                _apply(
                    request,
                    element.get("for"),
                    element.get("proto"),
                    element.get("host"),
                )
                return None
        nodes = _split(headers.getlist("x-forwarded-for"))
        protos = _split(headers.getlist("x-forwarded-proto"))
        hosts = _split(headers.getlist("x-forwarded-host"))
        if nodes or protos or hosts:
            index = self._pick(nodes) if nodes else 0
            _apply(
                request,
                nodes[index] if nodes else None,
                _aligned(protos, index, len(nodes)),
                _aligned(hosts, index, len(nodes)),
            )
        return None

    def _pick(self, nodes: list[str] | list[str | None]) -> int:
        """The index of the rightmost node that is not a trusted proxy (else 0)."""
        for index in range(len(nodes) - 1, -1, -1):
            node = nodes[index]
            if node is None or not self.is_trusted(_node_host(node)):
                return index
        return 0


def _split(values: list[str]) -> list[str]:
    return [
        item.strip() for value in values for item in value.split(",") if item.strip()
    ]


def _aligned(values: list[str], index: int, count: int) -> str | None:
    if not values:
        return None
    return values[index] if len(values) == count else values[-1]


def _node_host(node: str) -> str:
    """The address of a forwarded node, without port or brackets."""
    if node.startswith("["):
        return node[1 : node.find("]")] if "]" in node else node
    if node.count(":") == 1:
        return node.partition(":")[0]
    return node


def _apply(
    request: Request, node: str | None, proto: str | None, host: str | None
) -> None:
    scope, environ = request.scope, request.environ
    address = _node_host(node) if node else None
    if address:
        request.client = Address(address, 0)
        if scope is not None:
            scope["client"] = (address, 0)
        if environ is not None:
            environ["REMOTE_ADDR"] = address
            environ.pop("REMOTE_PORT", None)
    scheme = _SCHEMES.get(proto.lower()) if proto else None
    if scheme is not None and scope is not None and scope["type"] == "websocket":
        scheme = "wss" if scheme == "https" else "ws"
    if scheme is not None:
        request.scheme = scheme
        if scope is not None:
            scope["scheme"] = scheme
        if environ is not None:
            environ["wsgi.url_scheme"] = scheme
    if host and _HOST.fullmatch(host):
        request.host_override = host
    if scheme is not None or request.host_override is not None:
        request._url = None  # built from the old scheme and host, if already used


def _parse_forwarded(value: str) -> list[dict[str, str]] | None:
    """Parse a ``Forwarded`` header into its elements, or None if it is malformed."""
    value = value.strip().rstrip(",; \t")
    elements: list[dict[str, str]] = []
    pos = 0
    while pos < len(value):
        match = _PAIR.match(value, pos)
        if match is None:
            return None
        separators, name, raw = match.groups()
        if not elements or "," in separators:
            elements.append({})
        elif ";" not in separators:
            return None  # two pairs without a separator
        name = name.lower()
        if name in elements[-1]:
            return None  # RFC 7239: a parameter occurs at most once per element
        if raw.startswith('"'):
            raw = _ESCAPE.sub(r"\1", raw[1:-1])
        elements[-1][name] = raw
        pos = match.end()
    return elements or None
