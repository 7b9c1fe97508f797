"""`prmkit serve policy` under concurrent load, with a tiny Hugging Face policy.

64 clients at once must all be answered, with the same seeded samples as one after
another; the tokenizer must only ever be called on the generation thread (a fast
tokenizer's padding setting is shared state, and a concurrent call made batched
requests fail with HTTP 400); an unknown model is a 404 as OpenAI answers it.
"""

import asyncio
import threading

import httpx
import pytest
from serve_fixtures import one_torch_thread  # noqa: F401 (autouse fixture)

from prmkit.serve.http import ThreadServer
from prmkit.serve.policy_server import create_app

CORPUS = [
    "Start with 7, then +5, *3, -4.\n7+5=12\n12*3=36\n36-4=32\nAnswer: 32",
    "Start with 3, then *2.\n3*2=6\nAnswer: 6",
] * 30


@pytest.fixture(scope="module")
def hf_policy(tmp_path_factory):
    from hf_tiny import build_tiny_hf

    from prmkit.models.hf import HFPolicy

    return HFPolicy.load(build_tiny_hf(tmp_path_factory.mktemp("hf"), CORPUS))


@pytest.fixture(scope="module")
def recorded_threads(hf_policy):
    """Record the thread of every tokenizer call the server makes."""
    threads: list[str] = []
    tok = hf_policy.tok
    base = type(tok)

    def recording(name):
        def call(self, *a, **k):
            threads.append(threading.current_thread().name)
            return getattr(base, name)(self, *a, **k)

        return call

    tok.__class__ = type(
        "Recording" + base.__name__,
        (base,),
        {n: recording(n) for n in ("__call__", "encode", "decode", "batch_decode")},
    )
    yield threads
    tok.__class__ = base


@pytest.fixture(scope="module")
def server(hf_policy, recorded_threads):
    with ThreadServer(create_app(hf_policy, "tiny-hf", max_n=4)) as url:
        yield url


def bodies(n: int) -> list[dict]:
    """Requests of one to three prompts of different lengths, n of 1 or 2, each seeded."""
    out = []
    for i in range(n):
        prompts = [
            f"Start with {i % 9 + 1}, then +{j + 2}, *3." + " -1" * (i % 4)
            for j in range(1 + i % 3)
        ]
        out.append(
            {
                "model": "tiny-hf",
                "prompt": prompts,
                "n": 1 + i % 2,
                "max_tokens": 6,
                "temperature": 1.0,
                "seed": 100 + i,
            }
        )
    return out


def texts(resp: dict) -> list[str]:
    return [c["text"] for c in sorted(resp["choices"], key=lambda c: c["index"])]


async def post_all(url: str, reqs: list[dict]) -> list[httpx.Response]:
    async with httpx.AsyncClient(base_url=url, timeout=300) as c:
        return await asyncio.gather(*[c.post("/v1/completions", json=b) for b in reqs])


def test_64_concurrent_clients_all_answered_with_the_sequential_samples(server, recorded_threads):
    reqs = bodies(64)
    with httpx.Client(base_url=server, timeout=300) as c:
        sequential = [c.post("/v1/completions", json=b) for b in reqs]
    assert [r.status_code for r in sequential] == [200] * 64
    recorded_threads.clear()
    concurrent = asyncio.run(post_all(server, reqs))
    failures = [(r.status_code, r.text[:200]) for r in concurrent if r.status_code != 200]
    assert failures == []
    assert [texts(r.json()) for r in concurrent] == [texts(r.json()) for r in sequential]
    assert [r.json()["usage"] for r in concurrent] == [r.json()["usage"] for r in sequential]
    # every tokenizer call ran on the one generation thread
    assert recorded_threads and {t.split("_")[0] for t in recorded_threads} == {"policy"}


def test_unknown_model_is_404_as_openai_answers(server):
    with httpx.Client(base_url=server, timeout=60) as c:
        for path, body in [
            ("/v1/completions", {"model": "gpt-4o", "prompt": "Start with 1.", "max_tokens": 2}),
            (
                "/v1/chat/completions",
                {"model": "gpt-4o", "messages": [{"role": "user", "content": "Start with 1."}]},
            ),
        ]:
            r = c.post(path, json=body)
            assert r.status_code == 404
            err = r.json()["error"]
            assert err["code"] == "model_not_found" and err["param"] == "model"
            assert err["type"] == "invalid_request_error" and "gpt-4o" in err["message"]
        r = c.post("/v1/completions", json={"model": 3, "prompt": "Start with 1."})
        assert r.status_code == 400 and r.json()["error"]["param"] == "model"
        # no model at all means the served one (as vLLM does)
        r = c.post("/v1/completions", json={"prompt": "Start with 1.", "max_tokens": 2})
        assert r.status_code == 200 and r.json()["model"] == "tiny-hf"
