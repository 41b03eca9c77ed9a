"""Every code block in README.md, run as a reader would run it, so the README cannot drift.

The blocks are read from README.md when the tests are collected. Each one is looked up in
``BLOCKS`` by its language and first line (a trailing ``# comment`` left out), and the
entry says how to run it: python blocks in a subprocess, with the programs they need on
the other end (a subscriber for a publisher, a publisher for a subscriber); bash blocks
in a temporary directory, with every ``zmqlog tail`` bounded; json blocks parsed. A block
without an entry fails and says how to add one; an entry without a block fails too.

Fixed ports in the README (``tcp://127.0.0.1:5555``) are replaced by free ones, and the
example host ``10.0.0.5`` by ``127.0.0.1``, the same way in a block and its helpers.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import sysconfig
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.ports import free_tcp_port

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
_FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
_ENDPOINT = re.compile(r"tcp://(?:127\.0\.0\.1|10\.0\.0\.5):(\d+)")
_TRAILING_COMMENT = re.compile(r"\s+#\s.*$")
RUN_TIMEOUT = 30.0


@dataclass(frozen=True)
class Block:
    """One fenced code block of README.md."""

    language: str
    code: str
    line: int

    @property
    def key(self) -> tuple[str, str]:
        first = self.code.splitlines()[0] if self.code.strip() else ""
        return self.language, _TRAILING_COMMENT.sub("", first).strip()


def readme_blocks() -> list[Block]:
    text = README.read_text("utf-8")
    return [
        Block(match[1], match[2], text.count("\n", 0, match.start()) + 1)
        for match in _FENCE.finditer(text)
    ]


# -- running things -------------------------------------------------------------------


class Ports:
    """Free loopback ports standing in for the README's fixed ones, one per README port."""

    def __init__(self) -> None:
        self._ports: dict[str, int] = {}

    def _free(self, readme_port: str) -> int:
        if readme_port not in self._ports:
            # Not from the ephemeral range: a subscriber that connects before the
            # publisher binds must not be able to take the port (see tests/ports.py).
            self._ports[readme_port] = free_tcp_port()
        return self._ports[readme_port]

    def __call__(self, text: str) -> str:
        """*text* with every README endpoint moved to its free loopback port."""
        return _ENDPOINT.sub(lambda m: f"tcp://127.0.0.1:{self._free(m[1])}", text)


@dataclass
class Process:
    """A subprocess whose output goes to files, so nothing blocks on a full pipe."""

    proc: subprocess.Popen[bytes]
    out: Path
    err: Path

    @classmethod
    def start(
        cls, args: list[str], cwd: Path, logs: Path, name: str, env: dict[str, str]
    ) -> Process:
        out, err = logs / f"{name}.out", logs / f"{name}.err"
        with out.open("wb") as stdout, err.open("wb") as stderr:
            proc = subprocess.Popen(args, cwd=cwd, stdout=stdout, stderr=stderr, env=env)
        return cls(proc, out, err)

    def output(self) -> tuple[str, str]:
        return self.out.read_text("utf-8", "replace"), self.err.read_text("utf-8", "replace")

    def finish(self, timeout: float = RUN_TIMEOUT) -> tuple[int, str, str]:
        """Wait (bounded) for the process to exit by itself."""
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            out, err = self.output()
            pytest.fail(f"still running after {timeout} s\nstdout: {out}\nstderr: {err}")
        return (code, *self.output())

    def wait_until(self, done: Callable[[], bool], timeout: float = RUN_TIMEOUT) -> None:
        """Poll (bounded) until *done*; fail if the process exits or time runs out first."""
        deadline = time.monotonic() + timeout
        while not done():
            out, err = self.output()
            assert self.proc.poll() is None, f"exited {self.proc.returncode}: {out}\n{err}"
            assert time.monotonic() < deadline, f"not done after {timeout} s: {out}\n{err}"
            try:
                self.proc.wait(0.05)
            except subprocess.TimeoutExpired:
                pass

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


@dataclass
class Workspace:
    """Where blocks run: a directory, the port map, and an environment whose PATH has
    ``python`` and ``zmqlog`` of the interpreter running the tests."""

    path: Path
    ports: Ports = field(default_factory=Ports)
    processes: list[Process] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        shims = self.path / ".bin"
        if not shims.exists():
            shims.mkdir()
            # A script, not a symlink: a venv's python finds its venv by the path it runs as.
            shim = shims / "python"
            shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n', "utf-8")
            shim.chmod(0o755)
        path = os.pathsep.join([str(shims), sysconfig.get_path("scripts"), os.environ["PATH"]])
        return {**os.environ, "PATH": path, "NO_COLOR": "1", "PYTHONUNBUFFERED": "1"}

    def python(self, code: str, name: str, *args: str, cwd: Path | None = None) -> Process:
        script = self.path / f"{name}.py"
        script.write_text(self.ports(code), "utf-8")
        args = tuple(self.ports(arg) for arg in args)
        process = Process.start(
            [sys.executable, str(script), *args], cwd or self.path, self.path, name, self.env
        )
        self.processes.append(process)
        return process

    def bash(self, code: str, name: str, cwd: Path | None = None) -> Process:
        # Background jobs (`... &`) end with the block.
        script = "set -euo pipefail\ntrap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n" + code
        process = Process.start(
            ["bash", "-c", self.ports(script)], cwd or self.path, self.path, name, self.env
        )
        self.processes.append(process)
        return process


@pytest.fixture
def workspace(tmp_path: Path) -> Iterator[Workspace]:
    space = Workspace(tmp_path)
    yield space
    for process in space.processes:
        process.stop()


# -- the programs on the other end ----------------------------------------------------

SUBSCRIBER = """
import asyncio, sys, zmqlog

async def main(endpoint, count):
    async with zmqlog.LogSubscriber(endpoint) as sub:
        for _ in range(count):
            message = await sub.receive()
            record = message.record
            print(message.topic, repr(record.getMessage()), getattr(record, "order", None))

asyncio.run(main(sys.argv[1], int(sys.argv[2])))
"""

PUBLISHER = """
import asyncio, logging, sys, zmqlog

async def main(endpoint, wire_format):
    log = logging.getLogger("shop")
    log.setLevel(logging.INFO)
    async with zmqlog.LogPublisher(
        endpoint, root_topic="shop", logger=log, wire_format=wire_format
    ) as pub:
        await pub.wait_for_subscribers(1, timeout=20)
        for i in range(10_000):  # until the test ends it
            try:
                raise ValueError("card declined")
            except ValueError:
                log.warning("payments::charge %d failed", i, exc_info=True)
            await asyncio.sleep(0.05)

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


def as_script(block: Block, prelude: str = "", wrap_async: bool = False) -> str:
    """The block as a program: after *prelude*, inside ``async def`` if it awaits."""
    code = block.code
    if wrap_async:
        code = (
            "import asyncio\n\nasync def _readme_block() -> None:\n"
            + textwrap.indent(code, "    ")
            + "\nasyncio.run(_readme_block())\n"
        )
    return textwrap.dedent(prelude) + code


def exits_cleanly(process: Process) -> tuple[str, str]:
    code, out, err = process.finish()
    assert (code, "Traceback" in err) == (0, False), f"exit {code}\nstdout: {out}\nstderr: {err}"
    return out, err


# -- one runner per block -------------------------------------------------------------

Runner = Callable[[Block, Workspace], None]


def skip(reason: str) -> Runner:
    def run(block: Block, space: Workspace) -> None:
        pytest.skip(reason)

    return run


def run_publish(block: Block, space: Workspace) -> None:
    """The Publish program waits for a subscriber, logs two records and exits."""
    subscriber = space.python(SUBSCRIBER, "subscriber", "tcp://127.0.0.1:5555", "2")
    exits_cleanly(space.python(as_script(block), "block"))
    out, _ = exits_cleanly(subscriber)
    info, warning = out.splitlines()
    assert info == "shop.INFO 'order 42 shipped' None"
    assert re.fullmatch(
        r"shop\.WARNING\.payments 'WARNING block\.py:\d+ - card x declined' None", warning
    )


def run_subscribe(block: Block, space: Workspace) -> None:
    """The Subscribe snippet prints each record on lines of its own, tracebacks included."""
    space.python(PUBLISHER, "publisher", "tcp://127.0.0.1:5555", "text")
    viewer = space.python(as_script(block, "import zmqlog\n", wrap_async=True), "block")
    # A traceback ends the first record's payload without a newline: the next record
    # must still start a line of its own.
    follows = re.compile(r"^ValueError: card declined\nWARNING payments WARNING ", re.MULTILINE)
    viewer.wait_until(lambda: bool(follows.search(viewer.output()[0])))


_JSON_PRELUDE = """
import logging, zmqlog
log = logging.getLogger("shop")
endpoint = "tcp://127.0.0.1:5555"
"""


def run_structured(block: Block, space: Workspace) -> None:
    """A JSON record keeps its extra fields on the way."""
    subscriber = space.python(SUBSCRIBER, "subscriber", "tcp://127.0.0.1:5555", "1")
    # The README's block logs at once; a subscriber must be there to see it.
    prelude = _JSON_PRELUDE + textwrap.dedent("""
        _LogPublisher = zmqlog.LogPublisher

        class _Waiting(_LogPublisher):
            async def __aenter__(self):
                await super().__aenter__()
                await self.wait_for_subscribers(1, timeout=20)
                return self

        zmqlog.LogPublisher = _Waiting
    """)
    exits_cleanly(space.python(as_script(block, prelude, wrap_async=True), "block"))
    out, _ = exits_cleanly(subscriber)
    assert out == "shop.ERROR 'charge failed' 42\n"


def run_structlog(block: Block, space: Workspace) -> None:
    """The structlog recipe publishes the rendered event on its subtopic."""
    subscriber = space.python(SUBSCRIBER, "subscriber", "tcp://127.0.0.1:5555", "1")
    exits_cleanly(space.python(as_script(block), "block"))
    out, _ = exits_cleanly(subscriber)
    topic, rest = out.split(" ", 1)
    event = json.loads(ast.literal_eval(rest.rsplit(" ", 1)[0]))  # the repr of its text
    assert topic == "shop.INFO.orders"
    assert event.pop("timestamp").endswith("Z")
    assert event == {"order": 42, "topic": "orders", "event": "order shipped", "level": "info"}


def run_forward(block: Block, space: Workspace) -> None:
    """forward() into a FileHandler writes the remote records, tracebacks included."""
    space.python(PUBLISHER, "publisher", "tcp://127.0.0.1:5555", "json")
    forwarder = space.python(as_script(block, _JSON_PRELUDE, wrap_async=True), "block")
    log_file = space.path / "remote.log"

    traceback_then_next = re.compile(
        r"charge \d+ failed\nTraceback \(most recent call last\):\n.*?"
        r"\nValueError: card declined\ncharge \d+ failed\n",
        re.DOTALL,
    )

    def written() -> bool:
        text = log_file.read_text("utf-8") if log_file.exists() else ""
        return traceback_then_next.search(text) is not None

    forwarder.wait_until(written)


def run_handler(block: Block, space: Workspace) -> None:
    """The handler on its own: made, attached, closed."""
    exits_cleanly(space.python(as_script(block, "import logging, zmqlog\n", True), "block"))


def run_keys(block: Block, space: Workspace) -> None:
    """The key commands leave each secret key with its owner."""
    exits_cleanly(space.bash(block.code, "block"))
    made = sorted(str(path.relative_to(space.path)) for path in space.path.rglob("*.key*"))
    assert made == [
        "alice-keys/alice.key",
        "alice-keys/alice.key_secret",
        "keys/authorized/alice.key",
        "keys/server.key",
        "keys/server.key_secret",
    ]


def run_secure(block: Block, space: Workspace) -> None:
    """The CURVE snippet accepts the files the key commands made (run first, here)."""
    [keys] = [b for b in readme_blocks() if BLOCKS.get(b.key) is run_keys]
    exits_cleanly(space.bash(keys.code, "keys"))
    prelude = "import logging, zmqlog\nlog = logging.getLogger('shop')\n"
    exits_cleanly(space.python(as_script(block, prelude), "block"))


def run_topics(block: Block, space: Workspace) -> None:
    """The subtopic calls run as written."""
    prelude = "import logging, zmqlog\nlog = logging.getLogger('shop')\nn = 3\n"
    exits_cleanly(space.python(as_script(block, prelude), "block"))


def run_fanin(block: Block, space: Workspace) -> None:
    """Proxy, two workers and a tail: the tail shows the workers' jobs, then ends."""
    code = re.sub(r"^(zmqlog tail .*)$", r"\1 --count 4 --timeout 20", block.code, flags=re.M)
    assert code != block.code, "the block has no `zmqlog tail` line to bound"
    out, _ = exits_cleanly(space.bash(code, "block", cwd=ROOT))
    # The proxy prints its endpoints first, on the same stdout.
    shown = [line for line in out.splitlines() if not line.startswith(("frontend ", "backend "))]
    assert len(shown) == 4, out
    assert all(re.fullmatch(r"w[12]\.INFO\.jobs \| w[12] finished job \d+", x) for x in shown)


def run_dictconfig(block: Block, space: Workspace) -> None:
    """The dictConfig fragment is part of examples/logging.json, which test_config runs."""
    fragment = json.loads("{" + block.code + "}")
    example = json.loads((ROOT / "examples" / "logging.json").read_text("utf-8"))
    for name, handler in fragment["handlers"].items():
        assert handler.items() <= example["handlers"][name].items()


# -- "Across hosts": the whole walk-through, on loopback --------------------------------


def across_hosts(code: str, space: Workspace) -> str:
    """*code* with the section's hosts folded into this one: its directories moved into
    the workspace, and ``scp`` to or from the proxy host a plain ``cp``."""
    code = code.replace("/etc/zmqlog", str(space.path / "etc"))
    code = code.replace("/home/alice/.zmqlog", str(space.path / "home"))
    code = code.replace("~/.zmqlog", str(space.path / "home"))
    return re.sub(r"\bscp\b", "cp", code.replace("proxy:/", "/"))


def across_block(first_line: str) -> Block:
    [block] = [b for b in readme_blocks() if b.code.startswith(first_line)]
    return block


def across_keys(space: Workspace) -> None:
    exits_cleanly(space.bash(across_hosts(across_block("# on the proxy host").code, space), "keys"))


def across_proxy(space: Workspace) -> Process:
    """The section's proxy, running, once it printed its endpoints."""
    code = across_hosts(across_block("zmqlog proxy --frontend tcp://10.0.0.5").code, space)
    proxy = space.bash("exec " + code, "proxy")  # exec: a signal reaches the proxy itself
    proxy.wait_until(lambda: proxy.output()[0].count("\n") >= 2)
    return proxy


_ACROSS_PRELUDE = """
import logging, zmqlog
log = logging.getLogger("app1")
log.setLevel(logging.INFO)
"""


def across_publisher(space: Workspace, message: str, repeat: bool = False) -> Process:
    """The section's publisher block, logging *message* once it has a subscriber."""
    block = across_block("async with zmqlog.LogPublisher(\n")
    code = block.code
    body = f"    log.info({message!r})\n"
    if repeat:  # until the test ends it
        body = (
            "    for _ in range(400):\n"
            f"        log.info({message!r})\n"
            "        await asyncio.sleep(0.05)\n"
        )
    script = as_script(Block(block.language, code + body, block.line), _ACROSS_PRELUDE, True)
    return space.python(across_hosts(script, space), "publisher")


def run_across_keys(block: Block, space: Workspace) -> None:
    """Each host ends up with its own secret keys (mode 0600) and the others' public ones."""
    across_keys(space)
    made = {
        str(path.relative_to(space.path)): path.stat().st_mode & 0o777
        for path in space.path.rglob("*.key*")
    }
    secret = {name for name, mode in made.items() if name.endswith("_secret")}
    assert secret == {
        "etc/proxy/frontend.key_secret",
        "etc/proxy/backend.key_secret",
        "etc/app1.key_secret",
        "home/alice.key_secret",
    }
    assert {made[name] for name in secret} == {0o600}
    assert set(made) - secret == {
        "etc/proxy/frontend.key",
        "etc/proxy/backend.key",
        "etc/proxy/publishers/app1.key",
        "etc/proxy/subscribers/alice.key",
        "etc/app1.key",
        "etc/frontend.key",
        "home/alice.key",
        "home/backend.key",
    }


def run_across_proxy(block: Block, space: Workspace) -> None:
    """The proxy starts with CURVE on both sides and, stopped, reports every handshake."""
    across_keys(space)
    proxy = across_proxy(space)
    proxy.proc.terminate()
    code, _, err = proxy.finish()
    assert code == 0, err
    assert "warning" not in err
    assert "frontend handshakes: 0 succeeded" in err
    assert "backend handshakes: 0 succeeded" in err


def run_across_forward(block: Block, space: Workspace) -> None:
    """The publisher reaches the subscriber through the proxy, encrypted both ways: the
    subscriber's forward() writes its record into the file."""
    across_keys(space)
    across_proxy(space)
    forward = across_block("async with zmqlog.LogSubscriber(\n")
    prelude = "import logging, zmqlog\n"
    forwarder = space.python(across_hosts(as_script(forward, prelude, True), space), "forward")
    exits_cleanly(across_publisher(space, "app1 reporting"))
    log_file = space.path / "all-services.log"
    forwarder.wait_until(lambda: log_file.exists() and "app1 reporting" in log_file.read_text())


def run_across_tail(block: Block, space: Workspace) -> None:
    """A viewer with its keys tails the proxy's backend."""
    across_keys(space)
    across_proxy(space)
    across_publisher(space, "seen by alice", repeat=True)
    code = across_hosts(block.code, space).rstrip() + " --count 1 --timeout 20\n"
    out, _ = exits_cleanly(space.bash(code, "block"))
    assert out == "app1.INFO | seen by alice\n"


CI_COMMAND = skip("the install command CI runs itself (.ci/run); it makes the venv this runs in")

# (language, first line without a trailing comment) -> how to run the block.
BLOCKS: dict[tuple[str, str], Runner] = {
    ("bash", "python3 -m venv .venv && .venv/bin/pip install -q -e . && .venv/bin/zmqlog demo"): (
        CI_COMMAND
    ),
    (
        "bash",
        "python3 -m venv .venv && .venv/bin/pip install -q -e '.[dev]' "
        "&& .venv/bin/python -m pytest",
    ): CI_COMMAND,
    ("bash", "python3 -m venv .venv && .venv/bin/pip install -q -e '.[dev]'"): CI_COMMAND,
    ("bash", ".venv/bin/python bench/run.py --n 200000 --repeats 5"): skip(
        "a benchmark run of minutes; tests/test_bench_smoke.py runs the benchmarks small"
    ),
    ("bash", ".venv/bin/python bench/run.py --n 200000 --repeats 5 --pin"): skip(
        "a benchmark run of minutes; tests/test_bench_smoke.py runs run.py --pin small"
    ),
    (
        "bash",
        ".venv/bin/python bench/compare.py --baseline cfcb1ed --n 200000 --repeats 5 "
        "--cases zmqlog-text zmqlog-json",
    ): skip(
        "a benchmark run of minutes on two revisions; tests/test_bench_smoke.py runs "
        "compare.py small"
    ),
    ("bash", ".venv/bin/python bench/instructions.py"): skip(
        "minutes under valgrind; tests/test_bench_smoke.py runs instructions.py small"
    ),
    ("bash", ".venv/bin/python bench/subscriber.py --n 200000 --repeats 3"): skip(
        "a benchmark run; tests/test_bench_smoke.py runs the benchmarks small"
    ),
    ("python", "import asyncio, logging"): run_publish,
    (
        "python",
        'async with zmqlog.LogSubscriber("tcp://127.0.0.1:5555", topics=["shop.WARNING"]) as sub:',
    ): run_subscribe,
    (
        "python",
        'async with zmqlog.LogPublisher(endpoint, root_topic="shop", logger=log, '
        'wire_format="json"):',
    ): run_structured,
    ("python", "async with zmqlog.LogSubscriber(endpoint) as sub:"): run_forward,
    ("python", "import structlog"): run_structlog,
    ("python", 'handler = zmqlog.AsyncPUBHandler("tcp://127.0.0.1:5555", root_topic="shop")'): (
        run_handler
    ),
    ("bash", "zmqlog keys keys server"): run_keys,
    ("python", 'zmqlog.LogPublisher("tcp://10.0.0.5:5556", logger=log,'): run_secure,
    ("python", 'log.info("%d connections open", n, extra={"topic": "db.pool"})'): run_topics,
    (
        "bash",
        "zmqlog proxy --frontend tcp://127.0.0.1:5559 --backend tcp://127.0.0.1:5560 &",
    ): run_fanin,
    ("json", '"handlers": {'): run_dictconfig,
    ("text", "app host 1 ─┐                                         ┌─ viewer (zmqlog tail)"): skip(
        "a drawing of the topology, not a program"
    ),
    ("bash", "# on the proxy host"): run_across_keys,
    ("bash", "zmqlog proxy --frontend tcp://10.0.0.5:5559 --backend tcp://10.0.0.5:5560 \\"): (
        run_across_proxy
    ),
    ("python", "async with zmqlog.LogPublisher("): run_across_forward,
    ("bash", "zmqlog tail tcp://10.0.0.5:5560 --server-key ~/.zmqlog/backend.key \\"): (
        run_across_tail
    ),
    ("python", "async with zmqlog.LogSubscriber("): run_across_forward,
}


@pytest.mark.parametrize("block", readme_blocks(), ids=lambda b: f"{b.language}-line{b.line}")
def test_readme_block(block: Block, workspace: Workspace) -> None:
    """The block runs as its table entry says, and does what the README says it does."""
    runner = BLOCKS.get(block.key)
    if runner is None:
        pytest.fail(
            f"README.md line {block.line}: a {block.language or 'plain'} block with no entry "
            f"in tests/test_readme.py BLOCKS. Add one keyed {block.key!r}: a run_* function "
            "that runs the block (with the programs it needs) and checks what it shows, or "
            "skip('why it cannot run here')."
        )
    runner(block, workspace)


def test_every_entry_still_has_its_block() -> None:
    """An entry whose block left the README (or whose first line changed) is stale."""
    keys = {block.key for block in readme_blocks()}
    assert [key for key in BLOCKS if key not in keys] == []
