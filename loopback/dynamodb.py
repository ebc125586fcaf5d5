"""A loopback DynamoDB: moto's server mode on 127.0.0.1, reached by unmodified boto3 over HTTP.

Clients find it through the standard ``AWS_ENDPOINT_URL_DYNAMODB`` (see ``MotoDynamo.env()``),
so the code under test runs exactly as against AWS, with no in-process patching.

    python -m loopback.dynamodb --port 8952 [--table chat-history]
"""

from __future__ import annotations

import argparse
import logging
import os
import time
import urllib.request
from types import TracebackType

from moto.server import ThreadedMotoServer

__all__ = ["MotoDynamo"]

REGION = "us-east-1"


class MotoDynamo:
    """moto's threaded server on loopback; ``port=0`` picks a free port."""

    def __init__(self, port: int = 0) -> None:
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        self._running = False
        self.url = ""

    def start(self) -> MotoDynamo:
        # werkzeug logs every request to stderr unless someone configured its logger.
        werkzeug = logging.getLogger("werkzeug")
        if werkzeug.level == logging.NOTSET:
            werkzeug.setLevel(logging.WARNING)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.url = f"http://{host}:{port}"
        self._running = True
        return self

    def stop(self) -> None:
        if self._running:
            self._server.stop()
            self._running = False

    def __enter__(self) -> MotoDynamo:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()

    def env(self) -> dict[str, str]:
        """Variables that point boto3 at this server, with credentials moto accepts."""
        return {
            "AWS_ENDPOINT_URL_DYNAMODB": self.url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
        }

    def reset(self) -> None:
        """Wipe every table: moto's state is per process, shared by all its servers."""
        request = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST", data=b"")
        with urllib.request.urlopen(request, timeout=10) as reply:
            reply.read()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m loopback.dynamodb", description=__doc__)
    parser.add_argument("--port", type=int, default=8952)
    parser.add_argument("--table", help="create this table (with its index) at start")
    args = parser.parse_args(argv)
    with MotoDynamo(args.port) as server:
        for name, value in server.env().items():
            print(f"export {name}={value}")
        if args.table:
            from chatbot.store.create_table import create_table
            from chatbot.store.dynamodb import dynamodb_client

            os.environ.update(server.env())
            create_table(dynamodb_client(), args.table)
            print(f"export CHAT_HISTORY_TABLE={args.table}")
        print("serving; Ctrl-C to stop", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
