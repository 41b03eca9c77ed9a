"""CURVE encryption and ZAP authentication: key files, socket options, the authenticator.

Keys live in ZeroMQ's certificate format (what ``zmq.auth`` and czmq read and write): a
``NAME.key`` file holding the public key, to hand out, and a ``NAME.key_secret`` file
holding both keys, to keep. Every key file is checked when a publisher or subscriber
is created, so a missing, readable-by-others or malformed file stops the program at
start-up with the file's name instead of quietly falling back to plaintext.

A publisher with an allow-list (``authorized_keys``) needs a ZAP handler: a socket
bound to ``inproc://zeromq.zap.01`` in the publisher's context that ZeroMQ asks about
every connecting peer. ZeroMQ allows one per context, so zmqlog keeps one per context,
shared by every zmqlog publisher on it and stopped when the last of them closes. Each
publisher tags its socket with a ZAP domain of its own, so publishers with different
allow-lists can share a context.
"""

from __future__ import annotations

import argparse
import datetime
import ipaddress
import itertools
import logging
import os
import stat
import sys
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final

import zmq
from zmq.auth.base import Authenticator
from zmq.auth.thread import ThreadAuthenticator
from zmq.utils import z85

from zmqlog.exceptions import KeyFileError, UsageError

__all__ = [
    "AuthorizedKeys",
    "ClientSecurity",
    "KeyPath",
    "Security",
    "ServerSecurity",
    "add_curve_client_arguments",
    "add_keys_parser",
    "generate_keypair",
    "is_exposed_bind",
    "keys_command",
    "publisher_security",
    "subscriber_security",
]

KeyPath = str | os.PathLike[str]
"""A key file's path."""

AuthorizedKeys = KeyPath | Iterable[str | bytes | os.PathLike[str]]
"""A directory of ``.key`` files, or Z85 public keys and ``.key`` file paths."""

PUBLIC_SUFFIX: Final = ".key"
SECRET_SUFFIX: Final = ".key_secret"

_ZAP_ENDPOINT: Final = "inproc://zeromq.zap.01"
_Z85_KEY_LENGTH: Final = 40

# The module logger, for the plaintext warning. zmqlog's handlers never log from
# emit(), so a warning that lands on an AsyncPUBHandler cannot come back here.
_log = logging.getLogger("zmqlog")

# pyzmq's authenticator logs every handshake it is asked about (at DEBUG, on
# "zmq.auth"), so a peer retrying with a refused key made one record per attempt, which
# a root logger at DEBUG then published (7,131 records for 2,377 refusals, issue 12).
# zmqlog's own authenticators log to this logger, which reaches no handler unless a
# program attaches one; refusals are counted and summed up instead (_Refusals).
_zap_log = logging.getLogger("zmqlog.zap")
_zap_log.propagate = False
_zap_log.addHandler(logging.NullHandler())

# At most one summary of refused handshakes per this many seconds.
_REFUSAL_REPORT_INTERVAL: Final = 60.0


# -- key files ------------------------------------------------------------------------


def _banner(kind: str, advice: str) -> str:
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    return f"#   ZeroMQ CURVE {kind} certificate, written by zmqlog on {now}\n#   {advice}\n\n"


def _certificate(banner: str, public: bytes, secret: bytes | None = None) -> bytes:
    lines = [banner, "metadata\n", "curve\n", f'    public-key = "{public.decode()}"\n']
    if secret is not None:
        lines.append(f'    secret-key = "{secret.decode()}"\n')
    return "".join(lines).encode("ascii")


def _write_new(path: Path, data: bytes, mode: int) -> None:
    """Create *path* with *mode* and write *data*; never replace an existing file.

    The mode is given to ``open(2)``, so the file never exists, even for an instant,
    with looser permissions than *mode*.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), mode)
    except FileExistsError:
        raise KeyFileError(path, "already exists; remove it first or choose another name") from None
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def generate_keypair(directory: KeyPath, name: str) -> tuple[Path, Path]:
    """Create a CURVE key pair as ``DIRECTORY/NAME.key`` and ``DIRECTORY/NAME.key_secret``.

    The files are in ZeroMQ's certificate format, readable by ``zmq.auth`` and czmq.
    Hand out the ``.key`` file (the public key); keep the ``.key_secret`` file, which is
    created with mode 0600 (readable by its owner only). The directory is created, with
    mode 0700, if it does not exist.

    Returns:
        ``(public_file, secret_file)``.

    Raises:
        KeyFileError: one of the files already exists (nothing is overwritten).
        UsageError: *name* is empty or contains a path separator.
    """
    if not name or name in (".", "..") or os.sep in name or (os.altsep and os.altsep in name):
        raise UsageError(f"a key name is a plain file name such as 'server', not {name!r}")
    folder = Path(directory)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    public_file = folder / f"{name}{PUBLIC_SUFFIX}"
    secret_file = folder / f"{name}{SECRET_SUFFIX}"
    for path in (public_file, secret_file):
        if path.exists():
            raise KeyFileError(path, "already exists; remove it first or choose another name")
    public, secret = zmq.curve_keypair()
    _write_new(
        secret_file,
        _certificate(
            _banner("secret", "Keep this file private (mode 0600); never copy it to another host."),
            public,
            secret,
        ),
        0o600,
    )
    try:
        _write_new(
            public_file,
            _certificate(
                _banner("public", "Give this file to the peers that must trust you."), public
            ),
            0o644,
        )
    except BaseException:
        secret_file.unlink(missing_ok=True)
        raise
    return public_file, secret_file


def _z85_key(value: bytes) -> bytes | None:
    """Return *value* if it is a well-formed Z85 CURVE key (40 characters), else None."""
    if len(value) != _Z85_KEY_LENGTH:
        return None
    try:
        z85.decode(value)
    except (KeyError, ValueError):
        return None
    return value


# A ZeroMQ certificate is a few hundred bytes; a file this size is not one.
_MAX_KEY_FILE_BYTES: Final = 64 << 10
_KEY_FILE_FLAGS: Final = (
    os.O_RDONLY
    | getattr(os, "O_NONBLOCK", 0)  # a FIFO opens at once instead of waiting for a writer
    | getattr(os, "O_NOCTTY", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def _read_key_file(path: Path) -> tuple[bytes, int]:
    """Return the bytes of the key file at *path* and its mode, never blocking.

    Only a regular file of at most 64 KiB is read: a FIFO would block the caller
    until someone writes to it, and ``/dev/zero`` or a huge file would be read into
    memory. The file is opened without blocking, and checked with ``fstat`` on the
    open descriptor, so what is checked is what is read.
    """
    try:
        fd = os.open(path, _KEY_FILE_FLAGS)
    except FileNotFoundError:
        raise KeyFileError(
            path, "does not exist; create a key pair with 'zmqlog keys DIR NAME'"
        ) from None
    except OSError as err:
        raise KeyFileError(path, f"cannot be read ({err.strerror or err})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise KeyFileError(
                path,
                f"is {_kind(info.st_mode)}, not a key file; give the path of a NAME.key or "
                "NAME.key_secret file made by 'zmqlog keys DIR NAME'",
            )
        if info.st_size > _MAX_KEY_FILE_BYTES:
            raise KeyFileError(path, _too_large(info.st_size))
        chunks: list[bytes] = []
        size = 0
        while size <= _MAX_KEY_FILE_BYTES:  # the file may grow while it is read
            chunk = os.read(fd, _MAX_KEY_FILE_BYTES + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > _MAX_KEY_FILE_BYTES:
            raise KeyFileError(path, _too_large(size))
    except OSError as err:
        raise KeyFileError(path, f"cannot be read ({err.strerror or err})") from None
    finally:
        os.close(fd)
    return b"".join(chunks), info.st_mode


def _too_large(size: int) -> str:
    return (
        f"is {size:,} bytes, and a key file is a few hundred; give the path of a NAME.key "
        "or NAME.key_secret file made by 'zmqlog keys DIR NAME'"
    )


def _read_certificate(path: Path) -> tuple[bytes | None, bytes | None, int]:
    """Return the ``(public-key, secret-key)`` values in the certificate at *path*, and
    the file's mode."""
    data, mode = _read_key_file(path)
    public = secret = None
    for raw_line in data.splitlines():
        line = raw_line.strip()
        name, sep, value = line.partition(b"=")
        if not sep or line.startswith(b"#"):
            continue
        value = value.strip(b" \t'\"")
        if name.strip() == b"public-key":
            public = value
        elif name.strip() == b"secret-key":
            secret = value
    return public, secret, mode


def load_public_key(path: KeyPath) -> bytes:
    """Return the Z85 public key in the certificate file *path*.

    Raises:
        KeyFileError: the file is missing, unreadable, not a regular file (a FIFO, a
            device, a directory), larger than 64 KiB, or holds no well-formed public key.
    """
    file = Path(path)
    public, _, _ = _read_certificate(file)
    if public is None:
        raise KeyFileError(file, "holds no 'public-key = \"...\"' line; is it a ZeroMQ key file?")
    if _z85_key(public) is None:
        raise KeyFileError(file, "holds a malformed public key (expected 40 Z85 characters)")
    return public


def load_secret_key(path: KeyPath) -> tuple[bytes, bytes]:
    """Return the Z85 ``(public, secret)`` keys in the secret certificate file *path*.

    Raises:
        KeyFileError: the file is missing, unreadable, not a regular file, larger than
            64 KiB, readable or writable by other users, or does not hold a matching,
            well-formed key pair.
    """
    file = Path(path)
    public, secret, mode = _read_certificate(file)
    if secret is None:
        raise KeyFileError(
            file, "holds no secret key; give the NAME.key_secret file, not the public NAME.key"
        )
    if os.name == "posix" and mode & 0o077:
        raise KeyFileError(
            file,
            f"is accessible to other users (mode {mode & 0o777:04o}), so the secret key "
            f"may be known to them; restrict it with: chmod 600 {file}",
        )
    if _z85_key(secret) is None:
        raise KeyFileError(file, "holds a malformed secret key (expected 40 Z85 characters)")
    derived = zmq.curve_public(secret)
    if public is not None and public != derived:
        raise KeyFileError(file, "holds a public key that does not belong to its secret key")
    return derived, secret


def _authorized_key_set(authorized_keys: AuthorizedKeys) -> frozenset[bytes]:
    """Resolve an allow-list argument to a set of Z85 public keys."""
    if isinstance(authorized_keys, (str, os.PathLike)):
        folder = Path(authorized_keys)
        if not folder.is_dir():
            raise KeyFileError(
                folder,
                "is not a directory; authorized_keys takes a directory of .key files "
                "or a list of Z85 public keys",
            )
        keys = frozenset(load_public_key(file) for file in sorted(folder.glob(f"*{PUBLIC_SUFFIX}")))
        if not keys:
            raise KeyFileError(folder, "holds no .key files, so every client would be refused")
        return keys
    if isinstance(authorized_keys, bytes):
        raise UsageError("authorized_keys takes a list of keys, not one bytes value")
    found: set[bytes] = set()
    for item in authorized_keys:
        if isinstance(item, os.PathLike):
            found.add(load_public_key(item))
            continue
        raw = item.encode("ascii", "replace") if isinstance(item, str) else bytes(item)
        key = _z85_key(raw)
        if key is None:
            raise UsageError(
                f"authorized_keys holds {item!r}, which is not a 40-character Z85 public "
                "key; pass the key itself or the pathlib.Path of its .key file"
            )
        found.add(key)
    if not found:
        raise UsageError("authorized_keys is empty, so every client would be refused")
    return frozenset(found)


def _require_curve() -> None:
    if not zmq.has("curve"):
        raise UsageError(
            "this libzmq was built without CURVE support; install pyzmq's wheels "
            "(they bundle a libzmq with CURVE) or a libzmq built with libsodium"
        )


# -- the authenticator --------------------------------------------------------------


class _ReleasingAuthenticator(Authenticator):
    """Frees the ZAP endpoint the moment the authenticator stops.

    Closing a socket releases its ``inproc://`` endpoint only when ZeroMQ's reaper gets
    to it, so a publisher started right after another one closed on the same context
    would find the endpoint taken. An explicit unbind releases it at once.
    """

    def stop(self) -> None:
        if self.zap_socket is not None:
            try:
                self.zap_socket.unbind(_ZAP_ENDPOINT)
            except zmq.ZMQError:
                pass  # never bound: start() failed
        super().stop()


class _ZapThread(ThreadAuthenticator, _ReleasingAuthenticator):
    """pyzmq's thread authenticator with :class:`_ReleasingAuthenticator`'s stop.

    ``ThreadAuthenticator.stop`` ends and joins its thread before calling the base
    class's ``stop``, so the unbind runs after the thread let go of the socket.
    """


class _ContextAuthenticator:
    """The ZAP handler of one context, shared by the zmqlog publishers on it.

    It runs pyzmq's :class:`~zmq.auth.thread.ThreadAuthenticator` rather than the asyncio one:
    a handler may be built before any event loop runs (``logging.config.dictConfig``)
    and outlive the loop it first drained on (``asyncio.run()`` twice), and a thread
    keeps answering ZeroMQ while the application blocks its loop.
    """

    def __init__(self, context: zmq.Context[Any]) -> None:
        self.context = context
        self.users = 0
        self._domains: dict[str, frozenset[bytes]] = {}
        self._quiet: set[str] = set()  # domains whose owner reports refusals itself
        self._authenticator = _ZapThread(context, log=_zap_log)
        self.refused = 0
        """CURVE clients refused because their key is not on an allow-list."""
        self._unreported = 0
        self._reported_at = 0.0

    def start(self) -> None:
        try:
            self._authenticator.start()
        except zmq.ZMQError as err:
            self._authenticator.stop()
            if err.errno == zmq.EADDRINUSE:
                raise UsageError(
                    "this ZeroMQ context already has a ZAP authenticator (zmq.auth) of its "
                    "own; give the publisher a context of its own, or leave authorized_keys "
                    "out and authorize clients in your authenticator"
                ) from None
            raise
        # Sockets of the context that are not zmqlog publishers with an allow-list
        # (their ZAP domain is empty, which pyzmq reports as "*") are treated as
        # ZeroMQ treats them with no ZAP handler at all: any CURVE client key passes.
        self._authenticator.configure_curve_callback("*", self)

    def stop(self) -> None:
        self._authenticator.stop()

    def add(self, domain: str, keys: frozenset[bytes], *, report: bool = True) -> None:
        self._domains[domain] = keys
        if not report:
            self._quiet.add(domain)
        self._authenticator.configure_curve_callback(domain, self)

    def remove(self, domain: str) -> None:
        self._domains.pop(domain, None)
        self._quiet.discard(domain)

    def callback(self, domain: str, key: bytes) -> bool:
        """Decide for pyzmq's authenticator thread whether *key* may connect."""
        if domain == "*":
            return True
        allowed = self._domains.get(domain)
        if allowed is not None and key in allowed:
            return True
        self.refused += 1
        if domain not in self._quiet:
            self._report_refusal()
        return False

    def _report_refusal(self) -> None:
        """Say that clients were refused at most once a minute, never once per attempt
        (a refused client retries its handshake for as long as it runs)."""
        self._unreported += 1
        now = time.monotonic()
        if now - self._reported_at < _REFUSAL_REPORT_INTERVAL and self._reported_at:
            return
        count, self._unreported, self._reported_at = self._unreported, 0, now
        _log.warning(
            "zmqlog refused %d CURVE handshake(s) from client keys not in authorized_keys "
            "(%d in all); add a client's .key file to the allow-list to admit it",
            count,
            self.refused,
        )


_registry_lock = threading.Lock()
# id(context) -> its authenticator; an entry lives while a publisher on it does.
_registry: dict[int, _ContextAuthenticator] = {}
_domain_numbers = itertools.count(1)


def _acquire_authenticator(
    context: zmq.Context[Any], domain: str, keys: frozenset[bytes], *, report: bool = True
) -> None:
    with _registry_lock:
        auth = _registry.get(id(context))
        if auth is None or auth.context is not context:
            auth = _ContextAuthenticator(context)
            auth.start()
            _registry[id(context)] = auth
        auth.users += 1
        auth.add(domain, keys, report=report)


def _release_authenticator(context: zmq.Context[Any], domain: str) -> None:
    with _registry_lock:
        auth = _registry.get(id(context))
        if auth is None or auth.context is not context:
            return
        auth.remove(domain)
        auth.users -= 1
        if auth.users == 0:
            del _registry[id(context)]
            auth.stop()


# -- plaintext exposure -------------------------------------------------------------

_warned_lock = threading.Lock()
_warned = False


def is_exposed_bind(endpoint: str) -> bool:
    """Whether binding *endpoint* accepts connections from other hosts.

    True for TCP on a wildcard (``*``, ``0.0.0.0``, ``::``), a non-loopback address,
    a host name other than ``localhost`` or a network interface other than loopback.
    """
    scheme, sep, rest = endpoint.partition("://")
    if not sep or scheme.lower() != "tcp":
        return False
    host = rest.rpartition(":")[0].strip("[]").lower()
    if host in ("localhost", "lo", "lo0"):
        return False
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:
        return True  # '*', a host name or an interface: assume it is reachable


def _warn_plaintext(endpoint: str, *, bind: bool) -> None:
    global _warned
    with _warned_lock:
        if _warned:
            return
        _warned = True
    if bind:
        _log.warning(
            "zmqlog is publishing logs unencrypted on %s, which other hosts can reach; "
            "bind to 127.0.0.1 or ipc://, or enable CURVE with curve_secret_key_file= "
            "(and authorized_keys=)",
            endpoint,
        )
    else:
        _log.warning(
            "zmqlog is sending logs unencrypted to %s, across the network; enable CURVE "
            "with curve_server_key_file= (the peer's public key) and curve_secret_key_file=",
            endpoint,
        )


# -- socket configuration -------------------------------------------------------------


class ServerSecurity:
    """The CURVE settings of a socket that is the CURVE server, checked before it exists.

    That is a publisher peers connect to (or that connects to a subscriber acting as
    client), or a subscriber that publishers connect to (``LogSubscriber(bind=True)``).
    :meth:`apply` sets them on the socket (before it binds or connects) and starts the
    context's authenticator when there is an allow-list; :meth:`release` stops it.
    *peers* names who connects, for messages ("subscribers" or "publishers").
    """

    __slots__ = ("_context", "_domain", "_keys", "_report", "_secret")

    def __init__(
        self,
        curve_secret_key_file: KeyPath | None = None,
        authorized_keys: AuthorizedKeys | None = None,
        *,
        report_refusals: bool = True,
        owner: str = "publisher",
    ) -> None:
        self._report = report_refusals  # a summary a minute on the zmqlog logger
        self._secret: bytes | None = None
        self._keys: frozenset[bytes] | None = None
        self._context: zmq.Context[Any] | None = None
        self._domain = ""
        if curve_secret_key_file is None:
            if authorized_keys is not None:
                raise UsageError(
                    "authorized_keys needs curve_secret_key_file: clients are authorized "
                    f"by their CURVE keys, so the {owner} needs a key pair of its own"
                )
            return
        _require_curve()
        self._secret = load_secret_key(curve_secret_key_file)[1]
        if authorized_keys is not None:
            self._keys = _authorized_key_set(authorized_keys)

    @property
    def enabled(self) -> bool:
        """Whether CURVE is on."""
        return self._secret is not None

    def apply(self, socket: zmq.Socket[Any], endpoint: str, *, bind: bool) -> None:
        """Configure *socket* (not yet bound or connected) to publish to *endpoint*."""
        if self._secret is None:
            if is_exposed_bind(endpoint):
                _warn_plaintext(endpoint, bind=bind)
            return
        socket.setsockopt(zmq.CURVE_SERVER, 1)
        socket.setsockopt(zmq.CURVE_SECRETKEY, self._secret)
        if self._keys is not None:
            domain = f"zmqlog-{next(_domain_numbers)}"
            socket.setsockopt(zmq.ZAP_DOMAIN, domain.encode("ascii"))
            _acquire_authenticator(socket.context, domain, self._keys, report=self._report)
            self._context, self._domain = socket.context, domain

    def release(self) -> None:
        """Stop authorizing for this socket (and the authenticator, if it was the last)."""
        context, self._context = self._context, None
        if context is not None:
            _release_authenticator(context, self._domain)


class ClientSecurity:
    """The CURVE settings of a socket that is a CURVE client, checked before it exists:
    a subscriber of a publisher, or a publisher that connects to a proxy or to a
    subscriber acting as server. Without a server key it is plaintext."""

    __slots__ = ("_public", "_secret", "_server")

    def __init__(
        self,
        curve_server_key_file: KeyPath | None = None,
        curve_secret_key_file: KeyPath | None = None,
    ) -> None:
        self._server: bytes | None = None
        self._public = self._secret = b""
        if curve_server_key_file is None:
            if curve_secret_key_file is not None:
                raise UsageError(
                    "curve_secret_key_file needs curve_server_key_file: a CURVE client must "
                    "know the server's public key (its NAME.key file)"
                )
            return
        _require_curve()
        self._server = load_public_key(curve_server_key_file)
        if curve_secret_key_file is not None:
            self._public, self._secret = load_secret_key(curve_secret_key_file)

    @property
    def enabled(self) -> bool:
        """Whether CURVE is on."""
        return self._server is not None

    def release(self) -> None:
        """Nothing to stop: a client has no authenticator."""

    def apply(self, socket: zmq.Socket[Any], endpoint: str = "", *, bind: bool = False) -> None:
        """Configure *socket* (not yet connected or bound) as a CURVE client, if enabled."""
        if self._server is None:
            return
        public, secret = self._public, self._secret
        if not secret:
            # No key of our own: encrypt with a throwaway pair. Publishers with an
            # allow-list refuse it; those without one accept any client key.
            public, secret = zmq.curve_keypair()
        socket.setsockopt(zmq.CURVE_SERVERKEY, self._server)
        socket.setsockopt(zmq.CURVE_PUBLICKEY, public)
        socket.setsockopt(zmq.CURVE_SECRETKEY, secret)


Security = ServerSecurity | ClientSecurity
"""A socket's CURVE settings, in either role."""


def publisher_security(
    curve_secret_key_file: KeyPath | None,
    authorized_keys: AuthorizedKeys | None,
    curve_server_key_file: KeyPath | None,
) -> Security:
    """The CURVE role of a publisher: the server (its own key pair, and the subscribers
    it admits), or, given the server's public key, a client of a proxy or of a
    subscriber that is the server."""
    if curve_server_key_file is None:
        return ServerSecurity(curve_secret_key_file, authorized_keys)
    if authorized_keys is not None:
        raise UsageError(
            "authorized_keys is for a publisher that is the CURVE server; with "
            "curve_server_key_file it is a client, and the server it connects to (a proxy's "
            "frontend, a subscriber) decides whom to admit"
        )
    return ClientSecurity(curve_server_key_file, curve_secret_key_file)


def subscriber_security(
    curve_server_key_file: KeyPath | None,
    curve_secret_key_file: KeyPath | None,
    authorized_keys: AuthorizedKeys | None,
) -> Security:
    """The CURVE role of a subscriber: a client of the publisher whose public key it
    pins, or, with only a key pair of its own, the server that publishers connect to
    (``bind=True``), admitting those in *authorized_keys*."""
    if curve_server_key_file is not None:
        if authorized_keys is not None:
            raise UsageError(
                "authorized_keys is for a subscriber that is the CURVE server (a key pair of "
                "its own, no curve_server_key_file); one that pins a publisher's key is its "
                "client, and that publisher decides whom to admit"
            )
        return ClientSecurity(curve_server_key_file, curve_secret_key_file)
    if curve_secret_key_file is not None or authorized_keys is not None:
        return ServerSecurity(curve_secret_key_file, authorized_keys, owner="subscriber")
    return ClientSecurity()


# -- the command line ---------------------------------------------------------------


def add_keys_parser(commands: Any) -> None:
    """Register ``zmqlog keys`` on the CLI's subparsers."""
    keys = commands.add_parser(
        "keys",
        help="create a CURVE key pair for encrypted, authenticated logging",
        description="Create DIR/NAME.key (the public key: give it to peers) and "
        "DIR/NAME.key_secret (the secret key, mode 0600: keep it) in ZeroMQ's "
        "certificate format. Existing files are never overwritten.",
    )
    keys.add_argument(
        "directory", metavar="DIR", help="where to write the files (created if missing)"
    )
    keys.add_argument("name", metavar="NAME", help="the pair's name, e.g. 'server' or a host name")


def add_curve_client_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--server-key``, ``--secret-key`` and ``--authorized-keys`` for a command
    that subscribes.

    They land in ``args.curve_server_key_file``, ``args.curve_secret_key_file`` and
    ``args.authorized_keys``, named as :class:`~zmqlog.LogSubscriber`'s keyword arguments.
    """
    group = parser.add_argument_group("CURVE encryption")
    group.add_argument(
        "--server-key",
        dest="curve_server_key_file",
        metavar="FILE",
        help="the publisher's public NAME.key: connect encrypted, to that publisher only",
    )
    group.add_argument(
        "--secret-key",
        dest="curve_secret_key_file",
        metavar="FILE",
        help="this subscriber's NAME.key_secret, for publishers with an allow-list; "
        "without --server-key (and with --bind), tail is the CURVE server publishers "
        "connect to with LogPublisher(..., bind=False, curve_server_key_file=...)",
    )
    group.add_argument(
        "--authorized-keys",
        metavar="DIR",
        help="with --bind --secret-key: the publishers allowed to connect (a directory "
        "of their .key files); without it any client key is accepted",
    )


def keys_command(args: argparse.Namespace) -> int:
    """Run ``zmqlog keys DIR NAME``; return the exit code."""
    try:
        public_file, secret_file = generate_keypair(args.directory, args.name)
    except (KeyFileError, UsageError) as err:
        print(f"zmqlog keys: {err}", file=sys.stderr)
        return 1
    except OSError as err:
        print(
            f"zmqlog keys: cannot write to {args.directory}: {err.strerror or err}", file=sys.stderr
        )
        return 1
    print(f"public key: {public_file}  (give it to the peers that must trust this one)")
    print(f"secret key: {secret_file}  (mode 0600; keep it on this host only)")
    return 0
