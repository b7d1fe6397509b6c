"""Local emulators of the LINE WORKS API 2.0 and the Cybozu Garoon REST API (see README.md here)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from include.emulators.core import EmulatorServer
from include.emulators.garoon import GaroonApp, GaroonConfig
from include.emulators.lineworks import LineWorksApp, LineWorksConfig
from include.emulators.tenant import DemoTenant, demo_tenant

DEFAULT_LINEWORKS_PORT = 18801
DEFAULT_GAROON_PORT = 18802


@dataclass
class Emulators:
    """Both emulators serving the same demo tenant; ``stop()`` shuts them down."""

    tenant: DemoTenant
    lineworks: EmulatorServer
    garoon: EmulatorServer

    @property
    def lineworks_app(self) -> LineWorksApp:
        app = self.lineworks.app
        assert isinstance(app, LineWorksApp)
        return app

    @property
    def garoon_app(self) -> GaroonApp:
        app = self.garoon.app
        assert isinstance(app, GaroonApp)
        return app

    def stop(self) -> None:
        self.lineworks.stop()
        self.garoon.stop()


def start_emulators(
    *,
    anchor: dt.date | None = None,
    seed: int = 0,
    lineworks_port: int = 0,
    garoon_port: int = 0,
    lineworks_config: LineWorksConfig | None = None,
    garoon_config: GaroonConfig | None = None,
) -> Emulators:
    """Start both emulators in background threads (port 0 picks free ports) and return them."""
    tenant = demo_tenant(anchor or dt.date.today(), seed)
    lineworks = EmulatorServer(LineWorksApp(tenant, lineworks_config), lineworks_port).start()
    garoon = EmulatorServer(GaroonApp(tenant, garoon_config), garoon_port).start()
    return Emulators(tenant, lineworks, garoon)
