"""What every search method shares: settings, the per-problem result record, and
metered PRM scoring.

Every method is a function

    method(policy: Generator, scorer: StepScorer | None, problems: list[Problem],
           s: SearchSettings, progress: bool = False) -> list[SearchRecord]

and `prmkit.search.METHODS` maps method names to them. Compute is counted per
problem: tokens the policy generated (every sampled token, kept or thrown away) and
tokens the PRM read (its whole input, counted again on every call, since a PRM
re-reads a prefix each time it scores it).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import ClassVar, Literal

from prmkit.models.steps import render
from prmkit.prm.aggregate import AGGREGATORS, aggregate
from prmkit.prm.base import CheckedPRM, StepScorer
from prmkit.prm.encoder import EncoderScorer
from prmkit.prm.scoring import ModelScorer
from prmkit.prm.surprise import SurpriseScorer
from prmkit.worlds import get_world, token_budget


@dataclass
class SearchSettings:
    """Knobs of every method; each method reads the ones it needs."""

    RANGES: ClassVar[dict[str, str]] = {
        "n": ">= 1",
        "expand": ">= 1",
        "subtrees": ">= 1",
        "max_steps": ">= 1",
        "reject_after": ">= 1",
        "keep": "(0, 1]",
        "temperature": ">= 0",
        "top_p": "(0, 1]",
        "max_new_tokens": ">= 1",
        "seed": ">= 0",
        "curve_draws": ">= 1",
        "chunk": ">= 1",
    }
    """ranges of the numeric settings (prmkit.ranges), checked before a run"""

    n: int = 16
    """bon / vote / weighted-vote / reject: candidate solutions per problem; beam: candidates per round (B*M)"""
    aggregate: Literal["min", "prod", "last", "mean"] = "min"
    """how per-step PRM scores become one score: min, prod, last or mean"""
    expand: int = 4
    """beam: next steps each beam proposes (M); B = max(1, n // M) beams are kept"""
    subtrees: int = 1
    """beam: independent subtrees the B beams are split into (B // subtrees beams each); subtrees = B is diverse verifier tree search (DVTS)"""
    select: Literal["best", "weighted"] = "best"
    """beam / reject: the answer among finished solutions: the best aggregated score, or weighted self-consistency over them"""
    max_steps: int = 12
    """beam / reject: most steps in a solution"""
    reject_after: int = 1
    """reject: steps generated before partial solutions are scored"""
    keep: float = 0.25
    """reject: fraction of the n partial solutions kept and continued"""
    temperature: float = 1.0
    """sampling temperature"""
    top_p: float = 1.0
    """nucleus sampling mass"""
    max_new_tokens: int | None = None
    """most tokens per solution (default: the world's: 96; toolqa 256, an episode's actions)"""
    seed: int = 0
    """random seed for sampling (and for the subsampled curves)"""
    curve: bool = True
    """bon / vote / weighted-vote: also the accuracy at every power of two up to n, by subsampling the n samples"""
    curve_draws: int = 32
    """random subsets per problem and size when subsampling a curve"""
    world: str = "arithmetic"
    """world whose grader checks the chosen solutions"""
    chunk: int = 64
    """problems per generation call"""

    def __post_init__(self) -> None:
        self.max_new_tokens = token_budget(self.world, self.max_new_tokens)

    def check(self) -> None:
        if self.n < 1:
            raise ValueError("--n must be at least 1")
        if self.aggregate not in AGGREGATORS:
            raise ValueError(f"--aggregate must be one of {sorted(AGGREGATORS)}")
        if self.expand < 1 or self.max_steps < 1 or self.reject_after < 1:
            raise ValueError("--expand, --max-steps and --reject-after must be at least 1")
        if self.subtrees < 1:
            raise ValueError("--subtrees must be at least 1")
        if self.select not in ("best", "weighted"):
            raise ValueError("--select must be best or weighted")
        if not 0 < self.keep <= 1:
            raise ValueError("--keep must lie in (0, 1]")
        if not 0 < self.top_p <= 1:
            raise ValueError("--top-p must lie in (0, 1]")
        get_world(self.world)
        if self.curve_draws < 1 or self.chunk < 1 or self.max_new_tokens < 1:
            raise ValueError("--curve-draws, --chunk and --max-new-tokens must be at least 1")


@dataclass
class SearchRecord:
    """One problem's search outcome and what it cost.

    answer / correct: the chosen solution's final answer and its exact grade.
    score: the chosen solution's aggregated PRM score (None without a PRM).
    tokens: tokens the policy generated for this problem; prm_tokens: tokens the PRM read.
    candidates: complete solutions the choice was made among.
    curve: for sampled methods, {size: {"accuracy", "tokens", "prm_tokens"}} from subsets.
    """

    problem_id: str
    method: str
    label: str
    n: int
    answer: str | None
    correct: bool
    steps: list[str]
    score: float | None
    tokens: int
    prm_tokens: int
    candidates: int
    curve: dict | None = None
    meta: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> SearchRecord:
        if not isinstance(d, dict):
            raise ValueError(f"a search record must be a JSON object, got {type(d).__name__}")
        for key in ("problem_id", "method", "label", "n", "correct", "tokens", "prm_tokens"):
            if key not in d:
                raise ValueError(f"missing field '{key}' (not a `prmkit search` result)")
        for key in ("n", "tokens", "prm_tokens"):
            if not isinstance(d[key], (int, float)) or isinstance(d[key], bool):
                raise ValueError(f"field '{key}' must be a number")
        if not isinstance(d["correct"], bool):
            raise ValueError("field 'correct' must be true or false")
        if d.get("curve") is not None and not isinstance(d["curve"], dict):
            raise ValueError("field 'curve' must be an object")
        return cls(
            problem_id=str(d["problem_id"]),
            method=str(d["method"]),
            label=str(d["label"]),
            n=int(d["n"]),
            answer=d.get("answer"),
            correct=d["correct"],
            steps=list(d.get("steps") or []),
            score=d.get("score"),
            tokens=int(d["tokens"]),
            prm_tokens=int(d["prm_tokens"]),
            candidates=int(d.get("candidates", 0)),
            curve=d.get("curve"),
            meta=d.get("meta") or {},
        )


def prm_input_tokens(scorer: StepScorer, items: list[tuple[str, list[str]]]) -> list[int]:
    """Tokens the PRM reads per item: the length of a trained prmkit PRM's own encoding
    (`ModelScorer`), the tokens of every window an encoder PRM reads (`EncoderScorer`;
    the context carried into a later window counts again), a surprise PRM's base PRM's
    tokens and its policy's characters (`SurpriseScorer`), a checked PRM's base PRM's
    (`CheckedPRM`: its checker runs no model), else the characters of the rendered
    prompt and steps (what a character-level PRM such as the rule PRM reads)."""
    if isinstance(scorer, CheckedPRM):
        return prm_input_tokens(scorer.base, items)
    if isinstance(scorer, ModelScorer):
        return [len(scorer.model.encode(p, list(s)).input_ids) for p, s in items]
    if isinstance(scorer, EncoderScorer):
        windows = [scorer.model.windows(p, list(s)) for p, s in items]
        return [sum(len(t.input_ids) for t in ws) for ws in windows]
    if isinstance(scorer, SurpriseScorer):  # its base PRM's tokens, and the policy's characters
        base = prm_input_tokens(scorer.base, items)
        return [b + _chars(p, s) for b, (p, s) in zip(base, items)]
    return [_chars(p, s) for p, s in items]


def _chars(prompt: str, steps: list[str]) -> int:
    """Characters of the rendered prompt and steps; of the raw texts when a step holds
    the step separator (free-text solutions do), which `render` refuses."""
    try:
        return len(render(prompt, steps))
    except ValueError:
        return len(prompt) + sum(len(s) + 1 for s in steps)


def score_items(
    scorer: StepScorer, items: list[tuple[str, list[str]]]
) -> tuple[list[list[float]], list[int]]:
    """Per-step scores and PRM input tokens for each (prompt, steps) item."""
    if not items:
        return [], []
    scores = scorer.score(items)
    if len(scores) != len(items):
        raise ValueError(f"the PRM returned {len(scores)} score lists for {len(items)} items")
    for (_, steps), sc in zip(items, scores):
        if len(sc) != len(steps):
            raise ValueError(f"the PRM returned {len(sc)} scores for {len(steps)} steps")
    return [[float(x) for x in sc] for sc in scores], prm_input_tokens(scorer, items)


def uses_outcome(scorer: StepScorer | None) -> bool:
    """An outcome reward model (kind "orm") is read by its last score only."""
    return scorer is not None and scorer.kind == "orm"


def solution_score(scorer: StepScorer | None, agg: str, scores: list[float]) -> float:
    """The aggregated score of one solution; an ORM's score is its last step's."""
    return aggregate("last" if uses_outcome(scorer) else agg, scores)


def agg_label(scorer: StepScorer | None, agg: str) -> str:
    return "orm" if uses_outcome(scorer) else agg


def is_final(world: str, steps: list[str]) -> bool:
    """The last step states a final answer."""
    return bool(steps) and get_world(world).extract_answer(steps[-1:]) is not None


def need_scorer(scorer: StepScorer | None, method: str) -> StepScorer:
    if scorer is None:
        raise ValueError(f"method {method!r} needs a PRM (--prm)")
    return scorer
