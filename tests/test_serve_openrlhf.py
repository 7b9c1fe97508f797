"""`/get_reward` as OpenRLHF calls it: decoded queries with the special tokens kept.

The request shapes are OpenRLHF's own: `{"query": [...], "prompts": [...], "labels":
[...]}`, where a query is `tokenizer.decode(prompt_ids + response_ids,
skip_special_tokens=False)` of a chat-templated prompt (openrlhf/utils/agent.py,
SingleTurnAgentExecutor), or, in releases up to 0.8, `batch_decode` of left-padded
sequences (`<pad><pad><s>prompt response</s>`). The tokenizer here is a tiny BPE with
ChatML markers, built in the test.
"""

import httpx
import pytest
from hf_tiny import build_chat_tokenizer
from serve_fixtures import one_torch_thread  # noqa: F401 (autouse fixture)

from prmkit.commands.serve_prm import query_cleaner
from prmkit.data import InputError
from prmkit.models.chat_text import ChatMarkers, TextCleaner, user_message
from prmkit.prm.base import RulePRM
from prmkit.serve.http import ThreadServer
from prmkit.serve.prm_server import create_app, split_query

PROBLEM = "Start with 3, then *2, +4."
RIGHT = "3*2=6\n6+4=10\nAnswer: 10"
WRONG = "3*2=6\n6+4=11\nAnswer: 11"


@pytest.fixture(scope="module")
def tok_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("chat-tok")
    build_chat_tokenizer(d, [PROBLEM + "\n" + RIGHT, PROBLEM + "\n" + WRONG] * 20)
    return d


@pytest.fixture(scope="module")
def tok(tok_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(tok_dir))


def chat_query(tok, response: str) -> tuple[str, str]:
    """(query, prompt) as OpenRLHF's SingleTurnAgentExecutor builds them."""
    prompt = tok.apply_chat_template(
        [{"role": "user", "content": PROBLEM}], tokenize=False, add_generation_prompt=True
    )
    prompt_ids = tok(text=prompt, add_special_tokens=False)["input_ids"]
    action_ids = tok(response, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
    return tok.decode(prompt_ids + action_ids, skip_special_tokens=False), prompt


def padded_queries(tok, responses: list[str]) -> tuple[list[str], list[str]]:
    """(queries, prompts) as OpenRLHF <= 0.8 built them: left-padded sequences, decoded."""
    prompt = PROBLEM + "\n"
    seqs = [
        [tok.bos_token_id]
        + tok(prompt + r, add_special_tokens=False)["input_ids"]
        + [tok.eos_token_id]
        for r in responses
    ]
    width = max(len(s) for s in seqs) + 2
    seqs = [[tok.pad_token_id] * (width - len(s)) + s for s in seqs]
    return tok.batch_decode(seqs, skip_special_tokens=False), [prompt] * len(responses)


def test_text_cleaner_on_chatml_and_llama3_strings():
    chatml = TextCleaner(
        ["<|im_start|>", "<|im_end|>", "<pad>"],
        ChatMarkers("user\n", "<|im_end|>\n<|im_start|>assistant\n"),
    )
    q = (
        "<pad><pad><|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nP?<|im_end|>\n"
        "<|im_start|>assistant\na=1\nb=2<|im_end|><pad>"
    )
    assert chatml.split(q, None) == ("P?", "a=1\nb=2")
    llama = ["<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]
    prompt = (
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nP?<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n"
    )
    markers = ChatMarkers("\n\n", "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")
    assert user_message(prompt, markers, llama) == "P?"
    plain = TextCleaner(["<pad>", "<s>", "</s>"])
    assert plain.split("<pad><pad><s>P?\na=1</s>", "P?\n") == ("P?", "a=1")
    assert plain.split("no prompt here", "P?") is None


def test_chat_markers_learnt_from_the_tokenizer(tok):
    c = TextCleaner.from_tokenizer(tok)
    assert c.markers == ChatMarkers("user\n", "<|im_end|>\n<|im_start|>assistant\n")
    assert {"<pad>", "</s>", "<s>", "<|im_start|>", "<|im_end|>"} <= set(c.specials)
    q, prompt = chat_query(tok, RIGHT)
    assert split_query(q, prompt, cleaner=c) == (PROBLEM, RIGHT.split("\n"))
    assert split_query(q, None, cleaner=c) == (PROBLEM, RIGHT.split("\n"))


def test_get_reward_with_openrlhf_request_shapes(tok, tok_dir):
    cleaner = query_cleaner(str(tok_dir), "rule")
    with (
        ThreadServer(create_app(RulePRM(), cleaner=cleaner)) as url,
        httpx.Client(base_url=url, timeout=30) as c,
    ):
        # current OpenRLHF: one chat-templated query per request, eos kept
        for response, want in [(RIGHT, 1.0), (WRONG, 0.0)]:
            q, prompt = chat_query(tok, response)
            r = c.post("/get_reward", json={"query": [q], "prompts": [prompt], "labels": ["10"]})
            assert r.status_code == 200, r.text
            assert r.json()["rewards"] == [want] and r.json()["scores"] == [want]
        # OpenRLHF <= 0.8: a batch of left-padded sequences
        queries, prompts = padded_queries(tok, [RIGHT, WRONG, RIGHT])
        assert queries[0].startswith("<pad><pad>")
        r = c.post("/get_reward", json={"query": queries, "prompts": prompts, "labels": ["10"] * 3})
        assert r.status_code == 200, r.text
        assert r.json()["rewards"] == [1.0, 0.0, 1.0]
        assert r.json()["step_scores"][1] == [1.0, 0.0, 0.0]


def test_without_a_tokenizer_a_chat_template_is_a_422_that_names_the_flag(tok):
    q, prompt = chat_query(tok, RIGHT)
    with (
        ThreadServer(create_app(RulePRM())) as url,
        httpx.Client(base_url=url, timeout=30) as c,
    ):
        r = c.post("/get_reward", json={"query": [q], "prompts": [prompt]})
        assert r.status_code == 422 and "--tokenizer" in r.text


def test_query_cleaner_reads_the_named_or_the_prm_folder(tok_dir, tmp_path):
    assert query_cleaner("", "rule") is None
    assert query_cleaner("", str(tok_dir)).markers is not None  # the PRM folder's tokenizer
    assert query_cleaner("", f"{tok_dir}+rule").markers is not None  # the checked PRM's
    assert query_cleaner("", str(tmp_path)) is None  # a folder without a tokenizer
    with pytest.raises(InputError, match="no such tokenizer folder"):
        query_cleaner(str(tmp_path / "missing"), "rule")
    with pytest.raises(InputError, match="holds no tokenizer"):
        query_cleaner(str(tmp_path), "rule")


def test_openrlhf_reward_func_file_as_openrlhf_loads_it(tok, tok_dir, monkeypatch):
    """`--reward.remote_url .../openrlhf_reward.py`: OpenRLHF imports the file by path
    and calls reward_func([query], [prompt], [label]) per sample."""
    import importlib.util

    import prmkit.rl.openrlhf_reward as R

    monkeypatch.setenv("PRMKIT_PRM", "rule")
    monkeypatch.setenv("PRMKIT_TOKENIZER", str(tok_dir))
    monkeypatch.setenv("PRMKIT_OUTCOME_WEIGHT", "0.5")
    spec = importlib.util.spec_from_file_location("reward_func", R.__file__)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for response, label, want in [(RIGHT, "10", 1.5), (WRONG, "10", 0.0), (RIGHT, "11", 1.0)]:
        q, prompt = chat_query(tok, response)
        out = module.reward_func([q], [prompt], [label])
        assert out["rewards"].tolist() == [want] and out["scores"].tolist() == [want]
        assert set(out["extra_logs"]) == {"prm_process", "prm_outcome"}
    queries, prompts = padded_queries(tok, [RIGHT, WRONG])
    monkeypatch.setenv("PRMKIT_OUTCOME_WEIGHT", "0")
    assert module.reward_func(queries, prompts, [None, None])["rewards"].tolist() == [1.0, 0.0]
    monkeypatch.setenv("PRMKIT_AGG", "median")
    with pytest.raises(ValueError, match="PRMKIT_AGG"):
        module.reward_func(queries, prompts, [None, None])


def test_serve_prm_with_a_missing_tokenizer_is_one_line_exit_2(tmp_path, capsys):
    from conftest import run_cli

    args = ["serve", "prm", "--model", "rule", "--tokenizer", tmp_path / "nope", "--port", 0]
    code, _, err = run_cli(args, capsys)
    assert code == 2 and "no such tokenizer folder" in err and "Traceback" not in err
