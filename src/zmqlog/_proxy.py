"""``zmqlog proxy``: the fan-in broker, on ZeroMQ's own steerable proxy.

Publishers connect to the frontend (an XSUB socket), subscribers to the backend (an
XPUB socket); ZeroMQ's proxy forwards log messages downstream and subscriptions
upstream, so a publisher's ``wait_for_subscribers()`` sees the subscribers behind the
proxy. The proxy runs in a worker thread (it is a blocking C call); the main thread
waits for Ctrl-C or SIGTERM and stops it through the proxy's control socket, so the
sockets are closed and the context terminated on the way out.
"""

from __future__ import annotations

import signal
import struct
import threading
from collections.abc import Sequence
from typing import TextIO

import zmq

from zmqlog._endpoints import endpoint_error

__all__ = ["run_proxy"]

_CONTROL = "inproc://zmqlog-proxy-control"
# As deep as a publisher's default queue, so a burst from many publishers is kept.
_HWM = 100_000


class _Stop(KeyboardInterrupt):
    """SIGTERM arrived: stop as on Ctrl-C, but exit 0 (a service manager's stop)."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise _Stop


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


def run_proxy(frontends: Sequence[str], backends: Sequence[str], out: TextIO, err: TextIO) -> int:
    """Run the proxy until Ctrl-C (exit code 130) or SIGTERM (0); 1 if a bind fails.

    Prints ``frontend <endpoint>`` and ``backend <endpoint>`` lines on *out* as soon as
    the sockets are bound, with the real port when the endpoint asked for ``*``.
    """
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    frontend = ctx.socket(zmq.XSUB)
    backend = ctx.socket(zmq.XPUB)
    control = ctx.socket(zmq.PAIR)
    worker: threading.Thread | None = None
    # Signal handlers can only be set on the main thread (tests may run us elsewhere).
    on_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _on_sigterm) if on_main else None
    code = 0
    try:
        for sock in (frontend, backend, control):
            sock.setsockopt(zmq.LINGER, 0)
        frontend.setsockopt(zmq.RCVHWM, _HWM)
        backend.setsockopt(zmq.SNDHWM, _HWM)
        control.bind(_CONTROL)
        bound: dict[str, list[str]] = {}
        name, endpoints = "frontend", frontends
        try:
            bound[name] = _bind_all(frontend, endpoints)
            name, endpoints = "backend", backends
            bound[name] = _bind_all(backend, endpoints)
        except zmq.ZMQError as error:
            message = endpoint_error(f"bind the {name} to", error, endpoints)
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
            for name, endpoints in bound.items():
                for endpoint in endpoints:
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
        stats = _statistics(control)
        control.send(b"TERMINATE")
        worker.join()
        if stats:
            print(f"zmqlog proxy: stopped after forwarding {stats}", file=err)
        return code
    finally:
        if on_main:
            signal.signal(signal.SIGTERM, previous)
        if worker is not None and worker.is_alive():
            control.send(b"TERMINATE")
            worker.join()
        for sock in (frontend, backend, control):
            sock.close(linger=0)
        ctx.term()
