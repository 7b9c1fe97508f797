"""`prmkit demo --real` end to end on a tiny BERT built in the test and a few GSM8K and
ProcessBench-style records."""

import json

from bert_tiny import build_tiny_bert
from test_label_perturb import RECORDS

from prmkit.cli import main


def test_demo_real_writes_report_table_plots_and_a_loadable_prm(tmp_path, capsys):
    bert = build_tiny_bert(tmp_path / "bert")
    g = tmp_path / "gsm8k.jsonl"
    g.write_text("".join(json.dumps(r | {"id": f"g{i}"}) + "\n" for i, r in enumerate(RECORDS * 4)))
    pb = [
        {
            "id": f"pb-{i}",
            "problem": RECORDS[i % 2]["question"],
            "label": lab,
            "steps": ["First 12/60 = 0.2.", "Then 0.2 * 50 = 10.", "The answer is 10."],
            "final_answer_correct": lab == -1,
        }
        for i, lab in enumerate([-1, 1, -1, 0, 2, -1, 1, -1, 0, -1, 2, -1])
    ]
    (tmp_path / "pb.json").write_text(json.dumps(pb))
    out = tmp_path / "demo"
    args = ["demo", "--real", "--quick", "--out", str(out), "--gsm8k", str(g)]
    args += ["--processbench", str(tmp_path / "pb.json"), "--init", str(bert), "--no-progress"]
    assert main(args) in (0, None)
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["real"] and 0 <= summary["auroc_step"] <= 1
    text = (out / "report.md").read_text()
    assert "| head steps | F1 @0.5" in text and "| 400 |" in text
    assert (out / "f1_steps.png").exists() and (out / "accuracy.png").exists()
    from prmkit.prm.scoring import load_prm

    assert len(load_prm(str(out / "prm")).score([("q", ["a", "b"])])[0]) == 2
    assert main(["demo", "--out", str(out), "--gsm8k", str(g)]) == 2  # --gsm8k needs --real
