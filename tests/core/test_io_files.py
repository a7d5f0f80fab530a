"""Output files: umask-honouring permissions, stale temporary files, atomic plots, refusing to overwrite."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from hf_datavalue.core.errors import OutputExistsError
from hf_datavalue.core.io import check_output_file, clean_stale_temp_files, write_json_atomic, write_parquet_atomic


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_atomic_writes_honour_the_umask(tmp_path, umask_022):
    write_json_atomic(tmp_path / "a.json", {"x": 1})
    write_parquet_atomic(tmp_path / "b.parquet", {"row_idx": [0, 1]})
    assert _mode(tmp_path / "a.json") == 0o644
    assert _mode(tmp_path / "b.parquet") == 0o644
    os.umask(0o077)
    write_json_atomic(tmp_path / "c.json", {"x": 1})
    assert _mode(tmp_path / "c.json") == 0o600


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_stale_temp_files_of_a_killed_writer_are_removed_on_the_next_write(tmp_path):
    target = tmp_path / "meta.json"
    dead = tmp_path / f".meta.json.{_dead_pid()}.abcd1234.tmp"
    live = tmp_path / f".meta.json.{os.getpid()}.deadbeef.tmp"  # a writer that is still running
    other = tmp_path / f".values.parquet.{_dead_pid()}.abcd1234.tmp"  # another target's: not ours to judge now
    for p in (dead, live, other):
        p.write_text("half")
    write_json_atomic(target, {"ok": True})
    assert not dead.exists()
    assert live.exists() and other.exists()
    assert [p.name for p in clean_stale_temp_files(tmp_path / "values.parquet")] == [other.name]
    leftovers = sorted(p.name for p in tmp_path.iterdir())
    assert leftovers == sorted(["meta.json", live.name])


def test_a_killed_write_leaves_a_temp_file_named_after_its_pid(tmp_path):
    code = (
        "import os, sys; from hf_datavalue.core.io import atomic_path\n"
        "atomic_path(sys.argv[1], lambda tmp: (tmp.write_text('half'), os._exit(9)))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path / "v.json")], env=env, check=False)
    assert proc.returncode == 9
    (left,) = list(tmp_path.iterdir())
    assert left.name.startswith(".v.json.") and left.name.endswith(".tmp")
    write_json_atomic(tmp_path / "v.json", {"ok": 1})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.json"]


def test_check_output_file_refuses_existing_files(tmp_path):
    path = tmp_path / "values.parquet"
    assert check_output_file(path) == path
    path.write_text("x")
    with pytest.raises(OutputExistsError, match="--overwrite"):
        check_output_file(path)
    assert check_output_file(path, overwrite=True) == path


def test_plots_are_written_atomically(tmp_path, monkeypatch, umask_022):
    import numpy as np

    from hf_datavalue.core import plots
    from hf_datavalue.core.mixture import MixtureWeights
    from hf_datavalue.core.plots import plot_weights
    from hf_datavalue.lava.plots import plot_value_histogram
    from hf_datavalue.mixing.plots import plot_curves

    calls = []
    real = plots.atomic_path
    monkeypatch.setattr(plots, "atomic_path", lambda path, writer: calls.append(Path(path)) or real(path, writer))
    w = MixtureWeights({"a": 0.25, "b": 0.75}, unit="examples")
    plot_weights({"w": w}, path=tmp_path / "w.png")
    plot_curves({"run": ([0, 1], [2.0, 1.0])}, path=tmp_path / "c.png")
    plot_value_histogram(np.arange(10.0), tmp_path / "h.png")
    assert [p.name for p in calls] == ["w.png", "c.png", "h.png"]
    for name in ("w.png", "c.png", "h.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"
        assert _mode(tmp_path / name) == 0o644
    assert not list(tmp_path.glob(".*.tmp"))


def test_gotd_config_save_is_atomic(tmp_path, monkeypatch, umask_022):
    from hf_datavalue.core import config as core_config
    from hf_datavalue.gotd import GotdConfig

    calls = []
    real = core_config.write_json_atomic
    monkeypatch.setattr(core_config, "write_json_atomic", lambda path, obj: calls.append(path) or real(path, obj))
    GotdConfig().save(tmp_path / "config.json")
    assert calls == [tmp_path / "config.json"]
    assert GotdConfig.load(tmp_path / "config.json") == GotdConfig()
    assert _mode(tmp_path / "config.json") == 0o644
