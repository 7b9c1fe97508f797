"""Labeling methods against hand-computed cases: a scripted oracle policy makes the
Monte Carlo values exact, so mc, omega and progress labels can be checked exactly."""

import dataclasses
import random

import pytest
import torch

from prmkit.data import Sample
from prmkit.data.formats import hard_from_first_error
from prmkit.grade import graded_sample
from prmkit.label import METHODS, LabelContext
from prmkit.label.base import ItemError, Probe
from prmkit.label.omega import Search, shared_steps, update, waves
from prmkit.label.options import OmegaOptions
from prmkit.label.progress import advantages
from prmkit.models.generator import Generation, TextGenerator
from prmkit.models.sampling import derive_seed
from prmkit.models.steps import split_steps
from prmkit.worlds import arithmetic as A

PROMPT = "Start with 7, then +5, *3, -4."


@pytest.fixture()
def one_thread():
    """Tiny models run fastest on one thread (and never oversubscribe a busy machine)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)  # 7+5=12, 12*3=36, 36-4=32


class OraclePolicy(TextGenerator):
    """A scripted policy for the arithmetic world.

    From a prefix with no error it finishes the canonical solution with probability
    p_ok (else answers -1); from a prefix with an error it always answers -1. Rollout j
    of a prompt is drawn from its per-prompt seed, like the built-in policy. Records
    every generate call.
    """

    step_sep = "\n"

    def __init__(self, p_ok: float = 1.0) -> None:
        self.p_ok = p_ok
        self.calls: list[int] = []

    def generate(self, prompts, params):
        self.calls.append(len(prompts))
        out = []
        for i, text in enumerate(prompts):
            prompt, _, rest = text.partition("\n")
            steps = split_steps(rest)
            g = A.grade(prompt, "", steps, partial=True)
            canon = A.solve(prompt)
            n_ok = sum(st == "ok" for st in g.status)
            gens = []
            for j in range(params.n):
                rng = random.Random(derive_seed(params.seeds[i], j))
                good = g.first_error < 0 and rng.random() < self.p_ok
                cont = canon[n_ok:] if good else ["Answer: -1"]
                t = "".join(s + "\n" for s in cont)
                gens.append(Generation(t, cont, [0] * len(t), [0.0] * len(t), True))
            out.append(gens)
        return out


def sample(steps, sid="s", prompt=PROMPT, answer="32"):
    from prmkit.data import Problem

    return graded_sample(Problem(sid, prompt, answer), steps, sid)


SAMPLES = [
    sample(["7+5=12", "12*3=36", "36-4=32", "Answer: 32"], "right"),
    sample(["7+5=12", "12*3=35", "35-4=31", "Answer: 31"], "slip1"),
    sample(["7+5=13", "13*3=39", "39-4=35", "Answer: 35"], "slip0"),
    sample(["7+5=12", "12*3=36", "36-4=32", "Answer: 31"], "badanswer"),
    sample(["7+5=12", "12*1=12", "12*3=36", "36-4=32", "Answer: 32"], "noop"),
    sample(["7+5=12", "12*3=36"], "unfinished"),
]


def ctx(policy, k=4, **omega):
    return LabelContext(generator=policy, k=k, seed=3, omega=OmegaOptions(**omega))


def test_mc_with_an_exact_oracle_matches_the_verifier_in_one_generate_call():
    pol = OraclePolicy(1.0)
    out = METHODS["mc"](SAMPLES, ctx(pol, k=4))
    # One call: every prefix of every sample, k rows each (5 complete samples: last prefix free).
    assert pol.calls == [4 * (sum(len(s.steps) for s in SAMPLES) - 5)]
    for s, lab in zip(SAMPLES, out):
        p = lab.labels.provenance
        assert p["method"] == "mc" and p["k"] == 4 and p["tokens"] > 0
        # Complete solutions need no rollouts from their last prefix.
        assert p["rollouts"] == 4 * (len(s.steps) - (s.id != "unfinished"))
        want = s.first_error if s.id != "unfinished" else -1  # the oracle can finish it
        assert lab.labels.first_error == want, s.id
        assert lab.labels.hard == hard_from_first_error(want, len(s.steps))
        assert lab.labels.soft == [1.0 if h else 0.0 for h in lab.labels.hard]
        assert Sample.from_dict(lab.to_dict()) == lab  # valid record


def test_mc_soft_labels_are_fractions_of_k():
    out = METHODS["mc"](SAMPLES, ctx(OraclePolicy(0.5), k=8))
    right = out[0].labels
    assert all(v * 8 == int(v * 8) for v in right.soft)
    assert 0 < right.soft[0] < 1 and right.soft[-1] == 1.0  # its own answer is right
    assert right.hard == [v > 0 for v in right.soft]
    assert out[2].labels.soft == [0.0] * 4  # slip at step 0: no rollout can recover


def test_omega_finds_the_first_error_with_fewer_rollouts_and_batched_rounds():
    pol = OraclePolicy(1.0)
    mc = METHODS["mc"](SAMPLES, ctx(OraclePolicy(1.0)))
    om = METHODS["omega"](SAMPLES, ctx(pol, early_stop=False))
    for s, a, b in zip(SAMPLES, mc, om):
        assert b.labels.first_error == a.labels.first_error, s.id
        assert b.labels.hard == hard_from_first_error(b.labels.first_error, len(s.steps))
        assert b.labels.soft is None
    spent = {s.id: b.labels.provenance["rollouts"] for s, b in zip(SAMPLES, om)}
    assert spent["right"] == 0 and spent["noop"] == 0  # a right solution proves every prefix
    # slip1 (4 steps, its full prefix known wrong): 2 steps fail (hi=2), 1 step succeeds (lo=1).
    assert spent["slip1"] == 8 and om[1].labels.provenance["probes"] == {"2": [0, 4], "1": [4, 4]}
    assert sum(spent.values()) <= 0.5 * sum(a.labels.provenance["rollouts"] for a in mc)
    # One call per round, each with every live item of the chunk.
    assert len(pol.calls) == max(b.labels.provenance["rounds"] for b in om)
    assert pol.calls[0] == 4 * 4  # slip1, slip0, badanswer, unfinished; k rows each


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_omega_early_stop_gives_the_same_labels_for_fewer_rollouts(seed):
    samples = [dataclasses.replace(s, id=f"{s.id}{i}") for s in SAMPLES for i in range(4)]
    c = dict(k=8, seed=seed)
    full = METHODS["omega"](
        samples,
        LabelContext(generator=OraclePolicy(0.3), **c, omega=OmegaOptions(early_stop=False)),
    )
    pol = OraclePolicy(0.3)
    early = METHODS["omega"](samples, LabelContext(generator=pol, **c))
    assert [x.labels.hard for x in early] == [x.labels.hard for x in full]
    spent = [x.labels.provenance["rollouts"] for x in early]
    spent_full = [x.labels.provenance["rollouts"] for x in full]
    assert all(a <= b for a, b in zip(spent, spent_full)) and sum(spent) < sum(spent_full)
    probes = [p for x in early for p in x.labels.provenance["probes"].values()]
    assert all(hits == 0 and n == 8 or hits >= 1 and n in (2, 4, 8) for hits, n in probes)
    assert len(pol.calls) > len(full[0].labels.provenance["probes"])  # waves: more, smaller rounds


def test_omega_reuses_a_rollout_that_repeats_the_solution():
    # Unfinished but right so far: the probe at 1 step continues with "12*3=36" (the
    # solution's own next step) and succeeds, proving 2 steps too; no second probe.
    om = METHODS["omega"]([SAMPLES[5]], ctx(OraclePolicy(1.0)))[0].labels
    assert om.first_error == -1
    assert om.provenance["probes"] == {"1": [1, 1]} and om.provenance["reused"] == 1
    assert waves(8) == [2, 2, 4] and waves(16) == [4, 4, 8] and waves(2) == [1, 1]
    assert waves(5) == [1, 1, 2, 1] and waves(8, early_stop=False) == [8]
    assert shared_steps(["a", "b", "x"], ["a", "b", "c"]) == 2
    assert shared_steps(["a"], []) == 0


def test_a_proven_success_overrides_a_failed_sample_of_k():
    s = SAMPLES[5]  # 2 steps, unfinished: hi starts at n + 1 = 3
    st = Search(s, lo=0, hi=3, cap=3)
    update(st, Probe(s, 1, [Generation("", ["Answer: -1"])] * 2, [False, False]))
    assert (st.lo, st.hi) == (0, 1)  # 0/2 at one step: hi = 1
    # A later success from the bare problem passes through both steps: the 0/2 was bad luck.
    good = Generation("", ["7+5=12", "12*3=36", "36-4=32", "Answer: 32"])
    update(st, Probe(s, 0, [good, good], [True, True]))
    assert st.lo == 2 and st.hi == 3 and st.done and st.spent == 4
    # With a certain failure (a wrong complete solution of 4 steps), hi falls back to it.
    w = SAMPLES[1]
    st = Search(w, lo=0, hi=2, cap=4)
    update(st, Probe(w, 1, [Generation("", ["12*3=35", "Answer: 32"])], [True]))
    assert (st.lo, st.hi) == (2, 4) and not st.done


def test_omega_truncate_drops_later_steps_and_keeps_a_valid_record():
    out = METHODS["omega"](SAMPLES[:3], ctx(OraclePolicy(1.0), after="truncate"))
    assert [len(s.steps) for s in out] == [4, 2, 1]
    assert out[1].labels.hard == [True, False] and out[1].labels.provenance["dropped_steps"] == 2
    assert out[1].first_error == 1 and out[1].correct is None and out[1].meta["truncated_from"] == 4
    for s in out:
        assert Sample.from_dict(s.to_dict()) == s
    with pytest.raises(ValueError, match="omega_after"):
        METHODS["omega"](SAMPLES[:1], ctx(OraclePolicy(), after="bogus"))


def test_progress_is_the_change_in_success_probability():
    assert advantages([0.5, 1.0, 0.0, 0.0]) == [0.5, -1.0, 0.0]
    out = METHODS["progress"](SAMPLES[:2], ctx(OraclePolicy(1.0)))
    right, slip = out
    assert right.meta["values"] == [1.0] * 5 and right.meta["progress"] == [0.0] * 4
    assert slip.meta["values"] == [1.0, 1.0, 0.0, 0.0, 0.0]
    assert slip.meta["progress"] == [0.0, -1.0, 0.0, 0.0]  # the slip destroys all progress
    assert slip.labels.soft == slip.meta["values"][1:] and slip.labels.first_error == 1
    assert slip.labels.provenance["rollouts"] == 4 * 4  # prefixes 0..3; 4 is the known answer


def test_verify_matches_the_exact_grade_and_reports_bad_items():
    out = METHODS["verify"](SAMPLES, ctx(None))
    for s, lab in zip(SAMPLES, out):
        assert lab.labels.first_error == s.first_error
        assert lab.labels.provenance == lab.labels.provenance | {
            "method": "verify",
            "rollouts": 0,
            "world": "arithmetic",
        }
    assert out[4].labels.hard == [True] * 5  # the no-op step is correct
    bad = dataclasses.replace(SAMPLES[0], id="odd", prompt="What is 2+2?")
    with pytest.raises(ItemError) as e:
        METHODS["verify"]([bad], ctx(None))
    assert e.value.sample_id == "odd"


def test_rollout_methods_need_a_policy():
    with pytest.raises(ValueError, match="needs a policy"):
        METHODS["mc"](SAMPLES[1:2], ctx(None))


def test_inverse_cdf_samples_the_distribution():
    from prmkit.models.sampling import inverse_cdf, row_uniforms

    probs = torch.tensor([[0.1, 0.0, 0.2, 0.7]]).expand(20000, 4)
    u = row_uniforms([7], 20000)[0]
    freq = torch.bincount(inverse_cdf(probs, u), minlength=4).double() / 20000
    assert torch.allclose(freq, torch.tensor([0.1, 0.0, 0.2, 0.7], dtype=torch.float64), atol=0.012)
    assert freq[1] == 0


def test_per_prompt_seeds_make_samples_independent_of_the_batch(tiny_policy, one_thread):
    from prmkit.models.builtin import BuiltinPolicy
    from prmkit.models.generator import SamplingParams, continue_steps

    pol = BuiltinPolicy.load(tiny_policy)
    a, b = (PROMPT, ["7+5=12"]), ("Start with 3, then *2, +1.", [])

    def texts(items, seeds, n=3):
        gens = continue_steps(pol, items, SamplingParams(n=n, max_new_tokens=20, seeds=seeds))
        return [[g.text for g in gs] for gs in gens]

    both = texts([a, b], [11, 22])
    assert texts([b], [22]) == both[1:] and texts([b, a], [22, 11]) == both[::-1]
    assert texts([b], [22], n=2)[0] == both[1][:2]  # rollout j does not depend on n
    assert texts([b], [23]) != both[1:]


def test_quality_against_the_exact_grade_by_hand():
    from prmkit.data import StepLabels
    from prmkit.label.quality import aggregate, goal, markdown_table, quality

    def lab(s, fe, rollouts):
        hard = hard_from_first_error(fe, len(s.steps))
        return dataclasses.replace(s, labels=StepLabels(fe, hard, None, {"rollouts": rollouts}))

    right, slip1, slip0 = SAMPLES[:3]  # exact first errors -1, 1, 0; 4 steps each
    q = quality([lab(right, -1, 0), lab(slip1, 2, 8), lab(slip0, 0, 4)])
    assert q["first_error_acc"] == round(2 / 3, 4) and q["first_error_acc_wrong"] == 0.5
    assert q["first_error_acc_right"] == 1.0 and q["rollouts"] == 12
    # wrong steps: exact 3 (slip1) + 4 (slip0); flagged 2 + 4, all truly wrong: P=1, R=6/7
    assert q["step_precision"] == 1.0 and q["step_recall"] == round(6 / 7, 4)
    assert q["step_f1"] == round(2 * (6 / 7) / (1 + 6 / 7), 4)
    runs = [
        {
            "method": m,
            "k": 4,
            "seed": sd,
            "seconds": 1.0,
            **q,
            "first_error_acc": acc,
            "rollouts": r,
        }
        for m, sd, acc, r in [
            ("mc", 0, 0.6, 100),
            ("mc", 1, 0.7, 100),
            ("omega", 0, 0.7, 40),
            ("omega", 1, 0.6, 50),
        ]
    ]
    rows = aggregate(runs)
    assert [(r["method"], r["first_error_acc"], r["rollouts_vs_mc"]) for r in rows] == [
        ("mc", 0.65, 1.0),
        ("omega", 0.65, 0.45),
    ]
    assert goal(rows) == {
        "4": {"acc_omega": 0.65, "acc_mc": 0.65, "rollout_ratio": 0.45, "met": True}
    }
    assert "| omega | 4 | 0.650 [0.600, 0.700] |" in markdown_table(rows)
