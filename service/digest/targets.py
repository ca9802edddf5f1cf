"""Which webhook targets a digest may be posted to.

A webhook URL is chosen by whoever subscribes, so without a check it is a way to make this server
send requests into its own intranet (loopback, private ranges, link-local cloud metadata …). Every
address a name resolves to is checked, on every redirect hop; the connection then goes to the
address that was checked, so a second DNS answer cannot swap it. ``JINGYAN_WEBHOOK_ALLOW_PRIVATE=1``
lets intranet receivers through.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit


class TargetRefused(ValueError):
    """The URL's host resolves to an address webhooks may not reach; the message is Chinese."""


def _forbidden(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return (
        ip.is_loopback or ip.is_private or ip.is_link_local or ip.is_multicast or ip.is_reserved
        or ip.is_unspecified or not ip.is_global
    )


def resolve(url: str, allow_private: bool = False, must_resolve: bool = True) -> list[tuple[str, int, str]]:
    """``(host, port, address)`` for each address of ``url``'s host that webhooks may reach.

    Raises :class:`TargetRefused` when any address is forbidden (or, with ``must_resolve``, when the
    name does not resolve); an unresolvable name gives ``[]`` otherwise.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TargetRefused("推送地址（webhook_url）应以 http:// 或 https:// 开头")
    host = parts.hostname
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise TargetRefused("推送地址的端口号不正确") from exc
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        if must_resolve:
            raise TargetRefused(f"无法解析推送地址的主机名 {host}") from exc
        return []
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not allow_private:
        for address in addresses:
            if _forbidden(ipaddress.ip_address(address.split("%")[0])):
                raise TargetRefused(
                    f"推送地址 {host} 指向本机、内网或保留地址，已拒绝；内网接收端需由管理员设置"
                    " JINGYAN_WEBHOOK_ALLOW_PRIVATE=1"
                )
    return [(host, port, a) for a in addresses]
