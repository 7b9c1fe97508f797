"""`--prm PRM+rule`: a PRM with a world's checker in front (`CheckedPRM`)."""

import json

import pytest
import torch
from bert_tiny import build_tiny_bert
from conftest import last_json, run_cli

from prmkit.data import InputError
from prmkit.prm.base import load_scorer
from prmkit.prm.encoder import EncoderScorer, EncoderStepModel
from prmkit.prm.rule import CheckedPRM, LocalRulePRM, RulePRM, split_checker

PROBLEM = "Tom has 3 bags of 4 apples and eats 2. How many are left?"
WRONG = ["He has 3 * 4 = 12 apples.", "After eating, 12 - 2 = 9 are left.", "The answer is 9."]
LATE = ["He has 3 * 4 = 13 apples.", "After eating, 13 - 2 = 11 are left.", "The answer is 11."]
RIGHT = ["He has 3 * 4 = 12 apples.", "After eating, 12 - 2 = 10 are left.", "The answer is 10."]


class Fixed:
    """A stand-in PRM: the same scores for every solution (cut to its steps)."""

    kind = "fixed"

    def __init__(self, row):
        self.row = row

    def score(self, items):
        return [self.row[: len(s)] for _, s in items]


def test_each_step_scores_the_lower_of_the_prm_and_the_checker():
    items = [(PROBLEM, WRONG), (PROBLEM, LATE), (PROBLEM, RIGHT)]
    got = CheckedPRM(Fixed([0.9, 0.8, 0.7]), RulePRM("gsm8k")).score(items)
    # WRONG's step 1 states 12 - 2 = 9: 0 from there on; LATE's error is in step 0;
    # RIGHT holds: the PRM's own scores stand
    assert got == [[0.9, 0.0, 0.0], [0.0, 0.0, 0.0], [0.9, 0.8, 0.7]]
    local = CheckedPRM(Fixed([0.9, 0.8, 0.7]), LocalRulePRM("gsm8k")).score(items)
    # each step judged on its own: LATE's step 1 (13 - 2 = 11) is true arithmetic
    assert local == [[0.9, 0.0, 0.7], [0.0, 0.8, 0.7], [0.9, 0.8, 0.7]]


def test_split_checker_takes_the_last_plus_and_rule_names_only():
    assert split_checker("runs/prm+rule") == ("runs/prm", "rule")
    assert split_checker("a+b/prm+local-rule:gsm8k") == ("a+b/prm", "local-rule:gsm8k")
    assert split_checker("runs/c++/prm") == ("runs/c++/prm", None)
    assert split_checker("runs/prm+x") == ("runs/prm+x", None)
    assert split_checker("rule:gsm8k") == ("rule:gsm8k", None)


def test_load_scorer_opens_the_prm_and_the_named_checker(tmp_path):
    bert = build_tiny_bert(tmp_path / "bert")
    torch.manual_seed(0)
    model = EncoderStepModel.from_pretrained(str(bert))
    prm_dir = model.save(tmp_path / "prm", {})
    scorer = load_scorer(f"{prm_dir}+rule:gsm8k")
    assert scorer.kind == "checked" and isinstance(scorer.checker, RulePRM)
    assert scorer.checker.world.__name__.endswith("gsm8k")
    items = [(PROBLEM.lower(), [s.lower() for s in WRONG])]
    plain = EncoderScorer(model).score(items)[0]
    assert scorer.score(items) == [[plain[0], 0.0, 0.0]]
    with pytest.raises(InputError, match="a PRM before the"):
        load_scorer("+rule:gsm8k")
    with pytest.raises(InputError, match="no such PRM directory"):
        load_scorer(f"{tmp_path / 'nothing'}+rule:gsm8k")


def _records():
    return [
        {"id": "a", "problem": PROBLEM, "steps": WRONG, "label": 1, "final_answer_correct": False},
        {"id": "b", "problem": PROBLEM, "steps": LATE, "label": 0, "final_answer_correct": False},
        {"id": "c", "problem": PROBLEM, "steps": RIGHT, "label": -1, "final_answer_correct": True},
    ]


def test_eval_and_score_take_a_checked_prm(tmp_path, capsys):
    path = tmp_path / "pb.json"
    path.write_text(json.dumps(_records()))
    # the rule PRM itself as the base: its checker world comes from the data (auto)
    code, out, err = run_cli(["eval", "processbench", "--prm", "rule+rule", "--data", path], capsys)
    assert code == 0, err
    s = last_json(out)
    assert s["kind"] == "checked" and s["world"] == "gsm8k" and s["f1"] == 1.0
    code, out, err = run_cli(
        ["score", "--prm", "rule+local-rule", "--world", "gsm8k", "--in", path]
        + ["--out", tmp_path / "s.jsonl"],
        capsys,
    )
    assert code == 0, err
    rows = [json.loads(x) for x in (tmp_path / "s.jsonl").read_text().splitlines()]
    assert [r["prm_scores"] for r in rows] == [[1, 0, 0], [0, 0, 0], [1, 1, 1]]
