"""What every static check looks at, the survey of a setup: the inputs, the objects by kind,
each host's setup, the apps authgate knows."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from authgate.doctor import caddy, ingress, nginx, traefik
from authgate.doctor.kube import Inventory
from authgate.doctor.routes import ForwardAuth, HostSetup
from authgate.doctor.sources import Inputs
from authgate.forward.model import AppView


@dataclass
class Survey:
    inputs: Inputs
    apps: list[AppView] | None = None  # None: no store was reachable
    store_note: str = ""  # why there are no apps to compare with
    inventory: Inventory = field(init=False)
    setups: list[HostSetup] = field(init=False)

    def __post_init__(self) -> None:
        self.inventory = Inventory(self.inputs.objects)
        self.setups = host_setups(self.inputs, self.inventory)

    def auths(self) -> Iterator[ForwardAuth]:
        """Every forward-auth check once, however many routes use it."""
        yield from dict.fromkeys(a for s in self.setups for a in s.auths)


def host_setups(inputs: Inputs, inventory: Inventory) -> list[HostSetup]:
    routers = traefik.all_routers(inventory, inputs.traefik_files)
    routers += ingress.traefik_routers(inventory)
    found = ingress.nginx_setups(inventory) + traefik.setups(routers)
    for name, directives in inputs.nginx_files:
        found += nginx.setups(name, directives)
    for name, nodes in inputs.caddy_files:
        found += caddy.setups(name, nodes)
    return found
