"""``zmqlog proxy``: the fan-in broker, on ZeroMQ's own steerable proxy.

Publishers connect to the frontend (an XSUB socket), subscribers to the backend (an
XPUB socket); ZeroMQ's proxy forwards log messages downstream and subscriptions
upstream, so a publisher's ``wait_for_subscribers()`` sees the subscribers behind the
proxy. The proxy runs in a worker thread (it is a blocking C call); the main thread
waits for Ctrl-C or SIGTERM and stops it through the proxy's control socket, so the
sockets are closed and the context terminated on the way out.

A subscriber behind the proxy is thereby heard by every publisher: the proxy's
frontend keeps every subscription and sends them all again at each reconnection, and
a publisher starts its socket over past 1 MiB of them (its defence against
subscription floods), so one subscriber that subscribes that much cuts every publisher
off. Where subscribers are not trusted (no allow-list on the backend), ``--subscribe-all``
subscribes the frontend to everything once and filters at the backend, a PUB socket:
publishers then send all their records to the proxy, and count the proxy as their one
subscriber.

Each side can be a CURVE server of its own, with an allow-list of its own: the
frontend's admits publishers, the backend's subscribers. Both allow-lists are served by
zmqlog's one authenticator of the proxy's context, each socket under its own ZAP domain.
Every handshake on either side is counted from ZeroMQ's socket monitor and the counts
are printed on exit; nothing is printed per attempt, so a peer retrying handshakes
cannot flood the proxy's output.
"""

from __future__ import annotations

import argparse
import os
import signal
import struct
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Final, NamedTuple, TextIO

import zmq

from zmqlog._endpoints import endpoint_error
from zmqlog._pubsocket import MAX_INBOUND
from zmqlog._security import ServerSecurity, is_exposed_bind
from zmqlog.exceptions import KeyFileError, UsageError

__all__ = ["HandshakeCounts", "proxy_command", "run_proxy"]

_CONTROL = "inproc://zmqlog-proxy-control"
# As deep as a publisher's default queue, so a burst from many publishers is kept.
_HWM = 100_000
# LogSubscriber's default max_message_size. A subscriber drops its connection on a
# message larger than it takes; a larger message from one publisher, forwarded, would
# cut every subscriber off the proxy. ZeroMQ drops that publisher's connection instead.
_MAX_MESSAGE = 4 << 20
# How long a stop waits for handshakes already under way to end, so that the counts
# printed include every peer that connected before the stop.
_SETTLE_SECONDS = 1.0

# Who connects to each side, and what the side does with logs (for messages).
_PEERS: Final = {"frontend": "publishers", "backend": "subscribers"}
_ROLE: Final = {"frontend": "takes in logs", "backend": "serves logs"}


class _Stop(KeyboardInterrupt):
    """SIGTERM arrived: stop as on Ctrl-C, but exit 0 (a service manager's stop)."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise _Stop


# -- counting handshakes ------------------------------------------------------------


class HandshakeCounts(NamedTuple):
    """What became of the connections to one side of the proxy, from ZeroMQ's monitor."""

    accepted: int
    """TCP (or IPC) connections accepted."""
    succeeded: int
    """Handshakes that ended with the peer admitted."""
    unauthorized: int
    """Refused by the allow-list: a CURVE key that is not in it."""
    mismatched: int
    """Refused: another security mechanism than this side's (plaintext against CURVE,
    or CURVE against plaintext)."""
    undecryptable: int
    """Refused: CURVE that did not decrypt, such as a client pinning another server key."""
    malformed: int
    """Refused: any other ZMTP protocol error."""
    abandoned: int
    """Closed, or timed out, before the handshake ended: port scans, health checks,
    clients that gave up. A plaintext client that reads a CURVE side's greeting before
    it has sent its own in full hangs up unseen, so it may be counted here."""

    @property
    def refused(self) -> int:
        """Handshakes this side refused."""
        return self.unauthorized + self.mismatched + self.undecryptable + self.malformed

    @property
    def in_progress(self) -> int:
        """Connections whose handshake has not ended yet."""
        return self.accepted - self.succeeded - self.refused - self.abandoned

    def summary(self) -> str:
        """One line for the exit report."""
        line = (
            f"{self.succeeded} succeeded, {self.refused} refused ({self.unauthorized} "
            f"unauthorized key, {self.mismatched} mechanism mismatch, {self.undecryptable} "
            f"undecryptable, {self.malformed} malformed), {self.abandoned} abandoned"
        )
        if self.in_progress:
            line += f", {self.in_progress} still in progress"
        return line


_EVENTS: Final = (
    zmq.EVENT_ACCEPTED
    | zmq.EVENT_HANDSHAKE_SUCCEEDED
    | zmq.EVENT_HANDSHAKE_FAILED_AUTH
    | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
    | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL
)
# Where each event is counted: the index of a HandshakeCounts field.
_FIELD: Final = {name: index for index, name in enumerate(HandshakeCounts._fields)}
_BY_EVENT: Final = {
    zmq.EVENT_ACCEPTED: _FIELD["accepted"],
    zmq.EVENT_HANDSHAKE_SUCCEEDED: _FIELD["succeeded"],
    zmq.EVENT_HANDSHAKE_FAILED_AUTH: _FIELD["unauthorized"],
    zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL: _FIELD["abandoned"],
}
_BY_PROTOCOL_ERROR: Final = {
    zmq.PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH: _FIELD["mismatched"],
    zmq.PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC: _FIELD["undecryptable"],
}
_EVENT_HEADER: Final = struct.Struct("=HI")  # event number, value (monitor version 1)


class _HandshakeCounter:
    """Counts the handshakes on the proxy's sockets in a thread, from their monitors.

    ZeroMQ's I/O thread writes one event per accepted connection and one per ended
    handshake into an ``inproc://`` pipe, and waits rather than drop one when the pipe
    is full, so the counts are exact. This thread must therefore always be reading; it
    only adds to counters, so each attempt costs a peer a handshake and the proxy a few
    integer additions, never a line of output or memory.

    Events of handshakes refused by the allow-list are the authenticator's refusals;
    the monitor also sees the peers that never reach the authenticator (plaintext, a
    wrong server key, a dropped connection).
    """

    def __init__(
        self, ctx: zmq.Context[zmq.Socket[bytes]], sockets: Mapping[str, zmq.Socket[bytes]]
    ) -> None:
        self._sockets = dict(sockets)
        self._counts = {name: [0] * len(HandshakeCounts._fields) for name in sockets}
        self._changed = threading.Condition()
        self._settling = False
        self._ctx = ctx
        self._pairs: list[zmq.Socket[bytes]] = []
        self._readers: dict[zmq.Socket[bytes], list[int]] = {}
        self._thread = threading.Thread(target=self._run, name="zmqlog-proxy-handshakes")
        try:
            for name, sock in sockets.items():
                endpoint = f"inproc://zmqlog-proxy-monitor-{name}"
                reader = self._pair()
                sock.monitor(endpoint, _EVENTS)
                # Connected at once: ZeroMQ would hold its I/O thread until a reader comes.
                reader.connect(endpoint)
                self._readers[reader] = self._counts[name]
            self._wake = self._pair()
            self._woken = self._pair()
            self._wake.bind("inproc://zmqlog-proxy-monitor-wake")
            self._woken.connect("inproc://zmqlog-proxy-monitor-wake")
            self._thread.start()
        except BaseException:
            self.close()
            raise

    def _pair(self) -> zmq.Socket[bytes]:
        pair = self._ctx.socket(zmq.PAIR)
        pair.setsockopt(zmq.LINGER, 0)
        self._pairs.append(pair)
        return pair

    def _run(self) -> None:
        poller = zmq.Poller()
        for reader in self._readers:
            poller.register(reader, zmq.POLLIN)
        poller.register(self._woken, zmq.POLLIN)
        while True:
            ready = dict(poller.poll())
            self._read_all()
            if self._woken in ready:
                command = self._woken.recv()
                if command == b"stop":
                    return
                with self._changed:
                    self._settling = True
                    self._changed.notify_all()

    def _read_all(self) -> None:
        """Count every event waiting in the monitors' pipes."""
        batch: list[tuple[list[int], int]] = []
        for reader, counts in self._readers.items():
            while True:
                try:
                    frames = reader.recv_multipart(zmq.NOBLOCK)
                except zmq.Again:
                    break
                event, value = _EVENT_HEADER.unpack_from(frames[0])
                if event == zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL:
                    batch.append((counts, _BY_PROTOCOL_ERROR.get(value, _FIELD["malformed"])))
                elif event in _BY_EVENT:
                    batch.append((counts, _BY_EVENT[event]))
        if batch:
            with self._changed:
                for counts, index in batch:
                    counts[index] += 1
                self._changed.notify_all()

    def _settled(self) -> bool:
        """Whether the pipes were emptied since settle() asked, with no handshake under way."""
        return self._settling and all(
            HandshakeCounts(*counts).in_progress <= 0 for counts in self._counts.values()
        )

    def snapshot(self) -> dict[str, HandshakeCounts]:
        """The counts so far, per side."""
        with self._changed:
            return {name: HandshakeCounts(*counts) for name, counts in self._counts.items()}

    def settle(self, timeout: float) -> dict[str, HandshakeCounts]:
        """Count what the monitors hold, wait (up to *timeout*) for handshakes under way.

        Every event written before this call is counted in the result: the thread
        empties the pipes once more before the wait begins.
        """
        deadline = time.monotonic() + timeout
        with self._changed:
            self._settling = False
        self._wake.send(b"settle")
        with self._changed:
            self._changed.wait_for(self._settled, timeout=max(0.0, deadline - time.monotonic()))
        return self.snapshot()

    def close(self) -> None:
        """Stop monitoring and the thread; close its sockets. Call with the proxy stopped."""
        # Stopped while the thread still reads: ZeroMQ may be waiting to hand it an event.
        for sock in self._sockets.values():
            if not sock.closed:
                sock.disable_monitor()
        if self._thread.is_alive():
            self._wake.send(b"stop")
            self._thread.join()
        for pair in self._pairs:
            pair.close(linger=0)


# -- running ------------------------------------------------------------------------


def _warn_if_plaintext(
    side: str, endpoints: Sequence[str], security: ServerSecurity | None, err: TextIO
) -> None:
    """Say so, once per side, when it would carry logs unencrypted to other hosts."""
    if security is not None and security.enabled:
        return
    exposed = [endpoint for endpoint in endpoints if is_exposed_bind(endpoint)]
    if exposed:
        print(
            f"zmqlog proxy: warning: the {side} {_ROLE[side]} unencrypted on "
            f"{', '.join(exposed)}, which other hosts can reach; bind to 127.0.0.1 or "
            f"ipc://, or enable CURVE with --{side}-secret-key (and --{side}-authorized-keys)",
            file=err,
        )


def _bind_all(sock: zmq.Socket[bytes], endpoints: Sequence[str]) -> list[str]:
    """Bind *sock* to each endpoint; return the endpoints as bound (real ports for ``*``)."""
    bound = []
    for endpoint in endpoints:
        sock.bind(endpoint)
        bound.append(sock.getsockopt_string(zmq.LAST_ENDPOINT))
    return bound


def _serve(
    ctx: zmq.Context[zmq.Socket[bytes]],
    frontend: zmq.Socket[bytes],
    backend: zmq.Socket[bytes],
    failure: list[BaseException],
) -> None:
    control = ctx.socket(zmq.PAIR)
    try:
        control.connect(_CONTROL)
        zmq.proxy_steerable(frontend, backend, None, control)
    except BaseException as error:  # reported by the main thread
        failure.append(error)
    finally:
        control.close(linger=0)


def _statistics(control: zmq.Socket[bytes]) -> str:
    """Ask the proxy how much it forwarded (it answers between messages)."""
    control.send(b"STATISTICS")
    if not control.poll(1000):
        return ""
    counts = [struct.unpack("=Q", frame)[0] for frame in control.recv_multipart()]
    # ZeroMQ counts frames; a log message is two.
    return f"{counts[0]} frames ({counts[1]} bytes) from publishers, 2 per log message"


def run_proxy(
    frontends: Sequence[str],
    backends: Sequence[str],
    out: TextIO,
    err: TextIO,
    *,
    frontend_curve: ServerSecurity | None = None,
    backend_curve: ServerSecurity | None = None,
    subscribe_all: bool = False,
) -> int:
    """Run the proxy until Ctrl-C (exit code 130) or SIGTERM (0); 1 if a bind fails.

    Prints ``frontend <endpoint>`` and ``backend <endpoint>`` lines on *out* as soon as
    the sockets are bound, with the real port when the endpoint asked for ``*``. On
    exit, prints on *err* what was forwarded and, per side, the handshakes counted.
    *frontend_curve* and *backend_curve* make that side a CURVE server; they are
    released (their authenticator stopped) on the way out.

    With *subscribe_all*, the frontend subscribes to everything once and the backend is
    a PUB socket, which keeps its subscribers' subscriptions to itself: nothing a
    subscriber subscribes reaches a publisher (see the module's docstring).
    """
    endpoints = {"frontend": list(frontends), "backend": list(backends)}
    curve = {"frontend": frontend_curve, "backend": backend_curve}
    for side, security in curve.items():
        _warn_if_plaintext(side, endpoints[side], security, err)
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    frontend = ctx.socket(zmq.XSUB)
    backend = ctx.socket(zmq.PUB if subscribe_all else zmq.XPUB)
    sockets = {"frontend": frontend, "backend": backend}
    control = ctx.socket(zmq.PAIR)
    counter: _HandshakeCounter | None = None
    worker: threading.Thread | None = None
    # Signal handlers can only be set on the main thread (tests may run us elsewhere).
    on_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _on_sigterm) if on_main else None
    code = 0
    try:
        for sock in (frontend, backend, control):
            sock.setsockopt(zmq.LINGER, 0)
        frontend.setsockopt(zmq.RCVHWM, _HWM)
        frontend.setsockopt(zmq.MAXMSGSIZE, _MAX_MESSAGE)
        backend.setsockopt(zmq.SNDHWM, _HWM)
        # A subscription longer than a publisher takes must stop here: the frontend
        # keeps every subscription and sends them all again at each reconnection, so
        # one that a publisher refuses (by dropping the connection) would cut every
        # subscriber off for as long as its sender stays connected.
        backend.setsockopt(zmq.MAXMSGSIZE, MAX_INBOUND)
        if subscribe_all:
            frontend.send(b"\x01")  # XSUB: subscribe to "", resent at each connection
        control.bind(_CONTROL)
        for side, security in curve.items():
            if security is not None and security.enabled:
                security.apply(sockets[side], endpoints[side][0], bind=True)
        # Before binding, so that no connection goes uncounted.
        counter = _HandshakeCounter(ctx, sockets)
        bound: dict[str, list[str]] = {}
        try:
            for name, sock in sockets.items():
                bound[name] = _bind_all(sock, endpoints[name])
        except zmq.ZMQError as error:
            message = endpoint_error(f"bind the {name} to", error, endpoints[name])
            print(f"zmqlog proxy: {message}", file=err)
            return 1
        failure: list[BaseException] = []
        worker = threading.Thread(
            target=_serve, args=(ctx, frontend, backend, failure), name="zmqlog-proxy"
        )
        worker.start()
        # From here on a signal, whenever it lands, takes the clean way out.
        try:
            print(
                "zmqlog proxy: publishers connect to the frontend, subscribers to the "
                "backend; Ctrl-C stops",
                file=err,
            )
            err.flush()
            for name, bound_endpoints in bound.items():
                for endpoint in bound_endpoints:
                    print(name, endpoint, file=out)
            out.flush()
            worker.join()
        except _Stop:
            code = 0
        except KeyboardInterrupt:
            code = 130
        if failure:
            print(f"zmqlog proxy: the proxy stopped: {failure[0]}", file=err)
            return 1
        handshakes = counter.settle(_SETTLE_SECONDS)
        stats = _statistics(control)
        control.send(b"TERMINATE")
        worker.join()
        if stats:
            print(f"zmqlog proxy: stopped after forwarding {stats}", file=err)
        for name, counts in handshakes.items():
            print(f"zmqlog proxy: {name} handshakes: {counts.summary()}", file=err)
        return code
    finally:
        if on_main:
            signal.signal(signal.SIGTERM, previous)
        if worker is not None and worker.is_alive():
            control.send(b"TERMINATE")
            worker.join()
        if counter is not None:
            counter.close()
        for sock in (frontend, backend, control):
            sock.close(linger=0)
        for security in curve.values():
            if security is not None:
                security.release()
        ctx.term()


def proxy_command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Run ``zmqlog proxy`` from its parsed arguments; return the exit code.

    A key file that cannot be used, or an allow-list without the key pair it needs, is
    one line on *err* and exit code 2, before anything is bound.
    """
    curve: dict[str, ServerSecurity] = {}
    for side, peers in _PEERS.items():
        secret = getattr(args, f"{side}_secret_key")
        authorized = getattr(args, f"{side}_authorized_keys")
        if authorized is not None and secret is None:
            print(
                f"zmqlog proxy: --{side}-authorized-keys needs --{side}-secret-key: {peers} "
                f"are authorized by their CURVE keys, so the {side} needs a key pair of its "
                "own (create one with 'zmqlog keys DIR NAME')",
                file=err,
            )
            return 2
        try:
            # The proxy counts refused handshakes exactly and reports them on exit.
            curve[side] = ServerSecurity(secret, authorized, report_refusals=False)
        except KeyFileError as error:
            is_secret = secret is not None and error.path == os.fspath(secret)
            flag = "secret-key" if is_secret else "authorized-keys"
            print(f"zmqlog proxy: --{side}-{flag}: {error}", file=err)
            return 2
        except UsageError as error:
            print(f"zmqlog proxy: {error}", file=err)
            return 2
    return run_proxy(
        args.frontend,
        args.backend,
        out,
        err,
        frontend_curve=curve["frontend"],
        backend_curve=curve["backend"],
        subscribe_all=args.subscribe_all,
    )
