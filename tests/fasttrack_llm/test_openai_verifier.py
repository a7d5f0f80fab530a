"""OpenAIVerifier against a real `transformers serve` on loopback, serving tiny Llamas saved in a temp folder.

The server loads models on demand by name, so one server serves both the scripted model (a fixed, well-formed
answer) and the random one (garbage). Failures are real too: a closed port (connection refused) and a TCP
listener that never answers (timeouts).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from hf_datavalue.core.errors import ConfigError, DataValueError
from hf_datavalue.fasttrack.verifiers import build_verifier
from hf_datavalue.fasttrack.verifiers.generative import TRUNCATION_MARK
from hf_datavalue.fasttrack.verifiers.openai_endpoint import EndpointError, OpenAIVerifier
from tests.launch import free_port

FACT = "Paris is the capital of France."
PASSAGES = ["Paris is France's capital.", "Rome is in Italy.", "The capital of France is Paris."]


def test_well_formed_answer_through_the_server(server, models):
    v = OpenAIVerifier(server, str(models["scripted"]), seed=0, timeout=120)
    assert v.verify(FACT, PASSAGES) == [True, False, True]
    assert (v.stats.calls, v.stats.retries, v.stats.parse_failures) == (1, 0, 0)
    assert v.stats.completion_tokens == 7  # from the response's usage block
    assert v.stats.prompt_tokens > 50
    assert v.missing_usage == 0


def test_completions_api_with_plain_prompt(server, models):
    v = OpenAIVerifier(server, str(models["scripted"]), chat=False, max_tokens=16, timeout=120)
    assert v.verify(FACT, PASSAGES) == [True, False, True]
    assert v.stats.calls == 1 and v.stats.prompt_tokens > 50


def test_garbage_is_retried_once_and_counted(server, models):
    v = OpenAIVerifier(server, str(models["random"]), max_tokens=8, timeout=120)
    assert v.verify(FACT, PASSAGES) == [False, False, False]
    assert (v.stats.calls, v.stats.retries, v.stats.parse_failures) == (2, 1, 1)
    assert v.stats.completion_tokens == 16


def test_out_of_range_answer_counts_a_parse_failure(server, models):
    v = OpenAIVerifier(server, str(models["scripted"]), timeout=120)
    assert v.verify(FACT, PASSAGES[:2]) == [False, False]
    assert (v.stats.calls, v.stats.retries, v.stats.parse_failures) == (2, 1, 1)


def test_spec_string_and_truncation(server, models):
    v = build_verifier(f"openai:{server}#{models['scripted']}", max_passage_chars=10, timeout=120)
    assert isinstance(v, OpenAIVerifier)
    assert v.verify(FACT, PASSAGES) == [True, False, True]
    assert v.stats.truncated == 3
    assert v._fit_passages(FACT, ["short", "x" * 30])[1] == "x" * 10 + TRUNCATION_MARK
    desc = v.describe()
    assert desc["model"] == str(models["scripted"]) and "api_key" not in str(desc)


def test_server_error_is_retried_then_typed(server):
    # transformers serve answers 500 for a model it cannot load (offline, not a local folder): retryable.
    v = OpenAIVerifier(server, "no-such-model", timeout=60, max_retries=1, retry_backoff=0.01)
    with pytest.raises(EndpointError, match="failed 2 times"):
        v.verify(FACT, PASSAGES)
    assert v.stats.retries == 1 and v.stats.calls == 0


@pytest.fixture
def status_server() -> Iterator[tuple[str, list[int]]]:
    """A plain HTTP server answering every POST with the status codes queued in the yielded list (then 200)."""
    statuses: list[int] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            status = statuses.pop(0) if statuses else 200
            if status == 200:
                body = {
                    "id": "x",
                    "object": "chat.completion",
                    "created": 0,
                    "model": "m",
                    "choices": [
                        {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "[2]"}}
                    ],
                }
            else:
                body = {"error": {"message": f"status {status}: model 'm' does not exist", "type": "error"}}
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1", statuses
    httpd.shutdown()
    httpd.server_close()


def test_client_errors_are_not_retried(status_server):
    url, statuses = status_server
    statuses.append(404)
    v = OpenAIVerifier(url, "m", max_retries=3, retry_backoff=0.01)
    with pytest.raises(EndpointError, match="HTTP 404.*model name"):
        v.verify(FACT, PASSAGES)
    assert v.stats.retries == 0


def test_transient_errors_recover_and_missing_usage_is_noted(status_server):
    url, statuses = status_server
    statuses.extend([503, 429])
    v = OpenAIVerifier(url, "m", max_retries=2, retry_backoff=0.01)
    assert v.verify(FACT, PASSAGES) == [False, True, False]
    assert (v.stats.calls, v.stats.retries) == (1, 2)
    assert v.missing_usage == 1 and v.stats.prompt_tokens == 0  # the answer carried no usage block


def test_unreachable_endpoint_retries_then_raises():
    url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there any more
    v = OpenAIVerifier(url, "m", max_retries=2, retry_backoff=0.01, timeout=5)
    with pytest.raises(EndpointError, match="failed 3 times") as info:
        v.verify(FACT, PASSAGES)
    assert isinstance(info.value, DataValueError)
    assert "APIConnectionError" in str(info.value)
    assert v.stats.retries == 2 and v.stats.calls == 0


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A TCP listener that accepts connections and never answers: every request times out."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    sock.settimeout(0.1)
    stop = threading.Event()
    held: list[socket.socket] = []

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
                held.append(conn)
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    stop.set()
    thread.join(timeout=2)
    for conn in held:
        conn.close()
    sock.close()


def test_timeouts_retry_then_raise(silent_server):
    v = OpenAIVerifier(silent_server, "m", timeout=0.5, max_retries=1, retry_backoff=0.01)
    start = time.monotonic()
    with pytest.raises(EndpointError, match="timeout 0.5s") as info:
        v.verify(FACT, PASSAGES)
    assert time.monotonic() - start >= 1.0  # two attempts, each waited for its timeout
    assert "APITimeoutError" in str(info.value)
    assert v.stats.retries == 1 and v.stats.calls == 0


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"base_url": "127.0.0.1:8000"}, "http"),
        ({"timeout": 0}, "timeout"),
        ({"max_retries": -1}, "max_retries"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"max_passage_chars": 0}, "max_passage_chars"),
        ({"model": ""}, "model"),
    ],
)
def test_bad_settings_are_config_errors(kwargs, match):
    args = {"base_url": "http://127.0.0.1:1/v1", "model": "m", **kwargs}
    with pytest.raises(ConfigError, match=match):
        OpenAIVerifier(args.pop("base_url"), args.pop("model"), **args)
