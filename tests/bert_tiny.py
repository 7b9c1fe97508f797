"""Build a tiny random BERT encoder with a character-level WordPiece vocabulary."""

from __future__ import annotations

import string
from pathlib import Path


def build_tiny_bert(path: Path, seed: int = 0, max_positions: int = 512) -> Path:
    import torch
    from transformers import BertConfig, BertModel, BertTokenizer

    chars = [c for c in string.printable if not c.isspace() and not c.isupper()]
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + chars + ["##" + c for c in chars]
    path.mkdir(parents=True, exist_ok=True)
    (path / "vocab.txt").write_text("\n".join(vocab) + "\n")
    tok = BertTokenizer(vocab_file=str(path / "vocab.txt"), model_max_length=max_positions)
    torch.manual_seed(seed)
    cfg = BertConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=3,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=max_positions,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )
    BertModel(cfg).save_pretrained(path)
    tok.save_pretrained(path)
    return path
