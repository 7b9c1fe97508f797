import json

import httpx
import pytest
import torch

from prmkit.agents.builtin import builtin_agent
from prmkit.agents.chat import TOOLS, action_to_call, call_to_action, chat_agent, to_messages
from prmkit.agents.loop import AgentPolicy, Episode, run_episodes
from prmkit.agents.train import AgentSFTSettings, encode_trajectory, train_agent_policy
from prmkit.cli import main
from prmkit.models.builtin import BuiltinPolicy
from prmkit.models.generator import SamplingParams, continue_steps
from prmkit.models.gpt import GPTConfig
from prmkit.models.load import load_generator
from prmkit.models.tokenizer import CharTokenizer
from prmkit.worlds import toolqa as T

QS = [p["prompt"] for p in T.generate(6, seed=0, difficulty=T.Difficulty(2, 3, 0.5))]


def _tiny(block: int = 384) -> BuiltinPolicy:
    torch.manual_seed(0)
    return BuiltinPolicy.new(GPTConfig(CharTokenizer().vocab_size, block, 1, 2, 32))


def _expert_act(texts, seeds):
    """A scripted policy: the expert's next action for each episode."""
    out = []
    for t in texts:
        q, *done = [x for x in t.split("\n") if x]
        out.append((T.solve(q)[len(done)].split(" => ")[0], [1, 2], [-0.5, -0.5], False))
    return out


def test_loop_runs_episodes_to_the_answer_and_counts_turns():
    eps = [Episode(q + "\n", T.environment(q)) for q in QS]
    n = run_episodes(_expert_act, eps, max_turns=20)
    assert n == sum(len(T.solve(q)) for q in QS)
    for q, e in zip(QS, eps):
        assert e.answered and [t.step() for t in e.turns] == T.solve(q)
        assert len(e.token_ids) == 2 * len(e.turns)  # the policy's tokens only


def test_builtin_agent_is_a_generator_batched_equals_one_at_a_time():
    agent = builtin_agent(_tiny(), max_turns=3, action_tokens=12)
    params = SamplingParams(n=2, max_new_tokens=36, seeds=[5, 6, 7])
    gens = continue_steps(agent, [(q, []) for q in QS[:3]], params)
    alone = [
        continue_steps(agent, [(q, [])], SamplingParams(n=2, max_new_tokens=36, seeds=[s]))[0]
        for q, s in zip(QS[:3], [5, 6, 7])
    ]
    for g, a in zip(gens, alone):
        assert [x.text for x in g] == [x.text for x in a]
        for x in g:
            assert 1 <= len(x.steps) <= 3 and all(" => " in s for s in x.steps)
            assert len(x.token_ids) == len(x.logprobs) <= 36
    one = continue_steps(
        agent,
        [(QS[0], T.solve(QS[0])[:2])],
        params.__class__(n=1, max_new_tokens=12, seed=1, stop_at_step=True),
    )
    assert len(one[0][0].steps) == 1  # one turn after the prefix (beam search)


def test_episode_without_room_ends_instead_of_raising():
    agent = builtin_agent(_tiny(block=120), max_turns=5, action_tokens=40)
    g = agent.generate([QS[0] + "\n"], SamplingParams(n=1, max_new_tokens=400, seed=0))
    assert g[0][0].finished is False


def test_sft_masks_observations_and_learns(tmp_path):
    q = QS[0]
    ids, mask = encode_trajectory(CharTokenizer(), q, T.solve(q))
    text = CharTokenizer().decode(ids)
    policy_chars = "".join(c for c, m in zip(text, mask[1:]) if m)
    assert policy_chars == "".join(s.split(" => ")[0] for s in T.solve(q))
    cfg = GPTConfig(CharTokenizer().vocab_size, 384, 1, 2, 32)
    pol, log = train_agent_policy(QS, cfg, AgentSFTSettings(steps=8, batch_size=4), False)
    assert log["loss_last"] < log["loss_first"]


def test_cli_agent_train_and_load_as_agent(tmp_path, capsys):
    qs = tmp_path / "q.jsonl"
    assert main(["world", "generate", "--world", "toolqa", "--n", "8", "--out", str(qs)]) == 0
    out = tmp_path / "agent"
    argv = ["agent", "train", "--problems", str(qs), "--out", str(out), "--steps", "2"]
    argv += ["--batch-size", "2", "--d-model", "32", "--n-layer", "1", "--eval-problems", "2"]
    assert main(argv + ["--no-progress"]) == 0
    summary = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert 0 <= summary["sample_success"] <= 1
    assert isinstance(load_generator(str(out)), AgentPolicy)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": 1, "prompt": "Start with 7, then +5.", "answer": "12"}\n')
    assert main(["agent", "train", "--problems", str(bad), "--out", str(out)]) == 2
    assert f"{bad}:1: not a toolqa-world prompt" in capsys.readouterr().err


def _fake_chat(log):
    """A fake OpenAI chat server whose model follows the expert, and once calls a bad tool."""

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        log.append(body)
        assert body["tools"] == TOOLS and request.url.path == "/v1/chat/completions"
        msgs = body["messages"]
        q = msgs[1]["content"]
        done = [m for m in msgs if m["role"] == "assistant"]
        for m in msgs:
            if m["role"] == "tool":
                assert m["tool_call_id"].startswith("call_")
        if len(done) == 1 and not any("fly" in json.dumps(m) for m in msgs):
            call = {"id": "x", "type": "function", "function": {"name": "fly", "arguments": "{}"}}
        else:
            n_ok = sum("fly" not in json.dumps(m) for m in done)
            call = action_to_call(T.solve(q)[n_ok].split(" => ")[0], "x")
        msg = {"role": "assistant", "content": None, "tool_calls": [call]}
        return httpx.Response(200, json={"choices": [{"index": 0, "message": msg}]})

    return httpx.Client(transport=httpx.MockTransport(handler))


def test_chat_agent_speaks_the_tool_call_format():
    log = []
    agent = chat_agent("http://fake:1/v1?model=m", max_turns=12, client=_fake_chat(log))
    g = agent.generate([QS[1]], SamplingParams(n=1, seed=3))[0][0]
    assert g.finished and g.steps[1].startswith("fly[] => error: unknown tool 'fly'")
    gr = T.grade(QS[1], T.parse_prompt(QS[1]).target, g.steps)
    assert gr.first_error == 1 and gr.final_answer == str(T.parse_prompt(QS[1]).target)
    last = log[-1]["messages"]
    assert last[0]["role"] == "system" and last[1] == {"role": "user", "content": QS[1]}
    assert last[2]["tool_calls"][0]["function"]["name"] == "search"
    assert last[3]["role"] == "tool" and log[-1]["model"] == "m"


def test_tool_call_round_trip_and_plain_text_turns():
    for a in ["search[Ann Bo]", "get[P12, age]", "calc[3+4]", "answer[7]"]:
        assert call_to_action(action_to_call(a, "c")) == a
    assert action_to_call("fly[x]", "c") is None
    msgs = to_messages("Q?\nfly[x] => error: unknown tool\nanswer[3] => done\n")
    assert msgs[2] == {"role": "assistant", "content": "fly[x]"}
    assert msgs[3]["role"] == "user" and msgs[5]["role"] == "tool"


def test_rollout_from_a_prefix_replays_the_environment():
    q = QS[0]
    gold = T.solve(q)
    agent = AgentPolicy(lambda p: _expert_act, "toolqa", max_turns=10)
    g = continue_steps(agent, [(q, gold[:2])], SamplingParams(n=2, seed=0))[0]
    assert all(x.steps == gold[2:] and x.finished for x in g)
    assert continue_steps(agent, [(q, gold)], SamplingParams(n=1))[0][0].steps == []
    bad = gold[:1] + [gold[1].split(" => ")[0] + " => P00 Nobody"]
    with pytest.raises(ValueError, match="turn 1: the environment answers"):
        continue_steps(agent, [(q, bad)], SamplingParams(n=1))


def test_episode_token_budget_stops_after_the_crossing_turn():
    eps = [Episode(q + "\n", T.environment(q)) for q in QS[:2]]
    run_episodes(_expert_act, eps, max_turns=20, max_tokens=3)
    assert all(len(e.turns) == 2 and not e.answered for e in eps)  # 2 tokens a turn
