"""TLS (wss://) for ``serve(..., ssl=...)`` and ``connect(..., ssl=...)``.

SwiftWS runs TLS inside its native library, through its own link to the system OpenSSL. A
Python ``ssl.SSLContext`` lives in another OpenSSL and cannot hand over its keys, so:

* ``swiftws.tls.SSLContext`` is a drop-in with the ``ssl.SSLContext`` names websockets users
  write: ``SSLContext(ssl.PROTOCOL_TLS_SERVER)``, ``load_cert_chain(certfile, keyfile)``,
  ``load_verify_locations(cafile, capath, cadata)``, ``load_default_certs()``,
  ``check_hostname``, ``verify_mode``, ``minimum_version``, ``maximum_version``,
  ``set_alpn_protocols(["http/1.1"])``. It only records the settings; the native library reads
  the files when the server starts or the client connects. Use it for servers and for client
  certificates.
* A stdlib ``ssl.SSLContext`` for a client: what it lets us read is carried over
  (``verify_mode``, ``check_hostname``, ``minimum_version`` / ``maximum_version``, and the CA
  certificates it loaded from a file or ``cadata`` via ``get_ca_certs(binary_form=True)``). A
  client certificate loaded into it cannot be read back: use ``swiftws.tls.SSLContext`` for
  that. When it trusts a certificate that is not a CA (a self-signed server certificate, which
  ``get_ca_certs`` leaves out), asyncio runs TLS with the context itself instead (see
  ``swiftws.asyncio._tls_relay``; then ``proxy=`` is refused and redirects are not followed).
* A stdlib ``ssl.SSLContext`` for a server (websockets programs build theirs that way): asyncio
  runs TLS with it and hands the decrypted connection to the library (``_tls_relay``): every
  setting of the context applies; each byte is copied once more in Python each way, so
  ``swiftws.tls.SSLContext`` (native TLS) is the fast choice.
* ``ssl=True`` (or a ``wss://`` URI without ``ssl``) verifies against the system trust store.

``load_cert_chain(..., password=...)`` takes a ``str``, ``bytes`` or a callable returning one, as
``ssl`` does (the callable is called at once, not when the key is read). What is not supported
raises at once (ALPN protocols other than ``http/1.1``, ``check_hostname=True`` with ``CERT_NONE``, ``CERT_OPTIONAL``).
"""

from __future__ import annotations

import ssl as _ssl
from ctypes import byref
from typing import Any, List, Optional, Tuple

from . import _native as n
from ._config import c_strings
from .exceptions import check

__all__ = ["SSLContext", "tls_struct", "needs_asyncio_tls"]

_VERSIONS = {
    _ssl.TLSVersion.MINIMUM_SUPPORTED: None,
    _ssl.TLSVersion.MAXIMUM_SUPPORTED: None,
    _ssl.TLSVersion.TLSv1_2: n.SWS_TLS_1_2,
    _ssl.TLSVersion.TLSv1_3: n.SWS_TLS_1_3,
}


class SSLContext:
    """TLS settings with ``ssl.SSLContext``'s method names, handed to the native library."""

    def __init__(self, protocol: int = _ssl.PROTOCOL_TLS_CLIENT) -> None:
        if protocol not in (_ssl.PROTOCOL_TLS_CLIENT, _ssl.PROTOCOL_TLS_SERVER):
            raise ValueError("use ssl.PROTOCOL_TLS_CLIENT or ssl.PROTOCOL_TLS_SERVER")
        self.protocol = protocol
        server = protocol == _ssl.PROTOCOL_TLS_SERVER
        # The stdlib defaults of each protocol.
        self.check_hostname = not server
        self.verify_mode = _ssl.CERT_NONE if server else _ssl.CERT_REQUIRED
        self.minimum_version = _ssl.TLSVersion.TLSv1_2
        self.maximum_version = _ssl.TLSVersion.MAXIMUM_SUPPORTED
        self.certfile: Optional[str] = None
        self.keyfile: Optional[str] = None
        self.key_password: Optional[bytes] = None
        self.cafile: Optional[str] = None
        self.capath: Optional[str] = None
        self.cadata: Optional[str] = None
        self.use_system_trust_store = not server
        self.sni_certificates: List[Tuple[str, str]] = []

    def load_cert_chain(self, certfile: str, keyfile: Optional[str] = None, password: Any = None) -> None:
        """Our certificate chain (PEM; the key may be in the same file, and may be encrypted with
        ``password``: a ``str``, ``bytes`` or a callable returning one)."""
        self.key_password = _password_bytes(password)
        self.certfile = str(certfile)
        self.keyfile = str(keyfile) if keyfile is not None else self.certfile

    def add_sni_certificate(self, certfile: str, keyfile: Optional[str] = None) -> None:
        """Servers (SwiftWS only, not in ``ssl.SSLContext``): a further certificate, served to
        clients that ask for one of its names (SNI). Without SNI or a match, the one from
        ``load_cert_chain`` is used."""
        self.sni_certificates.append((str(certfile), str(keyfile if keyfile is not None else certfile)))

    def load_verify_locations(self, cafile: Optional[str] = None, capath: Optional[str] = None,
                              cadata: Any = None) -> None:
        """CAs to trust: a PEM file, a hashed directory, or PEM text (DER bytes are converted)."""
        if cafile is None and capath is None and cadata is None:
            raise TypeError("cafile, capath and cadata cannot be all omitted")
        if cafile is not None:
            self.cafile = str(cafile)
        if capath is not None:
            self.capath = str(capath)
        if cadata is not None:
            text = cadata if isinstance(cadata, str) else _ssl.DER_cert_to_PEM_cert(bytes(cadata))
            self.cadata = (self.cadata or "") + text

    def load_default_certs(self, purpose: Any = None) -> None:
        """Trust the system store too."""
        self.use_system_trust_store = True

    def set_default_verify_paths(self) -> None:
        """Trust the system store too."""
        self.use_system_trust_store = True

    def set_alpn_protocols(self, protocols: List[str]) -> None:
        """Only ``["http/1.1"]`` (what WebSocket needs) is supported; it is always used."""
        if list(protocols) != ["http/1.1"]:
            raise ValueError("only the ALPN protocol http/1.1 is supported")


def _password_bytes(password: Any) -> Optional[bytes]:
    """``password`` as ``ssl.SSLContext.load_cert_chain`` takes it, as bytes (None: none)."""
    if callable(password):
        password = password()
    if password is None:
        return None
    if isinstance(password, str):
        password = password.encode("utf-8")
    if not isinstance(password, (bytes, bytearray)):
        raise TypeError("password should be a string, bytes or a callable returning one")
    if b"\0" in password:
        raise ValueError("password must not contain NUL bytes")
    return bytes(password)


def needs_asyncio_tls(context: Any, server: bool) -> bool:
    """Whether ``context`` is a stdlib ``ssl.SSLContext`` the library's OpenSSL cannot be given:
    a server's (Python does not expose its certificate and key), or a client's trusting a
    certificate that is not a CA (a self-signed server certificate: ``get_ca_certs()`` leaves
    those out). Such connections run TLS in asyncio with the context itself
    (``swiftws.asyncio._tls_relay``)."""
    if not isinstance(context, _ssl.SSLContext):
        return False
    if server:
        return True
    stats = context.cert_store_stats()
    return stats["x509"] > stats["x509_ca"]


def _from_stdlib(context: _ssl.SSLContext, server: bool) -> SSLContext:
    """What can be read from a stdlib ``ssl.SSLContext`` (clients only: see needs_asyncio_tls)."""
    if server:
        raise TypeError("serve(ssl=...) with an ssl.SSLContext runs through asyncio's TLS (see swiftws.tls)")
    ours = SSLContext(_ssl.PROTOCOL_TLS_CLIENT)
    ours.check_hostname = context.check_hostname
    ours.verify_mode = context.verify_mode
    ours.minimum_version = context.minimum_version
    ours.maximum_version = context.maximum_version
    pem = "".join(_ssl.DER_cert_to_PEM_cert(der) for der in context.get_ca_certs(binary_form=True))
    ours.cadata = pem or None
    return ours


def _version(value: Any, default: int) -> int:
    try:
        mapped = _VERSIONS[value]
    except KeyError:
        raise ValueError(f"unsupported TLS version {value!r}: SwiftWS speaks TLS 1.2 and 1.3") from None
    return default if mapped is None else mapped


def tls_struct(ssl: Any, *, server: bool, server_hostname: Optional[str] = None) -> Tuple[n.TLSConfig, List[Any]]:
    """The ``sws_tls_config`` for ``ssl`` (True, ``ssl.SSLContext`` or ``swiftws.tls.SSLContext``),
    with the Python objects that must stay alive until the native call has read it."""
    if ssl is True:
        if server:
            raise TypeError("serve(ssl=True) needs certificates: pass a swiftws.tls.SSLContext")
        ssl = SSLContext(_ssl.PROTOCOL_TLS_CLIENT)
    elif isinstance(ssl, _ssl.SSLContext):
        ssl = _from_stdlib(ssl, server)
    elif not isinstance(ssl, SSLContext):
        raise TypeError(f"ssl must be True, an ssl.SSLContext or a swiftws.tls.SSLContext, not {type(ssl).__name__}")
    if (ssl.protocol == _ssl.PROTOCOL_TLS_SERVER) != server:
        raise ValueError("use ssl.PROTOCOL_TLS_SERVER for serve() and ssl.PROTOCOL_TLS_CLIENT for connect()")
    if ssl.verify_mode == _ssl.CERT_OPTIONAL:
        raise ValueError("ssl.CERT_OPTIONAL is not supported: use CERT_REQUIRED or CERT_NONE")
    verify = ssl.verify_mode == _ssl.CERT_REQUIRED
    if not server and ssl.check_hostname != verify:
        raise ValueError("SwiftWS verifies the certificate and the host name together: set check_hostname and "
                         "verify_mode both on (default) or both off (check_hostname=False, verify_mode=CERT_NONE)")
    if server and verify and not (ssl.cafile or ssl.capath or ssl.cadata or ssl.use_system_trust_store):
        raise ValueError("verify_mode=CERT_REQUIRED on a server needs load_verify_locations() for client certificates")
    config = n.TLSConfig()
    check(n.lib.sws_tls_config_init(byref(config)))
    keep: List[Any] = []

    def text(value: Optional[str]) -> Optional[bytes]:
        if value is None:
            return None
        encoded = value.encode("utf-8")
        keep.append(encoded)
        return encoded

    config.certificate_chain_file = text(ssl.certfile)
    config.private_key_file = text(ssl.keyfile)
    config.private_key_password = ssl.key_password
    config.ca_file = text(ssl.cafile)
    config.ca_directory = text(ssl.capath)
    config.ca_pem = text(ssl.cadata)
    config.use_system_trust_store = ssl.use_system_trust_store
    config.insecure_skip_verification = not server and not verify
    config.verify_client_certificates = server and verify
    config.server_name = text(server_hostname)
    if ssl.sni_certificates:
        chains, count = c_strings([chain for chain, _ in ssl.sni_certificates])
        keys, _ = c_strings([key for _, key in ssl.sni_certificates])
        keep += [chains, keys]
        config.sni_certificate_chain_files, config.sni_private_key_files = chains, keys
        config.sni_certificate_count = count
    config.min_version = _version(ssl.minimum_version, n.SWS_TLS_1_2)
    config.max_version = _version(ssl.maximum_version, n.SWS_TLS_1_3)
    return config, keep


def tls_error(message: str) -> _ssl.SSLError:
    """The exception websockets users catch for a failed TLS handshake."""
    if "certificate verify failed" in message:
        return _ssl.SSLCertVerificationError(message)
    return _ssl.SSLError(message)
