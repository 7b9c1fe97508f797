"""Search with a policy and a PRM at test time (bon, vote, weighted-vote, beam, reject), or rerank a file of solutions (--in)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar, Literal

from prmkit.data import InputError, Problem, read_jsonl, write_jsonl
from prmkit.data.converters import read_samples, report_skipped
from prmkit.prm.options import PrefixedPRMOptions
from prmkit.search import METHODS, SearchSettings, run_search, summarize
from prmkit.search.rerank import rerank, rerank_summary

RERANK_METHODS = ("bon", "vote", "weighted-vote")
# settings that only sampling or tree search reads; --in refuses them rather than ignore them
NOT_FOR_RERANK = (
    "expand",
    "subtrees",
    "select",
    "max_steps",
    "reject_after",
    "keep",
    "temperature",
    "top_p",
    "max_new_tokens",
)


@dataclass(kw_only=True)
class Config(PrefixedPRMOptions, SearchSettings):
    RANGES: ClassVar[dict[str, str]] = {"critic_samples": ">= 1"}
    """ranges of the numeric settings (prmkit.ranges), checked before a run"""

    method: Literal["bon", "vote", "weighted-vote", "beam", "reject"]
    """search method (with --in: bon, vote or weighted-vote)"""
    out: str
    """where to write one result record per problem (JSONL)"""
    policy: str | None = None
    """policy: a prmkit checkpoint directory or a local Hugging Face model folder (not with --in)"""
    problems: str | None = None
    """problems (JSONL: id, prompt, answer), for sampling with --policy"""
    in_: str | None = None
    """rerank these solutions instead of sampling (prmkit samples, or any format `convert` reads): the first --n per problem, no policy"""
    group_by: Literal["problem_id", "prompt"] = "problem_id"
    """--in: what makes two samples candidates for the same problem"""
    tie_break: Literal["random", "first"] = "random"
    """--in: ties between candidates go to a seeded random one (per --seed and problem), or to the first in file order (biased when the file's order carries information)"""
    prm: str | None = None
    """PRM: `rule` (exact verifier, an oracle), `local-rule` (its step checker, each step on its own), `rule:WORLD`, `noisy-rule:SIGMA[:SEED]` (experiments only), a trained PRM's directory, a published PRM's folder (see --prm-format), or PRM+rule[:WORLD] (the checker in front: each step scores the lower of the two); vote needs none"""
    critic_model: str | None = None
    """--prm critic:URL: the served model's name (default: the first the endpoint lists at /models)"""
    critic_samples: int | None = None
    """--prm critic:URL: critiques per solution, majority-voted (default 1, at temperature 0)"""
    progress: bool = True
    """show progress bars"""
    skip_invalid: bool = False
    """skip malformed records (named on stderr, counted in the summary) instead of stopping at the first"""

    def check(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"--method must be one of {sorted(METHODS)}")
        if self.method != "vote" and not self.prm:
            raise ValueError(
                f"--method {self.method} needs --prm (rule, noisy-rule:SIGMA or a PRM directory)"
            )
        if self.in_ is not None:
            self.check_rerank()
        elif self.group_by != "problem_id" or self.tie_break != "random":
            raise ValueError("--group-by and --tie-break apply to --in only")
        elif not self.policy or not self.problems:
            raise ValueError("give --policy and --problems (sample and search), or --in (rerank)")
        super().check()

    def check_rerank(self) -> None:
        if self.method not in RERANK_METHODS:
            raise ValueError(f"--in reranks with --method {', '.join(RERANK_METHODS)}")
        if self.policy or self.problems:
            raise ValueError("--in reranks a file: --policy and --problems do not apply")
        defaults = SearchSettings(world=self.world)  # a world's own token budget is no flag
        for name in NOT_FOR_RERANK:
            if getattr(self, name) != getattr(defaults, name):
                raise ValueError(f"--{name.replace('_', '-')} does not apply to --in")

    def settings(self) -> SearchSettings:
        names = {f.name for f in dataclasses.fields(SearchSettings)}
        return SearchSettings(**{k: v for k, v in dataclasses.asdict(self).items() if k in names})


def run(cfg: Config) -> dict:
    scorer = (
        cfg.load_prm(
            cfg.prm, cfg.world, critic_model=cfg.critic_model, critic_samples=cfg.critic_samples
        )
        if cfg.method != "vote"
        else None
    )
    if cfg.in_ is not None:
        return run_rerank(cfg, scorer)
    invalid = [] if cfg.skip_invalid else None
    problems = read_jsonl(cfg.problems, Problem.from_dict, invalid)
    skipped = report_skipped(invalid)
    from prmkit.models.load import load_generator

    policy = load_generator(cfg.policy)
    try:
        records, seconds = run_search(
            cfg.method, policy, scorer, problems, cfg.settings(), cfg.progress
        )
    except ValueError as e:  # e.g. a prompt the built-in tokenizer cannot encode
        raise InputError(str(e), cfg.problems) from None
    write_jsonl(cfg.out, records)
    out = head(cfg, scorer, records[0].label) | {"skipped": skipped}
    return out | summarize(records, seconds)


def run_rerank(cfg: Config, scorer) -> dict:
    invalid = [] if cfg.skip_invalid else None
    samples = read_samples(cfg.in_, invalid=invalid)
    skipped = report_skipped(invalid)
    try:
        records, seconds = rerank(
            cfg.method,
            samples,
            scorer,
            n=cfg.n,
            agg=cfg.aggregate,
            world=cfg.world,
            seed=cfg.seed,
            group_by=cfg.group_by,
            curve_draws=cfg.curve_draws if cfg.curve else 0,
            tie_break=cfg.tie_break,
            chunk=cfg.chunk,
            progress=cfg.progress,
        )
    except ValueError as e:  # an ungradable sample, or one the PRM cannot read
        raise InputError(str(e), cfg.in_) from None
    write_jsonl(cfg.out, records)
    out = head(cfg, scorer, records[0].label)
    out |= {"in": cfg.in_, "seed": cfg.seed, "tie_break": cfg.tie_break, "skipped": skipped}
    return out | summarize(records, seconds) | rerank_summary(records)


def head(cfg: Config, scorer, label: str) -> dict:
    kind = None if scorer is None else scorer.kind
    return {
        "command": "search",
        "method": cfg.method,
        "label": label,
        "prm": cfg.prm if scorer else None,
        "prm_kind": kind,
        "n": cfg.n,
        "out": cfg.out,
    }
