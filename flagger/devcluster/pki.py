"""Certificates and keys for the local control plane, made with the openssl command.

One CA signs the API server's serving certificate (SANs for 127.0.0.1, localhost and the
in-cluster names). Clients authenticate with bearer tokens (a static token file for the admin,
TokenRequest tokens for service accounts), so no client certificates are needed. A separate RSA
key signs service-account tokens.
"""

from __future__ import annotations

import dataclasses
import pathlib
import subprocess


@dataclasses.dataclass(frozen=True)
class Pki:
    """Paths of the files :func:`create` writes."""

    ca_cert: pathlib.Path
    ca_key: pathlib.Path
    server_cert: pathlib.Path
    server_key: pathlib.Path
    sa_key: pathlib.Path
    sa_pub: pathlib.Path


SERVER_SANS = (
    "IP:127.0.0.1",
    "DNS:localhost",
    "DNS:kubernetes",
    "DNS:kubernetes.default",
    "DNS:kubernetes.default.svc",
    "DNS:kubernetes.default.svc.cluster.local",
)


def _openssl(*args: str, cwd: pathlib.Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def create(directory: pathlib.Path) -> Pki:
    """Write a CA, a serving certificate and a service-account key pair into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    d = directory
    _openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "30",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-subj",
        "/CN=flagger-devcluster-ca",
        cwd=d,
    )
    _openssl(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=kube-apiserver",
        cwd=d,
    )
    (d / "server.ext").write_text(
        "subjectAltName=" + ",".join(SERVER_SANS) + "\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth\n"
    )
    _openssl(
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "30",
        "-out",
        "server.crt",
        "-extfile",
        "server.ext",
        cwd=d,
    )
    _openssl("genrsa", "-out", "sa.key", "2048", cwd=d)
    _openssl("rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub", cwd=d)
    return Pki(
        d / "ca.crt", d / "ca.key", d / "server.crt", d / "server.key", d / "sa.key", d / "sa.pub"
    )
