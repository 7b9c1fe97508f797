"""Decoded trainer text back into a problem and a response, as a PRM needs them.

RL trainers hand a reward model decoded token ids: OpenRLHF decodes prompt and response
with the special tokens kept (left padding, a beginning-of-sequence token, the chat
template's markers, the end-of-sequence token); verl decodes the chat-templated prompt.
A PRM wants the problem as the user wrote it and the response's steps. This module
finds them with what the tokenizer itself says: its special tokens, and where its chat
template puts the user's message (learnt by rendering a probe message).

Only strings cross this module's functions, so they are tested without any model; a
tokenizer is read once by `TextCleaner.from_tokenizer`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from prmkit.models.steps import STEP_SEP, split_steps

_PROBE = "PRMKIT-PROBE-7f3a"


def special_strings(tok) -> list[str]:
    """The tokenizer's special tokens as text (pad, bos, eos, chat markers), longest first."""
    names = set(getattr(tok, "all_special_tokens", []) or [])
    for t in (getattr(tok, "added_tokens_decoder", None) or {}).values():
        if getattr(t, "special", False):
            names.add(str(t))
    return sorted((n for n in names if n), key=len, reverse=True)


def strip_specials(text: str, specials: list[str]) -> str:
    """`text` with every occurrence of every special token removed."""
    for s in specials:
        text = text.replace(s, "")
    return text


def _last_special_end(text: str, specials: list[str]) -> int:
    """The index just past the last special token in `text` (0 if none)."""
    end = 0
    for s in specials:
        i = text.rfind(s)
        if i >= 0:
            end = max(end, i + len(s))
    return end


@dataclass
class ChatMarkers:
    """Where a chat template puts the last user message of a generation prompt.

    A rendered prompt ends `... <special> head USER_MESSAGE generation`: `head` is the
    text between the template's last special token and the message ("user\\n" for
    ChatML, "\\n\\n" for Llama 3), `generation` what follows the message up to where
    the assistant's answer starts ("<|im_end|>\\n<|im_start|>assistant\\n").
    """

    head: str
    generation: str

    @classmethod
    def from_tokenizer(cls, tok, specials: list[str]) -> ChatMarkers | None:
        """Learn the markers by rendering one probe message; None without a chat template."""
        if not getattr(tok, "chat_template", None):
            return None
        text = tok.apply_chat_template(
            [{"role": "user", "content": _PROBE}], tokenize=False, add_generation_prompt=True
        )
        if not isinstance(text, str) or text.count(_PROBE) != 1:
            return None
        before, after = text.split(_PROBE)
        head = before[_last_special_end(before, specials) :]
        return cls(head=head, generation=after) if after.strip() else None


def user_message(prompt: str, markers: ChatMarkers, specials: list[str]) -> str:
    """The last user message of a chat-templated generation prompt.

    The prompt's trailing generation marker is dropped; the message is what follows the
    last special token, without the template's head.
    """
    body = prompt
    if markers.generation and body.endswith(markers.generation):
        body = body[: -len(markers.generation)]
    msg = body[_last_special_end(body, specials) :]
    if markers.head and msg.startswith(markers.head):
        msg = msg[len(markers.head) :]
    return strip_specials(msg, specials).strip()


@dataclass
class TextCleaner:
    """What a tokenizer says about its decoded text: special tokens and chat markers."""

    specials: list[str] = field(default_factory=list)
    markers: ChatMarkers | None = None

    @classmethod
    def from_tokenizer(cls, tok) -> TextCleaner:
        specials = special_strings(tok)
        return cls(specials, ChatMarkers.from_tokenizer(tok, specials))

    def clean(self, text: str) -> str:
        """Text with the special tokens removed."""
        return strip_specials(text, self.specials)

    def problem(self, prompt: str) -> str:
        """The problem in a (possibly chat-templated, padded) prompt."""
        if self.markers is not None and self.markers.generation.strip() in prompt:
            return user_message(prompt, self.markers, self.specials)
        return self.clean(prompt).strip()

    def split(self, query: str, prompt: str | None) -> tuple[str, str] | None:
        """(problem, response) of a decoded prompt + response, or None if not found.

        With a chat template, the response starts after the query's last generation
        marker and the problem is the user message before it. Otherwise, with the
        special tokens removed from both, the response follows the first occurrence of
        the prompt in the query (which may be preceded by padding).
        """
        m = self.markers
        if m is not None and m.generation in query:
            i = query.rindex(m.generation)
            head = query[: i + len(m.generation)]
            return user_message(head, m, self.specials), self.clean(query[i + len(m.generation) :])
        if prompt is None:
            return None
        q, p = self.clean(query), self.clean(prompt)
        i = q.find(p) if p else -1
        if i < 0:
            return None
        return self.problem(prompt), q[i + len(p) :]


def load_text_tokenizer(path: str | Path):
    """A Hugging Face tokenizer from a local folder (never downloaded), or None if the
    folder holds none."""
    from transformers import AutoTokenizer

    p = Path(path)
    if not p.is_dir() or not any(
        (p / f).exists() for f in ("tokenizer.json", "tokenizer_config.json", "tokenizer.model")
    ):
        return None
    return AutoTokenizer.from_pretrained(str(p), local_files_only=True)


def decode_pieces(decode, ids: list[int], window: int = 6) -> list[str]:
    """The text each token adds to the decoded sequence (special tokens add nothing).

    decode: ids -> text with special tokens left out (`Generator.decode`, or a
    tokenizer's decode with skip_special_tokens). Incremental detokenisation: token
    i's piece is decode(ids[i-w..i]) minus decode(ids[i-w..i-1]), a short window that
    covers merged bytes and leading spaces.
    """
    out = []
    for i in range(len(ids)):
        lo = max(0, i - window)
        prev, cur = decode(ids[lo:i]), decode(ids[lo : i + 1])
        out.append(cur[len(prev) :] if cur.startswith(prev) else cur)
    return out


def split_query(
    query: str, prompt: str | None, sep: str = STEP_SEP, cleaner: TextCleaner | None = None
) -> tuple[str, list[str]]:
    """(problem, steps) from an OpenRLHF query (prompt + response, decoded with the
    special tokens kept).

    `cleaner` knows the policy tokenizer's special tokens and chat template: with a chat
    template the response follows the last generation marker and the problem is the
    user message; otherwise the response follows the prompt wherever it occurs in the
    query (left padding may come first). Special tokens are removed from both. A prompt
    the query does not contain leaves the whole query as the response; without a
    prompt, the first line is the problem and the remaining lines the response. The
    response is split into steps at the separator, blank lines dropped.
    """
    cleaner = cleaner or TextCleaner()
    found = cleaner.split(query, prompt)
    if found is not None:
        problem, response = found
        return problem, split_steps(response, sep)
    q = cleaner.clean(query)
    if prompt is None:
        head, _, rest = q.partition(sep)
        return head.strip(), split_steps(rest, sep)
    return cleaner.problem(prompt), split_steps(q, sep)
