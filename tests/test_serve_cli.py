"""`prmkit serve prm` and `prmkit serve policy` as real processes on loopback ports, and
`prmkit sample --policy http://...` through the openai backend."""

import json
import sys
from pathlib import Path

import httpx
import torch
from conftest import last_json, run_cli

from prmkit.data import Problem, Sample, read_jsonl, write_jsonl
from prmkit.models.builtin import BuiltinPolicy
from prmkit.models.gpt import GPTConfig
from prmkit.models.tokenizer import CharTokenizer
from prmkit.worlds import arithmetic

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from serve_load import Server  # noqa: E402

CLI = [sys.executable, "-m", "prmkit.cli"]


def stop(server: Server) -> tuple[int, dict]:
    """SIGINT the server: (exit code, the JSON summary it printed last)."""
    server.stop()
    out = server.proc.stdout.read().strip().splitlines()
    return server.proc.returncode, json.loads(out[-1])


def test_serve_policy_and_sample_through_it(tmp_path, capsys):
    torch.manual_seed(0)
    cfg = GPTConfig(
        vocab_size=CharTokenizer().vocab_size, block_size=128, n_layer=2, n_head=2, d_model=32
    )
    BuiltinPolicy.new(cfg).save(tmp_path / "policy")
    problems = [Problem.from_dict(p) for p in arithmetic.generate(6, seed=3)]
    write_jsonl(tmp_path / "problems.jsonl", problems)
    server = Server(
        [*CLI, "serve", "policy", "--model", tmp_path / "policy", "--port", "0", "--threads", "1"]
    )
    try:
        assert httpx.get(server.url + "/v1/models").json()["data"][0]["id"] == "policy"
        outs = {}
        for name, pol in (("remote", server.url), ("local", tmp_path / "policy")):
            args = [
                "sample",
                "--policy",
                pol,
                "--problems",
                tmp_path / "problems.jsonl",
                "--out",
                tmp_path / f"{name}.jsonl",
            ]
            code, out, err = run_cli(
                [
                    *args,
                    "--n",
                    "2",
                    "--temperature",
                    "0",
                    "--max-new-tokens",
                    "30",
                    "--no-progress",
                ],
                capsys,
            )
            assert code == 0, err
            outs[name] = last_json(out)
            assert outs[name]["samples"] == 12
        remote = read_jsonl(tmp_path / "remote.jsonl", Sample.from_dict)
        local = read_jsonl(tmp_path / "local.jsonl", Sample.from_dict)
        assert [(s.id, s.steps, s.correct, s.meta["n_tokens"]) for s in remote] == [
            (s.id, s.steps, s.correct, s.meta["n_tokens"]) for s in local
        ]
        assert outs["remote"]["tokens"] == outs["local"]["tokens"] > 0
    finally:
        code, summary = stop(server)
    assert code == 0 and summary["command"] == "serve policy" and summary["requests"] >= 1


def test_serve_prm_cli_with_token(tmp_path, capsys, monkeypatch):
    """`prmkit serve prm` in-process: uvicorn's blocking run is swapped for a thread
    server that takes requests and returns (the subprocess test above covers SIGINT)."""
    import prmkit.serve.http as http

    seen = {}

    def serve_here(app, host, port, what, access_log=False):
        with http.ThreadServer(app) as url:
            body = {"problem": "Start with 7, then +5.", "steps": ["7+5=13", "Answer: 13"]}
            seen["no_token"] = httpx.post(url + "/score", json=body).status_code
            auth = {"Authorization": "Bearer t0ken"}
            seen["scored"] = httpx.post(url + "/score", json=body, headers=auth).json()
            seen["bad_utf8"] = httpx.post(url + "/score", content=b"\xff", headers=auth).status_code
            seen["what"] = what
            return url

    monkeypatch.setattr(http, "serve_app", serve_here)
    args = [
        "serve",
        "prm",
        "--model",
        "rule",
        "--port",
        "0",
        "--token",
        "t0ken",
        "--aggregator",
        "last",
    ]
    code, out, err = run_cli(args, capsys)
    assert code == 0, err
    assert seen == {
        "no_token": 401,
        "scored": {"scores": [0.0, 0.0], "reward": 0.0},
        "bad_utf8": 400,
        "what": "PRM 'rule'",
    }
    summary = last_json(out)
    assert (
        summary["command"] == "serve prm"
        and summary["items"] == 1
        and summary["client_errors"] == 1
    )
    # Bad settings are one-line errors with exit code 2, never a traceback.
    code, _, err = run_cli(["serve", "prm", "--model", tmp_path / "nope"], capsys)
    assert code == 2 and "no such PRM directory" in err and "Traceback" not in err
    code, _, err = run_cli(["serve", "prm", "--model", "rule", "--max-batch-size", "0"], capsys)
    assert code == 2 and "--max-batch-size" in err
    code, _, err = run_cli(["serve", "policy", "--model", "http://127.0.0.1:1"], capsys)
    assert code == 2 and "serve a local policy" in err
