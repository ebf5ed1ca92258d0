"""Run a throw-away OpenLDAP ``slapd`` on 127.0.0.1 (plain functions, used by the pytest
fixture and by ``bench/``).

``start_slapd(workdir, people=N)`` writes a CA and a server certificate, a ``slapd.conf``
(mdb backend, the AD-like schema, per-account limits), loads the directory offline with
``slapadd -q`` (much faster than ``ldapadd``), starts ``slapd`` on a free ``ldap://`` and a
free ``ldaps://`` port and waits until it answers. ``SlapdServer.stop()`` ends it.
Needs the Debian packages ``slapd`` and ``ldap-utils`` and the ``cryptography`` package.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tests.support import ldap_directory as d

SLAPD = "/usr/sbin/slapd"
SLAPADD = "/usr/sbin/slapadd"
MODULE_PATH = "/usr/lib/ldap"
SCHEMA_DIR = "/etc/ldap/schema"
BIND_PASSWORD = "Sync-Pa55word!"  # also the password of every service account
ADMIN_PASSWORD = "Admin-Pa55word!"


@dataclass
class SlapdServer:
    url: str
    ldaps_url: str
    ca_file: str
    base_dn: str
    bind_dn: str
    bind_password: str
    admin_dn: str
    admin_password: str
    workdir: Path
    process: subprocess.Popen

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # slapd's clean shutdown
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_slapd(workdir: Path, *, people: int = d.PEOPLE) -> SlapdServer:
    workdir = Path(workdir)
    (workdir / "db").mkdir(parents=True, exist_ok=True)
    ca_file, cert_file, key_file = write_tls_files(workdir)
    (workdir / "ad-like.schema").write_text(d.AD_SCHEMA)
    conf = workdir / "slapd.conf"
    conf.write_text(_slapd_conf(workdir, ca_file, cert_file, key_file))
    ldif = workdir / "directory.ldif"
    with ldif.open("w", encoding="utf-8") as out:
        out.writelines(d.directory_ldif(people, BIND_PASSWORD))
    loaded = subprocess.run([SLAPADD, "-q", "-f", str(conf), "-l", str(ldif)],
                            capture_output=True, text=True)
    if loaded.returncode:
        raise RuntimeError(f"slapadd failed ({loaded.returncode}):\n{loaded.stderr}")
    port, tls_port = _free_port(), _free_port()
    log = (workdir / "slapd.log").open("wb")
    process = subprocess.Popen(
        [SLAPD, "-d", "0", "-f", str(conf),
         "-h", f"ldap://127.0.0.1:{port}/ ldaps://127.0.0.1:{tls_port}/"],
        stdout=log, stderr=subprocess.STDOUT)
    server = SlapdServer(
        url=f"ldap://127.0.0.1:{port}", ldaps_url=f"ldaps://127.0.0.1:{tls_port}",
        ca_file=str(ca_file), base_dn=d.SUFFIX, bind_dn=d.SYNC_DN,
        bind_password=BIND_PASSWORD, admin_dn=d.ADMIN_DN, admin_password=ADMIN_PASSWORD,
        workdir=workdir, process=process)
    try:
        _wait_until_listening(process, port, tls_port, workdir / "slapd.log")
    except BaseException:
        server.stop()
        raise
    return server


def _slapd_conf(workdir: Path, ca_file: Path, cert_file: Path, key_file: Path) -> str:
    schemas = [f"{SCHEMA_DIR}/{n}.schema" for n in ("core", "cosine", "inetorgperson")]
    includes = "".join(f"include {p}\n" for p in [*schemas, workdir / "ad-like.schema"])
    size = f"size.soft={d.SIZE_LIMIT} size.hard={d.SIZE_LIMIT} size.pr={d.SIZE_LIMIT}"
    return f"""{includes}
pidfile {workdir}/slapd.pid
argsfile {workdir}/slapd.args
modulepath {MODULE_PATH}
moduleload back_mdb
TLSCACertificateFile {ca_file}
TLSCertificateFile {cert_file}
TLSCertificateKeyFile {key_file}

database mdb
maxsize 1073741824
suffix "{d.SUFFIX}"
rootdn "{d.ADMIN_DN}"
rootpw {d.ssha(ADMIN_PASSWORD)}
directory {workdir}/db
index objectClass eq
index uid eq
# Every account may read SIZE_LIMIT entries per search and per page, and any number of
# pages, except: capped may examine only 100 candidates, pagecap only PAGED_TOTAL_LIMIT in all.
limits dn.exact="{d.SYNC_DN}" {size}
  size.prtotal=unlimited
limits dn.exact="{d.CAPPED_DN}" {size}
  size.prtotal=unlimited size.unchecked=100
limits dn.exact="{d.PAGECAP_DN}" {size}
  size.prtotal={d.PAGED_TOTAL_LIMIT}
limits anonymous {size}
  size.prtotal=unlimited
access to attrs=userPassword
  by anonymous auth
  by * none
access to *
  by * read
"""


def write_tls_files(workdir: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for 127.0.0.1 only, signed by it (PEM)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.timezone.utc)
    start, end = now - dt.timedelta(hours=1), now + dt.timedelta(days=2)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "chamilo-sync test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(start).not_valid_after(end)
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                         critical=True)
          .sign(ca_key, hashes.SHA256()))
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(end)
            .add_extension(x509.SubjectAlternativeName([  # not "localhost": see the tests
                x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    paths = workdir / "ca.pem", workdir / "server.pem", workdir / "server.key"
    paths[0].write_bytes(ca.public_bytes(pem))
    paths[1].write_bytes(cert.public_bytes(pem))
    paths[2].write_bytes(key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    paths[2].chmod(0o600)
    return paths


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_until_listening(process: subprocess.Popen, port: int, tls_port: int, log: Path,
                          deadline_s: float = 15.0) -> None:
    """Wait until both ports accept a connection and the server answers an LDAP request."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"slapd exited with {process.returncode}:\n{log.read_text()}")
        try:
            for p in (port, tls_port):
                socket.create_connection(("127.0.0.1", p), timeout=1).close()
            if _answers(port):
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"slapd did not answer within {deadline_s}s:\n{log.read_text()}")


def _answers(port: int) -> bool:
    import ldap3

    conn = ldap3.Connection(ldap3.Server(f"ldap://127.0.0.1:{port}", get_info=ldap3.NONE))
    try:
        return bool(conn.bind()) and conn.search(d.SUFFIX, "(objectClass=*)", ldap3.BASE)
    finally:
        conn.unbind()
