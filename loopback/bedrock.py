"""A loopback Amazon Bedrock Runtime server for tests, benchmarks and offline development.

Unmodified boto3 / langchain-aws clients reach it through ``AWS_ENDPOINT_URL_BEDROCK_RUNTIME``
(and ``AWS_ENDPOINT_URL_BEDROCK`` for the control plane).  See ``FakeBedrock.env()``.

    python -m loopback.bedrock --port 8950 --ttft 0.3 --token-delay 0.01
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import struct
import threading
import time
import zlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

from loopback import recorder

__all__ = [
    "FAULTS",
    "FakeBedrock",
    "RecordedRequest",
    "Reply",
    "demo_responder",
    "encode_event",
    "split_tokens",
]

_TOKEN_RE = re.compile(r"\S+\s*|\s+")


def split_tokens(text: str) -> list[str]:
    """Split text into word-sized pieces (trailing whitespace attached) that join back exactly."""
    return _TOKEN_RE.findall(text)


# fault name -> (HTTP status, x-amzn-ErrorType, message)
FAULTS: dict[str, tuple[int, str, str]] = {
    "throttle": (429, "ThrottlingException", "Too many requests, please wait before trying again."),
    "server_error": (500, "InternalServerException", "The server encountered an internal error."),
    "unavailable": (503, "ServiceUnavailableException", "The service is unavailable."),
    "access_denied": (
        403,
        "AccessDeniedException",
        "User: arn:aws:iam::123456789012:user/chat is not authorized to perform: "
        "bedrock:InvokeModelWithResponseStream",
    ),
    "model_not_enabled": (
        403,
        "AccessDeniedException",
        "You don't have access to the model with the specified model ID.",
    ),
    "expired_token": (
        403,
        "ExpiredTokenException",
        "The security token included in the request is expired",
    ),
    "model_not_found": (404, "ResourceNotFoundException", "The requested model was not found."),
    "validation": (400, "ValidationException", "The provided request is not valid."),
}
MIDSTREAM = "midstream"


@dataclass
class Reply:
    """What the fake model answers to one request."""

    text: str = "..."
    tokens: list[str] | None = None
    ttft: float = 0.0
    token_delay: float = 0.0
    fault: str | None = None
    fault_after: int = 0

    def __post_init__(self) -> None:
        # Fail in the test that enqueues a typo, not as a traceback on a server thread.
        if self.fault is not None and self.fault not in FAULTS and self.fault != MIDSTREAM:
            expected = [*FAULTS, MIDSTREAM]
            raise ValueError(f"unknown fault {self.fault!r}; expected one of {expected}")

    def token_list(self) -> list[str]:
        return list(self.tokens) if self.tokens is not None else split_tokens(self.text)


@dataclass
class RecordedRequest:
    operation: str  # "converse-stream" | "converse" | "list-foundation-models"
    model_id: str
    body: dict[str, Any] = field(default_factory=dict)
    user_agent: str = ""


Responder = Callable[[RecordedRequest], Reply]


def _texts(blocks: Any) -> list[str]:
    if not isinstance(blocks, list):
        return []
    return [b["text"] for b in blocks if isinstance(b, dict) and isinstance(b.get("text"), str)]


def last_user_text(body: dict[str, Any]) -> str:
    """Text of the last user message of a Converse request body ("" if there is none)."""
    for message in reversed(body.get("messages") or []):
        if isinstance(message, dict) and message.get("role") == "user":
            return "".join(_texts(message.get("content")))
    return ""


def estimate_input_tokens(body: dict[str, Any]) -> int:
    chars = sum(len(t) for t in _texts(body.get("system")))
    for message in body.get("messages") or []:
        if isinstance(message, dict):
            chars += sum(len(t) for t in _texts(message.get("content")))
    return max(1, chars // 4)


def demo_responder(request: RecordedRequest) -> Reply:
    """A longer, Korean-flavoured answer for interactive demos; still echoes the question."""
    question = last_user_text(request.body) or "(빈 질문)"
    text = (
        f"좋은 질문입니다. 질문하신 내용은 「{question}」 입니다.\n\n"
        "이 답변은 로컬 루프백 서버가 만든 가짜 응답입니다. 실제 Amazon Bedrock 모델은 "
        "호출되지 않았으며, 토큰은 설정된 지연 시간에 맞춰 하나씩 스트리밍됩니다.\n\n"
        "- 첫 번째 요점: 스트리밍이 정상적으로 동작합니다.\n"
        "- 두 번째 요점: 한국어 텍스트와 **마크다운**도 그대로 전달됩니다.\n"
        "- 세 번째 요점: 사용량(usage) 메타데이터도 함께 반환됩니다.\n\n"
        "더 궁금한 점이 있으면 언제든지 물어보세요!"
    )
    return Reply(text=text)


# --- AWS event-stream framing -------------------------------------------------------------------


def _encode_headers(headers: dict[str, str]) -> bytes:
    out = bytearray()
    for name, value in headers.items():
        n, v = name.encode(), value.encode()
        out += struct.pack(">B", len(n)) + n + b"\x07" + struct.pack(">H", len(v)) + v
    return bytes(out)


def encode_message(headers: dict[str, str], payload: bytes) -> bytes:
    """One binary event-stream message (prelude, prelude CRC, headers, payload, message CRC)."""
    encoded_headers = _encode_headers(headers)
    total = 12 + len(encoded_headers) + len(payload) + 4
    prelude = struct.pack(">II", total, len(encoded_headers))
    head = prelude + struct.pack(">I", zlib.crc32(prelude)) + encoded_headers + payload
    return head + struct.pack(">I", zlib.crc32(head))


def encode_event(event_type: str, payload: dict[str, Any]) -> bytes:
    return encode_message(
        {
            ":message-type": "event",
            ":event-type": event_type,
            ":content-type": "application/json",
        },
        json.dumps(payload, ensure_ascii=False).encode(),
    )


def encode_exception(exception_type: str, message: str) -> bytes:
    return encode_message(
        {
            ":message-type": "exception",
            ":exception-type": exception_type,
            ":content-type": "application/json",
        },
        json.dumps({"message": message}, ensure_ascii=False).encode(),
    )


FOUNDATION_MODELS: list[dict[str, Any]] = [
    {
        "modelArn": f"arn:aws:bedrock:us-east-1::foundation-model/{model_id}",
        "modelId": model_id,
        "modelName": name,
        "providerName": "Anthropic",
        "inputModalities": ["TEXT", "IMAGE"],
        "outputModalities": ["TEXT"],
        "responseStreamingSupported": True,
        "inferenceTypesSupported": ["INFERENCE_PROFILE"],
        "modelLifecycle": {"status": "ACTIVE"},
    }
    for model_id, name in [
        ("anthropic.claude-sonnet-4-5-20250929-v1:0", "Claude Sonnet 4.5"),
        ("anthropic.claude-haiku-4-5-20251001-v1:0", "Claude Haiku 4.5"),
        ("anthropic.claude-3-5-haiku-20241022-v1:0", "Claude 3.5 Haiku"),
    ]
]


# --- HTTP ---------------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Nagle + delayed ACK would add ~40 ms per streamed token on loopback.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _user_agent(self) -> str:
        return self.headers.get("User-Agent", "")

    def _read_body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return {}
        try:
            body = json.loads(raw)
        except ValueError:
            return {}
        return body if isinstance(body, dict) else {}

    def _send_json(
        self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        data = json.dumps(payload, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-amzn-RequestId", "00000000-0000-0000-0000-000000000000")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _send_error(self, status: int, error_type: str, message: str) -> None:
        self._send_json(status, {"message": message}, {"x-amzn-ErrorType": error_type})

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path.rstrip("/") == "/foundation-models":
            self.server.fake.record(
                RecordedRequest("list-foundation-models", "", {}, self._user_agent())
            )
            self._send_json(200, {"modelSummaries": FOUNDATION_MODELS})
            return
        self._send_error(404, "UnknownOperationException", f"Unknown operation: GET {path}")

    def do_POST(self) -> None:
        started = time.monotonic()
        path = urlsplit(self.path).path
        body = self._read_body()
        match = re.fullmatch(r"/model/([^/]+)/(converse-stream|converse)", path)
        if not match:
            self._send_error(404, "UnknownOperationException", f"Unknown operation: POST {path}")
            return
        request = RecordedRequest(match.group(2), unquote(match.group(1)), body, self._user_agent())
        self.server.fake.record(request)
        reply = self.server.fake.next_reply(request)

        if reply.fault in FAULTS:
            self._send_error(*FAULTS[reply.fault])
            return
        try:
            if request.operation == "converse":
                self._converse(request, reply, started)
            else:
                self._converse_stream(request, reply, started)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _usage(self, request: RecordedRequest, output_tokens: int) -> dict[str, int]:
        input_tokens = estimate_input_tokens(request.body)
        return {
            "inputTokens": input_tokens,
            "outputTokens": output_tokens,
            "totalTokens": input_tokens + output_tokens,
        }

    def _converse(self, request: RecordedRequest, reply: Reply, started: float) -> None:
        tokens = reply.token_list()
        if reply.fault == MIDSTREAM:
            # Converse has no stream to break; surface it the way Bedrock does for a failed model.
            self._send_error(
                424, "ModelErrorException", "The model failed to complete the request."
            )
            return
        time.sleep(reply.ttft)
        latency_ms = int((time.monotonic() - started) * 1000)
        self._send_json(
            200,
            {
                "output": {
                    "message": {"role": "assistant", "content": [{"text": "".join(tokens)}]}
                },
                "stopReason": "end_turn",
                "usage": self._usage(request, len(tokens)),
                "metrics": {"latencyMs": latency_ms},
            },
        )

    def _chunk(self, data: bytes) -> None:
        # wfile is unbuffered (wbufsize = 0), so each chunk leaves the process immediately.
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def _converse_stream(self, request: RecordedRequest, reply: Reply, started: float) -> None:
        tokens = reply.token_list()
        self.send_response(200)
        self.send_header("Content-Type", "application/vnd.amazon.eventstream")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("x-amzn-RequestId", "00000000-0000-0000-0000-000000000000")
        self.end_headers()

        self._chunk(encode_event("messageStart", {"role": "assistant"}))
        time.sleep(reply.ttft)
        sent = 0
        for i, token in enumerate(tokens):
            if reply.fault == MIDSTREAM and sent >= reply.fault_after:
                break
            if i:
                time.sleep(reply.token_delay)
            self._chunk(
                encode_event(
                    "contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": token}}
                )
            )
            sent += 1

        if reply.fault == MIDSTREAM:
            self._chunk(
                encode_exception(
                    "modelStreamErrorException",
                    f"The model stream failed after {sent} tokens (injected fault).",
                )
            )
        else:
            self._chunk(encode_event("contentBlockStop", {"contentBlockIndex": 0}))
            self._chunk(encode_event("messageStop", {"stopReason": "end_turn"}))
            latency_ms = int((time.monotonic() - started) * 1000)
            self._chunk(
                encode_event(
                    "metadata",
                    {
                        "usage": self._usage(request, sent),
                        "metrics": {"latencyMs": latency_ms},
                    },
                )
            )
        self.wfile.write(b"0\r\n\r\n")


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], fake: FakeBedrock) -> None:
        self.fake = fake
        super().__init__(address, _Handler)


class FakeBedrock:
    """In-process fake of the Bedrock Runtime (and a sliver of the control plane)."""

    def __init__(
        self,
        responder: Responder | None = None,
        *,
        ttft: float = 0.0,
        token_delay: float = 0.0,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.responder: Responder = responder or self._default_responder
        self.ttft = ttft
        self.token_delay = token_delay
        self.requests: list[RecordedRequest] = []
        self._host = host
        self._port = port
        self._lock = threading.Lock()
        self._queue: deque[Reply] = deque()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def _default_responder(self, request: RecordedRequest) -> Reply:
        return Reply(
            text=f"답변: {last_user_text(request.body)}",
            ttft=self.ttft,
            token_delay=self.token_delay,
        )

    def start(self) -> FakeBedrock:
        if self._server is None:
            self._server = _Server((self._host, self._port), self)
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name="fake-bedrock",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeBedrock:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("FakeBedrock is not started")
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self._host in ("", "0.0.0.0") else self._host
        return f"http://{host}:{self.port}"

    def env(self) -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": self.url,
            "AWS_ENDPOINT_URL_BEDROCK": self.url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }

    def enqueue(self, *replies: Reply) -> None:
        with self._lock:
            self._queue.extend(replies)

    def record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)
        model = (request.model_id,) if request.model_id else ()
        recorder.record(recorder.Call(request.operation, request.user_agent, model))

    def next_reply(self, request: RecordedRequest) -> Reply:
        with self._lock:
            if self._queue:
                return self._queue.popleft()
        return self.responder(request)

    def last_user_text(self) -> str:
        with self._lock:
            requests = list(self.requests)
        for request in reversed(requests):
            if request.operation in ("converse", "converse-stream"):
                return last_user_text(request.body)
        return ""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve a fake Amazon Bedrock Runtime locally.")
    parser.add_argument("--port", type=int, default=8950)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--ttft", type=float, default=0.3, help="seconds before the first token")
    parser.add_argument("--token-delay", type=float, default=0.01, help="seconds between tokens")
    args = parser.parse_args(argv)

    def responder(request: RecordedRequest) -> Reply:
        reply = demo_responder(request)
        reply.ttft, reply.token_delay = args.ttft, args.token_delay
        return reply

    fake = FakeBedrock(responder, host=args.host, port=args.port).start()
    for key, value in fake.env().items():
        print(f"export {key}={value}")
    print(f"# fake Bedrock listening on {fake.url} (Ctrl-C to stop)", flush=True)
    stopped = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopped.set())
    try:
        while not stopped.wait(0.5):
            pass
    finally:
        fake.stop()


if __name__ == "__main__":
    main()
