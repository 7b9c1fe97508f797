"""`prmkit demo --agent`: the agent track end to end at its --quick sizes, and the stage
runner every track shares."""

import json

from prmkit.cli import main
from prmkit.demo.context import Context, StageReport
from prmkit.demo.runner import run_stages


def test_demo_agent_quick_writes_report_plots_and_summary(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--agent", "--quick", "--out", str(out), "--no-progress"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["command"] == "demo" and summary["agent"] and summary["quick"]
    assert 0 <= summary["held_out_success"] <= 1
    assert 0 <= summary["bon4_success"] <= 1 and 0 <= summary["beam_success"] <= 1
    assert 0 < summary["beam_token_share"] < 5 and summary["seconds"] > 0
    for key in ("prm_f1_exact", "prm_f1_mc"):
        assert key in summary and (summary[key] is None or 0 <= summary[key] <= 1)
    text = (out / "report.md").read_text()
    for section in ("World", "Agent SFT", "Turn labels", "Turn-level PRM", "Search over turns"):
        assert f"\n## {section}" in text
    assert "| labels | first-wrong-turn F1" in text and "| mc |" in text and "| exact |" in text
    assert "| method | success |" in text and "| beam 1 x 2 (2 a round) |" in text
    assert "## Stage timings" in text and "| all |" in text
    assert (out / "prm_f1.png").stat().st_size > 1000
    assert (out / "search_success_vs_tokens.png").stat().st_size > 1000
    written = json.loads((out / "summary.json").read_text())
    assert written["agent"] and len(written["stages"]) == 5
    assert all(s["seconds"] >= 0 and s["cpu_seconds"] >= 0 for s in written["stages"].values())
    sft = written["stages"]["Agent SFT"]
    assert sft["held_out_episodes"] == 12 and sft["loss_last"] < sft["loss_first"] + 1
    labels = written["stages"]["Turn labels"]
    assert labels["episodes"] == 8 and labels["mc"]["k"] == 2 and labels["mc"]["rollouts"] > 0
    search = written["stages"]["Search over turns"]
    assert set(search["curves"]["bon-min"]) == {"1", "2", "4"}  # subsets of one pool of 4
    assert main(["demo", "--agent", "--real", "--out", str(out)]) == 2  # one track at a time


def _stage(title, figure):
    def stage(ctx):
        ctx.artifacts[title] = figure
        return StageReport(title, f"{title} says {figure}.\n", {"figure": figure})

    return stage


def test_run_stages_writes_sections_timings_and_summary(tmp_path):
    ctx = Context(tmp_path, quick=True, seed=3, progress=False)
    reports, total = run_stages(ctx, [_stage("A", 1), _stage("B", 2)], "track", {"x": 1}, cpu=True)
    assert [r.title for r in reports] == ["A", "B"] and ctx.artifacts == {"A": 1, "B": 2}
    text = (tmp_path / "report.md").read_text()
    assert text.startswith("# track (quick)\nSeed 3, ")
    assert "\n## A\n" in text and "A says 1." in text and "B says 2." in text
    assert "| stage | wall s | CPU s (this process) |" in text and f"| all | {total} |" in text
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert list(summary)[:5] == ["command", "x", "out", "quick", "seconds"]
    assert summary["stages"]["B"]["figure"] == 2 and "cpu_seconds" in summary["stages"]["B"]
    run_stages(ctx, [_stage("A", 1)])  # the default demo's form: no timing table, no CPU
    assert "Stage timings" not in (tmp_path / "report.md").read_text()
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert list(summary) == ["command", "out", "quick", "seconds", "stages"]
    assert summary["stages"]["A"] == {"figure": 1, "seconds": summary["stages"]["A"]["seconds"]}
