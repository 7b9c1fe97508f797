"""Reranking a file of solutions (`search --in`): tie-breaking, baselines, the CLI."""

import json
import random

import pytest
from conftest import last_json, run_cli

from prmkit.data import Sample, read_jsonl
from prmkit.search import SearchRecord
from prmkit.search.rerank import rerank
from prmkit.search.select import choice_probs, pick_best, pick_vote, pick_weighted, tie_ranks

Q = "Tom has 3 apples and buys 4 more. How many apples does he have?"
GOOD = ["3 + 4 = <<3+4=7>>7 apples.", "#### 7"]
SLIP = ["3 + 4 = <<3+4=8>>8 apples.", "#### 8"]  # a calculator error: rule:gsm8k sees it
LOGIC = ["3 * 4 = <<3*4=12>>12 apples.", "#### 12"]  # every annotation holds, answer wrong
CUT = ["3 + 4 = <<3+4=7>>7 apples."]  # no final answer


def test_rank_breaks_ties():
    assert pick_best(["1", "2", "3"], [1.0, 1.0, 0.0]) == 0
    assert pick_best(["1", "2", "3"], [1.0, 1.0, 0.0], rank=[2, 1, 0]) == 1
    assert pick_vote(["3", "4", "4", "3"], rank=[3, 1, 0, 2]) == 2  # "4" holds rank 0
    assert pick_weighted(["3", "4"], [0.5, 0.5], rank=[1, 0]) == 1
    ranks = tie_ranks(5, random.Random(0))
    assert sorted(ranks) == list(range(5))


def test_choice_probs_by_hand():
    # bon: two candidates tie at the top score; the answerless one never wins
    assert choice_probs("bon", ["7", "12", None, "8"], [1.0, 1.0, 1.0, 0.0]) == [0.5, 0.5, 0, 0]
    # vote: "7" x2 and "12" x2 tie; each answer 1/2, then its top-scored... all 1.0 -> 1/4 each
    assert choice_probs("vote", ["7", "12", "7", "12", "8"], None) == [0.25] * 4 + [0.0]
    # weighted: "7" = 0.5 + 0.5, "12" = 1.0 (one candidate): tie; n_7 = 2, n_12 = 1
    p = choice_probs("weighted-vote", ["7", "7", "12"], [0.5, 0.5, 1.0])
    assert p == pytest.approx([1 / 3, 1 / 3, 1 / 3])
    # weighted: "7" wins outright; its best-scored candidate is chosen
    assert choice_probs("weighted-vote", ["7", "7", "12"], [0.9, 0.5, 1.0]) == [1.0, 0.0, 0.0]
    # nobody states an answer: best score
    assert choice_probs("vote", [None, None], None) == [0.5, 0.5]


@pytest.mark.parametrize("method", ["bon", "vote", "weighted-vote"])
def test_seeded_choices_follow_choice_probs(method):
    from prmkit.search.sampled import choose

    answers = ["7", "7", "12", "12", "8", None]
    scores = [1.0, 0.5, 1.0, 0.5, 1.0, 1.0]
    probs = choice_probs(method, answers, scores)
    rng, counts, draws = random.Random(1), [0] * 6, 6000
    for _ in range(draws):
        counts[choose(method, answers, scores, tie_ranks(6, rng))] += 1
    assert sum(probs) == pytest.approx(1.0)
    for c, p in zip(counts, probs):
        assert c / draws == pytest.approx(p, abs=0.03)


def sample(pid, k, steps, reference="7", **kw):
    return Sample(id=f"{pid}-{k}", problem_id=pid, prompt=Q, reference=reference, steps=steps, **kw)


def write(path, samples):
    path.write_text("".join(json.dumps(s.to_dict()) + "\n" for s in samples))
    return path


def files(tmp_path):
    """Problem a: wrong answers listed first, so file order hurts; b: all right; c: all wrong."""
    rows = [
        sample("a", 0, LOGIC),
        sample("a", 1, SLIP),
        sample("a", 2, GOOD),
        sample("a", 3, CUT),
        sample("a", 4, GOOD),  # beyond --n 4
        sample("b", 0, GOOD),
        sample("b", 1, GOOD),
        sample("c", 0, SLIP),
        sample("c", 1, LOGIC),
    ]
    return write(tmp_path / "cands.jsonl", rows)


def test_rerank_cli_baselines_and_seeds(tmp_path, capsys):
    path = files(tmp_path)
    args = ["search", "--in", path, "--prm", "rule:gsm8k", "--world", "gsm8k", "--n", 4]
    args += ["--no-progress", "--out", tmp_path / "o.jsonl"]
    runs = {}
    for tb, seed in (("first", 0), ("random", 0), ("random", 1), ("random", 0)):
        code, out, err = run_cli(
            [*args, "--method", "bon", "--tie-break", tb, "--seed", seed], capsys
        )
        assert code == 0, err
        runs.setdefault((tb, seed), []).append(last_json(out))
    s = runs[("first", 0)][0]
    assert s["problems"] == 3 and s["candidates"] == 4 + 2 + 2
    # a: LOGIC and GOOD tie at score 1 (SLIP 0, CUT answerless): file order picks LOGIC
    recs = read_jsonl(tmp_path / "o.jsonl", SearchRecord.from_dict)
    assert s["accuracy"] == round(1 / 3, 4)  # only b, under file order
    assert s["expected_accuracy"] == pytest.approx(round((0.5 + 1 + 0) / 3, 4))
    assert s["first_sample"] == pytest.approx(round(1 / 3, 4))
    assert s["oracle"] == pytest.approx(round(2 / 3, 4))
    assert s["tie_dependent"] == pytest.approx(round(1 / 3, 4))
    # vote on a: 12, 8, 7 and no answer: a three-way tie, 1/3 expected
    assert s["vote_expected"] == pytest.approx(round((1 / 3 + 1 + 0) / 3, 4))
    assert s["prm_steps"] == 2 + 2 + 2 + 1 + 2 * 2 + 2 * 2 and s["prm_tokens"] > 0
    assert s["seconds"] >= 0
    assert recs[1].meta["pass_at_n"] and not recs[2].meta["pass_at_n"]
    a, b = runs[("random", 0)]
    assert a == b | {"seconds": a["seconds"]}  # the same seed, the same choices
    assert a["expected_accuracy"] == s["expected_accuracy"]  # the expectation has no seed


def test_rerank_expectation_ignores_file_order(tmp_path):
    rows = [sample("a", 0, LOGIC), sample("a", 1, GOOD), sample("a", 2, SLIP)]
    rows += [sample("b", k, x) for k, x in enumerate([LOGIC, LOGIC, GOOD, GOOD])]
    got = []
    for perm in (rows, rows[::-1]):
        recs, _ = rerank("weighted-vote", perm, _rule(), n=8, world="gsm8k", seed=3)
        got.append({r.problem_id: r.meta["expected_correct"] for r in recs})
    assert got[0] == got[1] == {"a": 0.5, "b": 0.5}


def _rule():
    from prmkit.prm.base import RulePRM

    return RulePRM("gsm8k")


def test_rerank_uses_stored_verdict_without_reference(tmp_path, capsys):
    rows = [
        sample("p", 0, LOGIC, reference="", correct=False),
        sample("p", 1, GOOD, reference="", correct=True),
    ]
    path = write(tmp_path / "pb.jsonl", rows)
    out = tmp_path / "o.jsonl"
    code, stdout, err = run_cli(
        ["search", "--in", path, "--method", "vote", "--world", "gsm8k", "--out", out], capsys
    )
    assert code == 0, err
    assert last_json(stdout)["oracle"] == 1.0 and last_json(stdout)["vote_expected"] == 0.5
    bad = write(tmp_path / "bad.jsonl", [sample("p", 0, GOOD, reference="")])
    code, _, err = run_cli(
        ["search", "--in", bad, "--method", "vote", "--world", "gsm8k", "--out", out], capsys
    )
    assert code == 2 and "bad.jsonl" in err and "cannot grade" in err


@pytest.mark.parametrize(
    "extra, says",
    [
        (["--method", "beam", "--prm", "rule"], "--in reranks with"),
        (["--method", "vote", "--policy", "x"], "do not apply"),
        (["--method", "vote", "--temperature", 0.5], "--temperature does not apply"),
        (["--method", "bon"], "needs --prm"),
    ],
)
def test_rerank_refuses_flags_it_would_ignore(tmp_path, capsys, extra, says):
    path = files(tmp_path)
    code, _, err = run_cli(["search", "--in", path, "--out", tmp_path / "o.jsonl", *extra], capsys)
    assert code == 2 and says in err


def test_search_without_in_or_policy_is_refused(tmp_path, capsys):
    code, _, err = run_cli(["search", "--method", "vote", "--out", tmp_path / "o"], capsys)
    assert code == 2 and "--policy and --problems" in err


def test_rerank_reads_real_answer_formats():
    """Four ways of stating 7 are one answer to vote on; 12 twice does not outvote them."""
    ends = ["#### 7", "The answer is 7.", "So the answer is $\\boxed{7}$.", "A: 7"]
    rows = [sample("f", k, [GOOD[0], end]) for k, end in enumerate(ends)]
    rows += [sample("f", 4 + k, LOGIC) for k in range(2)]
    (rec,), _ = rerank("vote", rows, None, n=6, world="gsm8k", seed=0)
    assert rec.answer == "7" and rec.correct and rec.meta["vote_expected"] == 1.0


def test_rerank_free_text_steps_and_uneven_groups(tmp_path, capsys):
    """Steps holding newlines (real solutions) are scored; a problem with fewer
    candidates than a curve size uses all it has, so the curve ends at the expectation."""
    multi = ["Tom has 3 apples.\nHe buys 4: 3 + 4 = <<3+4=7>>7.", "The answer is 7."]
    rows = [sample("m", 0, multi), sample("m", 1, LOGIC), sample("m", 2, GOOD)]
    rows += [sample("one", 0, LOGIC)]
    path = write(tmp_path / "c.jsonl", rows)
    args = ["search", "--in", path, "--method", "bon", "--prm", "rule:gsm8k", "--world", "gsm8k"]
    code, out, err = run_cli([*args, "--n", 4, "--out", tmp_path / "o.jsonl"], capsys)
    assert code == 0, err
    s = last_json(out)
    assert set(s["curve"]) == {"1", "2", "4"} and s["curve"]["4"] == s["expected_accuracy"]
    assert s["expected_accuracy"] == round((2 / 3 + 0) / 2, 4) and s["prm_tokens"] > 0


def test_rerank_toolqa_episodes(tmp_path, capsys):
    """A world with its own token budget (toolqa: 256) reranks a file; the flag is refused."""
    from prmkit.worlds import toolqa

    p = toolqa.generate(1, seed=3)[0]
    right = toolqa.solve(p["prompt"])
    wrong = toolqa.corrupt(p["prompt"], random.Random(0), "early")[0]
    rows = [
        Sample(id=f"t-{k}", problem_id="t", prompt=p["prompt"], reference=p["answer"], steps=s)
        for k, s in enumerate([wrong, right])
    ]
    path = write(tmp_path / "ep.jsonl", rows)
    args = ["search", "--in", path, "--method", "bon", "--prm", "rule", "--world", "toolqa"]
    code, out, err = run_cli([*args, "--out", tmp_path / "o.jsonl"], capsys)
    assert code == 0, err
    assert last_json(out)["accuracy"] == 1.0 and last_json(out)["oracle"] == 1.0
    code, _, err = run_cli([*args, "--out", tmp_path / "o.jsonl", "--max-new-tokens", 40], capsys)
    assert code == 2 and "--max-new-tokens does not apply" in err
