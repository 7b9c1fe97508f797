"""The generative critic PRM (`--prm critic:URL`) against a stub OpenAI-compatible server."""

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from conftest import last_json, run_cli
from test_label_methods import SAMPLES

from prmkit.data import Sample, read_jsonl, write_jsonl
from prmkit.label.judge import TEMPLATES, render
from prmkit.prm.base import load_scorer
from prmkit.prm.critic import critic_scores
from prmkit.worlds import arithmetic as A

PARAGRAPH = re.compile(r"<paragraph_(\d+)>\n(.*?)\n</paragraph_\1>", re.S)


class Critic(BaseHTTPRequestHandler):
    """Reads ProcessBench's critic prompt, grades the paragraphs exactly and answers like
    a noisy critic: three in five critiques box the true earliest error, one boxes 0,
    one is junk. Lists one model, "stub-critic", at GET /v1/models."""

    log: list = []

    def _send(self, obj):
        out = json.dumps(obj).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def do_GET(self):
        self._send({"object": "list", "data": [{"id": "stub-critic", "object": "model"}]})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        Critic.log.append(body)
        prompt = body["messages"][0]["content"]
        problem = re.search(r"\[Math Problem\]\n\n(.*?)\n\n\[Solution\]", prompt, re.S).group(1)
        steps = [m.group(2) for m in PARAGRAPH.finditer(prompt)]
        fe = A.grade(problem, "", steps, partial=True).first_error
        texts = [f"Paragraph by paragraph... \\boxed{{{fe}}}"] * 3 + ["\\boxed{0}", "unsure"]
        texts = [texts[i % 5] for i in range(body["n"])]
        choices = [{"index": i, "message": {"content": t}} for i, t in enumerate(texts)]
        self._send({"choices": choices, "usage": {"completion_tokens": 9 * len(texts)}})

    def log_message(self, *args):
        pass


@pytest.fixture()
def critic():
    Critic.log = []
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Critic)
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    t.start()
    yield f"critic:http://127.0.0.1:{srv.server_address[1]}/v1"
    srv.shutdown()
    srv.server_close()


def test_scores_from_a_first_error_by_hand():
    assert critic_scores(2, 4) == [1.0, 1.0, 0.0, 0.0]
    assert critic_scores(-1, 3) == [1.0, 1.0, 1.0]
    assert critic_scores(0, 2) == [0.0, 0.0]
    assert critic_scores(None, 2) == [0.5, 0.5]


def test_processbench_prompt_tags_paragraphs_from_zero():
    text = render(TEMPLATES["processbench"], "What is 1+1?", ["1+1=2", "Answer: 2"])
    assert "[Math Problem]\n\nWhat is 1+1?\n\n[Solution]" in text
    assert (
        "<paragraph_0>\n1+1=2\n</paragraph_0>\n\n<paragraph_1>\nAnswer: 2\n</paragraph_1>" in text
    )
    assert text.rstrip().endswith("in \\boxed{}.")


def test_critic_is_a_step_scorer_voting_over_samples(critic):
    prm = load_scorer(critic, critic_samples=5)
    items = [(s.prompt, s.steps) for s in SAMPLES]
    got = prm.score(items)
    want = load_scorer("rule").score(items)  # the stub's majority is the exact first error
    assert got == want and prm.kind == "critic"
    assert Critic.log[0]["model"] == "stub-critic" and Critic.log[0]["n"] == 5
    assert Critic.log[0]["temperature"] == 0.7
    assert prm.usage["solutions"] == len(SAMPLES) and prm.usage["unparsed_samples"] == len(SAMPLES)
    one = load_scorer(critic, critic_model="named")
    one.score(items[:1])
    assert Critic.log[-1]["model"] == "named" and Critic.log[-1]["n"] == 1
    assert Critic.log[-1]["temperature"] == 0.0


def test_score_search_and_eval_take_the_critic(critic, tmp_path, capsys):
    path = tmp_path / "s.jsonl"
    write_jsonl(path, SAMPLES)
    out = tmp_path / "scored.jsonl"
    code, stdout, err = run_cli(
        ["score", "--prm", critic, "--in", path, "--out", out, "--critic-samples", 3], capsys
    )
    assert code == 0, err
    assert last_json(stdout)["kind"] == "critic"
    scored = read_jsonl(out, Sample.from_dict)
    assert [s.meta["prm_scores"] for s in scored] == load_scorer("rule").score(
        [(s.prompt, s.steps) for s in SAMPLES]
    )
    args = ["search", "--in", path, "--method", "bon", "--prm", critic, "--group-by", "prompt"]
    code, stdout, err = run_cli([*args, "--out", tmp_path / "bon.jsonl", "--no-progress"], capsys)
    assert code == 0, err
    s = last_json(stdout)
    assert s["prm_kind"] == "critic" and s["problems"] == 1 and s["accuracy"] == 1.0
    pb = tmp_path / "pb.json"
    rows = [
        {"id": x.id, "problem": x.prompt, "steps": x.steps, "label": x.first_error}
        for x in SAMPLES
        if x.id != "unfinished"  # wrong only as a finished solution; the stub reads prefixes
    ]
    pb.write_text(json.dumps(rows))
    code, stdout, err = run_cli(["eval", "processbench", "--prm", critic, "--data", pb], capsys)
    assert code == 0, err
    assert last_json(stdout)["f1"] == 1.0


def test_critic_errors_are_one_line(tmp_path, capsys):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens there once closed
    path = tmp_path / "s.jsonl"
    write_jsonl(path, SAMPLES[:1])
    base = ["score", "--in", path, "--out", tmp_path / "o.jsonl", "--prm"]
    code, _, err = run_cli([*base, f"critic:http://127.0.0.1:{port}/v1"], capsys)
    assert code == 2 and "--critic-model" in err and "Traceback" not in err
    code, _, err = run_cli([*base, "critic:localhost:8000"], capsys)
    assert code == 2 and "critic:http" in err
    code, _, err = run_cli([*base, "rule", "--critic-samples", 4], capsys)
    assert code == 2 and "apply to --prm critic:URL only" in err


def test_label_judge_takes_the_processbench_template_by_name(critic, tmp_path, capsys):
    path = tmp_path / "s.jsonl"
    write_jsonl(path, SAMPLES[:3])
    url = critic[len("critic:") :]
    args = ["label", "--method", "judge", "--in", path, "--out", tmp_path / "o.jsonl", "--k", 5]
    args += ["--judge-url", url, "--judge-template", "processbench", "--no-progress"]
    code, _, err = run_cli(args, capsys)
    assert code == 0, err
    got = [s.labels.first_error for s in read_jsonl(tmp_path / "o.jsonl", Sample.from_dict)]
    assert got == [s.first_error for s in SAMPLES[:3]]
