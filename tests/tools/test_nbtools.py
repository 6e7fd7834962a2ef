"""nbtools: the alternate-kernel passes run the right tests under the right settings."""

import subprocess
import sys

import pytest

from forge_lib.tools import nbtools


def test_kernel_settings_change_every_library_and_both_thread_counts():
    settings = nbtools.KERNEL_SETTINGS
    assert len(settings) >= 2
    for env in settings.values():
        assert {"ATEN_CPU_CAPABILITY", "MKL_CBWR", "ONEDNN_MAX_CPU_ISA", "OMP_NUM_THREADS"} <= set(env)
    assert {env["OMP_NUM_THREADS"] for env in settings.values()} == {"1", "2"}
    assert any(env.get("FORGE_NO_PROC_PEAK") == "1" for env in settings.values())


def test_each_setting_runs_the_notebooks_and_doctests(monkeypatch):
    calls = []

    def fake_call(cmd, cwd, env):
        calls.append((cmd, env))
        return 0 if len(calls) == 1 else 1  # the second setting "fails"

    monkeypatch.setattr(nbtools.subprocess, "call", fake_call)
    assert nbtools.run_other_kernels([]) == 1
    assert [env["ATEN_CPU_CAPABILITY"] for _, env in calls] == [
        s["ATEN_CPU_CAPABILITY"] for s in nbtools.KERNEL_SETTINGS.values()]
    for cmd, _ in calls:
        assert cmd[:3] == [sys.executable, "-m", "pytest"]
        assert {"notebooks", "tests/test_doctests.py"} <= set(cmd)
    calls.clear()
    assert nbtools.run_other_kernels(["avx2"]) == 0 and len(calls) == 1


def test_unknown_setting_is_refused():
    result = subprocess.run([sys.executable, "-m", "forge_lib.tools.nbtools", "kernels", "sse9"],
                            capture_output=True, text=True)
    assert result.returncode != 0
    assert "unknown kernel setting(s) ['sse9']; known: ['portable', 'avx2']" in result.stderr


@pytest.mark.parametrize("argv", [[], ["bogus"]])
def test_usage_without_a_command(argv):
    with pytest.raises(SystemExit, match="python -m forge_lib.tools.nbtools run"):
        nbtools.main(argv)


def test_stream_chunks_are_joined_so_a_busy_machine_commits_the_same_file():
    import nbformat

    from forge_lib.tools.nbtools import _coalesce_streams

    out = nbformat.v4.new_output
    chunks = [out("stream", name="stdout", text="a = 1"), out("stream", name="stdout", text="\n"),
              out("stream", name="stderr", text="warn\n"), out("stream", name="stdout", text="b\n")]
    joined = _coalesce_streams(chunks)
    assert [(o.name, o.text) for o in joined] == [("stdout", "a = 1\n"), ("stderr", "warn\n"),
                                                  ("stdout", "b\n")]
