"""prmkit's verl reward manager on a hand-built two-row batch (docs/rl-integrations.md).

Needs verl (pip install verl); run from the repository root. The tokenizer is a
character-level one built on the spot, so every character is one token.
"""

import sys

sys.path.insert(0, "tests")  # the tiny tokenizer builder
from pathlib import Path

import numpy as np
import torch
from hf_tiny import build_chat_tokenizer
from verl import DataProto

from prmkit.rl.verl_reward import PrmkitRewardManager

rows = [  # (problem, response, reference answer)
    ("Start with 7, then +5, *3, -4.", "7+5=12\n12*3=35\n35-4=31\nAnswer: 31", "32"),
    ("Start with 3, then *2.", "3*2=6\nAnswer: 6", "6"),
]
tok = build_chat_tokenizer(Path("/tmp/char-tok"), [p + r for p, r, _ in rows], vocab_size=262)
prompts, responses = [], []
for problem, response, _ in rows:
    chat = [{"role": "user", "content": problem}]
    text = tok.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
    prompts.append(tok(text, add_special_tokens=False)["input_ids"])
    responses.append(tok(response, add_special_tokens=False)["input_ids"] + [tok.eos_token_id])
P, T, pad = max(map(len, prompts)), 36, tok.pad_token_id
left = torch.tensor([[pad] * (P - len(p)) + p for p in prompts])
right = torch.tensor([r + [pad] * (T - len(r)) for r in responses])
mask = torch.tensor(
    [
        [0] * (P - len(p)) + [1] * len(p) + [1] * len(r) + [0] * (T - len(r))
        for p, r in zip(prompts, responses)
    ]
)
data = DataProto.from_dict(
    tensors={
        "prompts": left,
        "responses": right,
        "input_ids": torch.cat([left, right], 1),
        "attention_mask": mask,
    },
    non_tensors={
        "data_source": np.array(["arithmetic"] * 2, dtype=object),
        "reward_model": np.array([{"ground_truth": a} for _, _, a in rows], dtype=object),
        "extra_info": np.array([{} for _ in rows], dtype=object),
    },
)
for credit in ("min", "sum", "delta", "clip"):
    m = PrmkitRewardManager(tokenizer=tok, prm="local-rule", credit=credit, outcome_weight=0.5)
    out = m(data, return_dict=True)
    r = out["reward_tensor"]
    print(
        credit,
        {
            b: {t: round(float(r[b, t]), 3) for t in r[b].nonzero().flatten().tolist()}
            for b in range(2)
        },
    )
print(out["reward_extra_info"])
