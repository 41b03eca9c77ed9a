"""zmqlog: an asyncio-native logging transport over ZeroMQ PUB/SUB.

The successor of pyzmq's ``zmq.log.handlers.PUBHandler``: ``emit()`` only enqueues,
a task on the event loop publishes, and what crosses the wire is byte for byte what
pyzmq sends, so pyzmq's subscribers and ``python -m zmq.log`` keep working.
"""

from __future__ import annotations

from zmqlog._handler import AsyncPUBHandler
from zmqlog._publisher import LogPublisher
from zmqlog._queue import HandlerStats
from zmqlog._security import generate_keypair
from zmqlog._subscriber import LogMessage, LogSubscriber, SubscriberStats
from zmqlog._topics import TopicLogger
from zmqlog.exceptions import ClosedResourceError, KeyFileError, UsageError, ZmqlogError
from zmqlog.wire import TOPIC_DELIM

__all__ = [
    "TOPIC_DELIM",
    "AsyncPUBHandler",
    "ClosedResourceError",
    "HandlerStats",
    "KeyFileError",
    "LogMessage",
    "LogPublisher",
    "LogSubscriber",
    "SubscriberStats",
    "TopicLogger",
    "UsageError",
    "ZmqlogError",
    "generate_keypair",
]

__version__ = "0.1.0.dev0"
