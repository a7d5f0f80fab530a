"""Run a script under a real `accelerate launch` with CPU processes (the multi-process tests share this).

accelerate 1.15: `accelerate launch --cpu --num_processes 2` uses the simple launcher and starts ONE process (CPU
multi-process needs MPI); `--multi_gpu` with no visible GPU starts N torchrun processes that join a gloo group
(the library asks for `PartialState(cpu=True)` when CUDA is absent).
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
from pathlib import Path
from types import ModuleType

SRC = Path(__file__).resolve().parents[1] / "src"


def load_script(path: Path, name: str) -> ModuleType:
    """Import a script file as a module (to run a multi-process script's single-process reference in-process)."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def launch(
    *args: str, num_processes: int = 2, timeout: float = 280, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """`accelerate launch --multi_gpu --num_processes N <args>` with no GPU visible; output captured.

    `env` adds or overrides environment variables of the launched processes."""
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", str(num_processes),
           "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
           "--main_process_port", str(free_port()), *args]  # fmt: skip
    run_env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    run_env.pop("ACCELERATE_USE_CPU", None)
    run_env.update({"CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", **(env or {})})
    return subprocess.run(cmd, env=run_env, capture_output=True, text=True, timeout=timeout)
