"""An OpenAI-compatible chat endpoint as the agent: the standard tool-call format.

Each turn sends the episode as chat messages: a system message, the question as the
user's, and each earlier turn as an assistant message with one `tool_calls` entry and a
`role: tool` message with the observation. The request carries the four tools as
`tools` (JSON-schema functions). The reply's first tool call becomes the action
`tool[arguments]`; a reply without a tool call is taken as the final answer (unless its
content is itself written `tool[...]`), and an empty reply ends the episode. Works
with vLLM (`--enable-auto-tool-choice`), `prmkit serve policy` serving an agent, and
any server that speaks this format.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import httpx

from prmkit.agents.loop import AgentPolicy
from prmkit.data.turns import STEP_SEP, split_step
from prmkit.models.generator import SamplingParams
from prmkit.models.openai_backend import parse_url
from prmkit.worlds.toolqa import parse_action

SYSTEM = (
    "Answer the question with the tools. search[name] finds entity ids, get[id, relation]"
    " reads one fact, calc[expression] computes, answer[value] submits the final answer."
)
TOOL_ARGS = {  # each tool's arguments, in the order the action text writes them
    "search": ["name"],
    "get": ["id", "relation"],
    "calc": ["expression"],
    "answer": ["value"],
}
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": name,
            "description": SYSTEM,
            "parameters": {
                "type": "object",
                "properties": {a: {"type": "string"} for a in args},
                "required": args,
            },
        },
    }
    for name, args in TOOL_ARGS.items()
]


def action_to_call(action: str, call_id: str) -> dict | None:
    """`get[P1, age]` -> an OpenAI tool call; None when the action is not a known tool's
    call written exactly as `call_to_action` writes it back (`Get[P1,age]` is not), so
    that a trajectory's text survives the round trip."""
    parsed = parse_action(action)
    if parsed is None or parsed[0] not in TOOL_ARGS or len(parsed[1]) != len(TOOL_ARGS[parsed[0]]):
        return None
    args = dict(zip(TOOL_ARGS[parsed[0]], parsed[1]))
    fn = {"name": parsed[0], "arguments": json.dumps(args)}
    call = {"id": call_id, "type": "function", "function": fn}
    return call if call_to_action(call) == action else None


def call_to_action(call: dict) -> str:
    """An OpenAI tool call -> `tool[arguments]` (unknown or bad arguments pass through)."""
    fn = call.get("function") or {}
    name = str(fn.get("name", ""))
    try:
        args = json.loads(fn.get("arguments") or "{}")
    except json.JSONDecodeError:
        return f"{name}[{fn.get('arguments')}]"
    if not isinstance(args, dict):
        return f"{name}[{args}]"
    keys = TOOL_ARGS.get(name, list(args))
    return f"{name}[{', '.join(str(args.get(k, '')) for k in keys)}]"


def to_messages(text: str) -> list[dict]:
    """An episode's text (question, then turns) as chat messages."""
    question, _, rest = text.partition(STEP_SEP)
    msgs = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": question}]
    for k, step in enumerate(s for s in rest.split(STEP_SEP) if s.strip()):
        turn = split_step(step)
        call = action_to_call(turn.action, f"call_{k}")
        if call is None:  # not a tool call: plain text, and the answer as a user message
            msgs.append({"role": "assistant", "content": turn.action})
            msgs.append({"role": "user", "content": turn.observation})
            continue
        msgs.append({"role": "assistant", "content": None, "tool_calls": [call]})
        msgs.append({"role": "tool", "tool_call_id": call["id"], "content": turn.observation})
    return msgs


def reply_to_action(message: dict) -> str:
    """The assistant's reply as an action: its first tool call; else its content, as
    written when it is in the action syntax `tool[...]` (a call of an unknown tool, say),
    else as the final answer `answer[first line]`; "" for an empty reply."""
    calls = message.get("tool_calls") or []
    if calls:
        return call_to_action(calls[0])
    lines = (message.get("content") or "").strip().splitlines()
    if not lines:
        return ""
    return lines[0] if parse_action(lines[0]) is not None else f"answer[{lines[0]}]"


def chat_act(url: str, params: SamplingParams, concurrency: int = 8, client=None):
    """An `Act` for the loop that asks `url`'s /v1/chat/completions for each action."""
    base, model = parse_url(url)
    http = client or httpx.Client(timeout=120.0)

    def one(text: str, seed: int | None) -> tuple[str, list, list, bool]:
        body = {
            "messages": to_messages(text),
            "tools": TOOLS,
            "tool_choice": "auto",
            "temperature": params.temperature,
            "top_p": params.top_p,
            "max_tokens": params.max_new_tokens,
        }
        if model:  # without ?model=NAME the server's own (vLLM, prmkit serve policy)
            body["model"] = model
        if seed is not None:
            body["seed"] = seed  # 63 bits: within vLLM's int64 seed
        r = http.post(f"{base}/v1/chat/completions", json=body)
        if r.status_code != 200:
            raise ValueError(f"{url}: HTTP {r.status_code}: {r.text[:200]}")
        action = reply_to_action(r.json()["choices"][0]["message"])
        return action.replace(STEP_SEP, " "), [], [], not action  # an empty reply ends it

    def act(texts: list[str], seeds: list[int] | None):
        with ThreadPoolExecutor(max(1, concurrency)) as pool:
            return list(pool.map(one, texts, seeds or [None] * len(texts)))

    return act


def chat_agent(
    url: str,
    world: str = "toolqa",
    max_turns: int = 10,
    concurrency: int = 8,
    client=None,
    action_tokens: int = 48,
):
    """An AgentPolicy (a Generator) acting through an OpenAI-compatible chat endpoint;
    `action_tokens` is each request's max_tokens."""
    act = lambda p: chat_act(url, p, concurrency, client)  # noqa: E731
    return AgentPolicy(act, world, max_turns, action_tokens)
