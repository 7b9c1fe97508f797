"""Tiny random published-PRM folders, laid out as each published model's folder is.

Each builder returns (folder, model, tok): the in-memory model and tokenizer the
tests' reference recipes run on, independent of prmkit's loader.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

CORPUS = [
    "Janet has 16 eggs and eats 3, so 16 - 3 = 13 eggs are left.",
    "She bakes with 4 eggs, so 13 - 4 = 9 eggs; 9 * 2 = 18 dollars.",
    "Step 1: add 3 + 4 = 7 apples. Step 2: the answer is 18 + - + -",
    "The answer is: 18. So x = 5 and y = 2, then x - y = 3.",
]
LLAMA_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}<|start_header_id|>{{ m['role'] }}"
    "<|end_header_id|>\n\n{{ m['content'] }}<|eot_id|>{% endfor %}"
)
QWEN_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def bpe(specials: list[str], bos: str | None = None, vocab_size: int = 400):
    """A byte-level BPE tokenizer trained on CORPUS; `bos` is prepended by encode()."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=["<unk>", *specials],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(CORPUS * 10, trainer)
    if bos is not None:
        tok.post_processor = processors.TemplateProcessing(
            single=f"{bos} $A", special_tokens=[(bos, tok.token_to_id(bos))]
        )
    return tok


def fast(tok, **kw):
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(tokenizer_object=tok, model_max_length=kw.pop("ctx", 512), **kw)


SIZE = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2}
"""Backbone size of every builder; the benchmark makes it larger."""


def llama_cfg(tok, ctx: int = 512, **kw):
    from transformers import LlamaConfig

    return LlamaConfig(
        vocab_size=len(tok),
        **SIZE,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=ctx,
        initializer_range=0.2,
        pad_token_id=tok.pad_token_id,
        **kw,
    )


def qwen_cfg(tok, arch: str):
    from transformers import Qwen2Config

    cfg = Qwen2Config(
        vocab_size=len(tok),
        **SIZE,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=512,
        initializer_range=0.2,
    )
    cfg.architectures = [arch]
    return cfg


def math_shepherd(path: Path, seed: int = 0, ctx: int = 512):
    from transformers import LlamaForCausalLM

    t = bpe(["<s>", "</s>"], bos="<s>")
    t.add_tokens(["ки"])
    tok = fast(t, bos_token="<s>", eos_token="</s>", unk_token="<unk>", ctx=ctx)
    torch.manual_seed(seed)
    model = LlamaForCausalLM(llama_cfg(tok, ctx)).eval()
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return path, model, tok


def rlhflow(path: Path, seed: int = 0):
    from transformers import LlamaForCausalLM

    specials = ["<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]
    tok = fast(
        bpe(specials, bos="<|begin_of_text|>"),
        bos_token="<|begin_of_text|>",
        eos_token="<|eot_id|>",
        unk_token="<unk>",
    )
    tok.chat_template = LLAMA_TEMPLATE
    torch.manual_seed(seed)
    model = LlamaForCausalLM(llama_cfg(tok)).eval()
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return path, model, tok


def _qwen_tok(bos: str | None = None):
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<extra_0>"]
    kw = {"bos_token": bos} if bos else {}
    tok = fast(bpe(specials), eos_token="<|im_end|>", pad_token="<|endoftext|>", **kw)
    tok.chat_template = QWEN_TEMPLATE
    return tok


class QwenPRMRef(torch.nn.Module):
    """Qwen2ForProcessRewardModel as its modeling file builds it (`model` + `score`)."""

    def __init__(self, cfg) -> None:
        from transformers import Qwen2Model

        super().__init__()
        d = cfg.hidden_size
        self.model = Qwen2Model(cfg)
        self.score = torch.nn.Sequential(
            torch.nn.Linear(d, d), torch.nn.ReLU(), torch.nn.Linear(d, 2)
        )

    def forward(self, input_ids):
        return self.score(self.model(input_ids=input_ids).last_hidden_state)


def _save_with_config(path: Path, cfg, tok, state: dict, bin_file: bool = False) -> None:
    from safetensors.torch import save_file

    path.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous().clone() for k, v in state.items()}
    if bin_file:
        torch.save(state, path / "pytorch_model.bin")
    else:
        save_file(state, str(path / "model.safetensors"), metadata={"format": "pt"})
    cfg.save_pretrained(path)
    tok.save_pretrained(path)


def qwen_prm(path: Path, seed: int = 0, head: bool = True):
    tok = _qwen_tok()
    cfg = qwen_cfg(tok, "Qwen2ForProcessRewardModel")
    cfg.auto_map = {
        "AutoConfig": "configuration_qwen2_rm.Qwen2RMConfig",
        "AutoModel": "modeling_qwen2_rm.Qwen2ForProcessRewardModel",
    }
    torch.manual_seed(seed)
    model = QwenPRMRef(cfg).eval()
    state = {k: v for k, v in model.state_dict().items() if head or not k.startswith("score.")}
    _save_with_config(path, cfg, tok, state)
    return path, model, tok


class SkyworkRef(torch.nn.Module):
    """Skywork's PRM_MODEL: a causal LM and `v_head.summary`, a Linear(d, 1)."""

    def __init__(self, cfg) -> None:
        from transformers import Qwen2ForCausalLM

        super().__init__()
        self.pretrained_model = Qwen2ForCausalLM(cfg)
        self.v_head = torch.nn.Module()
        self.v_head.summary = torch.nn.Linear(cfg.hidden_size, 1)

    def forward(self, input_ids):
        out = self.pretrained_model(input_ids=input_ids, output_hidden_states=True)
        return self.v_head.summary(out.hidden_states[-1]).squeeze(-1).sigmoid()


def skywork(path: Path, seed: int = 0, head: bool = True):
    tok = _qwen_tok(bos="<|endoftext|>")
    cfg = qwen_cfg(tok, "Qwen2ForPrmModel")
    torch.manual_seed(seed)
    model = SkyworkRef(cfg).eval()
    state = dict(model.pretrained_model.state_dict())
    if head:
        state |= {f"v_head.{k}": v for k, v in model.v_head.state_dict().items()}
    _save_with_config(path, cfg, tok, state, bin_file=True)
    return path, model, tok


def trl(path: Path, seed: int = 0):
    from transformers import LlamaForTokenClassification

    tok = fast(bpe(["<s>", "</s>", "<pad>"]), bos_token="<s>", eos_token="</s>", pad_token="<pad>")
    torch.manual_seed(seed)
    model = LlamaForTokenClassification(llama_cfg(tok, num_labels=2)).eval()
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return path, model, tok


def drop_keys(path: Path, prefix: str) -> None:
    """Remove the tensors under `prefix` from a folder's model.safetensors."""
    from safetensors.torch import load_file, save_file

    f = path / "model.safetensors"
    state = {k: v for k, v in load_file(str(f)).items() if not k.startswith(prefix)}
    save_file(state, str(f), metadata={"format": "pt"})


def config(path: Path) -> dict:
    return json.loads((path / "config.json").read_text())
