"""`prmkit serve policy` serving an agent: the OpenAI tool-call format over HTTP.

The server runs in-process on a loopback port; `agents.chat.chat_agent` acts through
it and must reproduce the in-process AgentPolicy's trajectories (same seeds).
"""

import json

import httpx
import pytest
import torch
from serve_fixtures import one_torch_thread  # noqa: F401 (autouse fixture)

from prmkit.agents.builtin import builtin_agent
from prmkit.agents.chat import SYSTEM, TOOLS, chat_agent, to_messages
from prmkit.agents.loop import AgentPolicy
from prmkit.agents.train import AgentSFTSettings, train_agent_policy
from prmkit.models.builtin import BuiltinPolicy
from prmkit.models.generator import SamplingParams
from prmkit.models.gpt import GPTConfig
from prmkit.models.tokenizer import CharTokenizer
from prmkit.serve.http import ThreadServer
from prmkit.serve.policy_server import create_app
from prmkit.worlds import toolqa as T

QS = [p["prompt"] for p in T.generate(4, seed=3, difficulty=T.Difficulty(2, 3, 0.5))]


def _scripted_act(texts, seeds):
    """The expert's next action, after a first turn that calls an unknown tool."""
    out = []
    for t in texts:
        q, *done = [x for x in t.split("\n") if x]
        if not done:
            out.append(("fly[home]", [1], [-0.1], False))
        else:
            out.append((T.solve(q)[len(done) - 1].split(" => ")[0], [1, 2], [-0.5, -0.5], False))
    return out


@pytest.fixture(scope="module")
def scripted():
    agent = AgentPolicy(lambda p: _scripted_act, "toolqa", max_turns=12)
    with ThreadServer(create_app(agent, "scripted")) as url:
        yield agent, url


@pytest.fixture(scope="module")
def tiny():
    """A GPT agent trained for a few seconds: its first actions are mostly tool calls."""
    torch.manual_seed(0)
    train = [p["prompt"] for p in T.generate(64, seed=0, difficulty=T.Difficulty(1, 2, 0.0))]
    cfg = GPTConfig(CharTokenizer().vocab_size, 256, 1, 2, 32)
    s = AgentSFTSettings(steps=150, batch_size=8, lr=1e-2, mistake_rate=0, noop_rate=0)
    policy, _ = train_agent_policy(train, cfg, s, progress=False)
    agent = builtin_agent(policy, max_turns=5, action_tokens=24)
    with ThreadServer(create_app(agent, "tiny")) as url:
        yield agent, url


def _episodes(agent, prompts, temperature, seeds):
    params = SamplingParams(n=1, max_new_tokens=120, temperature=temperature, seeds=seeds)
    return [g[0] for g in agent.generate(prompts, params)]


def test_chat_agent_over_http_reproduces_the_scripted_agent(scripted):
    agent, url = scripted
    over_http = chat_agent(f"{url}/v1?model=scripted", max_turns=12)
    remote = _episodes(over_http, QS, 1.0, [1, 2, 3, 4])
    local = _episodes(agent, QS, 1.0, [1, 2, 3, 4])
    for q, r, loc in zip(QS, remote, local):
        assert r.steps == loc.steps and r.finished and loc.finished
        assert r.steps[0].startswith("fly[home] => error: unknown tool 'fly'")
        assert r.steps[1:] == T.solve(q)  # the answer came back as an `answer` tool call
        g = T.grade(q, str(T.parse_prompt(q).target), r.steps)
        assert g.first_error == 0 and g.final_answer == str(T.parse_prompt(q).target)


def _agree_until_plain_text(remote, local) -> int:
    """Turns checked: equal up to the first action that is not written `tool[...]` (which
    comes back as plain content, a chat client's final answer)."""
    n = 0
    for a, b in zip(remote.steps, local.steps):
        act = b.split(" => ")[0]
        if T.parse_action(act) is None:
            assert a.split(" => ")[0] == f"answer[{act}]" or not act
            return n
        assert a == b
        n += 1
    assert len(remote.steps) == len(local.steps)
    assert remote.finished == local.finished
    return n


@pytest.mark.parametrize("temperature", [0.0, 1.0])
def test_chat_agent_over_http_reproduces_the_builtin_agent(tiny, temperature):
    agent, url = tiny
    seeds = [10, 11, 12, 13]
    remote = _episodes(
        chat_agent(f"{url}/v1", max_turns=5, action_tokens=24), QS, temperature, seeds
    )
    local = _episodes(agent, QS, temperature, seeds)
    checked = [_agree_until_plain_text(r, loc) for r, loc in zip(remote, local)]
    assert sum(checked) >= 4, checked  # most first actions are tool calls
    for r in remote:
        assert all(" => " in s for s in r.steps)


def _post(url, body):
    return httpx.post(f"{url}/v1/chat/completions", json=body, timeout=60)


def _turns(q, k):
    return to_messages(q + "\n" + "".join(s + "\n" for s in T.solve(q)[:k]))


def test_reply_is_a_tool_call_or_the_final_message(scripted):
    _, url = scripted
    q = QS[0]
    body = {"messages": _turns(q, 1), "tools": TOOLS, "temperature": 0}
    r = _post(url, body)
    assert r.status_code == 200
    choice = r.json()["choices"][0]
    call = choice["message"]["tool_calls"][0]
    assert choice["finish_reason"] == "tool_calls" and call["type"] == "function"
    want = T.solve(q)[0].split(" => ")[0]  # the scripted agent lags one turn behind
    assert f"{call['function']['name']}[{json.loads(call['function']['arguments'])['name']}]" == (
        want
    )
    last = {"messages": _turns(q, len(T.solve(q))), "tools": TOOLS[:3]}  # no `answer` tool
    choice = _post(url, last).json()["choices"][0]
    assert choice["finish_reason"] == "stop"
    assert choice["message"]["content"] == str(T.parse_prompt(q).target)
    none = _post(url, {**body, "tool_choice": "none"}).json()["choices"][0]
    assert none["message"]["content"] == want and "tool_calls" not in none["message"]


def test_n_choices_and_usage(tiny):
    _, url = tiny
    body = {"messages": _turns(QS[1], 1), "tools": TOOLS, "n": 3, "seed": 4, "max_tokens": 24}
    r = _post(url, body).json()
    assert [c["index"] for c in r["choices"]] == [0, 1, 2]
    assert 1 <= r["usage"]["completion_tokens"] <= 3 * 24
    again = _post(url, body).json()["choices"]
    assert _without_ids(again) == _without_ids(r["choices"])  # the same seed, the same actions
    assert len({json.dumps(m) for m in _without_ids(r["choices"])}) > 1  # n distinct streams


def _without_ids(choices):
    """The messages with tool-call ids left out (fresh in every reply)."""
    out = []
    for c in choices:
        m = dict(c["message"])
        m["tool_calls"] = [t["function"] for t in m.get("tool_calls") or []]
        out.append(m)
    return out


def _call(name, args, cid="c1"):
    fn = {"name": name, "arguments": args if isinstance(args, str) else json.dumps(args)}
    return {"role": "assistant", "content": None, "tool_calls": [{"id": cid, "function": fn}]}


BAD = [
    ({"tools": [{"type": "function", "function": {"name": "fly"}}]}, "tools[0].function.name"),
    ({"tools": []}, "tools"),
    ({"tool_choice": "required"}, "tool_choice"),
    ({"logprobs": True}, "logprobs"),
    ({"stop": ["]"]}, "stop"),
    ({"extra": [_call("fly", {"x": 1})]}, "messages[2].tool_calls[0].function.name"),
    ({"extra": [_call("get", "{id: P1")]}, "messages[2].tool_calls[0].function.arguments"),
    ({"extra": [_call("get", {"id": "P1"})]}, "messages[2].tool_calls[0].function.arguments"),
    ({"extra": [_call("get", {"id": "P1", "relation": ["x"]})]}, None),
    ({"extra": [_call("get", {"id": "P1, P2", "relation": "age"})]}, None),
    ({"extra": [_call("search", {"name": "a\nb"})]}, None),
    ({"extra": [_call("search", {"name": "X"})]}, "messages"),  # no tool message
    (
        {"extra": [_call("search", {"name": "X"}), {"role": "tool", "tool_call_id": "zz"}]},
        "messages[3].tool_call_id",
    ),
    (
        {"extra": [_call("search", {"name": "X"}), {"role": "tool", "tool_call_id": "c1"}]},
        "messages[3].content",
    ),
    ({"extra": [{"role": "tool", "tool_call_id": "c1", "content": "x"}]}, "messages[2]"),
    ({"extra": [{"role": "robot", "content": "x"}]}, "messages[2]"),
    ({"extra": [{"role": "assistant", "content": "a\nb"}, {"role": "user", "content": "o"}]}, None),
]


@pytest.mark.parametrize("patch,param", BAD)
def test_bad_tool_requests_get_openai_400s(scripted, patch, param):
    _, url = scripted
    msgs = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": QS[0]}]
    extra = patch.pop("extra", [])
    r = _post(url, {"messages": msgs + extra, "tools": TOOLS, **patch})
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert err["type"] == "invalid_request_error" and err["message"]
    if param is not None:
        assert err["param"] == param, err


def test_tools_to_a_policy_that_is_not_an_agent():
    torch.manual_seed(0)
    policy = BuiltinPolicy.new(GPTConfig(CharTokenizer().vocab_size, 64, 1, 2, 16))
    with ThreadServer(create_app(policy, "plain")) as url:
        r = _post(url, {"messages": [{"role": "user", "content": "hi"}], "tools": TOOLS})
        assert r.status_code == 400 and "not an agent" in r.json()["error"]["message"]
