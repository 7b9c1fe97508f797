"""How each published PRM lays a solution out in tokens, as its model card does.

Every recipe turns (problem, steps) into `Encoded`: the token ids of the whole
solution, and for each step the position whose output scores it. All five models
are causal, so the output at a step's position sees the problem and steps 1..k only:
one forward pass over the whole solution gives what the cards compute prefix by
prefix (`PublishedScorer.score_per_prefix` is that per-prefix reference).

- Math-Shepherd (Wang et al. 2024; peiyi9979/math-shepherd-mistral-7b-prm):
  `f"{question} {output}"`, output = lines `Step i: <step> ки` joined by "\\n",
  encoded with the tokenizer's specials; read every `ки` token (the last id of
  `encode("ки")`); P(good) = softmax over the logits of `encode("+ -")[1:]`, first.
- RLHFlow (RLHFlow/Llama3.1-8B-PRM-*, math-rm/prm_evaluate.py): a chat in which
  user turn k holds step k (turn 1: `question + " " + step`), each answered by an
  assistant "+"; the chat template renders it (tokenized without adding special
  tokens, as `apply_chat_template` does); the step's score is read 3 tokens before
  the end of the chat up to its "+" (the position that predicts "+");
  P(good) = softmax over the logits of `encode("+")[-1]`, `encode("-")[-1]`, first.
- Qwen2.5-Math-PRM (Zhang et al. 2025; Qwen/Qwen2.5-Math-PRM-7B): system prompt,
  user question, assistant turn = steps joined and ended by `<extra_0>`, rendered
  by the chat template, encoded; read every `<extra_0>`; P(good) = softmax over the
  two labels of the token-classification head, second.
- Skywork-o1-Open-PRM (skywork-o1-prm-inference, `prepare_input`):
  `encode(bos_token + question + "\\n")`, then per step `encode(step)` plus the id of
  "\\n"; read each step's "\\n"; P(good) = sigmoid of the value head.
- TRL PRMTrainer output (`PRMTrainer.tokenize_row`): [BOS] + prompt + per step its
  tokens and the separator's (default "\\n"), no special tokens; read each step's
  last separator token; P(good) = softmax over the two labels, second.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from prmkit.data import InputError
from prmkit.prm.tagging import StepFormat, tag_steps

QWEN_SYSTEM = "Please reason step by step, and put your final answer within \\boxed{}."
"""The system prompt of Qwen2.5-Math-PRM's model card."""

_NUMBERED = re.compile(r"^Step \d+:")


@dataclass
class Encoded:
    """ids: (T,) the solution's tokens; reads: (n_steps,) the position scoring each step."""

    ids: list[int]
    reads: list[int]


def _ids(tok: Any, text: str, special: bool) -> list[int]:
    return list(tok(text, add_special_tokens=special)["input_ids"])


def _positions_of(ids: list[int], token: int, n_steps: int, what: str) -> list[int]:
    reads = [p for p, t in enumerate(ids) if t == token]
    if len(reads) != n_steps:
        raise ValueError(
            f"{n_steps} steps encode to {len(reads)} {what} tokens (does a step contain {what!r}?)"
        )
    return reads


class MathShepherd:
    name = "math-shepherd"
    head = "lm"

    def __init__(self, tok: Any) -> None:
        self.tok = tok
        cand = tok.encode("+ -")[1:]
        if len(cand) != 2:
            raise InputError(
                f"Math-Shepherd reads encode('+ -')[1:] as the +/- tokens; this tokenizer "
                f"gives {cand}"
            )
        self.candidates = cand  # [good, bad]
        self.tag_id = tok.encode("ки")[-1]

    def text(self, prompt: str, steps: list[str]) -> str:
        lines = []
        for i, step in enumerate(steps, 1):
            s = step.strip()
            lines.append(f"{s if _NUMBERED.match(s) else f'Step {i}: {s}'} ки")
        return f"{prompt} " + "\n".join(lines)

    def encode(self, prompt: str, steps: list[str]) -> Encoded:
        ids = list(self.tok.encode(self.text(prompt, steps)))
        return Encoded(ids, _positions_of(ids, self.tag_id, len(steps), "ки"))


def _need_template(tok: Any, name: str) -> None:
    if not getattr(tok, "chat_template", None):
        raise InputError(f"the {name} recipe needs the tokenizer's chat template; it has none")


class RLHFlow:
    name = "rlhflow"
    head = "lm"

    def __init__(self, tok: Any) -> None:
        _need_template(tok, "RLHFlow")
        self.tok = tok
        self.candidates = [tok.encode("+")[-1], tok.encode("-")[-1]]

    def chat(self, prompt: str, steps: list[str]) -> list[dict]:
        conv = []
        for k, step in enumerate(steps):
            text = f"{prompt} {step.strip()}" if k == 0 else step.strip()
            conv += [{"role": "user", "content": text}, {"role": "assistant", "content": "+"}]
        return conv

    def encode(self, prompt: str, steps: list[str]) -> Encoded:
        conv = self.chat(prompt, steps)
        texts = [
            self.tok.apply_chat_template(conv[: 2 * k], tokenize=False)
            for k in range(1, len(steps) + 1)
        ]
        prefixes = self.tok(texts, add_special_tokens=False)["input_ids"] if texts else [[]]
        ids = list(prefixes[-1])
        for prefix in prefixes:
            if ids[: len(prefix)] != prefix:
                raise ValueError(
                    "the chat template renders a shorter chat as something other than a prefix "
                    "of the longer one, so one pass cannot score every step"
                )
        return Encoded(ids, [len(p) - 3 for p in prefixes] if texts else [])


class QwenPRM:
    name = "qwen-prm"
    head = "cls"

    def __init__(self, tok: Any) -> None:
        _need_template(tok, "Qwen2.5-Math-PRM")
        self.tok = tok
        self.sep_id = tok.encode("<extra_0>")[0]

    def chat(self, prompt: str, steps: list[str]) -> list[dict]:
        return [
            {"role": "system", "content": QWEN_SYSTEM},
            {"role": "user", "content": prompt},
            {"role": "assistant", "content": "<extra_0>".join(steps) + "<extra_0>"},
        ]

    def encode(self, prompt: str, steps: list[str]) -> Encoded:
        text = self.tok.apply_chat_template(
            self.chat(prompt, steps), tokenize=False, add_generation_prompt=False
        )
        ids = list(self.tok.encode(text))
        return Encoded(ids, _positions_of(ids, self.sep_id, len(steps), "<extra_0>"))


class Skywork:
    name = "skywork"
    head = "value"

    def __init__(self, tok: Any) -> None:
        if tok.bos_token is None:
            raise InputError(
                "the Skywork recipe starts with the tokenizer's bos_token; it has none"
            )
        self.tok = tok
        self.step_id = tok.encode("\n")[-1]

    def encode(self, prompt: str, steps: list[str]) -> Encoded:
        ids = list(self.tok.encode(self.tok.bos_token + prompt + "\n"))
        reads = []
        for step in steps:
            ids += list(self.tok.encode(step)) + [self.step_id]
            reads.append(len(ids) - 1)
        return Encoded(ids, reads)


class TRLTokenClassification:
    name = "trl"
    head = "cls"

    def __init__(self, tok: Any, separator: str = "\n") -> None:
        self.tok = tok
        self.fmt = StepFormat(tag=separator, prompt_sep="", bos=True)

    def encode(self, prompt: str, steps: list[str]) -> Encoded:
        t = tag_steps(self.tok, prompt, steps, self.fmt)
        return Encoded(t.input_ids, t.tag_positions)


RECIPES = {r.name: r for r in (MathShepherd, RLHFlow, QwenPRM, Skywork, TRLTokenClassification)}
"""The published formats, by the name `--prm-format` takes."""
