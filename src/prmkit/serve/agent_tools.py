"""Tool calls for a served agent: OpenAI chat messages in, the agent's next action out.

When the served policy is an agent (an `agent train` checkpoint) and a
/v1/chat/completions request carries `tools` (or tool messages), the messages are the
episode so far in the tool-call format that `agents.chat.to_messages` writes: system
messages are ignored; the first user message is the question; an assistant message's
`tool_calls` are actions, each answered by the `role: tool` message with its
`tool_call_id`; an assistant message with plain content is an action not written as a
tool call, answered by the next user message. They are rendered as the agent's text
(the question, then `action => observation` per line), the agent writes its next
action (no environment step: the client runs the tool), and the reply is

- a call of a tool that the request declares: `tool_calls` with the function's name
  and JSON arguments, `finish_reason: "tool_calls"` (`answer[v]` too, when the
  request declares `answer`);
- `answer[v]` when the request does not declare `answer`: the final message, `v`;
- anything else (a malformed action, a tool the request does not declare,
  `tool_choice: "none"`): the action's text as content (`finish_reason` "stop", or
  "length" when it ran out of tokens); an empty content when the agent ends the
  episode or its context is full.

A tool the agent does not have, arguments that are not a JSON object of the tool's
parameters, a tool call without its tool message, or a turn that would not fit the
agent's one-line turn format gets a 400 `invalid_request_error` naming the field.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

from prmkit.agents.chat import TOOL_ARGS, action_to_call
from prmkit.agents.loop import AgentPolicy
from prmkit.data.turns import STEP_SEP, TURN_SEP
from prmkit.models.generator import SamplingParams
from prmkit.models.sampling import derive_seed
from prmkit.serve.http import ApiError, bad, type_name
from prmkit.serve.policy_api import CompletionRequest, common_request, flag
from prmkit.worlds.toolqa import parse_action

CHOICES = ("auto", "none")


@dataclass
class ToolRequest:
    """A validated tool-call request: the episode's text and how to answer."""

    req: CompletionRequest  # prompts: [the episode text]; n, max_tokens, sampling, seed
    tools: tuple[str, ...]  # the tools the request declares
    tool_choice: str  # auto or none


def wants_tools(body: dict) -> bool:
    """Whether a chat body is a tool-call conversation (tools, tool calls or tool messages)."""
    msgs = body.get("messages")
    msgs = msgs if isinstance(msgs, list) else []
    return "tools" in body or any(
        isinstance(m, dict) and (m.get("role") == "tool" or "tool_calls" in m) for m in msgs
    )


def parse_tools(body: dict) -> tuple[str, ...]:
    """The declared tools' names; each must be one of the agent's tools."""
    tools = body.get("tools")
    if tools is None:
        return ()
    if not isinstance(tools, list) or not tools:
        raise bad(400, "tools", "must be a non-empty list of function tools")
    names = []
    for i, t in enumerate(tools):
        fn = t.get("function") if isinstance(t, dict) else None
        if not isinstance(t, dict) or t.get("type") != "function" or not isinstance(fn, dict):
            raise bad(400, f"tools[{i}]", 'must be {"type": "function", "function": {...}}')
        name = fn.get("name")
        if name not in TOOL_ARGS:
            raise bad(400, f"tools[{i}].function.name", f"unknown tool {name!r}; {_known()}")
        names.append(name)
    return tuple(names)


def _known() -> str:
    return "the agent's tools are " + ", ".join(TOOL_ARGS)


def _text(m: dict, where: str) -> str:
    """A message's content as one line of text (a string or text parts)."""
    content = m.get("content")
    if isinstance(content, list) and all(
        isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str)
        for p in content
    ):
        content = "".join(p["text"] for p in content)
    if not isinstance(content, str):
        raise bad(400, f"{where}.content", f"must be a string, got {type_name(content)}")
    if STEP_SEP in content:
        raise bad(400, f"{where}.content", "must be one line (the agent's turn format)")
    return content.strip()


def call_action(call: object, where: str) -> tuple[str, str]:
    """A tool call in the history -> (its id, the action text); 400 when malformed."""
    fn = call.get("function") if isinstance(call, dict) else None
    if not isinstance(fn, dict) or not isinstance(call.get("id"), str):
        raise bad(400, where, 'must be {"id": ..., "type": "function", "function": {...}}')
    name = fn.get("name")
    if name not in TOOL_ARGS:
        raise bad(400, f"{where}.function.name", f"unknown tool {name!r}; {_known()}")
    want = TOOL_ARGS[name]
    try:
        args = json.loads(fn.get("arguments") or "")
    except (TypeError, json.JSONDecodeError):
        args = None
    if not isinstance(args, dict) or set(args) != set(want):
        raise bad(400, f"{where}.function.arguments", f"must be a JSON object with {want}")
    values = []
    for k in want:
        v = args[k]
        if isinstance(v, bool) or not isinstance(v, (str, int)):
            raise bad(400, f"{where}.function.arguments", f"{k} must be a string")
        values.append(str(v).strip())
    action = f"{name}[{', '.join(values)}]"
    if STEP_SEP in action or parse_action(action) != (name, values):
        raise bad(400, f"{where}.function.arguments", f"{values} cannot be written as an action")
    return call["id"], action


def _turn(action: str, obs: str, where: str) -> str:
    if TURN_SEP in obs:
        raise bad(400, f"{where}.content", f"must not contain {TURN_SEP.strip()!r}")
    return action + TURN_SEP + obs if obs else action


def episode_text(msgs: object) -> str:
    """The messages as the agent's text: question, newline, `action => observation` lines."""
    if not isinstance(msgs, list) or not msgs:
        raise bad(400, "messages", "must be a non-empty list of messages")
    lines: list[str] = []
    pending: list[tuple[str, str]] = []  # (call id, action) awaiting their tool messages
    raw: str | None = None  # a plain-content action awaiting its user message
    for i, m in enumerate(msgs):
        where = f"messages[{i}]"
        role = m.get("role") if isinstance(m, dict) else None
        if role == "system":
            continue
        if role == "user" and not lines:
            lines.append(_text(m, where))
        elif role == "assistant" and lines and not pending and raw is None:
            calls = m.get("tool_calls")
            if calls:
                if not isinstance(calls, list):
                    raise bad(400, f"{where}.tool_calls", "must be a list of tool calls")
                pending = [call_action(c, f"{where}.tool_calls[{j}]") for j, c in enumerate(calls)]
            else:
                raw = _text(m, where)
        elif role == "tool" and pending:
            cid, action = pending.pop(0)
            if m.get("tool_call_id") != cid:
                raise bad(400, f"{where}.tool_call_id", f"must be {cid!r}, the next tool call's id")
            lines.append(_turn(action, _text(m, where), where))
        elif role == "user" and raw is not None:
            lines.append(_turn(raw, _text(m, where), where))
            raw = None
        else:
            raise bad(400, where, _order_error(role, lines, pending, raw))
    if pending or raw is not None:
        what = f"tool call {pending[0][0]!r} has no tool message" if pending else "no observation"
        raise bad(400, "messages", f"the last assistant action is unanswered ({what})")
    return STEP_SEP.join(lines) + STEP_SEP


def _order_error(role: object, lines: list, pending: list, raw: str | None) -> str:
    if role not in ("system", "user", "assistant", "tool"):
        return "role must be system, user, assistant or tool"
    if not lines:
        return "the first message after the system messages must be the user's question"
    if pending:
        return f"expected the tool message of call {pending[0][0]!r}"
    if raw is not None:
        return "expected a user message with the observation of the assistant's action"
    return f"a {role} message cannot follow here (expected an assistant action)"


def tool_request(body: dict, max_n: int, max_tokens: int) -> ToolRequest:
    """A /v1/chat/completions body with tools, validated."""
    tools = parse_tools(body)
    choice = body.get("tool_choice", "auto")
    if choice not in CHOICES:
        raise bad(400, "tool_choice", f"must be one of {list(CHOICES)}")
    if flag(body, "logprobs"):
        raise bad(400, "logprobs", "not supported for an agent's tool calls")
    if body.get("stop"):
        raise bad(400, "stop", "an agent's action ends at its own rule (`]`, a line break)")
    req = common_request(body, [episode_text(body.get("messages"))], max_n, max_tokens, None)
    return ToolRequest(req, tools, choice)


def reply(action: str, n_ids: int, ended: bool, tr: ToolRequest) -> tuple[dict, str]:
    """The assistant message and finish_reason for the agent's action."""
    call = action_to_call(action, "call_" + uuid.uuid4().hex[:24])
    if tr.tool_choice == "auto" and call is not None:
        name = call["function"]["name"]
        if name in tr.tools:
            return {"role": "assistant", "content": None, "tool_calls": [call]}, "tool_calls"
        if name == "answer":
            return {"role": "assistant", "content": parse_action(action)[1][0]}, "stop"
    cut = not ended and not action.endswith("]") and n_ids >= tr.req.max_tokens
    full = ended and not action and n_ids == 0  # no room left in the agent's context
    return {"role": "assistant", "content": action}, "length" if cut or full else "stop"


def run_tool_request(agent: AgentPolicy, tr: ToolRequest) -> tuple[list[dict], int]:
    """The request's choices (OpenAI chat choices) and the tokens the agent generated."""
    req = tr.req
    params = SamplingParams(1, req.max_tokens, req.temperature, req.top_p, seed=req.seed)
    seeds = None
    if req.seed is not None:  # choice j of n > 1 samples with derive_seed(seed, j)
        seeds = [req.seed] if req.n == 1 else [derive_seed(req.seed, j) for j in range(req.n)]
    try:
        acts = agent.next_actions(req.prompts * req.n, params, seeds)
    except ValueError as e:  # text outside the agent's vocabulary
        raise ApiError(400, str(e), "messages") from None
    choices = []
    for j, (action, ids, _, ended) in enumerate(acts):
        msg, finish = reply(action, len(ids), ended, tr)
        choices.append({"index": j, "message": msg, "logprobs": None, "finish_reason": finish})
    return choices, sum(len(a[1]) for a in acts)
