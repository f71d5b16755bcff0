"""`mobileid serve --tls`: a self-signed certificate made once, its key private, its
fingerprint the certificate's."""

from __future__ import annotations

import stat
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from mobileid.api.serve import self_signed
from mobileid.cli.main import build_parser


def test_a_self_signed_certificate_is_made_once_and_its_key_kept_private(tmp_path: Path) -> None:
    """The key is 0600, the printed fingerprint is the certificate's SHA-256, and a second
    start reuses the same certificate."""
    cert, key, fingerprint = self_signed(tmp_path / "tls", "192.0.2.7")
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    loaded = x509.load_pem_x509_certificate(cert.read_bytes())
    assert fingerprint == loaded.fingerprint(hashes.SHA256()).hex(":").upper()
    names = loaded.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in names.get_values_for_type(x509.DNSName)
    assert "192.0.2.7" in {str(ip) for ip in names.get_values_for_type(x509.IPAddress)}
    again = self_signed(tmp_path / "tls", "192.0.2.7")
    assert again == (cert, key, fingerprint)


def test_serve_takes_host_port_tls_and_data_dir() -> None:
    """The serve command parses the options the design names."""
    args = build_parser().parse_args(
        ["serve", "--host", "0.0.0.0", "--port", "8443", "--tls", "--data-dir", "/tmp/x"]
    )
    assert (args.host, args.port, args.tls, args.data_dir) == (
        "0.0.0.0",
        8443,
        True,
        Path("/tmp/x"),
    )
