"""PRM reward server: endpoints, dynamic batching, auth, limits and the bad-input sweep.

Servers run in a thread on a free loopback port (`ThreadServer`); the CLI and the policy
server are tested in test_serve_policy.py and test_serve_cli.py.
"""

import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from serve_fixtures import one_torch_thread  # noqa: F401 (autouse fixture)

from prmkit.prm.aggregate import AGGREGATORS
from prmkit.prm.base import RulePRM, load_scorer
from prmkit.serve.http import ThreadServer, resolve_token
from prmkit.serve.prm_server import (
    DynamicBatcher,
    Limits,
    create_app,
    split_query,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import serve_load  # noqa: E402

GOOD = ("Start with 7, then +5, *3, -4.", ["7+5=12", "12*3=36", "36-4=32", "Answer: 32"])
BAD = ("Start with 7, then +5, *3, -4.", ["7+5=12", "12*3=35", "35-4=31", "Answer: 31"])


class Recording:
    """Wraps a scorer; records the size of every call and takes `delay` s per call."""

    def __init__(self, inner, delay=0.0):
        self.inner, self.delay, self.calls = inner, delay, []
        self.kind = "recording"
        self.lock = threading.Lock()

    def score(self, items):
        with self.lock:
            self.calls.append(len(items))
        time.sleep(self.delay)
        return self.inner.score(items)


def test_score_single_batch_and_get_reward():
    rule = RulePRM()
    with ThreadServer(create_app(rule)) as url, httpx.Client(base_url=url, timeout=30) as c:
        r = c.post("/score", json={"problem": BAD[0], "steps": BAD[1]})
        assert r.status_code == 200
        assert r.json() == {"scores": [1.0, 0.0, 0.0, 0.0], "reward": 0.0}
        r = c.post(
            "/score", json={"items": [{"problem": p, "steps": s} for p, s in (GOOD, BAD)]}
        ).json()
        assert r["scores"] == rule.score([GOOD, BAD])
        assert r["rewards"] == [1.0, 0.0]
        # OpenRLHF: query = prompt + response; prompts given, and without prompts (first line = problem).
        q_good = GOOD[0] + "\n" + "\n".join(GOOD[1]) + "\n"
        q_bad = BAD[0] + "\n" + "\n".join(BAD[1])
        r = c.post(
            "/get_reward",
            json={
                "query": [q_good, q_bad, GOOD[0] + "\n"],
                "prompts": [GOOD[0] + "\n"] * 3,
                "labels": ["32", "32", "32"],
            },
        ).json()
        assert r["rewards"] == [1.0, 0.0, 0.0]  # no steps: empty_reward
        assert r["step_scores"] == [[1.0] * 4, [1.0, 0.0, 0.0, 0.0], []]
        assert c.post("/get_reward", json={"query": [q_good, q_bad]}).json()["rewards"] == [
            1.0,
            0.0,
        ]
        h = c.get("/health").json()
        assert h["status"] == "ok" and h["scorer"] == "rule" and h["items"] == 2 + 1 + 2 + 2
        assert h["client_errors"] == 0
        # Guard answers the scoring routes itself: other methods 405; the handlers'
        # validation errors are counted (Guard's own 401/405/413 are not).
        r = c.get("/score")
        assert r.status_code == 405 and r.headers["allow"] == "POST" and "POST" in r.json()["error"]
        assert c.post("/score", content=b"{").status_code == 400
        assert c.post("/nowhere", json={}).status_code == 404
        assert c.get("/health").json()["client_errors"] == 1


def test_aggregators_and_split_query():
    s = [0.9, 0.5, 0.8]
    assert AGGREGATORS["min"](s) == 0.5 and AGGREGATORS["last"](s) == 0.8
    assert AGGREGATORS["prod"](s) == pytest.approx(0.36) and AGGREGATORS["mean"](
        s
    ) == pytest.approx(2.2 / 3)
    assert split_query("P.\na=1\n\nb=2\n", "P.\n") == ("P.", ["a=1", "b=2"])
    assert split_query("a=1\nb=2", "Other prompt") == (
        "Other prompt",
        ["a=1", "b=2"],
    )  # response only
    assert split_query("P.\na=1", None) == ("P.", ["a=1"])
    with ThreadServer(create_app(RulePRM(), aggregator="mean")) as url:
        r = httpx.post(url + "/score", json={"problem": BAD[0], "steps": BAD[1]}).json()
        assert r["reward"] == 0.25


def concurrent_scores(url, items):
    """POST every item at once, one thread each; (scores per item, /health)."""
    out = [None] * len(items)
    limits = httpx.Limits(max_connections=len(items))
    with httpx.Client(base_url=url, timeout=60, limits=limits) as c:

        def send(i):
            body = {"problem": items[i][0], "steps": items[i][1]}
            out[i] = c.post("/score", json=body).json()["scores"]

        threads = [threading.Thread(target=send, args=(i,)) for i in range(len(items))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return out, c.get("/health").json()


def test_dynamic_batching_groups_concurrent_requests():
    items = [GOOD, BAD] * 12
    expect = RulePRM().score(items)
    for max_bs in (8, 1):
        rec = Recording(RulePRM(), delay=0.02)
        app = create_app(rec, max_batch_size=max_bs, max_wait_ms=30)
        with ThreadServer(app) as url:
            out, stats = concurrent_scores(url, items)
        assert out == expect  # every request gets its own item's scores back
        assert sum(rec.calls) == len(items) and max(rec.calls) <= max_bs
        assert stats["items"] == len(items) and stats["largest_batch"] == max(rec.calls)
        if max_bs == 1:
            assert len(rec.calls) == len(items)
        else:
            assert len(rec.calls) <= len(items) // 2 and max(rec.calls) >= 4


def test_batcher_isolates_an_unscorable_item():
    """A bad item in a batch fails only its own request; the rest are scored."""

    class Picky:
        kind = "picky"

        def score(self, items):
            if any("boom" in s for _, steps in items for s in steps):
                raise ValueError("cannot read 'boom'")
            return RulePRM().score(items)

    b = DynamicBatcher(Picky(), max_batch_size=8, max_wait_ms=1)
    res = b._score([GOOD, ("Start with 1, then +1.", ["boom"]), BAD])
    assert res[0] == [1.0] * 4 and res[2] == [1.0, 0.0, 0.0, 0.0]
    assert isinstance(res[1], ValueError)
    with (
        ThreadServer(create_app(Picky(), max_wait_ms=30)) as url,
        httpx.Client(base_url=url, timeout=30) as c,
    ):
        r = c.post(
            "/score",
            json={
                "items": [
                    {"problem": GOOD[0], "steps": GOOD[1]},
                    {"problem": "Start with 1, then +1.", "steps": ["boom"]},
                ]
            },
        )
        assert (
            r.status_code == 422 and "items[1]" in r.json()["error"] and "boom" in r.json()["error"]
        )
        assert c.post("/score", json={"problem": GOOD[0], "steps": GOOD[1]}).status_code == 200


def test_bearer_token(monkeypatch):
    with (
        ThreadServer(create_app(RulePRM(), token="s3cret")) as url,
        httpx.Client(base_url=url, timeout=30) as c,
    ):
        body = {"problem": GOOD[0], "steps": GOOD[1]}
        r = c.post("/score", json=body)
        assert (
            r.status_code == 401
            and "bearer token" in r.json()["error"]
            and r.headers["www-authenticate"] == "Bearer"
        )
        assert (
            c.post("/score", json=body, headers={"Authorization": "Bearer wrong"}).status_code
            == 401
        )
        assert c.post("/get_reward", json={"query": ["x\ny"]}).status_code == 401
        assert (
            c.post("/score", json=body, headers={"Authorization": "Bearer s3cret"}).json()["reward"]
            == 1.0
        )
        assert c.get("/health").status_code == 200  # health checks need no token
    monkeypatch.setenv("PRMKIT_API_KEY", "from-env")
    assert resolve_token(None) == "from-env" and resolve_token("flag") == "flag"
    monkeypatch.setenv("PRMKIT_API_KEY", "")
    assert resolve_token(None) is None


def test_bad_input_sweep_all_4xx_while_serving():
    """The benchmark's sweep: empty steps, a 10 MB body, wrong types, invalid JSON and
    UTF-8, thousands of steps, ... each gets a 4xx with a message while 4 clients keep
    getting correct scores from a built-in PRM."""
    from prmkit.models.gpt import GPTConfig
    from prmkit.models.tokenizer import CharTokenizer

    cfg = GPTConfig(vocab_size=CharTokenizer().vocab_size, n_layer=1, n_head=2, d_model=16)
    good = serve_load.payloads(16, seed=1)
    ref = serve_load.standin_scorer(cfg, seed=0)
    want = {
        (g["problem"], tuple(g["steps"])): s
        for g, s in zip(good, ref.score([(g["problem"], g["steps"]) for g in good]))
    }

    def expect(item, scores):
        w = want[(item["problem"], tuple(item["steps"]))]
        return len(w) == len(scores) and all(abs(a - b) < 1e-4 for a, b in zip(w, scores))

    app = create_app(
        serve_load.standin_scorer(cfg, seed=0),
        max_batch_size=16,
        max_wait_ms=2,
        limits=Limits(max_steps=64),
    )
    with ThreadServer(app) as url:
        res = serve_load.sweep(url, good, expect)
    statuses = {r["input"]: r["status"] for r in res["bad_inputs"]}
    assert res["all_4xx"], statuses
    assert (
        statuses["10 MB body"] == 413
        and statuses["invalid JSON"] == 400
        and statuses["invalid UTF-8"] == 400
    )
    assert statuses["thousands of steps"] == 413 and statuses["empty steps"] == 422
    assert statuses["outside the PRM's vocabulary"] == 422
    assert all(r["message"] for r in res["bad_inputs"])
    assert (
        res["background_ok"] > 0 and res["background_failed"] == 0 and res["background_wrong"] == 0
    )
    assert res["serving_after"]


def test_load_scorer_errors(tmp_path):
    from prmkit.data import InputError

    assert load_scorer("rule").kind == "rule"
    with pytest.raises(InputError, match="no such PRM directory"):
        load_scorer(str(tmp_path / "missing"))
