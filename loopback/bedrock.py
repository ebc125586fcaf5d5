"""A loopback Amazon Bedrock Runtime server for tests, benchmarks and offline development.

Unmodified boto3 / langchain-aws clients reach it through ``AWS_ENDPOINT_URL_BEDROCK_RUNTIME``
(and ``AWS_ENDPOINT_URL_BEDROCK`` for the control plane).  See ``FakeBedrock.env()``.

    python -m loopback.bedrock --port 8950 --ttft 0.3 --token-delay 0.01
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import signal
import struct
import threading
import time
import zlib
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

from loopback import recorder

__all__ = [
    "FAULTS",
    "FakeBedrock",
    "PromptCache",
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
    stop_reason: str = "end_turn"  # "max_tokens": the answer was cut by the output limit

    def __post_init__(self) -> None:
        # Fail in the test that enqueues a typo, not as a traceback on a server thread.
        if self.fault is not None and self.fault not in FAULTS and self.fault != MIDSTREAM:
            expected = [*FAULTS, MIDSTREAM]
            raise ValueError(f"unknown fault {self.fault!r}; expected one of {expected}")

    def token_list(self) -> list[str]:
        return list(self.tokens) if self.tokens is not None else split_tokens(self.text)

    def output(self, body: dict[str, Any]) -> tuple[list[str], str]:
        """The tokens sent and the stop reason: cut at the request's ``maxTokens`` (one
        token a word here) with ``max_tokens``, as Bedrock cuts a long answer."""
        tokens = self.token_list()
        limit = (body.get("inferenceConfig") or {}).get("maxTokens")
        if isinstance(limit, int) and len(tokens) > limit:
            return tokens[:limit], "max_tokens"
        return tokens, self.stop_reason


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


def _prompt_blocks(body: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """The request's prompt in order, block by block, each with its role."""
    for block in body.get("system") or []:
        if isinstance(block, dict):
            yield "system", block
    for message in body.get("messages") or []:
        if isinstance(message, dict) and isinstance(message.get("content"), list):
            for block in message["content"]:
                if isinstance(block, dict):
                    yield str(message.get("role")), block


def _tokens(utf8_bytes: int) -> int:
    """The fake's tokenizer: four UTF-8 bytes a token (English ~4 characters, Hangul 0.75)."""
    return utf8_bytes // 4


def _block_bytes(block: dict[str, Any]) -> int:
    text = block.get("text")
    return len(text.encode()) if isinstance(text, str) else 0


def estimate_input_tokens(body: dict[str, Any]) -> int:
    return max(1, _tokens(sum(_block_bytes(block) for _, block in _prompt_blocks(body))))


class PromptCache:
    """Bedrock's prompt cache, as the fake models it.

    The prefix of a request's prompt up to a ``cachePoint`` block is written to the cache if
    it has at least ``min_tokens``. A later request to the same model whose prompt repeats a
    cached prefix, ending at one of its own cache points or at one of the 20 block boundaries
    before one (Claude looks back that far), reads it instead. An entry lives ``ttl`` seconds
    from its last use.
    """

    LOOKBACK_BLOCKS = 20

    def __init__(self, min_tokens: int = 1024, ttl: float = 300.0) -> None:
        self.min_tokens = min_tokens
        self.ttl = ttl
        self._expiry: dict[str, float] = {}  # prefix digest -> monotonic time it expires
        self._lock = threading.Lock()

    def use(self, model_id: str, body: dict[str, Any]) -> tuple[int, int] | None:
        """Tokens (read from, written to) the cache by this request; None without points."""
        boundaries: list[tuple[str, int]] = []  # (prefix digest, prefix tokens) per block
        points: list[int] = []  # indexes into boundaries where a cache point follows
        digest, size = hashlib.sha256(model_id.encode()), 0
        for role, block in _prompt_blocks(body):
            if "cachePoint" in block:
                if boundaries:
                    points.append(len(boundaries) - 1)
                continue
            digest.update(json.dumps([role, block], sort_keys=True).encode())
            size += _block_bytes(block)
            boundaries.append((digest.hexdigest(), _tokens(size)))
        if not points:
            return None
        now = time.monotonic()
        with self._lock:
            read = max((self._hit(boundaries, point, now) for point in points), default=0)
            written = 0
            for point in points:
                key, tokens = boundaries[point]
                if tokens >= self.min_tokens:
                    if self._expiry.get(key, 0.0) <= now:
                        written = max(written, tokens)
                    self._expiry[key] = now + self.ttl
        return read, max(0, written - read)

    def _hit(self, boundaries: list[tuple[str, int]], point: int, now: float) -> int:
        """Tokens of the longest cached prefix at ``point`` or up to 20 blocks before it."""
        for index in range(point, max(-1, point - self.LOOKBACK_BLOCKS - 1), -1):
            key, tokens = boundaries[index]
            if self._expiry.get(key, 0.0) > now:
                self._expiry[key] = now + self.ttl
                return tokens
        return 0


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
        fake = self.server.fake
        cached = fake.prompt_cache.use(request.model_id, body)
        if cached and cached[0]:  # a cache hit: the cached prefix is not computed again
            reply = replace(reply, ttft=max(0.0, reply.ttft - fake.cache_hit_saving))
        try:
            if request.operation == "converse":
                self._converse(request, reply, started, cached)
            else:
                self._converse_stream(request, reply, started, cached)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _usage(
        self, request: RecordedRequest, output_tokens: int, cached: tuple[int, int] | None
    ) -> dict[str, int]:
        """Bedrock's usage: ``inputTokens`` are those neither read from nor written to the
        cache; the cache's two counts only when the request had cache points."""
        input_tokens = estimate_input_tokens(request.body)
        usage = {"outputTokens": output_tokens, "totalTokens": input_tokens + output_tokens}
        if cached is None:
            return {"inputTokens": input_tokens, **usage}
        read, written = cached
        return {
            "inputTokens": max(0, input_tokens - read - written),
            "cacheReadInputTokens": read,
            "cacheWriteInputTokens": written,
            **usage,
        }

    def _converse(
        self,
        request: RecordedRequest,
        reply: Reply,
        started: float,
        cached: tuple[int, int] | None,
    ) -> None:
        tokens, stop_reason = reply.output(request.body)
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
                "stopReason": stop_reason,
                "usage": self._usage(request, len(tokens), cached),
                "metrics": {"latencyMs": latency_ms},
            },
        )

    def _chunk(self, data: bytes) -> None:
        # wfile is unbuffered (wbufsize = 0), so each chunk leaves the process immediately.
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def _converse_stream(
        self,
        request: RecordedRequest,
        reply: Reply,
        started: float,
        cached: tuple[int, int] | None,
    ) -> None:
        tokens, stop_reason = reply.output(request.body)
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
            self._chunk(encode_event("messageStop", {"stopReason": stop_reason}))
            latency_ms = int((time.monotonic() - started) * 1000)
            self._chunk(
                encode_event(
                    "metadata",
                    {
                        "usage": self._usage(request, sent, cached),
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
        cache_min_tokens: int = 1024,
        cache_hit_saving: float = 0.0,
    ) -> None:
        """``cache_min_tokens``: the model's minimum cacheable prefix; ``cache_hit_saving``:
        seconds a prompt-cache hit takes off a reply's time to first token."""
        self.responder: Responder = responder or self._default_responder
        self.ttft = ttft
        self.token_delay = token_delay
        self.prompt_cache = PromptCache(cache_min_tokens)
        self.cache_hit_saving = cache_hit_saving
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
    parser.add_argument(
        "--cache-hit-saving", type=float, default=0.0, help="seconds a cache hit saves"
    )
    args = parser.parse_args(argv)

    def responder(request: RecordedRequest) -> Reply:
        reply = demo_responder(request)
        reply.ttft, reply.token_delay = args.ttft, args.token_delay
        return reply

    fake = FakeBedrock(
        responder, host=args.host, port=args.port, cache_hit_saving=args.cache_hit_saving
    ).start()
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
