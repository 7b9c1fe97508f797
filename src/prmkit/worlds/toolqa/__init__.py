"""The built-in tool-use world: multi-hop questions over a generated knowledge base.

    prompt: "kb 12. From Mara Quill follow employer; give the age plus 7."
    turns:  ["search[Mara Quill] => P17 Mara Quill; P42 Mara Quell",
             "get[P17, employer] => C55 Vexor Labs", "get[C55, ...] ...", ...,
             "calc[41+7] => 48", "answer[48] => done"]

`grade` is the one grader (the exact turn-level verifier), `observe` the environment.
Imports nothing else of prmkit.
"""

from prmkit.worlds.base import same_text as same_answer
from prmkit.worlds.toolqa.kb import (
    OBS_ANSWER,
    TOOLS,
    build,
    environment_of,
    observe,
    parse_action,
)
from prmkit.worlds.toolqa.render import named_steps
from prmkit.worlds.toolqa.task import (
    MISTAKES,
    NAME,
    TURN_SEP,
    TURNS,
    Difficulty,
    Task,
    add_noop,
    corrupt,
    generate,
    is_prompt,
    parse_prompt,
    solve,
    split_turn,
    turn,
)
from prmkit.worlds.toolqa.verify import extract_answer, grade, judge, local_errors

MAX_NEW_TOKENS = 256
"""The policy tokens an episode gets by default (`prmkit sample`): up to 8 tool calls of
about 15 characters each, with room for mistakes and redundant lookups (observations
are not counted)."""


def environment(question: str):
    """The environment a question is asked in: action -> (observation, episode over)."""
    task = parse_prompt(question)
    return environment_of(task.kb_seed, task.kb_scale)


__all__ = [
    "MAX_NEW_TOKENS",
    "MISTAKES",
    "NAME",
    "OBS_ANSWER",
    "TOOLS",
    "TURN_SEP",
    "TURNS",
    "Difficulty",
    "Task",
    "add_noop",
    "build",
    "corrupt",
    "environment",
    "extract_answer",
    "generate",
    "grade",
    "is_prompt",
    "judge",
    "local_errors",
    "named_steps",
    "observe",
    "parse_action",
    "parse_prompt",
    "same_answer",
    "solve",
    "split_turn",
    "turn",
]
