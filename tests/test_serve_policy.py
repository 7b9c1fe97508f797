"""OpenAI-compatible policy server and the `openai` Generator backend.

The server runs the built-in policy (and a tiny Hugging Face GPT-2 built here) in a
thread on a loopback port; the backend must reproduce local generations exactly.
"""

import httpx
import pytest
import torch
from serve_fixtures import one_torch_thread  # noqa: F401 (autouse fixture)

from prmkit.data import InputError
from prmkit.models.builtin import BuiltinPolicy
from prmkit.models.generator import SamplingParams, continue_steps
from prmkit.models.gpt import GPTConfig
from prmkit.models.load import load_generator
from prmkit.models.openai_backend import OpenAIGenerator, parse_url
from prmkit.models.tokenizer import CharTokenizer
from prmkit.serve.http import ThreadServer
from prmkit.serve.policy_server import create_app

ITEMS = [
    ("Start with 7, then +5, *3, -4.", []),
    ("Start with 3, then *2.", ["3*2=6"]),
    ("Start with 5, then +1, -2.", ["5+1=6"]),
]


@pytest.fixture(scope="module")
def policy():
    torch.manual_seed(0)
    cfg = GPTConfig(
        vocab_size=CharTokenizer().vocab_size, block_size=96, n_layer=2, n_head=2, d_model=32
    )
    return BuiltinPolicy.new(cfg)


@pytest.fixture(scope="module")
def server(policy):
    with ThreadServer(create_app(policy, "tiny", max_n=8)) as url:
        yield url


def test_completions_n_logprobs_stop(server, policy):
    c = httpx.Client(base_url=server, timeout=60)
    assert c.get("/v1/models").json()["data"][0]["id"] == "tiny"
    prompts = ["Start with 7, then +5.\n", "Start with 2, then *3.\n"]
    body = {
        "model": "tiny",
        "prompt": prompts,
        "n": 3,
        "max_tokens": 12,
        "temperature": 1.0,
        "logprobs": 2,
        "seed": 5,
    }
    r = c.post("/v1/completions", json=body).json()
    assert [ch["index"] for ch in r["choices"]] == list(range(6))
    for ch in r["choices"]:
        lp = ch["logprobs"]
        assert (
            len(lp["tokens"])
            == len(lp["token_logprobs"])
            == len(lp["top_logprobs"])
            == len(lp["text_offset"])
        )
        assert 1 <= len(lp["tokens"]) <= 12
        assert lp["text_offset"] == sorted(lp["text_offset"]) and lp["text_offset"][-1] <= len(
            ch["text"]
        )
        for chosen, top in zip(lp["token_logprobs"], lp["top_logprobs"]):
            assert chosen <= 0 and max(top.values()) >= chosen - 1e-5 and len(top) == 2
        assert ch["finish_reason"] in ("stop", "length")
    # The same seed gives the same samples; the log-probs are the model's (T=1).
    again = c.post("/v1/completions", json=body).json()
    assert [ch["text"] for ch in again["choices"]] == [ch["text"] for ch in r["choices"]]
    first = r["choices"][0]
    ids = c.post("/v1/completions", json={**body, "return_tokens_as_token_ids": True}).json()[
        "choices"
    ][0]["logprobs"]["tokens"]
    tok_ids = [int(t.removeprefix("token_id:")) for t in ids]
    assert policy.tok.decode(tok_ids) == first["text"]
    seq = torch.tensor([policy.prompt_ids(prompts[0]) + tok_ids])
    P = len(policy.prompt_ids(prompts[0]))
    with torch.no_grad():
        logp = (
            policy.model(seq)[0]
            .log_softmax(-1)[P - 1 : -1]
            .gather(1, torch.tensor(tok_ids)[:, None])
            .squeeze(1)
        )
    torch.testing.assert_close(
        torch.tensor(first["logprobs"]["token_logprobs"]), logp, rtol=1e-4, atol=1e-4
    )
    assert r["usage"]["completion_tokens"] == sum(
        len(ch["logprobs"]["tokens"]) for ch in r["choices"]
    )
    # Stop strings: cut before the stop (or after it with include_stop_str_in_output).
    for ch in c.post(
        "/v1/completions",
        json={"prompt": prompts[0], "n": 8, "max_tokens": 40, "stop": ["1", "5"], "seed": 1},
    ).json()["choices"]:
        assert "1" not in ch["text"] and "5" not in ch["text"]
        if ch["finish_reason"] == "stop" and ch["stop_reason"] is not None:
            assert ch["stop_reason"] in ("1", "5")
    greedy = {
        "prompt": prompts[1],
        "max_tokens": 40,
        "temperature": 0,
        "stop": "\n",
        "include_stop_str_in_output": True,
    }
    ch = c.post("/v1/completions", json=greedy).json()["choices"][0]
    assert ch["text"].count("\n") <= 1 and (
        ch["finish_reason"] == "length" or ch["text"].endswith("\n") or ch["stop_reason"] is None
    )


def test_chat_completions(server):
    c = httpx.Client(base_url=server, timeout=60)
    body = {
        "messages": [{"role": "user", "content": "Start with 7, then +5."}],
        "n": 2,
        "max_tokens": 8,
        "logprobs": True,
        "top_logprobs": 1,
        "seed": 0,
    }
    r = c.post("/v1/chat/completions", json=body).json()
    assert r["object"] == "chat.completion" and len(r["choices"]) == 2
    for ch in r["choices"]:
        assert ch["message"]["role"] == "assistant"
        content = ch["logprobs"]["content"]
        assert 1 <= len(content) <= 8 and all(len(e["top_logprobs"]) == 1 for e in content)
    # The user message is the problem: chat equals a completion of `problem + "\n"`.
    greedy = {"max_tokens": 10, "temperature": 0}
    chat = c.post("/v1/chat/completions", json={**body, **greedy, "n": 1}).json()["choices"][0][
        "message"
    ]["content"]
    comp = c.post("/v1/completions", json={"prompt": "Start with 7, then +5.\n", **greedy}).json()[
        "choices"
    ][0]["text"]
    assert chat == comp


def test_policy_server_rejects_bad_requests(server):
    c = httpx.Client(base_url=server, timeout=60)
    cases = [
        ({"prompt": "x", "n": 0}, "n"),
        ({"prompt": "x", "n": 9}, "n"),
        ({"prompt": "x", "temperature": "hot"}, "temperature"),
        ({"prompt": "x", "stream": True}, "stream"),
        ({"prompt": [1, 2, 3]}, "prompt"),
        ({"prompt": "x", "stop": ["a", "b", "c", "d", "e"]}, "stop"),
        ({"prompt": "x", "logprobs": 50}, "logprobs"),
        ({"prompt": "Start with 7 ✓"}, None),  # outside the built-in vocabulary
        ({"prompt": "x" * 200}, None),  # longer than the context
        ({}, "prompt"),
    ]
    for body, param in cases:
        r = c.post("/v1/completions", json=body)
        assert r.status_code == 400, (body, r.text)
        err = r.json()["error"]
        assert err["message"] and err["type"] == "invalid_request_error" and err["param"] == param
    assert c.post("/v1/completions", content=b"{oops").status_code == 400
    assert c.post("/v1/completions", content=b"\xff").status_code == 400
    assert c.post("/v1/chat/completions", json={"messages": []}).status_code == 400
    assert (
        c.post(
            "/v1/chat/completions", json={"messages": [{"role": "robot", "content": "x"}]}
        ).status_code
        == 400
    )
    assert (
        c.post("/v1/completions", json={"prompt": "Start with 1.\n", "max_tokens": 2}).status_code
        == 200
    )


def test_openai_backend_matches_local(server, policy):
    gen = load_generator(server + "/v1", prompts_per_request=2, concurrency=2)
    assert isinstance(gen, OpenAIGenerator) and gen.model_name() == "tiny"
    for stop in (False, True):
        p = SamplingParams(n=2, max_new_tokens=30, temperature=0, stop_at_step=stop)
        remote, local = continue_steps(gen, ITEMS, p), continue_steps(policy, ITEMS, p)
        for rs, ls in zip(remote, local):
            for r, lo in zip(rs, ls):
                assert (r.text, r.steps, r.token_ids, r.finished) == (
                    lo.text,
                    lo.steps,
                    lo.token_ids,
                    lo.finished,
                )
                torch.testing.assert_close(
                    torch.tensor(r.logprobs), torch.tensor(lo.logprobs), rtol=1e-4, atol=1e-4
                )
    # Seeded sampling in one request equals the local policy with the same seed.
    one = load_generator(server, prompts_per_request=8)
    p = SamplingParams(n=3, max_new_tokens=20, temperature=1.0, seed=11, stop_at_step=True)
    remote, local = continue_steps(one, ITEMS, p), continue_steps(policy, ITEMS, p)
    assert [[g.text for g in gs] for gs in remote] == [[g.text for g in gs] for gs in local]
    assert all(g.logprobs and len(g.logprobs) == len(g.token_ids) for gs in remote for g in gs)
    with pytest.raises(ValueError, match="vocabulary"):
        gen.generate(["Start with 7 ✓\n"], p)


def test_openai_backend_retries_and_errors():
    calls = {"n": 0}
    answer = {
        "choices": [
            {
                "index": 0,
                "text": "7+5=12\n",
                "finish_reason": "stop",
                "stop_reason": "\n",
                "logprobs": {"tokens": ["token_id:40"], "token_logprobs": [-0.5]},
            }
        ]
    }

    def flaky(request):
        calls["n"] += 1
        if calls["n"] == 1:
            raise httpx.ReadTimeout("slow", request=request)
        if calls["n"] == 2:
            return httpx.Response(
                503, json={"error": {"message": "busy"}}, headers={"retry-after": "0"}
            )
        return httpx.Response(200, json=answer)

    gen = OpenAIGenerator(
        "http://127.0.0.1:9/v1?model=m",
        transport=httpx.MockTransport(flaky),
        backoff=0.001,
        retries=3,
    )
    ((g,),) = gen.generate(["P\n"], SamplingParams(stop_at_step=True))
    assert (g.text, g.steps, g.token_ids, g.logprobs, g.finished) == (
        "7+5=12\n",
        ["7+5=12"],
        [40],
        [-0.5],
        False,
    )
    assert calls["n"] == 3 and gen.stats["retries"] == 2
    # A plain OpenAI server (no stop_reason, stop string left out) still yields the step.
    plain = {"choices": [{"index": 0, "text": "7+5=12", "finish_reason": "stop", "logprobs": None}]}
    gen = OpenAIGenerator(
        "http://127.0.0.1:9?model=m",
        transport=httpx.MockTransport(lambda r: httpx.Response(200, json=plain)),
        extensions=False,
    )
    ((g,),) = gen.generate(["P\n"], SamplingParams(stop_at_step=True))
    assert g.steps == ["7+5=12"] and not g.finished and g.token_ids == []
    always = OpenAIGenerator(
        "http://127.0.0.1:9?model=m",
        transport=httpx.MockTransport(lambda r: httpx.Response(502, text="bad gateway")),
        backoff=0.001,
        retries=2,
    )
    with pytest.raises(InputError, match="3 attempts.*502"):
        always.generate(["P\n"], SamplingParams())
    refused = OpenAIGenerator(
        "http://127.0.0.1:9?model=m",
        transport=httpx.MockTransport(
            lambda r: httpx.Response(400, json={"error": {"message": "n: too big"}})
        ),
    )
    with pytest.raises(ValueError, match="n: too big"):
        refused.generate(["P\n"], SamplingParams())
    assert parse_url("https://h:1/v1/?model=x") == ("https://h:1", "x")
    with pytest.raises(InputError):
        parse_url("ftp://h")


def test_token_is_sent_and_required(policy, monkeypatch):
    with ThreadServer(create_app(policy, "tiny", token="tok")) as url:
        assert httpx.post(url + "/v1/completions", json={"prompt": "x"}).status_code == 401
        monkeypatch.setenv("PRMKIT_API_KEY", "tok")
        gen = load_generator(url)
        assert len(gen.generate(["Start with 1.\n"], SamplingParams(n=2, max_new_tokens=3))[0]) == 2
        with pytest.raises(InputError, match="401"):
            load_generator(url, api_key="wrong").generate(["x"], SamplingParams())


def test_hf_policy_through_the_server(tmp_path):
    from hf_tiny import build_tiny_hf

    from prmkit.models.hf import HFPolicy
    from prmkit.models.steps import render
    from prmkit.worlds import arithmetic

    corpus = [
        render(p["prompt"], arithmetic.solve(p["prompt"])) for p in arithmetic.generate(200, seed=0)
    ]
    hf = HFPolicy.load(build_tiny_hf(tmp_path / "hf", corpus))
    with ThreadServer(create_app(hf, "tiny-hf")) as url:
        c = httpx.Client(base_url=url, timeout=60)
        body = {
            "prompt": ["Start with 7, then +5.\n", "Start with 2.\n"],
            "n": 2,
            "max_tokens": 10,
            "logprobs": 1,
            "seed": 0,
        }
        r = c.post("/v1/completions", json=body).json()
        assert len(r["choices"]) == 4
        for ch in r["choices"]:
            lp = ch["logprobs"]
            assert len(lp["tokens"]) == len(lp["token_logprobs"]) == len(lp["top_logprobs"]) >= 1
            assert all(
                max(top.values()) >= v - 1e-4
                for top, v in zip(lp["top_logprobs"], lp["token_logprobs"])
            )
        chat = c.post(
            "/v1/chat/completions",
            json={
                "messages": [{"role": "user", "content": "Start with 2."}],
                "max_tokens": 5,
                "logprobs": True,
            },
        ).json()
        assert len(chat["choices"][0]["logprobs"]["content"]) >= 1
        # Greedy through the openai backend equals the local HF policy.
        p = SamplingParams(n=1, max_new_tokens=12, temperature=0, stop_at_step=True)
        remote, local = (
            continue_steps(load_generator(url), ITEMS[:2], p),
            continue_steps(hf, ITEMS[:2], p),
        )
        assert [[(g.steps, g.token_ids) for g in gs] for gs in remote] == [
            [(g.steps, g.token_ids) for g in gs] for gs in local
        ]
