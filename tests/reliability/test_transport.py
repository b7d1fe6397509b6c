"""Transport security: TLS verified by default, .ics downloads confined, nothing unpickled or evaluated.

* The emulators' apps served over TLS on 127.0.0.1 with a self-signed certificate made here (``cryptography``):
  both hooks refuse it by default, at once and without sending a request (a refused certificate is no transient
  fault to retry), and so does a whole DAG run; ``verify`` false in the connection extra turns the check off, and
  ``verify`` with the path of a CA bundle trusts the server the safe way.
* .ics sources: http(s) downloads are cut off past the size cap and past the timeout (also when the server trickles
  bytes), and URLs of other network schemes are refused without a request.
* An AST scan of ``plugins/``, ``include/`` and ``dags/``: no pickle, marshal, shelve, unsafe YAML, eval or exec.
"""

from __future__ import annotations

import ast
import datetime as dt
import ipaddress
import ssl
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from calendar_etl.hooks.errors import TlsVerificationError
from calendar_etl.hooks.garoon import GaroonHook
from calendar_etl.hooks.lineworks import LineWorksHook
from calendar_etl.sources import ICS_URL_TIMEOUT_S, extract_ics, read_ics_source
from calendar_etl.transforms.ics import MAX_ICS_BYTES
from include.emulators.core import EmulatorServer
from tests.dags.conftest import ROOT, DagHarness, lineworks_events
from tests.dags.test_ics_to_lineworks import failed_tasks
from tests.reliability.helpers import FIGURES, set_extra

TOKEN_PATH = "/oauth2/v2.0/token"
LOOPBACK = "127.0.0.1"


# ---------------------------------------------------------------------- TLS


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (also usable as its own CA bundle) and its key."""
    folder = tmp_path_factory.mktemp("tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "calendar-etl test server")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(LOOPBACK)), x509.DNSName("localhost")]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


@pytest.fixture()
def tls(dags: DagHarness, certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """The session's emulator apps also served over TLS on 127.0.0.1; both connections pointed at them."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*map(str, certificate))
    servers = {}
    for name, app in (("lineworks", dags.emulators.lineworks_app), ("garoon", dags.emulators.garoon_app)):
        server = EmulatorServer(app, 0)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        servers[name] = server.start()
    urls = {name: f"https://{LOOPBACK}:{server.port}" for name, server in servers.items()}
    set_extra(
        monkeypatch, "lineworks_default", host=f"{urls['lineworks']}/v1.0", token_url=f"{urls['lineworks']}{TOKEN_PATH}"
    )
    set_extra(monkeypatch, "garoon_default", host=urls["garoon"])
    LineWorksHook._tokens.clear()
    yield urls
    for server in servers.values():
        server.stop()


def read_through(api: str) -> Any:
    if api == "lineworks":
        return LineWorksHook("lineworks_default").default_calendar("sato-ken@demo.example.com")
    return list(GaroonHook("garoon_default").iter_facilities())


@pytest.mark.parametrize("api", ["lineworks", "garoon"])
def test_a_self_signed_server_is_refused_by_default_at_once(dags: DagHarness, tls: dict[str, str], api: str) -> None:
    control = dags.lineworks if api == "lineworks" else dags.garoon
    before = control.next_seq()
    began = time.monotonic()
    with pytest.raises(TlsVerificationError) as refused:
        read_through(api)
    assert time.monotonic() - began < 5, "a refused certificate was retried"
    assert "self-signed" in str(refused.value) and "verify" in str(refused.value), str(refused.value)
    assert control.next_seq() == before, "a request went out over an unverified connection"
    FIGURES["TLS refusals (verification on by default)"] += 1


@pytest.mark.parametrize("api", ["lineworks", "garoon"])
@pytest.mark.parametrize("verify", ["off", "ca-bundle", "explicitly-on"])
def test_verify_extra_turns_the_check_off_or_trusts_a_ca_bundle(
    dags: DagHarness, tls: dict[str, str], certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch,
    api: str, verify: str,
) -> None:  # fmt: skip
    value = {"off": False, "ca-bundle": str(certificate[0]), "explicitly-on": "true"}[verify]
    set_extra(monkeypatch, f"{api}_default", verify=value)
    if verify == "explicitly-on":
        with pytest.raises(TlsVerificationError):
            read_through(api)
        return
    result = read_through(api)
    assert result, f"nothing read over TLS with verify={value!r}"
    entries = (dags.lineworks if api == "lineworks" else dags.garoon).requests()
    assert entries and all(e["status"] == 200 for e in entries[-2:])


def test_a_dag_run_against_a_self_signed_server_fails_without_writing(dags: DagHarness, tls: dict[str, str]) -> None:
    run = dags.run("garoon_to_lineworks", {"start": "2026-11-16", "end": "2026-11-17"}, retries=0)
    assert run.state == "failed" and failed_tasks(run)[0] == "extract"
    assert lineworks_events(dags) == [] and dags.garoon.requests() == []


# ---------------------------------------------------------------------- .ics downloads


class _Source(BaseHTTPRequestHandler):
    """Serves ``/big`` (endless, no length), ``/drip`` (a byte every 0.1 s, forever) and ``/silent`` (never answers)."""

    sent: ClassVar[dict[str, int]] = {}

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.sent[self.path] = 0
        if self.path == "/silent":
            time.sleep(5)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/calendar")
        self.end_headers()
        try:
            while self.sent[self.path] < 200 * 1024 * 1024:
                data = b"X" * (65536 if self.path == "/big" else 1)
                self.wfile.write(data)
                self.wfile.flush()
                self.sent[self.path] += len(data)
                if self.path == "/drip":
                    time.sleep(0.1)
        except OSError:
            return  # the client hung up: what the test wants


@pytest.fixture()
def source_server() -> Iterator[str]:
    _Source.sent = {}
    server = ThreadingHTTPServer((LOOPBACK, 0), _Source)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://{LOOPBACK}:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_an_ics_download_over_the_size_cap_is_cut_off(source_server: str) -> None:
    with pytest.raises(ValueError, match="byte limit"):
        read_ics_source(f"{source_server}/big", max_bytes=1_000_000, timeout=10)
    time.sleep(0.3)
    assert _Source.sent["/big"] < 20 * 1024 * 1024, "the download went on after the cap"
    FIGURES["oversize or slow downloads cut off"] += 1


@pytest.mark.parametrize("path", ["/drip", "/silent"])
def test_an_ics_download_is_cut_off_at_the_timeout_even_when_bytes_trickle(source_server: str, path: str) -> None:
    began = time.monotonic()
    with pytest.raises((TimeoutError, OSError)):
        read_ics_source(f"{source_server}{path}", timeout=1.0)
    assert time.monotonic() - began < 4, f"{path}: the download was not stopped at its timeout"
    FIGURES["oversize or slow downloads cut off"] += 1


REFUSED = ["ftp://{host}/a.ics", "gopher://{host}/a.ics", "sftp://{host}/a.ics", "simplecache::http://{host}/big",
           "data:text/calendar,BEGIN:VCALENDAR", "javascript:alert(1)", "ssh://{host}/a.ics", "smb://{host}/a.ics"]  # fmt: skip


def test_ics_urls_of_other_network_schemes_are_refused_without_a_request(source_server: str, tmp_path: Path) -> None:
    from calendar_etl.storage import CanonicalWriter, storage_path

    host = source_server.removeprefix("http://")
    sources = [url.format(host=host) for url in REFUSED]
    with CanonicalWriter(storage_path(str(tmp_path / "c.parquet"))) as writer:
        result = extract_ics(sources, writer)
    assert writer.rows == 0
    assert sorted(key for key, _ in result.errors) == sorted(f"ics:{s}" for s in sources)
    assert all(problem.startswith("cannot read the file") for _, problem in result.errors), result.errors
    assert _Source.sent == {}, "a refused URL still reached the server"
    FIGURES["refused .ics URL schemes"] += len(sources)


def test_the_input_limits_are_documented_with_their_values() -> None:
    limits = (ROOT / "docs" / "limits.md").read_text()
    assert MAX_ICS_BYTES == 50 * 1024 * 1024 and "50 MiB" in limits
    assert ICS_URL_TIMEOUT_S == 60 and "60 s" in limits
    from calendar_etl.transforms import lineworks, recurrence

    for value in (lineworks.SUMMARY_MAX_LEN, lineworks.LOCATION_MAX_LEN, lineworks.DESCRIPTION_MAX_LEN,
                  lineworks.ATTENDEES_MAX, lineworks.RECURRENCE_MAX, recurrence.MAX_EXPANDED_OCCURRENCES):  # fmt: skip
        assert f"{value:,}" in limits or str(value) in limits, f"{value} is not in docs/limits.md"


# ---------------------------------------------------------------------- no unsafe deserialisation


UNSAFE_CALLS = {
    "pickle.load", "pickle.loads", "pickle.Unpickler", "cPickle.loads", "dill.load", "dill.loads", "marshal.load",
    "marshal.loads", "shelve.open", "jsonpickle.decode", "yaml.unsafe_load", "yaml.full_load", "pd.read_pickle",
    "pandas.read_pickle", "joblib.load", "torch.load", "eval", "exec",
}  # fmt: skip
UNSAFE_IMPORTS = {"pickle", "cPickle", "dill", "marshal", "shelve", "jsonpickle"}


def unsafe_uses(source: str, filename: str) -> list[str]:
    """Calls that deserialise or execute data (and unsafe ``yaml.load``), found in Python source by its AST."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import | ast.ImportFrom):
            modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            found += [f"{filename}:{node.lineno} imports {m}" for m in modules if m.split(".")[0] in UNSAFE_IMPORTS]
        if not isinstance(node, ast.Call):
            continue
        name = ast.unparse(node.func)
        if name in UNSAFE_CALLS:
            found.append(f"{filename}:{node.lineno} calls {name}")
        if name == "yaml.load" and not any(
            "Safe" in ast.unparse(arg) for arg in [*node.args[1:], *(k.value for k in node.keywords)]
        ):
            found.append(f"{filename}:{node.lineno} calls yaml.load without a SafeLoader")
        if name.endswith(("numpy.load", "np.load")) and any(
            k.arg == "allow_pickle" and ast.unparse(k.value) != "False" for k in node.keywords
        ):
            found.append(f"{filename}:{node.lineno} calls {name} with allow_pickle")
    return found


def test_the_scan_finds_what_it_looks_for() -> None:
    planted = "import pickle\nx = pickle.loads(b)\ny = eval(t)\nimport yaml\nz = yaml.load(s)\nw = yaml.load(s, Loader=yaml.SafeLoader)\n"
    found = unsafe_uses(planted, "planted.py")
    assert [f.split(" ", 1)[1] for f in found] == [
        "imports pickle", "calls pickle.loads", "calls eval", "calls yaml.load without a SafeLoader"]  # fmt: skip


def test_nothing_deserialises_untrusted_input_with_pickle_or_eval() -> None:
    files = [p for folder in ("plugins", "include", "dags") for p in sorted((ROOT / folder).rglob("*.py"))]
    assert len(files) > 30
    found = [hit for path in files for hit in unsafe_uses(path.read_text(), str(path.relative_to(ROOT)))]
    assert not found, found
    FIGURES["source files scanned for pickle/eval"] += len(files)


def test_loopback_servers_only() -> None:
    """The emulators refuse to bind anywhere but loopback (so no test server is ever reachable from outside)."""
    with pytest.raises(ValueError, match="loopback"):
        EmulatorServer(None, 0, host="0.0.0.0")  # type: ignore[arg-type]
