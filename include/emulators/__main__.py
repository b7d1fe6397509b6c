"""``python -m include.emulators``: serve both emulators on 127.0.0.1 until interrupted."""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import signal
import sys
import threading

from include.emulators import DEFAULT_GAROON_PORT, DEFAULT_LINEWORKS_PORT, start_emulators
from include.emulators.core import FaultConfig
from include.emulators.garoon import GaroonConfig
from include.emulators.lineworks import DEMO_CLIENT_ID, DEMO_SERVICE_ACCOUNT, LineWorksConfig
from include.emulators.tenant import ADMIN_LOGIN


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m include.emulators",
        description=(
            "Serve local emulators of the LINE WORKS API 2.0 and the Cybozu Garoon REST API on 127.0.0.1, "
            "seeded with a demo tenant. Inspect and steer them at /_emulator/ (state, requests, reset, "
            "faults, seed, config). Every knob below can also be changed at run time with "
            "POST /_emulator/config."
        ),
    )
    p.add_argument(
        "--lineworks-port", type=int, default=DEFAULT_LINEWORKS_PORT, help="LINE WORKS port (default %(default)s)"
    )
    p.add_argument("--garoon-port", type=int, default=DEFAULT_GAROON_PORT, help="Garoon port (default %(default)s)")
    p.add_argument(
        "--anchor-date",
        type=dt.date.fromisoformat,
        default=None,
        help="date the demo events are placed around (default: today)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the demo tenant and of fault injection (default 0)")
    lw = p.add_argument_group("LINE WORKS")
    lw.add_argument(
        "--rate-limit", type=int, default=240, help="calls per minute per API operation (240 Standard, 60 Free)"
    )
    lw.add_argument("--time-scale", type=float, default=1.0, help="a rate-limit 'minute' lasts 60/TIME_SCALE seconds")
    lw.add_argument("--rate-window", choices=["sliding", "fixed"], default="sliding", help="rate window type")
    lw.add_argument("--token-lifetime", type=int, default=86400, help="access-token lifetime in seconds")
    lw.add_argument("--refresh-token-rotation", action="store_true", help="a refresh returns a new refresh token")
    lw.add_argument(
        "--duplicate-event-id",
        choices=["conflict", "replace", "return_existing"],
        default="conflict",
        help="what a create with an existing client eventId does (default 409 conflict)",
    )
    lw.add_argument(
        "--accept-offset-datetime",
        action="store_true",
        help="accept dateTime with an offset and no timeZone in event bodies",
    )
    gr = p.add_argument_group("Garoon")
    gr.add_argument("--max-concurrent", type=int, default=10, help="concurrent requests before 429 GRN_REST_API_00104")
    gr.add_argument(
        "--short-pages",
        choices=["truncate", "hidden", "off"],
        default="truncate",
        help="pages shorter than limit while hasNext is true (default truncate)",
    )
    gr.add_argument(
        "--range-mode",
        choices=["overlap", "start"],
        default="overlap",
        help="rangeStart/rangeEnd select overlapping events or events starting in range",
    )
    gr.add_argument(
        "--basic-auth", default="", metavar="USER:PASSWORD", help="put Basic authentication in front of the site"
    )
    gr.add_argument(
        "--admin-sees-private", action="store_true", help="the administrator can list others' private events"
    )
    gr.add_argument("--on-premise", action="store_true", help="allow SET_PRIVATE_WATCHERS (refused on cloud)")
    p.add_argument(
        "--faults",
        default=None,
        metavar="JSON",
        help='fault injection for both servers, e.g. \'{"latency_ms": 150, "latency_jitter_ms": 50, "error_rate": 0.1}\'',
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    lineworks_config = LineWorksConfig(
        rate_limit_per_minute=args.rate_limit,
        time_scale=args.time_scale,
        rate_window=args.rate_window,
        token_lifetime_s=args.token_lifetime,
        refresh_token_rotation=args.refresh_token_rotation,
        duplicate_event_id=args.duplicate_event_id,
        accept_offset_datetime=args.accept_offset_datetime,
    )
    garoon_config = GaroonConfig(
        max_concurrent=args.max_concurrent,
        short_pages=args.short_pages,
        range_mode=args.range_mode,
        basic_auth=args.basic_auth,
        admin_sees_private=args.admin_sees_private,
        cloud=not args.on_premise,
    )
    emulators = start_emulators(
        anchor=args.anchor_date,
        seed=args.seed,
        lineworks_port=args.lineworks_port,
        garoon_port=args.garoon_port,
        lineworks_config=lineworks_config,
        garoon_config=garoon_config,
    )
    if args.faults:
        faults = FaultConfig.from_dict({"seed": args.seed, **json.loads(args.faults)})
        emulators.lineworks.app.faults = faults
        emulators.garoon.app.faults = faults
    tenant = emulators.tenant
    print(
        f"LINE WORKS emulator: {emulators.lineworks.url}/v1.0  (token: {emulators.lineworks.url}/oauth2/v2.0/token,"
        f" client {DEMO_CLIENT_ID}, service account {DEMO_SERVICE_ACCOUNT})"
    )
    print(f"Garoon emulator:     {emulators.garoon.url}/g/api/v1  (login {ADMIN_LOGIN})")
    print(
        f"Demo tenant: {len(tenant.garoon_users)} Garoon users, {len(tenant.lineworks_users)} LINE WORKS users, "
        f"{len(tenant.garoon_events)} Garoon events; inspect at /_emulator/state. Ctrl-C stops.",
        flush=True,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with contextlib.suppress(KeyboardInterrupt):
        stop.wait()
    emulators.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
