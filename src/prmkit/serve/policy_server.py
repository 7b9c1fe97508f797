"""OpenAI-compatible policy server for the built-in and Hugging Face policies.

`POST /v1/completions` and `POST /v1/chat/completions` with n, temperature, top_p,
max_tokens, stop, logprobs (and seed); `GET /v1/models`; `GET /health`. Two vLLM
extensions are honoured because the `openai` client backend uses them to reproduce
local generations exactly: `include_stop_str_in_output` and
`return_tokens_as_token_ids`; each choice also carries vLLM's `stop_reason` (the stop
string that ended it, null at end-of-sequence or length).

Log-probabilities are under the policy at temperature 1 (vLLM's raw log-probs), one per
generated token, the end-of-sequence token included. `logprobs: k > 0` adds the top k
alternatives per position from one extra teacher-forced forward pass.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass

import torch
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from prmkit.models.chat_text import decode_pieces
from prmkit.models.generator import Generation, Generator, LocalPolicy, SamplingParams
from prmkit.serve.http import (
    ApiError,
    Guard,
    bad,
    get_number,
    get_obj,
    get_str_list,
    parse_json,
    type_name,
)

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
class Request_:
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


# ---- policy-specific pieces: token strings, prompt length, top-k rescoring --------------


def token_pieces(gen: Generator, ids: list[int]) -> list[str]:
    """The text each generated token adds (special tokens add nothing)."""
    return decode_pieces(gen.decode, ids)


def token_name(gen: Generator, tid: int, piece: str) -> str:
    return piece or gen.token_name(tid)


def prompt_ids(gen: Generator, prompt: str) -> list[int]:
    return gen.prompt_ids(prompt) or []


@torch.no_grad()
def top_logprobs(
    gen: LocalPolicy, prompt: str, ids: list[int], k: int
) -> list[list[tuple[int, float]]]:
    """For each generated position, the k most likely tokens and their log-probs (T=1)."""
    if not ids:
        return []
    p = gen.prompt_ids(prompt)
    seq = torch.tensor([p + ids], device=gen.device)
    logits = gen.logits(seq, torch.ones_like(seq, dtype=torch.bool))[0]
    logp = logits[len(p) - 1 : len(p) - 1 + len(ids)].float().log_softmax(-1)
    vals, idx = logp.topk(min(k, logp.shape[-1]), dim=-1)
    return [list(zip(i.tolist(), v.tolist())) for i, v in zip(idx, vals)]


# ---- request parsing ---------------------------------------------------------------------


def _stop_list(body: dict) -> list[str]:
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


def _bool(body: dict, key: str) -> bool:
    v = body.get(key, False)
    if v is None:
        return False
    if not isinstance(v, bool):
        raise bad(400, key, f"must be a boolean, got {type_name(v)}")
    return v


def _common(
    body: dict, prompts: list[str], max_n: int, max_tokens: int, logprobs: int | None
) -> Request_:
    if _bool(body, "stream"):
        raise bad(400, "stream", "streaming is not supported")
    if _bool(body, "echo"):
        raise bad(400, "echo", "echo is not supported")
    seed = body.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise bad(400, "seed", f"must be an integer, got {type_name(seed)}")
    mt = body.get("max_completion_tokens", body.get("max_tokens"))
    return Request_(
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
        stop=_stop_list(body),
        logprobs=logprobs,
        seed=seed,
        include_stop=_bool(body, "include_stop_str_in_output"),
        token_ids=_bool(body, "return_tokens_as_token_ids"),
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


# ---- generation and the response ---------------------------------------------------------


@dataclass
class Choice:
    text: str
    ids: list[int]
    pieces: list[str]
    logprobs: list[float]
    finish_reason: str
    stop_reason: str | None
    top: list[list[tuple[int, float]]] | None = None


def _keep_tokens(pieces: list[str], end: int) -> int:
    """How many tokens start before character `end` of the text."""
    keep = pos = 0
    for p in pieces:
        if pos >= end:
            break
        pos += len(p)
        keep += 1
    return keep


def apply_stop(gen: Generator, g: Generation, stop: list[str], include: bool) -> Choice:
    """Cut a generation at its first stop string (OpenAI semantics), tokens included.

    The step separator, when it is a stop string, is the policy's own rule (the built-in
    stops at the first separator; the HF policy skips leading ones), so a generation
    that stopped at a step keeps exactly the text the policy produced.
    """
    sep = gen.step_sep
    pieces = token_pieces(gen, g.token_ids)
    at_step = sep in stop and not g.finished and g.text.endswith(sep)
    body = g.text[: -len(sep)] if at_step else g.text
    hits = [(i, s) for s in stop if s != sep and (i := body.find(s)) >= 0]
    if hits:
        i, s = min(hits)
        end = i + len(s) if include else i
    elif at_step:
        s, end = sep, len(g.text) if include else len(body)
    else:
        reason = "stop" if g.finished else "length"
        return Choice(g.text, list(g.token_ids), pieces, list(g.logprobs), reason, None)
    keep = _keep_tokens(pieces, end)
    return Choice(g.text[:end], g.token_ids[:keep], pieces[:keep], g.logprobs[:keep], "stop", s)


def run_request(gen: Generator, req: Request_) -> tuple[list[list[Choice]], int]:
    """The choices for each prompt and the prompts' token count.

    Every tokenizer call happens here, on the one generation thread: a Hugging Face
    fast tokenizer keeps its padding setting in shared state, so a call from another
    thread between `padding=True` being set and used makes a batched call fail
    ("Unable to create tensor ... padding=True").
    """
    sep = gen.step_sep
    params = SamplingParams(
        req.n,
        req.max_tokens,
        req.temperature,
        req.top_p,
        stop_at_step=sep in req.stop,
        seed=req.seed,
    )
    try:
        outs = gen.generate(req.prompts, params)
    except ValueError as e:  # prompt outside the vocabulary or over the context length
        raise ApiError(400, str(e)) from None
    result = []
    for prompt, gs in zip(req.prompts, outs):
        row = []
        for g in gs:
            c = apply_stop(gen, g, req.stop, req.include_stop)
            if req.logprobs:
                c.top = top_logprobs(gen, prompt, c.ids, req.logprobs)
            row.append(c)
        result.append(row)
    return result, sum(len(prompt_ids(gen, x)) for x in req.prompts)


def _tok_str(gen: Generator, tid: int, piece: str, as_ids: bool) -> str:
    return f"token_id:{tid}" if as_ids else token_name(gen, tid, piece)


def completion_choice(gen: Generator, c: Choice, index: int, req: Request_) -> dict:
    lp = None
    if req.logprobs is not None:
        toks = [_tok_str(gen, t, p, req.token_ids) for t, p in zip(c.ids, c.pieces)]
        offsets, pos = [], 0
        for p in c.pieces:
            offsets.append(pos)
            pos += len(p)
        top = None
        if c.top is not None:
            top = [
                {_tok_str(gen, t, token_pieces(gen, [t])[0], req.token_ids): v for t, v in row}
                for row in c.top
            ]
        lp = {
            "tokens": toks,
            "token_logprobs": c.logprobs,
            "top_logprobs": top,
            "text_offset": offsets,
        }
    return {
        "index": index,
        "text": c.text,
        "logprobs": lp,
        "finish_reason": c.finish_reason,
        "stop_reason": c.stop_reason,
    }


def chat_choice(gen: Generator, c: Choice, index: int, req: Request_) -> dict:
    lp = None
    if req.logprobs is not None:
        content = []
        for j, (t, p, v) in enumerate(zip(c.ids, c.pieces, c.logprobs)):
            name = _tok_str(gen, t, p, req.token_ids)
            entry = {
                "token": name,
                "logprob": v,
                "bytes": list(name.encode("utf-8", "replace")),
                "top_logprobs": [],
            }
            if c.top is not None:
                for tt, vv in c.top[j]:
                    nm = _tok_str(gen, tt, token_pieces(gen, [tt])[0], req.token_ids)
                    entry["top_logprobs"].append(
                        {"token": nm, "logprob": vv, "bytes": list(nm.encode("utf-8", "replace"))}
                    )
            content.append(entry)
        lp = {"content": content}
    return {
        "index": index,
        "message": {"role": "assistant", "content": c.text},
        "logprobs": lp,
        "finish_reason": c.finish_reason,
        "stop_reason": c.stop_reason,
    }


def completion_request(body: dict, max_prompts: int, max_n: int, max_tokens: int) -> Request_:
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
    return _common(body, prompts, max_n, max_tokens, lp)


def chat_request(gen: Generator, body: dict, max_n: int, max_tokens: int) -> Request_:
    """A /v1/chat/completions body as a request: the messages rendered as one prompt."""
    msgs = parse_messages(body)
    want = _bool(body, "logprobs")
    k = int(get_number(body, "top_logprobs", 0, 0, 20, integer=True))
    return _common(body, [render_chat(gen, msgs)], max_n, max_tokens, k if want else None)


class PolicyService:
    """What the routes do: one generation at a time on a worker thread, OpenAI's shapes."""

    def __init__(
        self, gen: Generator, model_name: str, max_prompts: int, max_n: int, max_tokens: int
    ) -> None:
        self.gen, self.model_name = gen, model_name
        self.max_prompts, self.max_n, self.max_tokens = max_prompts, max_n, max_tokens
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="policy")
        self.counts = {"requests": 0, "client_errors": 0, "choices": 0, "tokens": 0}

    def error(self, e: ApiError) -> JSONResponse:
        self.counts["client_errors"] += 1
        status = 400 if e.status == 422 else e.status  # OpenAI answers 400 to invalid requests
        code = "model_not_found" if isinstance(e, ModelNotFound) else None
        return JSONResponse(openai_error(status, e.message, e.param, code), status_code=status)

    async def generate(self, req: Request_) -> tuple[list[list[Choice]], dict]:
        """The choices per prompt and the usage record, computed on the generation thread."""
        self.counts["requests"] += 1
        loop = asyncio.get_running_loop()
        out, p = await loop.run_in_executor(self.pool, run_request, self.gen, req)
        c = sum(len(ch.ids) for row in out for ch in row)
        self.counts["choices"] += sum(len(row) for row in out)
        self.counts["tokens"] += c
        return out, {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}

    def envelope(self, kind: str, prefix: str, choices: list[dict], use: dict) -> dict:
        return {
            "id": prefix + uuid.uuid4().hex,
            "object": kind,
            "created": int(time.time()),
            "model": self.model_name,
            "choices": choices,
            "usage": use,
        }

    def models(self) -> dict:
        card = {"id": self.model_name, "object": "model", "created": 0, "owned_by": "prmkit"}
        return {"object": "list", "data": [card]}

    async def completions(self, body: dict) -> dict:
        check_model(body, self.model_name)
        req = completion_request(body, self.max_prompts, self.max_n, self.max_tokens)
        rows, use = await self.generate(req)
        choices = [
            completion_choice(self.gen, c, i * req.n + j, req)
            for i, row in enumerate(rows)
            for j, c in enumerate(row)
        ]
        return self.envelope("text_completion", "cmpl-", choices, use)

    async def chat(self, body: dict) -> dict:
        check_model(body, self.model_name)
        req = chat_request(self.gen, body, self.max_n, self.max_tokens)
        rows, use = await self.generate(req)
        choices = [chat_choice(self.gen, c, j, req) for j, c in enumerate(rows[0])]
        return self.envelope("chat.completion", "chatcmpl-", choices, use)


def create_app(
    gen: Generator,
    model_name: str = "prmkit-policy",
    *,
    token: str | None = None,
    max_body_bytes: int = 1_000_000,
    max_prompts: int = 256,
    max_n: int = 64,
    max_tokens: int = 1024,
) -> FastAPI:
    svc = PolicyService(gen, model_name, max_prompts, max_n, max_tokens)

    @asynccontextmanager
    async def lifespan(app):
        yield
        svc.pool.shutdown(wait=True)

    app = FastAPI(title="prmkit policy server", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.counts = svc.counts

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, e: ApiError):
        return svc.error(e)

    @app.get("/health")
    async def health():
        return {"status": "ok", "model": model_name, **svc.counts}

    @app.get("/v1/models")
    async def models():
        return svc.models()

    @app.post("/v1/completions")
    async def completions(request: Request):
        return await svc.completions(get_obj(parse_json(await request.body())))

    @app.post("/v1/chat/completions")
    async def chat(request: Request):
        return await svc.chat(get_obj(parse_json(await request.body())))

    app.add_middleware(
        Guard,
        max_body_bytes=max_body_bytes,
        token=token,
        error_body=lambda s, m: openai_error(s, m),
    )
    return app
