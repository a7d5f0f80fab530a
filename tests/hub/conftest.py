"""Local Hub fixtures: olah (read) + the loopback write gateway, both on free loopback ports, ended by pid.

The pytest process keeps `HF_HUB_OFFLINE=1` (set in `tests/conftest.py`); every Hub round trip runs in a fresh
subprocess (`tests/hub/scenarios.py`) whose environment sets `HF_ENDPOINT`, `HF_HOME` and `HF_HUB_DISABLE_XET`
before the HF libraries are imported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from local_hub import LocalHub, start_local_hub  # tests/hub is on sys.path (pytest rootdir-relative import)

REPO_ROOT = Path(__file__).resolve().parents[2]

SCENARIOS = Path(__file__).resolve().with_name("scenarios.py")
TOKEN = "hf_loopbackSECRETtoken0123456789abcdef"


def scenario_env(env: dict[str, str], **extra: str) -> dict[str, str]:
    env = dict(env)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT / "src"), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["HF_DATAVALUE_SHARED_DATA"] = os.environ.get(
        "HF_DATAVALUE_SHARED_DATA", str(REPO_ROOT.parent / "shared" / "data")
    )
    env.update(extra)
    return env


def start_scenario(name: str, env: dict[str, str], **kwargs) -> subprocess.Popen:
    """Start a scenario process; its output goes to a temporary file (no pipe to fill up and block on)."""
    log = tempfile.TemporaryFile(mode="w+", encoding="utf-8")  # noqa: SIM115 - closed in finish_scenario
    proc = subprocess.Popen(
        [sys.executable, str(SCENARIOS), name, json.dumps(kwargs)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=str(REPO_ROOT),
    )
    proc.log = log  # type: ignore[attr-defined]
    return proc


def finish_scenario(proc: subprocess.Popen, timeout: float = 300) -> tuple[dict, str]:
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    proc.log.seek(0)  # type: ignore[attr-defined]
    output = proc.log.read()  # type: ignore[attr-defined]
    proc.log.close()  # type: ignore[attr-defined]
    if proc.returncode != 0:
        pytest.fail(f"scenario failed ({proc.returncode}):\n{output[-8000:]}")
    line = [x for x in output.splitlines() if x.startswith("RESULT:")][-1]
    result = json.loads(line[len("RESULT:") :])
    assert not result.pop("_non_loopback"), "a Hub scenario tried to leave loopback"
    return result, output


def run_scenario(name: str, env: dict[str, str], **kwargs) -> tuple[dict, str]:
    return finish_scenario(start_scenario(name, env, **kwargs))


@pytest.fixture(scope="session")
def local_hub(tmp_path_factory, shared_data) -> LocalHub:
    hub = start_local_hub(tmp_path_factory.mktemp("local-hub"))
    yield hub
    hub.stop()


@pytest.fixture(scope="session")
def published(local_hub, tmp_path_factory) -> dict:
    """Run the write scenarios once: publish (with a token and debug logging on) and two concurrent pushes."""
    work = tmp_path_factory.mktemp("publish")
    home = local_hub.root / "hf_home_write"
    env = scenario_env(local_hub.env(write=True, hf_home=home), HF_TOKEN=TOKEN, SCENARIO_DEBUG="1")
    publish = start_scenario("publish", env, work=str(work))
    plain = scenario_env(local_hub.env(write=True, hf_home=local_hub.root / "hf_home_concurrent"))
    procs = [start_scenario("push_one", plain, repo="local/concurrent-values", config=c) for c in ("lava", "gotd")]
    concurrent = [finish_scenario(p)[0] for p in procs]
    result, output = finish_scenario(publish)
    result["concurrent"] = concurrent
    result["_output"] = output
    return result


@pytest.fixture(scope="session")
def loaded(local_hub, published, tmp_path_factory) -> dict:
    """Read everything back through olah in one fresh process."""
    env = scenario_env(local_hub.env(hf_home=local_hub.root / "hf_home_read"))
    result, _ = run_scenario(
        "load_checks",
        env,
        work=str(tmp_path_factory.mktemp("load")),
        first=published["first"],
        source_revision=published["source_revision"],
    )
    return result


@pytest.fixture(scope="session")
def scenario_runner():
    """`run(name, env, **kwargs) -> (result, output)` for tests that drive their own servers."""
    return run_scenario
