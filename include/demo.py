"""``make demo``: start both emulators, show the demo tenant they serve, and stop them.

The end-to-end run of the ``garoon_to_lineworks`` DAG joins this command when the pipeline lands
(issue 5); until then the demo shows the emulators and their demo tenant.
"""

from __future__ import annotations

import collections
import sys

import requests

from include.emulators import start_emulators


def main() -> int:
    emulators = start_emulators()
    try:
        garoon = requests.get(f"{emulators.garoon.url}/_emulator/state", timeout=10).json()
        lineworks = requests.get(f"{emulators.lineworks.url}/_emulator/state", timeout=10).json()
        kinds = collections.Counter(
            (e["eventType"], e.get("repeatInfo", {}).get("type", "")) for e in garoon["events"]
        )
        print(f"Garoon emulator at {emulators.garoon.url}: {len(garoon['users'])} users, "
              f"{len(garoon['facilities'])} facilities, {garoon['eventCount']} events")
        for (kind, repeat), count in sorted(kinds.items()):
            print(f"  {kind:<10} {repeat:<16} {count:>4}")
        print(f"LINE WORKS emulator at {emulators.lineworks.url}: {len(lineworks['users'])} users, "
              f"{lineworks['eventCount']} events, {lineworks['notifications']} notifications")
        print("The garoon_to_lineworks DAG run joins `make demo` with the pipeline (issue 5).")
    finally:
        emulators.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
