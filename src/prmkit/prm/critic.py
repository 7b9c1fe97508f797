"""A generative critic as a PRM: any OpenAI-compatible endpoint, the ProcessBench way.

ProcessBench (Zheng et al. 2024, "ProcessBench: Identifying Process Errors in
Mathematical Reasoning") evaluates prompted LLMs as critics: the model reads the
problem and the solution's paragraphs, tagged and indexed from 0, and puts the index
of the earliest wrong paragraph in `\\boxed{}` (-1: none). With m sampled critiques
the first error is their majority vote (ties to the earlier step, -1 ranked last).
As a StepScorer, with e the majority first error of a solution with T steps:

    score_i = 1 for i < e, 0 for i >= e      (e = -1: every score is 1)

A solution for which no critique parses gets 0.5 on every step (no information) and
is counted in `usage["unparsed_solutions"]`. The prompting, parsing and voting are
`prmkit.label.judge.critique`, the same code as `label --method judge`.

    --prm critic:http://localhost:8000/v1 --critic-model NAME --critic-samples 8
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from prmkit.data import InputError
from prmkit.label.judge import TEMPLATES, JudgeClient, critique
from prmkit.label.options import JudgeOptions

PREFIX = "critic:"


def critic_scores(first_error: int | None, n_steps: int) -> list[float]:
    """Per-step scores from a critic's first error (None: no valid verdict, 0.5 each)."""
    if first_error is None:
        return [0.5] * n_steps
    e = n_steps if first_error < 0 else first_error
    return [1.0 if i < e else 0.0 for i in range(n_steps)]


class CriticPRM:
    """A StepScorer that asks a generative critic for each solution's earliest error."""

    kind = "critic"

    def __init__(
        self,
        client: JudgeClient,
        samples: int = 1,
        template: str = TEMPLATES["processbench"],
        concurrency: int = 4,
    ) -> None:
        if samples < 1:
            raise InputError("--critic-samples must be at least 1")
        self.client, self.samples, self.template = client, samples, template
        self.concurrency = max(1, concurrency)
        self.usage = {"solutions": 0, "requests": 0, "completion_tokens": 0}
        self.usage |= {"unparsed_solutions": 0, "unparsed_samples": 0}

    def score(self, items: list[tuple[str, list[str]]]) -> list[list[float]]:
        def one(item: tuple[str, list[str]]):
            return critique(self.client, self.template, item[0], list(item[1]), self.samples)

        try:
            with ThreadPoolExecutor(self.concurrency) as pool:
                verdicts = list(pool.map(one, items))
        except ConnectionError as e:
            raise InputError(str(e), self.client.options.url) from None
        for v in verdicts:
            self.usage["solutions"] += 1
            self.usage["requests"] += v.requests
            self.usage["completion_tokens"] += v.tokens
            self.usage["unparsed_samples"] += v.unparsed
            self.usage["unparsed_solutions"] += v.first_error is None
        return [critic_scores(v.first_error, len(s)) for v, (_, s) in zip(verdicts, items)]


def load_critic(
    spec: str,
    model: str | None = None,
    samples: int | None = None,
    template: str | None = None,
    temperature: float | None = None,
) -> CriticPRM:
    """The critic `--prm critic:URL` names. model: the served model's name (default:
    the first the endpoint lists at /models); samples: critiques per solution (m,
    default 1, greedy-like at temperature 0 then); template: a TEMPLATES name or a
    file (default processbench); temperature: default 0 for one sample, 0.7 for more."""
    url = spec[len(PREFIX) :] if spec.startswith(PREFIX) else spec
    if not url.startswith(("http://", "https://")):
        raise InputError("expected critic:http(s)://HOST[:PORT]/v1", spec)
    m = 1 if samples is None else samples
    temp = temperature if temperature is not None else (0.0 if m == 1 else 0.7)
    client = JudgeClient(
        JudgeOptions(url=url, model=model or "", temperature=temp, max_tokens=2048)
    )
    if not model:
        client.options.model = served_model(client, spec)
    return CriticPRM(client, m, read_template(template))


def served_model(client: JudgeClient, spec: str) -> str:
    """The first model id an OpenAI-compatible endpoint lists at GET /models."""
    try:
        ids = client.models()
    except ConnectionError as e:
        raise InputError(f"{e}; give --critic-model", spec) from None
    if not ids:
        raise InputError("the endpoint lists no models at /models; give --critic-model", spec)
    return ids[0]


def read_template(template: str | None) -> str:
    if not template:
        return TEMPLATES["processbench"]
    if template in TEMPLATES:
        return TEMPLATES[template]
    try:
        with open(template, encoding="utf-8") as f:
            return f.read()
    except (OSError, UnicodeDecodeError):
        raise InputError(
            f"no such critic template (give {' or '.join(TEMPLATES)}, or a readable file)",
            template,
        ) from None
