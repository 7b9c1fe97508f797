"""Labeling through `prmkit serve policy` and the openai backend gives the same labels
as labeling with the local policy (greedy rollouts, so both are deterministic).

Runs once `prmkit label` (branch `label`) is merged; skipped before.
"""

import json

import pytest
import torch
from conftest import last_json, run_cli

from prmkit.data import Problem, Sample, read_jsonl, write_jsonl
from prmkit.models.builtin import BuiltinPolicy
from prmkit.models.gpt import GPTConfig
from prmkit.models.tokenizer import CharTokenizer
from prmkit.serve.http import ThreadServer
from prmkit.serve.policy_server import create_app
from prmkit.worlds import arithmetic

pytest.importorskip("prmkit.label.engine")


def test_mc_labels_through_the_policy_server(tmp_path, capsys):
    torch.manual_seed(0)
    cfg = GPTConfig(
        vocab_size=CharTokenizer().vocab_size, block_size=128, n_layer=2, n_head=2, d_model=32
    )
    BuiltinPolicy.new(cfg).save(tmp_path / "policy")
    write_jsonl(
        tmp_path / "problems.jsonl", [Problem.from_dict(p) for p in arithmetic.generate(4, seed=3)]
    )
    # Samples: the correct solution and a corrupted one per problem, so steps exist to label.
    rng = __import__("random").Random(0)
    samples = []
    for p in arithmetic.generate(4, seed=3):
        for j, steps in enumerate(
            [arithmetic.solve(p["prompt"]), arithmetic.corrupt(p["prompt"], rng)[0]]
        ):
            samples.append(
                {
                    "id": f"{p['id']}-s{j}",
                    "problem_id": p["id"],
                    "prompt": p["prompt"],
                    "reference": p["answer"],
                    "steps": steps,
                }
            )
    (tmp_path / "samples.jsonl").write_text("".join(json.dumps(s) + "\n" for s in samples))
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with ThreadServer(create_app(BuiltinPolicy.load(tmp_path / "policy"), "p")) as url:
            summaries = {}
            for name, pol in (("remote", url), ("local", tmp_path / "policy")):
                args = [
                    "label",
                    "--method",
                    "mc",
                    "--in",
                    tmp_path / "samples.jsonl",
                    "--out",
                    tmp_path / f"{name}.jsonl",
                ]
                code, out, err = run_cli(
                    [
                        *args,
                        "--policy",
                        pol,
                        "--k",
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
                summaries[name] = last_json(out)
    finally:
        torch.set_num_threads(before)
    remote = read_jsonl(tmp_path / "remote.jsonl", Sample.from_dict)
    local = read_jsonl(tmp_path / "local.jsonl", Sample.from_dict)
    assert len(remote) == len(samples) == len(local)
    assert [(s.id, s.labels.soft, s.labels.hard) for s in remote] == [
        (s.id, s.labels.soft, s.labels.hard) for s in local
    ]
    assert summaries["remote"]["rollouts"] == summaries["local"]["rollouts"] > 0
    assert summaries["remote"]["tokens"] == summaries["local"]["tokens"] > 0
