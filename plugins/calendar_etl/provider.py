"""Provider metadata: registers the ``lineworks`` and ``garoon`` connection types with their forms.

Airflow discovers it through the ``apache_airflow_provider`` entry point of the installed
``calendar-etl`` distribution (``pyproject.toml``); a hook in ``plugins/`` alone adds no type.
"""

from __future__ import annotations

from typing import Any


def _text(label: str, description: str, *, fmt: str | None = None, default: Any = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": ["string", "null"]}
    if fmt:
        schema["format"] = fmt
    if default is not None:
        schema["default"] = default
    return {"label": label, "description": description, "schema": schema}


_BUDGET_FIELDS = {
    "rate_budget_url": _text(
        "Rate budget store",
        "SQLAlchemy URL (postgresql://..., sqlite:///...) or redis://... shared by every worker; "
        "empty: a SQLite file under AIRFLOW_HOME (one machine only).",
    ),
    "timeout": {
        "label": "Request timeout (s)",
        "description": "How long one API request may wait to connect or for data before it is retried.",
        "schema": {"type": ["number", "null"], "exclusiveMinimum": 0, "default": 30},
    },
    "verify": {
        "label": "Verify TLS certificates",
        "description": "Leave on. Turn off only for a test server with a self-signed certificate.",
        "schema": {"type": ["boolean", "null"], "default": True},
    },
}


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": "calendar-etl",
        "name": "Calendar ETL: Cybozu Garoon and LINE WORKS",
        "description": "Hooks for the LINE WORKS API 2.0 calendar and the Cybozu Garoon REST schedule APIs.",
        "hooks": [
            {"integration-name": "LINE WORKS", "python-modules": ["calendar_etl.hooks.lineworks"]},
            {"integration-name": "Cybozu Garoon", "python-modules": ["calendar_etl.hooks.garoon"]},
        ],
        "connection-types": [
            {
                "hook-class-name": "calendar_etl.hooks.lineworks.LineWorksHook",
                "hook-name": "LINE WORKS",
                "connection-type": "lineworks",
                "ui-field-behaviour": {
                    "hidden-fields": ["schema", "port", "login", "password"],
                    "relabeling": {"host": "API base URL"},
                    "placeholders": {"host": "https://www.worksapis.com/v1.0"},
                },
                "conn-fields": {
                    "client_id": _text("Client ID", "Developer Console > API 2.0 > the app's Client ID."),
                    "client_secret": _text("Client Secret", "The app's Client Secret.", fmt="password"),
                    "service_account": _text(
                        "Service Account", "The app's service account, e.g. xxxxx.serviceaccount@example.com."
                    ),
                    "private_key": _text(
                        "Private Key (PEM)", "The service account's private key, PEM text.", fmt="multiline"
                    ),
                    "token_url": _text(
                        "Token URL",
                        "OAuth token endpoint.",
                        fmt="url",
                        default="https://auth.worksmobile.com/oauth2/v2.0/token",
                    ),
                    "scope": _text("Scopes", "Space-separated scopes.", default="calendar user.read"),
                    "rate_limit_per_minute": {
                        "label": "Plan rate limit (calls/min per API)",
                        "description": "240 on Standard/Advanced, 60 on Free.",
                        "schema": {"type": ["integer", "null"], "minimum": 1, "default": 240},
                    },
                    "budget_share": {
                        "label": "Share of the limit to use",
                        "description": "0.5 keeps long runs within LINE WORKS' guidance (half the limit over 30 minutes).",
                        "schema": {"type": ["number", "null"], "minimum": 0.01, "maximum": 1, "default": 0.5},
                    },
                    "rate_spread_seconds": {
                        "label": "Latency spread (s)",
                        "description": "How far network jitter can move a call against its slot; the rate is spread "
                        "over the minute plus this. Raise it if 429s appear with a share near 1.",
                        "schema": {"type": ["number", "null"], "minimum": 0, "default": 0.5},
                    },
                    **_BUDGET_FIELDS,
                },
            },
            {
                "hook-class-name": "calendar_etl.hooks.garoon.GaroonHook",
                "hook-name": "Cybozu Garoon",
                "connection-type": "garoon",
                "ui-field-behaviour": {
                    "hidden-fields": ["schema", "port"],
                    "relabeling": {"host": "Site URL", "login": "Login name", "password": "Password (or OAuth token)"},
                    "placeholders": {"host": "https://SUBDOMAIN.cybozu.com", "login": "integration-user"},
                },
                "conn-fields": {
                    "auth": {
                        "label": "Authentication",
                        "description": "password: X-Cybozu-Authorization from login/password; oauth: the password field is a bearer token.",
                        "schema": {
                            "type": ["string", "null"],
                            "enum": ["password", "oauth", None],
                            "default": "password",
                        },
                    },
                    "basic_login": _text("Basic auth user", "Only when the site is behind Basic authentication."),
                    "basic_password": _text(
                        "Basic auth password", "Only when the site is behind Basic authentication.", fmt="password"
                    ),
                    "max_concurrent": {
                        "label": "Concurrent requests",
                        "description": "Client-side cap; Garoon answers 429 GRN_REST_API_00104 past its own limit.",
                        "schema": {"type": ["integer", "null"], "minimum": 1, "default": 4},
                    },
                    **_BUDGET_FIELDS,
                },
            },
        ],
    }
