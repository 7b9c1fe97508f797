"""The toolqa look-alike benchmarks' data: made look-alike picks and named `get` actions."""

from __future__ import annotations

import json
import random
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from toolqa_corrupted import SLIPS, agent_slip, first_get_id, twin_pick  # noqa: E402
from toolqa_named import rewrite  # noqa: E402
from toolqa_pick_cut import cut  # noqa: E402

from prmkit.worlds.toolqa.task import generate, parse_prompt, solve  # noqa: E402
from prmkit.worlds.toolqa.verify import grade  # noqa: E402


def test_twin_pick_takes_the_other_listed_id():
    problems = generate(20, seed=0)
    rng, made = random.Random(0), 0
    for p in problems:
        steps = twin_pick(p["prompt"], rng)
        if steps is None:
            continue
        made += 1
        listed = re.findall(r"\b([A-Z]\d+)\b", steps[0].split(" => ", 1)[1])
        picked, right = first_get_id(steps), first_get_id(solve(p["prompt"]))
        assert picked in listed and picked != right
    assert made >= 10


def test_agent_slip_goes_wrong_at_the_calc_turn_only():
    rng, kinds, without = random.Random(0), set(), 0
    for p in generate(60, seed=1):
        made = agent_slip(p["prompt"], rng)
        if not parse_prompt(p["prompt"]).op:
            assert made is None
            without += 1
            continue
        steps, kind = made
        kinds.add(kind)
        expert = solve(p["prompt"])
        assert steps[:-2] == expert[:-2] and steps[-2] != expert[-2]
        g = grade(p["prompt"], p["answer"], steps)
        assert g.first_error == len(steps) - 2 and g.reason.startswith("calculation slip")
    assert kinds == set(SLIPS) and without > 0


def test_rewrite_names_listed_ids_only():
    record = {
        "prompt": "kb 1. From Defefi follow mayor; give the age.",
        "steps": [
            "search[Defefi] => L29 Defefi; L44 Defufi",
            "get[L44, mayor] => P18 Somu Boro",
            "get[P75, age] => 30",
            "get[P18, age] => 32",
            "answer[32] => done",
        ],
        "labels": {"first_error": 1},
    }
    record["turns"] = [
        dict(zip(("action", "observation"), s.split(" => ", 1))) for s in record["steps"]
    ]
    new = rewrite(record)
    assert new["steps"] == [
        "search[Defefi] => L29 Defefi; L44 Defufi",
        "get[L44 Defufi, mayor] => P18 Somu Boro",
        "get[P75, age] => 30",  # never listed: left as written
        "get[P18 Somu Boro, age] => 32",
        "answer[32] => done",
    ]
    assert [t["action"] for t in new["turns"]] == [s.split(" => ")[0] for s in new["steps"]]
    assert (
        new["labels"] == record["labels"]
        and record["steps"][1] == "get[L44, mayor] => P18 Somu Boro"
    )


def test_named_rejects_a_record_without_turns_with_file_and_line(tmp_path, monkeypatch, capsys):
    import toolqa_named

    src = tmp_path / "in.jsonl"
    src.write_text('{"steps": [], "turns": []}\n{"prompt": "x", "steps": []}\n')
    monkeypatch.setattr(sys, "argv", ["toolqa_named.py", str(src), str(tmp_path / "out.jsonl")])
    assert toolqa_named.main() == 2
    assert f"{src}:2: no turns" in capsys.readouterr().err
    assert not (tmp_path / "out.jsonl").exists()


def test_pick_cut_keeps_the_turns_up_to_the_first_get():
    steps = [
        "search[Defefi] => L29 Defefi; L44 Defufi",
        "get[L29, mayor] => P18 Somu Boro",
        "get[P18, age] => 32",
        "calc[32+1] => 34",
        "answer[34] => done",
    ]
    record = {
        "id": "a",
        "prompt": "kb 1. From Defefi follow mayor; give the age plus 1.",
        "steps": steps,
        "turns": [{"action": s} for s in steps],
        "labels": {"first_error": 3, "hard": [True, True, True, False, False]},
        "meta": {"status": ["ok", "ok", "ok", "error", "after_error"]},
    }
    r = cut(record)
    assert r["steps"] == steps[:2] and len(r["turns"]) == 2 and r["id"] == "a-pick"
    assert r["labels"] == {"first_error": -1, "hard": [True, True]}
    assert r["meta"]["status"] == ["ok", "ok"] and record["labels"]["first_error"] == 3
    wrong = dict(record, labels={"first_error": 1, "hard": [True, False, False, False, False]})
    assert cut(wrong)["labels"]["first_error"] == 1
    assert cut(dict(record, steps=["answer[3] => done"])) is None
    soft = [1.0, 0.25, 0.0, 0.0, 0.0]
    mc = dict(
        record, labels={"first_error": 2, "hard": [True, True, False, False, False], "soft": soft}
    )
    assert cut(mc)["labels"] == {"first_error": -1, "hard": [True, True], "soft": [1.0, 0.25]}


def test_pick_cut_rejects_an_unlabelled_record_with_file_and_line(tmp_path, monkeypatch, capsys):
    import toolqa_pick_cut

    src, dst = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    good = {"id": "a", "steps": ["answer[3] => done"], "labels": {"first_error": -1, "hard": [1]}}
    src.write_text(json.dumps(good) + '\n{"id": "b", "steps": ["search[X] => Y"]}\n')
    monkeypatch.setattr(sys, "argv", ["toolqa_pick_cut.py", str(src), str(dst)])
    assert toolqa_pick_cut.main() == 2
    assert f"{src}:2: no labels.hard" in capsys.readouterr().err
    assert not dst.exists()
    src.write_text(json.dumps(good) + "\n")
    assert toolqa_pick_cut.main() == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["dropped"] == 1


def _episode(i: str, made: str, first_error: int, n: int = 3, **prov) -> dict:
    hard = [k < first_error or first_error < 0 for k in range(n)]
    labels = {"first_error": first_error, "hard": hard, "provenance": prov}
    steps = [f"calc[{k}] => {k}" for k in range(n)]
    return {
        "id": i,
        "problem_id": "p",
        "prompt": "q",
        "reference": "0",
        "steps": steps,
        "labels": labels,
        "meta": {"made": made},
    }


def test_mc_agreement_by_kind_and_f1_of_the_labels(tmp_path, monkeypatch, capsys):
    import toolqa_mc_agreement

    exact = [
        _episode("a", "right", -1),
        _episode("b", "right", -1),
        _episode("c", "look-alike pick", 1),
        _episode("d", "look-alike pick", 1),
    ]
    # mc: a right (kept), b flagged at 0 (sooner), c matched, d recovered (never flagged)
    mc = [
        _episode("a", "", -1, k=4, temperature=0.6, rollouts=12),
        _episode("b", "", 0, k=4, temperature=0.6, rollouts=4),
        _episode("c", "", 1, k=4, temperature=0.6, rollouts=8),
        _episode("d", "", -1, k=4, temperature=0.6, rollouts=12),
    ]
    ex, mp = tmp_path / "exact.jsonl", tmp_path / "mc.jsonl"
    ex.write_text("".join(json.dumps(r) + "\n" for r in exact))
    mp.write_text("".join(json.dumps(r) + "\n" for r in mc))
    monkeypatch.setattr(sys, "argv", ["toolqa_mc_agreement.py", str(ex), str(mp)])
    assert toolqa_mc_agreement.main() == 0
    row = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["rows"][0]
    assert (row["k"], row["temperature"], row["rollouts"]) == (4, 0.6, 36)
    assert row["first_error_acc"] == 0.5
    assert row["labels_f1"] == 0.5  # wrong 1/2 and right 1/2 matched
    assert row["by_kind"]["right"] == {"n": 2, "acc": 0.5, "sooner": 1}
    assert row["by_kind"]["look-alike pick"] == {"n": 2, "acc": 0.5, "sooner": 0}


def test_mc_agreement_names_an_unknown_id(tmp_path, monkeypatch, capsys):
    import toolqa_mc_agreement

    ex, mp = tmp_path / "exact.jsonl", tmp_path / "mc.jsonl"
    ex.write_text(json.dumps(_episode("a", "right", -1)) + "\n")
    mp.write_text(json.dumps(_episode("z", "", -1)) + "\n")
    monkeypatch.setattr(sys, "argv", ["toolqa_mc_agreement.py", str(ex), str(mp)])
    assert toolqa_mc_agreement.main() == 2
    assert f"{mp}:1: sample id 'z' is not in the exact labels" in capsys.readouterr().err
    unlabelled = {k: v for k, v in _episode("a", "", -1).items() if k != "labels"}
    mp.write_text(json.dumps(unlabelled) + "\n")
    assert toolqa_mc_agreement.main() == 2
    assert f"{mp}:1: no labels" in capsys.readouterr().err


def test_mc_agreement_kind_of_a_sampled_episode_comes_from_the_verifier():
    from toolqa_mc_agreement import mistake_kind

    from prmkit.data import Sample

    sampled = _episode("a", "", 1, reason="wrong entity: C23 instead of C50")
    sampled["meta"] = {}
    assert mistake_kind(Sample.from_dict(sampled)) == "wrong entity"
    assert (
        mistake_kind(
            Sample.from_dict(dict(sampled, labels={**sampled["labels"], "first_error": -1}))
        )
        == "right"
    )
    assert mistake_kind(Sample.from_dict(_episode("b", "look-alike pick", 1))) == "look-alike pick"


def _mc(i: str, soft: list[float], seed: int, k: int = 4, policy: str = "agent") -> dict:
    hard = [v > 0 for v in soft]
    prov = {"method": "mc", "k": k, "rollouts": k * len(soft), "tokens": 10, "seed": seed}
    prov |= {"policy": policy, "temperature": 0.6, "max_new_tokens": 256}
    prov["estimator"] = "hard = soft > 0"
    first = hard.index(False) if False in hard else -1
    labels = {"first_error": first, "hard": hard, "soft": soft, "provenance": prov}
    return {"id": i, "prompt": "q", "steps": ["a", "b", "c"], "labels": labels}


def test_mc_merge_adds_rollouts_and_moves_the_first_error(tmp_path, monkeypatch, capsys):
    import mc_merge

    a, b, out = tmp_path / "a.jsonl", tmp_path / "b.jsonl", tmp_path / "m.jsonl"
    a.write_text(json.dumps(_mc("x", [0.5, 0.0, 0.0], 0)) + "\n")
    b.write_text(json.dumps(_mc("x", [0.25, 0.25, 0.0], 1, k=2)) + "\n")
    monkeypatch.setattr(sys, "argv", ["mc_merge.py", str(a), str(b), "--out", str(out)])
    assert mc_merge.main() == 0
    got = json.loads(out.read_text())["labels"]
    # k-weighted: (4 * 0.5 + 2 * 0.25) / 6, (0 + 2 * 0.25) / 6, 0
    assert got["soft"] == [2.5 / 6, 0.5 / 6, 0.0] and got["hard"] == [True, True, False]
    assert got["first_error"] == 2 and got["provenance"]["k"] == 6
    assert got["provenance"]["rollouts"] == 18 and got["provenance"]["seed"] == [0, 1]
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["first_error_changed"] == 1
    b.write_text(json.dumps(_mc("x", [0.25, 0.25, 0.0], 0)) + "\n")
    assert mc_merge.main() == 2
    assert "share a seed" in capsys.readouterr().err
    b.write_text(json.dumps(_mc("x", [0.25, 0.25, 0.0], 1, policy="other")) + "\n")
    assert mc_merge.main() == 2
    assert f"{b}:1: policy 'other' differs" in capsys.readouterr().err


def _scored(actions: list[str], first_error: int, reason: str | None, scores: list[float]):
    turns = [{"action": a, "observation": "x"} for a in actions]
    provenance = {"reason": reason} if reason else {}
    labels = {"first_error": first_error, "provenance": provenance}
    return {"turns": turns, "labels": labels, "meta": {"prm_scores": scores}}


def test_calc_turns_up_to_a_slip_and_not_past_another_error():
    from turn_prm_errors import calc_turns

    acts = ["search[A]", "get[P1, age]", "calc[70*4]", "answer[280]"]
    slip = _scored(acts, 2, "calculation slip: 70*4 = 280, not 68", [0.9, 0.8, 0.3, 0.2])
    assert calc_turns(slip) == [(0.3, False)]
    right = _scored(acts, -1, None, [0.9, 0.8, 0.7, 0.6])
    assert calc_turns(right) == [(0.7, True)]
    early = _scored(acts, 1, "wrong relation: 'age' instead of 'home'", [0.9, 0.2, 0.3, 0.2])
    assert calc_turns(early) == []
    late = _scored(acts, 3, "wrong answer", [0.9, 0.8, 0.7, 0.2])
    assert calc_turns(late) == [(0.7, True)]
