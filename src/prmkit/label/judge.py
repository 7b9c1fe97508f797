"""LLM-as-judge step labels over any OpenAI-compatible endpoint.

The judge reads the problem and the numbered steps (a prompt template from a file,
placeholders {problem}, {steps}, {tagged_steps}, {n_steps}; or by name, TEMPLATES)
and names the first wrong step, as in
ProcessBench (Zheng et al. 2024, "ProcessBench: Identifying Process Errors in
Mathematical Reasoning"): `\\boxed{i}` with i the 0-based step index, or -1 when every
step is right. m answers are sampled per solution and the first error is their
majority vote (ties go to the earlier step; -1 counts as after every step):

    first_error = argmax_i #{j : parse(answer_j) = i}
    hard_i = i < first_error

Answers that cannot be parsed abstain. A solution with no valid vote gets no labels
(meta "label_error" says why) but is still written, so a rerun does not redo it.
`critique` is the one implementation of this protocol; the critic PRM
(`prmkit.prm.critic`) calls it too.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from prmkit.data import Sample
from prmkit.data.formats import hard_from_first_error
from prmkit.label.base import LabelContext, with_labels
from prmkit.label.options import JudgeOptions
from prmkit.models.openai_http import HTTPStatusError, OpenAIHTTP, Unreachable

DEFAULT_TEMPLATE = """The following is a math problem and a step-by-step solution. Review each step.

[Problem]
{problem}

[Solution] ({n_steps} steps, numbered from 0)
{steps}

Find the earliest step that contains an error (a wrong calculation, a wrong use of
the problem's data, or a wrong conclusion). Reply with its index in \\boxed{}, for
example \\boxed{2}. If every step is correct, reply \\boxed{-1}.
"""

PROCESSBENCH_TEMPLATE = """The following is a math problem and a solution (split into paragraphs, enclosed with tags and indexed from 0):

[Math Problem]

{problem}

[Solution]

{tagged_steps}

Your task is to review and critique the solution paragraph by paragraph. Once you identify an error in a paragraph, return the index of the paragraph where the earliest error occurs. Otherwise, return the index of -1 (which typically denotes "not found").

Please put your final answer (i.e., the index) in \\boxed{}.
"""
"""ProcessBench's critic prompt (Zheng et al. 2024, its code/templates/critique_template.txt)."""

TEMPLATES = {"default": DEFAULT_TEMPLATE, "processbench": PROCESSBENCH_TEMPLATE}

_BOXED = re.compile(r"\\boxed\{\s*(-?\d+)\s*\}")
_PHRASE = re.compile(
    r"(?:first|earliest)\s+(?:wrong|incorrect|erroneous)\s+step\s*(?:is|:)?\s*(?:step\s*)?(-?\d+)",
    re.IGNORECASE,
)
_NONE = re.compile(
    r"\b(?:no (?:wrong|incorrect) steps?|all steps are correct|every step is correct)\b",
    re.IGNORECASE,
)


def render(template: str, problem: str, steps: list[str]) -> str:
    """Fill {problem}, {steps} (one 'Step i: text' per line), {tagged_steps} (each step
    as `<paragraph_i>` text `</paragraph_i>`, as ProcessBench writes them) and
    {n_steps}; other braces stay."""
    numbered = "\n".join(f"Step {i}: {s}" for i, s in enumerate(steps))
    tagged = "\n\n".join(f"<paragraph_{i}>\n{s}\n</paragraph_{i}>" for i, s in enumerate(steps))
    return (
        template.replace("{problem}", problem)
        .replace("{steps}", numbered)
        .replace("{tagged_steps}", tagged)
        .replace("{n_steps}", str(len(steps)))
    )


def render_prompt(template: str, sample: Sample) -> str:
    """`render` for a sample's prompt and steps."""
    return render(template, sample.prompt, sample.steps)


def parse_first_error(text: str, n_steps: int) -> int | None:
    """The judge's first wrong step (0-based, -1 for none), or None if it names none validly.

    Reads the last `\\boxed{i}`; failing that, 'first wrong step is i' or 'all steps
    are correct'. An index outside -1..n_steps-1 is no valid answer.
    """
    boxed = _BOXED.findall(text)
    if boxed:
        i = int(boxed[-1])
    else:
        m = _PHRASE.search(text)
        if m:
            i = int(m.group(1))
        elif _NONE.search(text):
            i = -1
        else:
            return None
    return i if -1 <= i < n_steps else None


def majority(votes: list[int]) -> int | None:
    """The most common vote; ties go to the earlier step, with -1 ranked last."""
    if not votes:
        return None
    counts = Counter(votes)
    return max(counts, key=lambda i: (counts[i], -(i if i >= 0 else 1 << 30)))


@dataclass
class JudgeClient:
    """An OpenAI-compatible endpoint: POST {url}/chat/completions or {url}/completions,
    through prmkit's one HTTP client for such endpoints (`prmkit.models.openai_http`);
    `options` name the endpoint, the model and how to sample and retry."""

    options: JudgeOptions
    _http: OpenAIHTTP | None = field(default=None, init=False, repr=False)

    def _client(self) -> OpenAIHTTP:
        if self._http is None:
            key = os.environ.get(self.options.api_key_env) if self.options.api_key_env else None
            self._http = OpenAIHTTP(
                self.options.url.rstrip("/"),
                key or None,
                timeout=self.options.timeout,
                retries=self.options.retries,
                backoff=0.25,
                max_backoff=8.0,
                max_connections=self.options.concurrency,
            )
        return self._http

    def _post(self, payload: dict) -> dict:
        path = "/chat/completions" if self.options.api == "chat" else "/completions"
        try:
            return self._client().request("POST", path, payload)
        except (HTTPStatusError, Unreachable) as e:
            endpoint = self.options.url.rstrip("/") + path
            raise ConnectionError(f"judge endpoint {endpoint} failed: {e}") from None

    def models(self) -> list[str]:
        """The model ids the endpoint lists at GET /models."""
        try:
            listed = self._client().request("GET", "/models")
        except (HTTPStatusError, Unreachable) as e:
            raise ConnectionError(f"judge endpoint {self.options.url}/models failed: {e}") from None
        return [
            str(m["id"]) for m in (listed.get("data") or []) if isinstance(m, dict) and "id" in m
        ]

    def sample(self, prompt: str, m: int) -> tuple[list[str], int, int]:
        """m answers to one prompt: (texts, completion tokens reported, requests made)."""
        texts, tokens, requests = [], 0, 0
        while len(texts) < m and requests < 2 * m:
            payload = {
                "model": self.options.model,
                "n": m - len(texts),
                "temperature": self.options.temperature,
                "max_tokens": self.options.max_tokens,
            }
            if self.options.api == "chat":
                payload["messages"] = [{"role": "user", "content": prompt}]
            else:
                payload["prompt"] = prompt
            resp = self._post(payload)
            requests += 1
            choices = resp.get("choices") or []
            if not choices:
                raise ConnectionError(f"judge endpoint {self.options.url} returned no choices")
            for c in choices[: m - len(texts)]:
                text = (
                    (c.get("message") or {}).get("content")
                    if self.options.api == "chat"
                    else c.get("text")
                )
                texts.append(text or "")
            tokens += int((resp.get("usage") or {}).get("completion_tokens") or 0)
        return texts, tokens, requests


def client_from(ctx: LabelContext) -> JudgeClient:
    o = ctx.judge
    if not o.url:
        raise ValueError("the judge method needs --judge-url (an OpenAI-compatible base URL)")
    return JudgeClient(dataclasses.replace(o, concurrency=max(1, o.concurrency)))


@dataclass
class Verdict:
    """A critic's answer on one solution: the majority first error (None: no valid
    vote), the parsed votes, and what it cost."""

    first_error: int | None
    votes: list[int]
    samples: int
    unparsed: int
    tokens: int
    requests: int

    @property
    def agreement(self) -> float | None:
        fe = self.first_error
        return None if fe is None else self.votes.count(fe) / len(self.votes)


def critique(client: JudgeClient, template: str, problem: str, steps: list[str], m: int) -> Verdict:
    """Ask the critic m times for the earliest wrong step of `steps`; their majority."""
    texts, tokens, requests = client.sample(render(template, problem, steps), m)
    parsed = [parse_first_error(t, len(steps)) for t in texts]
    votes = [v for v in parsed if v is not None]
    return Verdict(majority(votes), votes, len(texts), len(parsed) - len(votes), tokens, requests)


def judge_one(client: JudgeClient, template: str, s: Sample, m: int) -> Sample:
    v = critique(client, template, s.prompt, s.steps, m)
    prov = {
        "method": "judge",
        "k": m,
        "rollouts": v.samples,
        "tokens": v.tokens,
        "model": client.options.model,
        "api": client.options.api,
        "votes": v.votes,
        "unparsed": v.unparsed,
        "requests": v.requests,
    }
    if v.first_error is None:
        return dataclasses.replace(
            s,
            labels=None,
            meta=s.meta
            | {"label_error": f"judge gave no parsable answer in {m} samples", "judge": prov},
        )
    return with_labels(
        s,
        hard_from_first_error(v.first_error, len(s.steps)),
        None,
        prov | {"agreement": round(v.agreement, 4)},
    )


def label(samples: list[Sample], ctx: LabelContext) -> list[Sample]:
    client = client_from(ctx)
    template = ctx.judge_template_text or DEFAULT_TEMPLATE
    workers = max(1, ctx.judge.concurrency)
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(lambda s: judge_one(client, template, s, ctx.k), samples))
