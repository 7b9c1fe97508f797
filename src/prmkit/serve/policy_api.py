"""The policy server's requests: OpenAI bodies validated into `CompletionRequest`s.

`completion_request` reads a /v1/completions body and `chat_request` a
/v1/chat/completions one (messages rendered as one prompt). Every mistake raises
`ApiError` with the parameter it concerns, which the server answers as OpenAI's
400 `invalid_request_error`.
"""

from __future__ import annotations

from dataclasses import dataclass

from prmkit.models.generator import Generator, SamplingParams
from prmkit.serve.http import ApiError, bad, get_number, get_str_list, type_name

MAX_STOP = 4


def openai_error(
    status: int, message: str, param: str | None = None, code: str | int | None = None
) -> dict:
    kind = "invalid_request_error" if status < 500 else "server_error"
    return {"error": {"message": message, "type": kind, "param": param, "code": code or status}}


class ModelNotFound(ApiError):
    """A request for a model this server does not serve: 404, as OpenAI answers it."""

    def __init__(self, name: str) -> None:
        super().__init__(404, f"The model `{name}` does not exist.", "model")


def check_model(body: dict, served: str) -> None:
    """A request's `model` must name the served model; absent means the served one (vLLM)."""
    name = body.get("model")
    if name is None:
        return
    if not isinstance(name, str):
        raise bad(400, "model", f"must be a string, got {type_name(name)}")
    if name != served:
        raise ModelNotFound(name)


@dataclass
class CompletionRequest:
    """One validated completion request (either endpoint)."""

    prompts: list[str]
    n: int
    max_tokens: int
    temperature: float
    top_p: float
    stop: list[str]
    logprobs: int | None  # None: no log-probs; k: chosen token plus top k
    seed: int | None
    include_stop: bool
    token_ids: bool


def stop_list(body: dict) -> list[str]:
    stop = body.get("stop")
    if stop is None:
        return []
    if isinstance(stop, str):
        stop = [stop]
    if not isinstance(stop, list) or not all(isinstance(s, str) and s for s in stop):
        raise bad(400, "stop", "must be a non-empty string or a list of non-empty strings")
    if len(stop) > MAX_STOP:
        raise bad(400, "stop", f"at most {MAX_STOP} stop strings")
    return stop


def flag(body: dict, key: str) -> bool:
    v = body.get(key, False)
    if v is None:
        return False
    if not isinstance(v, bool):
        raise bad(400, key, f"must be a boolean, got {type_name(v)}")
    return v


def common_request(
    body: dict, prompts: list[str], max_n: int, max_tokens: int, logprobs: int | None
) -> CompletionRequest:
    if flag(body, "stream"):
        raise bad(400, "stream", "streaming is not supported")
    if flag(body, "echo"):
        raise bad(400, "echo", "echo is not supported")
    seed = body.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise bad(400, "seed", f"must be an integer, got {type_name(seed)}")
    mt = body.get("max_completion_tokens", body.get("max_tokens"))
    return CompletionRequest(
        prompts=prompts,
        n=int(get_number(body, "n", 1, 1, max_n, integer=True)),
        max_tokens=int(
            get_number(
                {"max_tokens": mt},
                "max_tokens",
                SamplingParams.max_new_tokens,
                1,
                max_tokens,
                integer=True,
            )
        ),
        temperature=float(get_number(body, "temperature", 1.0, 0.0, 2.0)),
        top_p=float(get_number(body, "top_p", 1.0, 1e-6, 1.0)),
        stop=stop_list(body),
        logprobs=logprobs,
        seed=seed,
        include_stop=flag(body, "include_stop_str_in_output"),
        token_ids=flag(body, "return_tokens_as_token_ids"),
    )


def render_chat(gen: Generator, messages: list[dict]) -> str:
    """Chat messages as one prompt text.

    A Hugging Face tokenizer with a chat template uses it (continuing a final assistant
    message). Otherwise each message's content is followed by the step separator, except
    a final assistant message, which is continued as written: the user message is the
    problem and an assistant message holds the steps so far.
    """
    templated = gen.chat_prompt(messages)
    if templated is not None:
        return templated
    parts = [m["content"] + gen.step_sep for m in messages[:-1]]
    last = messages[-1]
    parts.append(last["content"] if last["role"] == "assistant" else last["content"] + gen.step_sep)
    return "".join(parts)


def parse_messages(body: dict) -> list[dict]:
    msgs = body.get("messages")
    if not isinstance(msgs, list) or not msgs:
        raise bad(400, "messages", "must be a non-empty list of {role, content} objects")
    out = []
    for i, m in enumerate(msgs):
        where = f"messages[{i}]"
        if not isinstance(m, dict):
            raise bad(400, where, f"must be an object, got {type_name(m)}")
        role, content = m.get("role"), m.get("content")
        if role not in ("system", "user", "assistant"):
            raise bad(400, f"{where}.role", "must be system, user or assistant")
        if isinstance(content, list):  # content parts: text only
            if not all(
                isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str)
                for p in content
            ):
                raise bad(400, f"{where}.content", "only text content parts are supported")
            content = "".join(p["text"] for p in content)
        if not isinstance(content, str):
            raise bad(400, f"{where}.content", f"must be a string, got {type_name(content)}")
        out.append({"role": role, "content": content})
    return out


def completion_request(
    body: dict, max_prompts: int, max_n: int, max_tokens: int
) -> CompletionRequest:
    """A /v1/completions body as a request (text prompts only)."""
    prompt = body.get("prompt")
    if isinstance(prompt, str):
        prompts = [prompt]
    else:
        if isinstance(prompt, list) and prompt and not isinstance(prompt[0], str):
            raise bad(400, "prompt", "token-id prompts are not supported; send text")
        prompts = get_str_list(body, "prompt", max_len=max_prompts)
    lp = body.get("logprobs")
    if lp is not None and (isinstance(lp, bool) or not isinstance(lp, int) or not 0 <= lp <= 20):
        raise bad(400, "logprobs", "must be an integer in [0, 20] or null")
    return common_request(body, prompts, max_n, max_tokens, lp)


def chat_request(gen: Generator, body: dict, max_n: int, max_tokens: int) -> CompletionRequest:
    """A /v1/chat/completions body as a request: the messages rendered as one prompt."""
    msgs = parse_messages(body)
    want = flag(body, "logprobs")
    k = int(get_number(body, "top_logprobs", 0, 0, 20, integer=True))
    return common_request(body, [render_chat(gen, msgs)], max_n, max_tokens, k if want else None)
