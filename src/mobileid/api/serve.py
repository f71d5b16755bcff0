"""Run the service under uvicorn; with TLS, on a self-signed certificate made here once.

Browsers give the camera only to HTTPS pages, so a phone on the same network needs TLS. The
certificate (``DATA_DIR/tls/cert.pem``, its key ``key.pem`` readable by the owner only) is
made on first use and reused; its SHA-256 fingerprint is printed so that the person accepting
it on the phone can check it.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from mobileid.config import Settings

CERT_DAYS = 365


def _names(host: str) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = [x509.DNSName("localhost"), x509.DNSName(socket.gethostname())]
    for text in {host, "127.0.0.1"}:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(text)))
        except ValueError:
            if text and text != "0.0.0.0":
                names.append(x509.DNSName(text))
    return names


def self_signed(folder: Path, host: str) -> tuple[Path, Path, str]:
    """(certificate, key, SHA-256 fingerprint) in ``folder``, made if missing."""
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    if not cert_path.exists() or not key_path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mobileid (self-signed)")])
        now = datetime.now(UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=CERT_DAYS))
            .add_extension(x509.SubjectAlternativeName(_names(host)), critical=False)
            .sign(key, hashes.SHA256())
        )
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    fingerprint = cert.fingerprint(hashes.SHA256()).hex(":").upper()
    return cert_path, key_path, fingerprint


def serve(settings: Settings, *, host: str, port: int, tls: bool) -> None:
    """Serve until interrupted (one process; CPU work in its bounded pool)."""
    import uvicorn

    from mobileid.api.app import create_app
    from mobileid.api.options import ApiOptions

    options = ApiOptions.from_env(tls=tls)  # refused by name before anything is written
    ssl: dict[str, str] = {}
    scheme = "http"
    if tls:
        cert, key, fingerprint = self_signed(settings.data_dir / "tls", host)
        ssl = {"ssl_certfile": str(cert), "ssl_keyfile": str(key)}
        scheme = "https"
        print(f"TLS certificate {cert} (self-signed), SHA-256 fingerprint:", file=sys.stderr)
        print(f"  {fingerprint}", file=sys.stderr)
    app = create_app(settings, options=options)
    shown = "localhost" if host in ("0.0.0.0", "::") else host
    print(f"mobileid serving on {scheme}://{shown}:{port}/", file=sys.stderr)
    uvicorn.run(app, host=host, port=port, log_level="info", **ssl)  # type: ignore[arg-type]
