"""A loopback DynamoDB: moto's server mode on 127.0.0.1, reached by unmodified boto3 over HTTP.

Clients find it through the standard ``AWS_ENDPOINT_URL_DYNAMODB`` (see ``MotoDynamo.env()``),
so the code under test runs exactly as against AWS, with no in-process patching. Each
operation is recorded with its caller's User-Agent (``loopback.recorder``).

    python -m loopback.dynamodb --port 8952 [--table chat-history]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import os
import threading
import time
import urllib.request
from collections.abc import Iterable
from types import TracebackType
from typing import Any

from moto.server import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server

from loopback import recorder

__all__ = ["MotoDynamo"]

REGION = "us-east-1"


def _resources(body: dict[str, Any]) -> tuple[str, ...]:
    """The tables and indexes a request names, as "table" or "table/index/name"."""
    table, index = body.get("TableName"), body.get("IndexName")
    if isinstance(table, str):
        return (f"{table}/index/{index}" if isinstance(index, str) else table,)
    batch = body.get("RequestItems")  # BatchWriteItem, BatchGetItem
    if isinstance(batch, dict):
        return tuple(batch)
    operations = body.get("TransactItems")  # TransactWriteItems: a table per operation
    if isinstance(operations, list):
        return tuple(sorted({op["TableName"] for entry in operations for op in entry.values()}))
    return ()


class _Recording:
    """WSGI middleware: records each DynamoDB operation (its ``X-Amz-Target``), then lets
    moto answer it."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        target = environ.get("HTTP_X_AMZ_TARGET")
        if target:
            body: Any = {}
            length = environ.get("CONTENT_LENGTH")
            if length:  # boto3 sends DynamoDB's JSON bodies with a length, never chunked
                raw = environ["wsgi.input"].read(int(length))
                environ["wsgi.input"] = io.BytesIO(raw)  # moto reads the body again
                with contextlib.suppress(ValueError):
                    body = json.loads(raw)
            resources = _resources(body) if isinstance(body, dict) else ()
            user_agent = environ.get("HTTP_USER_AGENT", "")
            recorder.record(recorder.Call(target, user_agent, resources))
        return self.app(environ, start_response)


class MotoDynamo:
    """moto's server app on a threaded werkzeug server on loopback (what moto's
    ``ThreadedMotoServer`` does, with the recording middleware); ``port=0`` picks a free port.
    """

    def __init__(self, port: int = 0) -> None:
        self._port = port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    def start(self) -> MotoDynamo:
        # werkzeug logs every request to stderr unless someone configured its logger.
        werkzeug = logging.getLogger("werkzeug")
        if werkzeug.level == logging.NOTSET:
            werkzeug.setLevel(logging.WARNING)
        app = _Recording(DomainDispatcherApplication(create_backend_app))
        self._server = make_server("127.0.0.1", self._port, app, threaded=True)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="moto-dynamodb", daemon=True
        )
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join()
            self._thread = None

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
            from chatbot.aws import ADMIN_USER_AGENT
            from chatbot.store.create_table import create_table
            from chatbot.store.dynamodb import dynamodb_client

            os.environ.update(server.env())
            create_table(dynamodb_client(user_agent=ADMIN_USER_AGENT), args.table)
            print(f"export CHAT_HISTORY_TABLE={args.table}")
        print("serving; Ctrl-C to stop", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
