"""Start a local Hub on loopback: olah (read side, offline mirror mode) plus the loopback write gateway.

Both servers share one folder of git repositories: the gateway commits pushes into it, olah serves it. Standard
library only, so the test fixtures and `examples/demo.py` (through `examples/local_hub.py`) use the same code.

Usage:

```python
from local_hub import start_local_hub

hub = start_local_hub("/tmp/hub")      # both servers up, free loopback ports
env = hub.env(write=True)              # HF_ENDPOINT -> gateway (push); hub.env() -> olah (load)
subprocess.run([...], env=env, check=True)
hub.stop()                             # ends both servers by pid
```
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

GATEWAY_SCRIPT = Path(__file__).resolve().with_name("loopback_gateway.py")

__all__ = ["LocalHub", "free_port", "hub_env", "start_local_hub"]


def free_port() -> int:
    """A free TCP port on 127.0.0.1 (released before returning; start the server right away)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_http(url: str, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server for {url} exited early with code {proc.returncode}")
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return
        except urllib.error.HTTPError:
            return  # any HTTP answer means it is listening
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout}s")


def _stop(proc: subprocess.Popen | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    os.kill(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def hub_env(endpoint: str, hf_home: str | os.PathLike[str], offline: bool = False) -> dict[str, str]:
    """Environment for a process that talks to a local Hub at `endpoint` (set before HF libraries import)."""
    env = dict(os.environ)
    env.update(
        HF_ENDPOINT=endpoint,
        HF_HOME=str(hf_home),
        HF_HUB_DISABLE_XET="1",
        HF_HUB_DISABLE_TELEMETRY="1",
        HF_HUB_DISABLE_UPDATE_CHECK="1",
        HF_HUB_DISABLE_PROGRESS_BARS="1",
        HF_DATASETS_DISABLE_PROGRESS_BARS="1",
        HF_HUB_OFFLINE="1" if offline else "0",
        HF_DATASETS_OFFLINE="1" if offline else "0",
    )
    for key in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_HUB_CACHE", "HF_DATASETS_CACHE", "TRANSFORMERS_OFFLINE"):
        env.pop(key, None)
    return env


@dataclass
class LocalHub:
    """A running local Hub. `endpoint` takes writes (and serves reads), `read_endpoint` is olah."""

    root: Path
    endpoint: str
    read_endpoint: str
    mirrors: Path
    _procs: list[subprocess.Popen] = field(default_factory=list, repr=False)

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self._procs]

    def env(self, write: bool = False, offline: bool = False, hf_home: str | os.PathLike[str] | None = None) -> dict:
        """Subprocess environment: olah as `HF_ENDPOINT` by default, the write gateway with `write=True`."""
        home = Path(hf_home) if hf_home is not None else self.root / "hf_home"
        return hub_env(self.endpoint if write else self.read_endpoint, home, offline=offline)

    def stop(self) -> None:
        """End the servers this hub started, by pid."""
        for proc in reversed(self._procs):
            _stop(proc)
        self._procs.clear()

    def __enter__(self) -> LocalHub:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def start_local_hub(root: str | os.PathLike[str], timeout: float = 30.0, olah_cli: str | None = None) -> LocalHub:
    """Start the write gateway and olah (offline, serving the gateway's git repos) under `root`.

    Args:
        root (`str` or `os.PathLike`): a private folder for the repos, olah's cache and logs.
        timeout (`float`, *optional*, defaults to 30): seconds to wait for each server.
        olah_cli (`str`, *optional*): the `olah-cli` executable; defaults to the one beside `sys.executable`.
    """
    root = Path(root).resolve()
    mirrors = root / "mirrors"
    (mirrors / "datasets").mkdir(parents=True, exist_ok=True)
    (mirrors / "models").mkdir(parents=True, exist_ok=True)
    procs: list[subprocess.Popen] = []
    try:
        port_file = root / "gateway.port"
        port_file.unlink(missing_ok=True)
        gw_log = open(root / "gateway.log", "ab")  # noqa: SIM115 - kept open for the child's lifetime
        gateway = subprocess.Popen(
            [sys.executable, str(GATEWAY_SCRIPT), "--mirrors", str(mirrors), "--port-file", str(port_file)],
            stdout=gw_log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        procs.append(gateway)
        deadline = time.monotonic() + timeout
        while not port_file.exists() or not port_file.read_text().strip():
            if gateway.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"loopback gateway did not start (see {root / 'gateway.log'})")
            time.sleep(0.05)
        endpoint = f"http://127.0.0.1:{int(port_file.read_text())}"

        port = free_port()
        netloc = f"127.0.0.1:{port}"
        config = root / "olah.toml"
        quote = json.dumps  # TOML basic strings take JSON escapes
        config.write_text(
            "[basic]\n"
            f'host = "127.0.0.1"\nport = {port}\n'
            f"repos-path = {quote(str(root / 'olah-repos'))}\n"
            'mirror-scheme = "http"\n'
            f'mirror-netloc = "{netloc}"\nmirror-lfs-netloc = "{netloc}"\n'
            f"mirrors-path = [{quote(str(mirrors))}]\n"
            "metadata-cache-ttl = 0\n"
            "[accessibility]\noffline = true\n"
        )
        exe = olah_cli or str(Path(sys.executable).with_name("olah-cli"))
        if not Path(exe).exists():
            exe = shutil.which("olah-cli") or exe
        olah_log = open(root / "olah.log", "ab")  # noqa: SIM115
        olah = subprocess.Popen(
            [exe, "-c", str(config)], stdout=olah_log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=root
        )
        procs.append(olah)
        read_endpoint = f"http://{netloc}"
        _wait_http(read_endpoint + "/api/datasets/local/none/revision/main", olah, timeout)
        return LocalHub(root=root, endpoint=endpoint, read_endpoint=read_endpoint, mirrors=mirrors, _procs=procs)
    except BaseException:
        for proc in reversed(procs):
            _stop(proc)
        raise
