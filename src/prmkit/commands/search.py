"""Search with a policy and a PRM at test time: bon, vote, weighted-vote, beam, reject."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

from prmkit.data import InputError, Problem, read_jsonl, write_jsonl
from prmkit.models.load import load_generator
from prmkit.prm.base import PRMFormat
from prmkit.search import METHODS, SearchSettings, load_scorer, run_search, summarize


@dataclass(kw_only=True)
class Config(SearchSettings):
    method: Literal["bon", "vote", "weighted-vote", "beam", "reject"]
    """search method"""
    policy: str
    """policy: a prmkit checkpoint directory or a local Hugging Face model folder"""
    problems: str
    """problems (JSONL: id, prompt, answer)"""
    out: str
    """where to write one result record per problem (JSONL)"""
    prm: str | None = None
    """PRM: `rule` (exact verifier, an oracle), `local-rule` (its step checker, each step on its own), `noisy-rule:SIGMA[:SEED]` (experiments only), a trained PRM's directory, or a published PRM's folder (see --prm-format); vote needs none"""
    prm_format: PRMFormat | None = None
    """format of a published PRM --prm: math-shepherd|qwen-prm|rlhflow|skywork|trl|prmkit (default: detected from the folder)"""
    prm_device: str | None = None
    """device of a model PRM: cpu, cuda, cuda:1 (default: cuda when there is one for a published PRM; a prmkit checkpoint stays where it loads)"""
    prm_dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    """dtype of a model PRM: auto is bfloat16 on cuda and float32 on cpu"""
    prm_batch_size: int | None = None
    """most solutions per PRM forward pass (default: 16 for a published PRM, 256 for a prmkit checkpoint)"""
    progress: bool = True
    """show progress bars"""

    def check(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"--method must be one of {sorted(METHODS)}")
        if self.method != "vote" and not self.prm:
            raise ValueError(
                f"--method {self.method} needs --prm (rule, noisy-rule:SIGMA or a PRM directory)"
            )
        super().check()

    def settings(self) -> SearchSettings:
        names = {f.name for f in dataclasses.fields(SearchSettings)}
        return SearchSettings(**{k: v for k, v in dataclasses.asdict(self).items() if k in names})


def run(cfg: Config) -> dict:
    problems = read_jsonl(cfg.problems, Problem.from_dict)
    policy = load_generator(cfg.policy)
    scorer = load_scorer(
        cfg.prm if cfg.method != "vote" else None,
        cfg.world,
        cfg.prm_format,
        cfg.prm_device,
        cfg.prm_dtype,
        cfg.prm_batch_size,
    )
    try:
        records, seconds = run_search(
            cfg.method, policy, scorer, problems, cfg.settings(), cfg.progress
        )
    except ValueError as e:  # e.g. a prompt the built-in tokenizer cannot encode
        raise InputError(str(e), cfg.problems) from None
    write_jsonl(cfg.out, records)
    kind = None if scorer is None else getattr(scorer, "kind", type(scorer).__name__)
    head = {
        "command": "search",
        "method": cfg.method,
        "label": records[0].label,
        "prm": cfg.prm if scorer else None,
        "prm_kind": kind,
    }
    head |= {"n": cfg.n, "out": cfg.out}
    return head | summarize(records, seconds)
