"""OpenAI-compatible policy server for the built-in and Hugging Face policies.

`POST /v1/completions` and `POST /v1/chat/completions` with n, temperature, top_p,
max_tokens, stop, logprobs (and seed); `GET /v1/models`; `GET /health`. Two vLLM
extensions are honoured because the `openai` client backend uses them to reproduce
local generations exactly: `include_stop_str_in_output` and
`return_tokens_as_token_ids`; each choice also carries vLLM's `stop_reason` (the stop
string that ended it, null at end-of-sequence or length). An agent (an `agent train`
checkpoint) also answers chat requests with `tools` by tool calls (`agent_tools`).

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

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from prmkit.agents.loop import AgentPolicy
from prmkit.models.generator import Generator, SamplingParams
from prmkit.serve.agent_tools import run_tool_request, tool_request, wants_tools
from prmkit.serve.http import ApiError, Guard, bad, get_obj, parse_json
from prmkit.serve.policy_api import (
    CompletionRequest,
    ModelNotFound,
    chat_request,
    check_model,
    completion_request,
    openai_error,
)
from prmkit.serve.policy_choices import (
    Choice,
    apply_stop,
    chat_choice,
    completion_choice,
    prompt_ids,
    top_logprobs,
)


def run_request(gen: Generator, req: CompletionRequest) -> tuple[list[list[Choice]], int]:
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

    async def generate(self, req: CompletionRequest) -> tuple[list[list[Choice]], dict]:
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
        if wants_tools(body):
            return await self.tool_chat(body)
        req = chat_request(self.gen, body, self.max_n, self.max_tokens)
        rows, use = await self.generate(req)
        choices = [chat_choice(self.gen, c, j, req) for j, c in enumerate(rows[0])]
        return self.envelope("chat.completion", "chatcmpl-", choices, use)

    async def tool_chat(self, body: dict) -> dict:
        """The agent's next action as a tool call (`serve.agent_tools`)."""
        if not isinstance(self.gen, AgentPolicy):
            raise bad(
                400, "tools", "this policy is not an agent (serve an `agent train` checkpoint)"
            )
        tr = tool_request(body, self.max_n, self.max_tokens)
        self.counts["requests"] += 1
        loop = asyncio.get_running_loop()
        choices, c = await loop.run_in_executor(self.pool, run_tool_request, self.gen, tr)
        self.counts["choices"] += len(choices)
        self.counts["tokens"] += c
        use = {"prompt_tokens": 0, "completion_tokens": c, "total_tokens": c}
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
