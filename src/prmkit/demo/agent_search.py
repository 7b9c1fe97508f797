"""The agent track's search stage: best-of-N over whole episodes against beam search over
turns, both ranked by the track's turn-level PRM, on held-out questions; success rate and
the agent tokens each spends, in a table and a plot."""

from __future__ import annotations

from prmkit.data import Problem, read_jsonl, write_jsonl
from prmkit.demo.agent_sizes import sizes
from prmkit.demo.context import Context, StageReport
from prmkit.models.load import load_generator
from prmkit.prm.base import load_scorer
from prmkit.report import line_plot
from prmkit.search import SearchSettings, points, run_search, summarize
from prmkit.search.sampled import records_from_pools, sample_pools


def stage_agent_search(ctx: Context) -> StageReport:
    """bon and weighted vote over one pool of N episodes per question (smaller N by
    subsets of it); beam over turns at each width of the sizes; one plot of success
    against agent tokens per question."""
    z = sizes(ctx)
    questions = read_jsonl(ctx.artifacts["test_questions"], Problem.from_dict)
    questions = questions[: z.search_questions]
    agent = load_generator(ctx.artifacts["agent"])
    scorer = load_scorer(ctx.artifacts["prm"], "toolqa")
    common = {
        "world": "toolqa",
        "max_new_tokens": z.max_new_tokens,
        "max_steps": z.max_turns,
        "seed": ctx.seed,
    }
    s = SearchSettings(n=z.bon_n, curve_draws=16, **common)
    pools = sample_pools(agent, scorer, questions, s, ctx.progress)
    records = {m: records_from_pools(m, pools, scorer, s) for m in ("bon", "weighted-vote")}
    bon = summarize(records["bon"], 0.0)
    beams = []
    for n, expand in z.beams:
        recs, secs = run_search(
            "beam", agent, scorer, questions, SearchSettings(n=n, expand=expand, **common)
        )
        st = summarize(recs, secs)
        share = st["tokens_per_problem"] / max(1.0, bon["tokens_per_problem"])
        beams.append(
            {"n": n, "expand": expand, "beams": max(1, n // expand)}
            | {"success": st["accuracy"], "tokens": st["tokens_per_problem"]}
            | {"token_share": round(share, 4), "seconds": st["seconds"]}
        )
        records[f"beam{n}x{expand}"] = recs
    write_jsonl(ctx.path("search_results.jsonl"), [r for rs in records.values() for r in rs])
    pts = points(records["bon"] + records["weighted-vote"])
    plot(pts, beams, ctx.path("search_success_vs_tokens.png"))
    md = search_text(pts, beams, bon, len(questions), z.bon_n, ctx.artifacts["prm"])
    summ = {"questions": len(questions), "bon_n": z.bon_n, "curves": pts, "beams": beams}
    summ["bon"] = {"success": bon["accuracy"], "tokens": bon["tokens_per_problem"]}
    return StageReport("Search over turns", md, summ)


def plot(pts: dict, beams: list[dict], path: str) -> str:
    """Success against agent tokens per question: bon and weighted vote over N, beams."""
    series = {
        f"{label} (N = 1..)": (
            [v["tokens"] for v in by_n.values()],
            [100 * v["accuracy"] for v in by_n.values()],
        )
        for label, by_n in pts.items()
    }
    series["beam over turns (PRM)"] = (
        [b["tokens"] for b in beams],
        [100 * b["success"] for b in beams],
    )
    return line_plot(
        series,
        path,
        "Held-out success against agent tokens",
        "agent tokens per question",
        "success (%)",
        logx=True,
    )


def search_text(pts: dict, beams: list[dict], bon: dict, n_q: int, n: int, prm: str) -> str:
    """The search section: what ran, a table of every point, each beam against bon@n."""
    rows = [
        (f"{label} N={k}", v["accuracy"], v["tokens"])
        for label, by_n in pts.items()
        for k, v in by_n.items()
    ]
    rows += [
        (f"beam {b['beams']} x {b['expand']} ({b['n']} a round)", b["success"], b["tokens"])
        for b in beams
    ]
    table = "".join(
        f"| {name} | {acc:.1%} | {tok:.0f} | {tok / max(1.0, bon['tokens_per_problem']):.0%} |\n"
        for name, acc, tok in rows
    )
    verdicts = "".join(
        f"- beam {b['beams']} x {b['expand']}: {b['success']:.1%} against bon@{n}'s "
        f"{bon['accuracy']:.1%}, with {b['token_share']:.0%} of its agent tokens "
        f"({compare(b['success'], bon['accuracy'])}).\n"
        for b in beams
    )
    return (
        f"{n_q} held-out questions; PRM `{prm}` (min over turns). Best-of-N (bon) and "
        f"weighted vote choose among one pool of {n} episodes per question, their smaller N "
        "by random subsets of it; beam search expands every beam by one turn, scores it "
        "after the environment's answer and keeps the best B of B x M. Tokens are the "
        "agent's own (observations are not counted).\n\n"
        f"| method | success | agent tokens / question | share of bon@{n}'s |\n|---|---|---|---|\n"
        + table
        + "\n"
        + verdicts
        + f"\nOne seed and {n_q} questions: a difference of a few points is noise.\n\n"
        "![success against tokens](search_success_vs_tokens.png)\n"
    )


def compare(beam: float, bon: float) -> str:
    """How a beam's success stands against bon@N's, in words."""
    if beam > bon:
        return "above it"
    return "the same" if beam == bon else "below it"
