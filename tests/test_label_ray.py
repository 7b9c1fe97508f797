"""The Ray engine on a 2-CPU local Ray: same output as the local engine, same resume."""

import os
from pathlib import Path

import pytest
from conftest import last_json, run_cli
from test_label_methods import one_thread  # noqa: F401
from test_label_resume import args, make_samples

import prmkit
from prmkit.data import write_jsonl

ray = pytest.importorskip(
    "ray", reason="Ray is not installed: pip install 'prmkit[ray]' to test --engine ray"
)


@pytest.mark.usefixtures("one_thread")
def test_ray_engine_matches_local_and_resumes(tiny_policy, tmp_path, capsys):
    inp = tmp_path / "s.jsonl"
    write_jsonl(inp, make_samples(6))  # 12 samples
    local = tmp_path / "local.jsonl"
    assert run_cli(args(tiny_policy, inp, local), capsys)[0] == 0
    src = str(Path(prmkit.__file__).parents[1])
    env = {
        "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")]),
        "OMP_NUM_THREADS": "1",
    }
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        configure_logging=False,
        runtime_env={"env_vars": env},
    )
    try:
        # One Ray run that is also a resume: 4 whole lines and a torn fifth survived a
        # kill; Ray labels the other 8 items, which must match the local engine's bytes.
        out = tmp_path / "ray.jsonl"
        lines = local.read_bytes().splitlines(keepends=True)
        out.write_bytes(b"".join(lines[:4]) + lines[4][:40])
        code, stdout, err = run_cli(
            args(tiny_policy, inp, out, "--engine", "ray", "--chunk", 2), capsys
        )
        assert code == 0, err
        s = last_json(stdout)
        assert s["engine"] == "ray" and s["ray_workers"] == 2 and s["items"] == 12
        assert s["resumed"] == 4 and s["this_run"]["items"] == 8
        assert out.read_bytes() == local.read_bytes()
    finally:
        ray.shutdown()
