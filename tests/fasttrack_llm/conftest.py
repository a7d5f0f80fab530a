"""Fixtures of the LLM-verifier tests: tiny models saved locally and one `transformers serve` on loopback."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.launch import free_port

from .tiny_lm import plain_prompt_last_token, random_lm, save, scripted_lm, tiny_tokenizer

SERVER_START_S = 180


def _serve_command(port: int) -> list[str]:
    exe = Path(sys.executable).parent / "transformers"
    if not exe.exists():
        msg = "the `transformers` CLI (transformers serve) is not installed next to this Python"
        if os.environ.get("CI"):
            pytest.fail(msg)  # CI must never pass by skipping the real-server tests
        pytest.skip(msg)
    return [str(exe), "serve", "--host", "127.0.0.1", "--port", str(port), "--device", "cpu"]


@pytest.fixture(scope="session")
def models(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("served")
    tok = tiny_tokenizer()
    start = plain_prompt_last_token(tok)
    return {
        "scripted": save(scripted_lm(tok, "[1, 3]", also_after=(start,)), tok, root / "scripted"),
        "random": save(random_lm(tok), tok, root / "random"),
        "first": save(scripted_lm(tok, "[1]"), tok, root / "first"),
    }


@pytest.fixture(scope="session")
def server(tmp_path_factory) -> Iterator[str]:
    """`transformers serve` on a free loopback port; yields the `/v1` base URL."""
    pytest.importorskip("fastapi")
    pytest.importorskip("uvicorn")
    port = free_port()
    log_path = tmp_path_factory.mktemp("serve") / "serve.log"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_VERBOSITY": "error"}
    with open(log_path, "w") as log:
        proc = subprocess.Popen(_serve_command(port), stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + SERVER_START_S
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"transformers serve did not come up (rc={proc.poll()}):\n{log_path.read_text()[-3000:]}")
            time.sleep(0.25)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
