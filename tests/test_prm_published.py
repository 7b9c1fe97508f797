"""Published PRMs: prmkit's one-pass scores equal each model card's own recipe.

Every reference below re-implements its card's code as written (one sequence per
prefix, read at the prefix's last step) on the in-memory model the folder was saved
from, so it shares nothing with prmkit's loader, recipes or batching.
"""

from __future__ import annotations

import json

import published_tiny as tiny
import pytest
import torch

from prmkit.data import InputError
from prmkit.prm.published import detect_format, load_published

torch.set_num_threads(1)

ITEMS = [
    ("Janet has 16 eggs. How many are left?", ["16 - 3 = 13 eggs.", "13 - 4 = 9 eggs left."]),
    ("What is 3 + 4?", ["3 + 4 = 7."]),
    (
        "She sells 9 eggs at 2 dollars. How much?",
        ["She has 9 eggs.", "9 * 2 = 18 dollars.", "So x = 5 and y = 2.", "The answer is: 18"],
    ),
]


def _per_prefix(items, score_last):
    """Step k's score = the card's score of the last step of steps[:k]."""
    return [[score_last(q, steps[:k]) for k in range(1, len(steps) + 1)] for q, steps in items]


@torch.no_grad()
def ref_math_shepherd(model, tok, items):
    cand = tok.encode("+ -")[1:]
    tag = tok.encode("ки")[-1]

    def last(q, steps):
        output = "\n".join(f"Step {i}: {s} ки" for i, s in enumerate(steps, 1))
        ids = torch.tensor([tok.encode(f"{q} {output}")])
        scores = model(ids).logits[:, :, cand].softmax(dim=-1)[:, :, 0]
        return scores[ids == tag][-1].item()

    return _per_prefix(items, last)


@torch.no_grad()
def ref_rlhflow(model, tok, items):
    cand = [tok.encode("+")[-1], tok.encode("-")[-1]]

    def last(q, steps):
        conv = []
        for k, s in enumerate(steps):
            conv.append({"content": q + " " + s if k == 0 else s, "role": "user"})
            conv.append({"content": "+", "role": "assistant"})
        ids = tok.apply_chat_template(conv, return_tensors="pt")["input_ids"]
        return model(ids).logits[:, -3, cand].softmax(dim=-1)[:, 0].item()

    return _per_prefix(items, last)


@torch.no_grad()
def ref_qwen(model, tok, items):
    sep = tok.encode("<extra_0>")[0]

    def last(q, steps):
        messages = [
            {
                "role": "system",
                "content": "Please reason step by step, and put your final answer within \\boxed{}.",
            },
            {"role": "user", "content": q},
            {"role": "assistant", "content": "<extra_0>".join(steps) + "<extra_0>"},
        ]
        text = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=False)
        ids = torch.tensor([tok.encode(text)])
        probs = model(ids).softmax(dim=-1) * (ids == sep).unsqueeze(-1)
        sample = probs[0]
        return sample[sample != 0].view(-1, 2)[:, 1][-1].item()

    return _per_prefix(items, last)


@torch.no_grad()
def ref_skywork(model, tok, items):
    def prepare_input(problem, response):
        ids = tok.encode(tok.bos_token + problem + "\n")
        flags = [0] * len(ids)
        step_id = tok.encode("\n")[-1]
        for step in response.split("\n"):
            step_ids = (tok.encode(step) if step != "" else []) + [step_id]
            ids += step_ids
            flags += [0] * (len(step_ids) - 1) + [1]
        return ids, flags

    def last(q, steps):
        ids, flags = prepare_input(q, "\n".join(steps))
        rewards = model(torch.tensor([ids]))[0]
        return rewards[torch.tensor(flags) == 1][-1].item()

    return _per_prefix(items, last)


@torch.no_grad()
def ref_trl(model, tok, items):
    def tokenize_row(prompt, completions):
        prompt_ids = tok(prompt, add_special_tokens=False)["input_ids"]
        sep = tok.encode("\n", add_special_tokens=False)
        comps = [tok(c, add_special_tokens=False)["input_ids"] + sep for c in completions]
        labels = [x for c in comps for x in [-100] * (len(c) - 1) + [1]]
        if tok.bos_token_id is not None:
            prompt_ids = [tok.bos_token_id] + prompt_ids
        return prompt_ids + [t for c in comps for t in c], [-100] * len(prompt_ids) + labels

    def last(q, steps):
        ids, labels = tokenize_row(q, steps)
        probs = model(torch.tensor([ids])).logits[0].softmax(-1)[:, 1]
        return probs[torch.tensor(labels) != -100][-1].item()

    return _per_prefix(items, last)


FORMATS = {
    "math-shepherd": (tiny.math_shepherd, ref_math_shepherd),
    "rlhflow": (tiny.rlhflow, ref_rlhflow),
    "qwen-prm": (tiny.qwen_prm, ref_qwen),
    "skywork": (tiny.skywork, ref_skywork),
    "trl": (tiny.trl, ref_trl),
}


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    from transformers import AutoTokenizer

    out = {}
    for name, (build, ref) in FORMATS.items():
        path, model, _ = build(tmp_path_factory.mktemp(name))
        tok = AutoTokenizer.from_pretrained(path)  # as the cards load it, from the folder
        out[name] = (path, ref(model, tok, ITEMS))
    return out


def _close(a, b, tol=1e-5):
    assert [len(r) for r in a] == [len(r) for r in b]
    for ra, rb in zip(a, b):
        assert ra == pytest.approx(rb, abs=tol)


@pytest.mark.parametrize("name", list(FORMATS))
def test_one_pass_equals_model_card_recipe(folders, name):
    path, expected = folders[name]
    assert detect_format(path) == name
    prm = load_published(str(path), batch_size=2)  # several length buckets
    assert prm.kind == name
    _close(prm.score(ITEMS), expected)
    _close(prm.score_per_prefix(ITEMS), expected)
    flat = [p for row in expected for p in row]
    assert max(flat) - min(flat) > 1e-3  # the reference is not constant


@pytest.mark.parametrize("name", ["qwen-prm", "skywork"])
def test_missing_head_weights_stop_the_loader(tmp_path, name):
    path, _, _ = FORMATS[name][0](tmp_path / name, head=False)
    with pytest.raises(InputError, match="refusing to score with a randomly initialised head"):
        load_published(str(path), name)


def test_missing_classifier_weights_stop_the_loader(tmp_path):
    path, _, _ = tiny.trl(tmp_path / "trl")
    tiny.drop_keys(path, "score.")
    with pytest.raises(InputError, match="score.bias.*randomly initialised weights"):
        load_published(str(path), "trl")


def test_named_format_overrides_detection(folders):
    path, expected = folders["math-shepherd"]
    cfg = tiny.config(path)
    assert cfg["architectures"] == ["LlamaForCausalLM"]
    _close(load_published(str(path), "math-shepherd").score(ITEMS), expected)
    with pytest.raises(InputError, match="chat template"):
        load_published(str(path), "rlhflow")  # no chat template: not an RLHFlow folder


def test_undetectable_folder_asks_for_the_format(tmp_path, folders):
    path, _ = folders["trl"]
    cfg = tiny.config(path)
    other = tmp_path / "plain"
    other.mkdir()
    (other / "config.json").write_text(json.dumps(cfg | {"architectures": ["LlamaModel"]}))
    with pytest.raises(InputError, match="--prm-format"):
        detect_format(other)


def test_hub_id_offline_needs_a_local_folder(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(InputError, match="offline.*--prm DIR"):
        load_published("Qwen/Qwen2.5-Math-PRM-7B")


def test_solution_beyond_context_names_item_and_limit(tmp_path):
    path, _, _ = tiny.math_shepherd(tmp_path / "ms", ctx=48)
    prm = load_published(str(path))
    long = ("What is 3 + 4?", ["3 + 4 = 7 apples."] * 12)
    with pytest.raises(
        ValueError, match=r"solution 1 \('What is 3 \+ 4\?'\) is \d+ tokens.*context is 48"
    ):
        prm.score([ITEMS[1], long])


def _processbench_file(path, items, labels):
    rows = [
        {"id": f"pb-{i}", "problem": q, "steps": steps, "label": lab}
        for i, ((q, steps), lab) in enumerate(zip(items, labels))
    ]
    path.write_text(json.dumps(rows))
    return path


def test_cli_score_and_eval_processbench(folders, tmp_path, capsys):
    from conftest import last_json, run_cli

    path, expected = folders["qwen-prm"]
    data = _processbench_file(tmp_path / "pb.json", ITEMS, [-1, 0, 2])
    flags = ["--prm-format", "qwen-prm", "--device", "cpu", "--dtype", "float32"]
    code, out, err = run_cli(
        [
            "score",
            "--prm",
            path,
            "--in",
            data,
            "--out",
            tmp_path / "s.jsonl",
            *flags,
            "--batch-size",
            "2",
        ],
        capsys,
    )
    assert code == 0, err
    assert last_json(out)["kind"] == "qwen-prm"
    rows = [json.loads(line) for line in (tmp_path / "s.jsonl").read_text().splitlines()]
    _close([r["prm_scores"] for r in rows], expected)
    code, out, err = run_cli(
        ["eval", "processbench", "--prm", path, "--data", data, "--threshold", "0.5", *flags],
        capsys,
    )
    assert code == 0, err
    summary = last_json(out)
    assert summary["kind"] == "qwen-prm" and summary["n_eval"] == 3


def test_cli_solution_beyond_context_is_one_line(tmp_path, capsys):
    from conftest import run_cli

    path, _, _ = tiny.math_shepherd(tmp_path / "ms", ctx=48)
    long = ("What is 3 + 4?", ["3 + 4 = 7 apples."] * 12)
    data = _processbench_file(tmp_path / "pb.json", [ITEMS[1], long], [-1, -1])
    code, out, err = run_cli(
        ["score", "--prm", path, "--in", data, "--out", tmp_path / "s.jsonl"], capsys
    )
    assert code == 2 and "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and err.strip().endswith(errors[0])
    # the record's number in the file (score_in_chunks), then the scorer's own words
    assert "pb.json: record 2: solution 0 ('What is 3 + 4?')" in errors[0]
    assert "context is 48" in errors[0]


def test_every_prm_loader_takes_the_published_options(folders):
    from prmkit.prm.base import load_scorer
    from prmkit.search import load_scorer as search_scorer

    path, expected = folders["skywork"]
    for load in (load_scorer, search_scorer):
        prm = load(str(path), "arithmetic", "skywork", "cpu", "float32", 1)
        assert prm.kind == "skywork" and prm.batch_size == 1
        _close(prm.score(ITEMS), expected)
    with pytest.raises(InputError, match="no such PRM directory"):
        load_scorer("no-such-folder")


def test_a_step_holding_the_step_tag_is_an_error_naming_the_solution(folders):
    prm = load_published(str(folders["math-shepherd"][0]))
    with pytest.raises(ValueError, match=r"solution 1 \('What is 3 \+ 4\?'\): 1 steps encode to 2"):
        prm.score([ITEMS[0], ("What is 3 + 4?", ["3 + 4 = 7 ки so 7."])])
