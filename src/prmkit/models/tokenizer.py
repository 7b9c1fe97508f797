"""A character-level tokenizer for the built-in models: printable ASCII plus newline.

Ids 0..7 are special tokens; the step-end tag STEP is reserved for PRMs that place a
tag after each step. Characters outside the vocabulary raise: silent loss of text
would corrupt labels downstream.
"""

from __future__ import annotations

SPECIALS = ["<pad>", "<bos>", "<eos>", "<step>", "<good>", "<bad>", "<r1>", "<r2>"]
CHARS = "\n" + "".join(chr(c) for c in range(32, 127))


class CharTokenizer:
    pad_id, bos_id, eos_id, step_id, good_id, bad_id = 0, 1, 2, 3, 4, 5

    def __init__(self) -> None:
        self.itos = SPECIALS + list(CHARS)
        self.stoi = {ch: i for i, ch in enumerate(CHARS, start=len(SPECIALS))}
        self.newline_id = self.stoi["\n"]

    @property
    def vocab_size(self) -> int:
        return len(self.itos)

    def encode(self, text: str) -> list[int]:
        try:
            return [self.stoi[ch] for ch in text]
        except KeyError as e:
            raise ValueError(
                f"character {e.args[0]!r} is outside the built-in tokenizer's vocabulary "
                "(printable ASCII and newline)"
            ) from None

    def decode(self, ids: list[int]) -> str:
        # Special tokens decode to nothing: they are never part of the text.
        n = len(SPECIALS)
        return "".join(self.itos[i] for i in ids if i >= n)
