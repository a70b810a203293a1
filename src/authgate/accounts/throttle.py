"""How many failed sign-ins are allowed, per account, per device and per client address.

Three kinds of counter, never one key space:

- ``account``: failures against one existing user (keyed by the user's ``uid``). At the
  threshold the account is locked for every browser that is not one of its devices.
- ``device``: failures from a browser holding a device cookie for that user (keyed by the
  cookie's nonce): a small budget of its own; exhausting it locks only that device.
- ``address``: failures from one client address, across every name, known or not (an IPv6
  client counts per /64, the block one subscriber gets). Past the threshold each further
  failure doubles the wait before the next try, up to a cap.

Names of unknown users get no counter of their own: they all share the one ``UNKNOWN``
account counter (equal work for known and unknown names, one row), while their client
address is counted, so flooding random names cannot grow the store.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

ACCOUNT = "account"
DEVICE = "device"
ADDRESS = "address"
UNKNOWN = "-"  # the account counter of every name that is no user's (a uid is hex)


@dataclass(frozen=True)
class Limit:
    """``threshold`` failures within ``window`` seconds lock for ``lock`` seconds; with
    ``growth`` above 1 each failure after that multiplies the lock, up to ``cap``."""

    threshold: int
    window: int
    lock: int
    growth: int = 1
    cap: int = 0

    def lock_for(self, failures: int) -> int:
        """Seconds to lock after the ``failures``-th failure of a window (0: none)."""
        if failures < self.threshold:
            return 0
        seconds: int = self.lock * self.growth ** min(failures - self.threshold, 32)
        return min(seconds, self.cap) if self.cap else seconds


def _account() -> Limit:
    return Limit(threshold=10, window=900, lock=900)


def _device() -> Limit:
    return Limit(threshold=5, window=900, lock=900)


def _address() -> Limit:
    return Limit(threshold=20, window=3600, lock=1, growth=2, cap=300)


@dataclass(frozen=True)
class ThrottlePolicy:
    account: Limit = field(default_factory=_account)
    device: Limit = field(default_factory=_device)
    address: Limit = field(default_factory=_address)


def address_key(ip: str) -> str:
    """The counter key of a client address: IPv4 as it is, IPv6 by its /64 (one subscriber
    owns a whole /64, so counting single addresses would count nothing)."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip[:64] or "unknown"
    if isinstance(address, ipaddress.IPv6Address):
        mapped = address.ipv4_mapped
        if mapped is not None:
            return str(mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)
