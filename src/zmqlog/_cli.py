"""The ``zmqlog`` command line.

Exit codes: 0 done, 1 a runtime failure (an endpoint that cannot be bound or
connected, nothing received within ``--timeout``), 2 bad arguments, 130 stopped with
Ctrl-C. Errors are one line on stderr, prefixed with the command.
"""

from __future__ import annotations

import argparse
import io
import math
import os
import sys
import time
from collections.abc import Sequence
from typing import NoReturn, cast

import zmq

import zmqlog
from zmqlog._endpoints import endpoint_problem
from zmqlog._security import add_curve_client_arguments, add_keys_parser

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    """argparse, with each error on one line that names the help to read, exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


# The type functions below raise ArgumentTypeError themselves: for a ValueError
# argparse would print "invalid _positive_int value", naming the function.


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, not {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, not {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, not {text!r}") from None
    if not 0 < value < math.inf:
        raise argparse.ArgumentTypeError(f"must be more than 0 and finite, not {text}")
    return value


def _endpoint(text: str) -> str:
    problem = endpoint_problem(text)
    if problem is not None:
        raise argparse.ArgumentTypeError(f"{text!r} {problem}")
    return text


def _utf8(text: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise argparse.ArgumentTypeError(f"{text!r} is not valid UTF-8 text") from None
    return text


def _dateformat(text: str) -> str:
    try:
        time.strftime(text)
    except (ValueError, UnicodeError) as error:
        raise argparse.ArgumentTypeError(f"not a strftime format ({error}): {text!r}") from None
    return text


def _level(text: str) -> int:
    from zmqlog._tail import level_number

    number = level_number(text)
    if number is None:
        raise argparse.ArgumentTypeError(
            f"unknown level {text!r}; use DEBUG, INFO, WARNING, ERROR, CRITICAL or a number"
        )
    return number


def _add_tail(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    tail = commands.add_parser(
        "tail",
        help="print log messages from publishers as they arrive",
        description="Subscribe to one or more publishers (zmqlog or pyzmq's PUBHandler) "
        "and print their log messages as they arrive: a superset of pyzmq's "
        "'python -m zmq.log'. Ctrl-C stops (exit code 130).",
    )
    tail.add_argument(
        "endpoints",
        nargs="+",
        type=_endpoint,
        metavar="ENDPOINT",
        help="publisher endpoint to connect to, e.g. tcp://127.0.0.1:5555 (or to bind, "
        "with --bind)",
    )
    shown = tail.add_argument_group("what to show")
    shown.add_argument(
        "-t",
        "--topic",
        dest="topics",
        action="append",
        type=_utf8,
        metavar="PREFIX",
        help="only messages whose topic starts with PREFIX, e.g. myapp.WARNING "
        "(repeatable; default: everything)",
    )
    shown.add_argument(
        "-l",
        "--level",
        type=_level,
        metavar="LEVEL",
        help="only messages at LEVEL or above (a name or a number); levels unknown "
        "to this process are shown",
    )
    shown.add_argument(
        "--logger",
        dest="loggers",
        action="append",
        default=[],
        metavar="NAME",
        help="only messages from logger NAME or its children (repeatable); text "
        "messages, which carry no logger name, are matched on their root topic",
    )
    shown.add_argument(
        "-n",
        "--count",
        type=_positive_int,
        metavar="N",
        help="exit after showing N messages",
    )
    shown.add_argument(
        "--timeout",
        type=_positive_float,
        metavar="SECONDS",
        help="exit with status 1 when no message is shown for SECONDS (messages that "
        "--level or --logger hide do not count)",
    )
    add_curve_client_arguments(tail)
    how = tail.add_argument_group("how to show it")
    how.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object per message and line (for jq) instead of text",
    )
    how.add_argument(
        "--raw",
        action="store_true",
        help="write control characters (ESC, CR, ...) as they were sent, for a terminal "
        "to act on; by default they are shown escaped, as \\x1b",
    )
    how.add_argument(
        "--timestamp",
        action="store_true",
        help="prefix the time the record was created (if known) or received",
    )
    how.add_argument(
        "--dateformat",
        default="%Y-%m-%d %H:%M:%S",
        type=_dateformat,
        metavar="FORMAT",
        help="strftime format for --timestamp (default: %(default)s)",
    )
    how.add_argument(
        "--separator",
        default=" | ",
        metavar="TEXT",
        help="text between topic and message (default: %(default)r)",
    )
    how.add_argument(
        "--align",
        action="store_true",
        help="pad topics to the widest seen so far, so messages line up",
    )
    how.add_argument(
        "--color",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="colour by level (default: only on a terminal, and not when NO_COLOR is set)",
    )
    tail.add_argument(
        "--bind",
        action="store_true",
        help="bind ENDPOINT instead of connecting, so many publishers (bind=False) "
        "can connect to this one viewer",
    )


def _add_proxy(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    proxy = commands.add_parser(
        "proxy",
        help="run a broker: many publishers in, many subscribers out",
        description="Run ZeroMQ's proxy between an XSUB frontend, where publishers "
        "connect (LogPublisher(..., bind=False)), and an XPUB backend, where "
        "subscribers and 'zmqlog tail' connect. Subscriptions flow upstream, so "
        "publishers can wait_for_subscribers(); a publisher counts one subscription "
        "per distinct topic prefix subscribed behind the proxy. Prints 'frontend "
        "ENDPOINT' and 'backend ENDPOINT' lines once bound (port * becomes the real "
        "port). Ctrl-C stops it (exit code 130), SIGTERM too (exit code 0); on exit it "
        "prints what it forwarded and, per side, how many handshakes succeeded and how "
        "many it refused.",
    )
    proxy.add_argument(
        "--frontend",
        action="append",
        required=True,
        type=_endpoint,
        metavar="ENDPOINT",
        help="where publishers connect, e.g. tcp://127.0.0.1:5559 (repeatable)",
    )
    proxy.add_argument(
        "--backend",
        action="append",
        required=True,
        type=_endpoint,
        metavar="ENDPOINT",
        help="where subscribers connect, e.g. tcp://127.0.0.1:5560 (repeatable)",
    )
    proxy.add_argument(
        "--subscribe-all",
        action="store_true",
        help="subscribe to every publisher's every record once, and filter for each "
        "subscriber here, instead of passing subscriptions upstream: for subscribers "
        "you do not trust (no --backend-authorized-keys), since their subscriptions "
        "then never reach a publisher. Publishers send everything to the proxy, and "
        "their wait_for_subscribers() counts the proxy itself",
    )
    curve = proxy.add_argument_group(
        "CURVE encryption",
        "Each side can be a CURVE server with a key pair and an allow-list of its own. "
        "Without an allow-list, any client that knows the side's public key is admitted.",
    )
    curve.add_argument(
        "--frontend-secret-key",
        metavar="FILE",
        help="the frontend's NAME.key_secret: publishers connect encrypted, pinning its NAME.key",
    )
    curve.add_argument(
        "--frontend-authorized-keys",
        metavar="DIR",
        help="a directory of the .key files of the publishers allowed to connect",
    )
    curve.add_argument(
        "--backend-secret-key",
        metavar="FILE",
        help="the backend's NAME.key_secret: subscribers connect encrypted, pinning its NAME.key",
    )
    curve.add_argument(
        "--backend-authorized-keys",
        metavar="DIR",
        help="a directory of the .key files of the subscribers allowed to read",
    )


def _parser() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """The ``zmqlog`` parser, and its commands' parsers by name."""
    parser = _Parser(prog="zmqlog", description="asyncio logging over ZeroMQ PUB/SUB.")
    parser.add_argument(
        "--version",
        action="version",
        version=f"zmqlog {zmqlog.__version__} (pyzmq {zmq.pyzmq_version()}, "
        f"libzmq {zmq.zmq_version()})",
    )
    # The commands' parsers are _Parser too (argparse makes them of the parent's type);
    # typed as plain parsers, which is all the _add_* functions need.
    commands = cast(
        "argparse._SubParsersAction[argparse.ArgumentParser]",
        parser.add_subparsers(dest="command", metavar="COMMAND"),
    )
    commands.required = True
    _add_tail(commands)
    _add_proxy(commands)
    demo = commands.add_parser(
        "demo",
        help="run a sample service that publishes logs while a subscriber prints them",
        description="Run a sample asyncio service publishing logs while a subscriber "
        "prints them; exits by itself.",
    )
    demo.add_argument(
        "--endpoint",
        default="tcp://127.0.0.1:*",
        type=_endpoint,
        help="where to publish (default: a free port on 127.0.0.1)",
    )
    demo.add_argument(
        "--requests",
        type=_non_negative_int,
        default=20,
        metavar="N",
        help="requests the sample service handles (default: %(default)s)",
    )
    add_keys_parser(commands)
    return parser, commands.choices


def _check(commands: dict[str, argparse.ArgumentParser], args: argparse.Namespace) -> None:
    """Refuse what argparse cannot see alone, as argparse would: usage, one line, exit 2."""
    command = commands[args.command]
    if args.command == "tail" and not args.curve_server_key_file:
        # Without the publisher's key, tail can only be the CURVE server itself.
        if args.curve_secret_key_file and not args.bind:
            command.error(
                "--secret-key without --server-key makes tail the CURVE server, which "
                "publishers connect to: add --bind, or give the publisher's NAME.key "
                "with --server-key to connect to it"
            )
        if args.authorized_keys and not args.curve_secret_key_file:
            command.error(
                "--authorized-keys needs --secret-key (and --bind): publishers are "
                "admitted by their CURVE keys, so tail needs a key pair of its own"
            )
    if args.command == "tail" and args.curve_server_key_file and args.authorized_keys:
        command.error(
            "--authorized-keys is for a tail that is the CURVE server (--bind --secret-key); "
            "with --server-key it is the publisher's client, and the publisher decides"
        )
    if args.command == "keys":
        name: str = args.name
        if name in ("", ".", "..") or os.sep in name or (os.altsep and os.altsep in name):
            # The same rule generate_keypair() enforces, checked before DIR is created.
            command.error(f"NAME is a plain file name such as 'server', not {name!r}")


def _tail(args: argparse.Namespace) -> int:
    from zmqlog._tail import TailOptions, run_tail

    options = TailOptions(
        endpoints=args.endpoints,
        topics=args.topics or ("",),
        bind=args.bind,
        count=args.count,
        min_level=args.level,
        loggers=args.loggers,
        json=args.json,
        raw=args.raw,
        timestamp=args.timestamp,
        dateformat=args.dateformat,
        separator=args.separator,
        align=args.align,
        color=args.color,
        timeout=args.timeout,
        curve_server_key_file=args.curve_server_key_file,
        curve_secret_key_file=args.curve_secret_key_file,
        authorized_keys=args.authorized_keys,
    )
    if isinstance(sys.stdout, io.TextIOWrapper):
        # What UTF-8 (or the terminal's encoding) cannot carry, such as a lone
        # surrogate from a JSON record, is written as \udc80 instead of ending the tail.
        sys.stdout.reconfigure(errors="backslashreplace")
    return run_tail(options, sys.stdout, sys.stderr)


def _quiet_broken_pipe() -> int:
    # The reader went away (``zmqlog tail ... | head``): that ends the command, and
    # the interpreter must not complain when it flushes stdout on exit.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with *argv* (default: ``sys.argv[1:]``); return the exit code."""
    parser, commands = _parser()
    args = parser.parse_args(argv)
    _check(commands, args)
    try:
        if args.command == "tail":
            return _tail(args)
        if args.command == "proxy":
            from zmqlog._proxy import proxy_command

            return proxy_command(args, sys.stdout, sys.stderr)
        if args.command == "demo":
            from zmqlog._demo import run_demo

            return run_demo(args.endpoint, args.requests, err=sys.stderr)
        if args.command == "keys":
            from zmqlog._security import keys_command

            if isinstance(sys.stdout, io.TextIOWrapper):
                # The paths it prints are the user's; one the terminal's encoding cannot
                # show is written escaped rather than failing after the files were made.
                sys.stdout.reconfigure(errors="backslashreplace")
            return keys_command(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return _quiet_broken_pipe()
    raise AssertionError(f"unhandled command {args.command!r}")  # argparse enforces choices
