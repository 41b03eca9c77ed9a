"""The ``zmqlog`` command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="zmqlog", description="asyncio logging over ZeroMQ PUB/SUB."
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    demo = commands.add_parser(
        "demo",
        help="run a sample service that publishes logs while a subscriber prints them",
        description="Run a sample asyncio service publishing logs while a subscriber "
        "prints them; exits by itself.",
    )
    demo.add_argument(
        "--endpoint",
        default="tcp://127.0.0.1:*",
        help="where to publish (default: a free port on 127.0.0.1)",
    )
    demo.add_argument(
        "--requests", type=int, default=20, help="requests the sample service handles"
    )
    from zmqlog._security import add_keys_parser

    add_keys_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with *argv* (default: ``sys.argv[1:]``); return the exit code."""
    args = _parser().parse_args(argv)
    if args.command == "demo":
        from zmqlog._demo import run_demo

        if args.requests < 0:
            print("zmqlog demo: --requests must be 0 or more", file=sys.stderr)
            return 2
        try:
            return run_demo(args.endpoint, args.requests)
        except KeyboardInterrupt:
            return 130
    if args.command == "keys":
        from zmqlog._security import keys_command

        return keys_command(args)
    raise AssertionError(f"unhandled command {args.command!r}")  # argparse enforces choices
