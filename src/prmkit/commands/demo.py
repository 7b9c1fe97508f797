"""Run the whole pipeline on the built-in arithmetic world and write a report.

world -> policy -> samples -> step labels -> PRM -> search -> RL; the report is
report.md, PNG plots and summary.json in --out. With --real, the real-text track on
GSM8K and ProcessBench instead; with --agent, the agent track on the tool-use world.
The stages live in `prmkit.demo`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from prmkit.demo import run_demo
from prmkit.demo.agent import run_agent
from prmkit.demo.real import run_real


@dataclass
class Config:
    RANGES: ClassVar[dict[str, str]] = {"seed": ">= 0"}
    """ranges of the numeric settings (prmkit.ranges), checked before a run"""
    out: str = "demo"
    """output directory: report.md, *.png, summary.json and every artifact"""
    quick: bool = False
    """a smaller, faster run (about a third of the time)"""
    seed: int = 0
    """random seed for every stage"""
    progress: bool = True
    """show progress bars"""
    agent: bool = False
    """the agent track instead: a built-in agent on the tool-use world (toolqa), turn labels, a turn-level PRM, best-of-N against beam over turns (docs/demo-agent.md); with --quick a smoke run of a minute"""
    real: bool = False
    """the real-text track instead: perturbation labels on GSM8K, an all-MiniLM-L6-v2 encoder PRM, ProcessBench gsm8k (docs/prm-realtext.md); needs --gsm8k and --processbench"""
    gsm8k: str = ""
    """--real: GSM8K train JSONL (question, answer with calculator annotations)"""
    processbench: str = ""
    """--real: ProcessBench's gsm8k.json"""
    init: str = "minilm"
    """--real: the encoder (minilm, or a local BERT-style folder)"""

    def check(self) -> None:
        if self.agent and self.real:
            raise ValueError("--agent and --real are separate tracks: give one")
        if not self.real and (self.gsm8k or self.processbench or self.init != "minilm"):
            raise ValueError("--gsm8k, --processbench and --init belong to --real")


def run(cfg: Config) -> dict:
    if cfg.real:
        return {"command": "demo"} | run_real(cfg)
    if cfg.agent:
        return {"command": "demo"} | run_agent(cfg.out, cfg.quick, cfg.seed, cfg.progress)
    return {"command": "demo"} | run_demo(cfg.out, cfg.quick, cfg.seed, cfg.progress)
