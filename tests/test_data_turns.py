import json

import pytest

from prmkit.data import InputError, Problem, Sample, Turn, loss_mask, read_jsonl, render_turns
from prmkit.data.turns import TURN_SEP, split_step
from prmkit.grade import graded_sample
from prmkit.worlds import toolqa


def test_render_and_mask_cover_actions_only():
    turns = [Turn("search[Ann Bo]", "P12 Ann Bo"), Turn("answer[3]", "done")]
    text, spans = render_turns("Q?", turns)
    assert text == "Q?\nsearch[Ann Bo] => P12 Ann Bo\nanswer[3] => done\n"
    assert [text[a:b] for a, b in spans] == ["search[Ann Bo]", "answer[3]"]
    chars = [(i, i + 1) for i in range(len(text))]
    mask = loss_mask(chars, spans)
    assert "".join(c for c, m in zip(text, mask) if m) == "search[Ann Bo]answer[3]"
    # a BOS token (0, 0), a token straddling action and observation, a multi-char action token
    start = spans[0][0]
    offs = [
        (0, 0),
        (start, start + 6),
        (spans[0][1] - 1, spans[0][1] + 2),
        (spans[1][0], spans[1][1] + 1),
    ]
    assert loss_mask(offs, spans) == [False, True, False, False]


def test_split_step_and_turn_step_round_trip():
    assert split_step("get[P1, age] => 40") == Turn("get[P1, age]", "40")
    assert split_step("get[P1, age]") == Turn("get[P1, age]", "")
    assert Turn("get[P1, age]", "").step() == "get[P1, age]"
    assert TURN_SEP == toolqa.TURN_SEP  # the world writes the format the data model reads


def _sample_dict():
    p = toolqa.generate(1, seed=0)[0]
    s = graded_sample(Problem.from_dict(p), toolqa.solve(p["prompt"]), "s0", "toolqa")
    assert s.correct and s.turns is not None and len(s.turns) == len(s.steps)
    return s.to_dict()


def test_trajectory_sample_round_trips_and_steps_files_still_read(tmp_path):
    d = _sample_dict()
    assert Sample.from_dict(json.loads(json.dumps(d))).to_dict() == d
    no_steps = {k: v for k, v in d.items() if k != "steps"}
    assert Sample.from_dict(no_steps).steps == d["steps"]
    plain = {k: v for k, v in d.items() if k != "turns"}
    assert (
        Sample.from_dict(plain).turns is None and "turns" not in Sample.from_dict(plain).to_dict()
    )


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda d: d.update(turns=[]), "field 'turns' must be a non-empty list"),
        (lambda d: d["turns"][0].pop("observation"), "must be an object with action and obs"),
        (lambda d: d["turns"][1].update(action=3), "action and observation must be strings"),
        (lambda d: d["turns"][0].update(observation="a\nb"), "contains a line break"),
        (lambda d: d["turns"][0].update(observation="a => b"), "observation contains '=>'"),
        (lambda d: d["turns"].pop(), "turns for"),
        (lambda d: d["turns"][2].update(action="get[X, y]"), "turns[2] does not match steps[2]"),
    ],
)
def test_malformed_trajectory_gets_file_and_line(tmp_path, edit, message):
    good, bad = _sample_dict(), _sample_dict()
    edit(bad)
    path = tmp_path / "t.jsonl"
    path.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n")
    with pytest.raises(InputError) as e:
        read_jsonl(path, Sample.from_dict)
    assert str(e.value).startswith(f"{path}:2: ") and message in str(e.value)
