"""LLM-as-judge labels against a stub OpenAI-compatible server on loopback (no network)."""

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from conftest import last_json, run_cli
from test_label_methods import SAMPLES

from prmkit.data import Sample, read_jsonl, write_jsonl
from prmkit.label.judge import majority, parse_first_error, render_prompt
from prmkit.worlds import arithmetic as A


class Stub(BaseHTTPRequestHandler):
    """Grades the steps in the prompt exactly, then answers like a noisy judge:
    most answers box the true first error, one names step 0 in words, one is junk.
    mode "few" returns one choice per request whatever n is; "fail_once" answers the
    first request with HTTP 500; "junk" never gives a parsable answer."""

    log: list = []
    mode = "ok"

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        Stub.log.append(
            {"path": self.path, "body": body, "auth": self.headers.get("Authorization")}
        )
        if Stub.mode == "fail_once" and len(Stub.log) == 1:
            self.send_response(500)
            self.end_headers()
            self.wfile.write(b"overloaded")
            return
        prompt = body["messages"][0]["content"] if "messages" in body else body["prompt"]
        problem = re.search(r"\[Problem\]\n(.*)\n", prompt).group(1)
        steps = re.findall(r"^Step \d+: (.*)$", prompt, re.M)
        fe = A.grade(problem, "", steps).first_error
        texts = [f"Checking... \\boxed{{{fe}}}"] * 3 + ["The first wrong step is 0.", "no idea"]
        n = 1 if Stub.mode == "few" else body["n"]
        if Stub.mode == "junk":
            texts = ["no idea"]
        texts = [texts[(len(Stub.log) + i) % len(texts)] for i in range(n)]
        if Stub.mode != "few":
            texts = sorted(texts)  # deterministic mix per request
        key = "message" if self.path.endswith("/chat/completions") else "text"
        choices = [
            {"index": i, key: {"role": "assistant", "content": t} if key == "message" else t}
            for i, t in enumerate(texts)
        ]
        out = json.dumps({"choices": choices, "usage": {"completion_tokens": 7 * n}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args):
        pass


@pytest.fixture()
def stub():
    Stub.log, Stub.mode = [], "ok"
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Stub)
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/v1"
    srv.shutdown()
    srv.server_close()


def judge_args(inp, out, url, *extra):
    return [
        "label",
        "--method",
        "judge",
        "--in",
        inp,
        "--out",
        out,
        "--judge-url",
        url,
        "--no-progress",
        *extra,
    ]


@pytest.fixture()
def samples_file(tmp_path):
    p = tmp_path / "s.jsonl"
    write_jsonl(p, SAMPLES[:4])
    return p


def test_parse_and_vote():
    assert parse_first_error("so \\boxed{2}", 4) == 2
    assert parse_first_error("\\boxed{1} no wait \\boxed{ 3 }", 4) == 3
    assert parse_first_error("\\boxed{-1}", 4) == -1
    assert parse_first_error("\\boxed{4}", 4) is None  # out of range
    assert parse_first_error("The earliest incorrect step is step 1.", 4) == 1
    assert parse_first_error("All steps are correct.", 4) == -1
    assert parse_first_error("hmm", 4) is None
    assert majority([2, 2, 1]) == 2 and majority([3, 1]) == 1 and majority([-1, 2]) == 2
    assert majority([-1, -1, 0]) == -1 and majority([]) is None
    text = render_prompt("P={problem} N={n_steps} \\boxed{}\n{steps}", SAMPLES[1])
    assert text.startswith(
        f"P={SAMPLES[1].prompt} N=4 \\boxed{{}}\nStep 0: 7+5=12\nStep 1: 12*3=35"
    )


@pytest.mark.parametrize("api", ["chat", "completions"])
def test_judge_labels_by_majority_vote(api, stub, samples_file, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("JUDGE_KEY", "sekret")
    tpl = tmp_path / "t.txt"
    tpl.write_text("[Problem]\n{problem}\n\n{steps}\nBox the first wrong step, 0-based, or -1.")
    out = tmp_path / "o.jsonl"
    args = judge_args(
        samples_file, out, stub, "--k", 5, "--judge-api", api, "--judge-template", tpl
    )
    args += ["--judge-api-key-env", "JUDGE_KEY", "--judge-model", "m1"]
    code, stdout, err = run_cli(args, capsys)
    assert code == 0, err
    summary = last_json(stdout)
    assert summary["labeled"] == 4 and summary["rollouts"] == 20 and summary["tokens"] == 4 * 35
    for s, lab in zip(SAMPLES[:4], read_jsonl(out, Sample.from_dict)):
        p = lab.labels.provenance
        assert lab.labels.first_error == s.first_error, s.id
        assert p["method"] == "judge" and p["k"] == 5 and p["model"] == "m1" and p["requests"] == 1
        assert len(p["votes"]) + p["unparsed"] == 5 and p["unparsed"] == 1
    assert all(
        r["auth"] == "Bearer sekret"
        and r["path"].endswith("/chat/completions" if api == "chat" else "/v1/completions")
        for r in Stub.log
    )
    body = Stub.log[0]["body"]
    assert body["model"] == "m1" and body["n"] == 5
    assert "Box the first wrong step" in (
        body["messages"][0]["content"] if api == "chat" else body["prompt"]
    )


def test_judge_retries_and_tops_up_short_answers(stub, samples_file, tmp_path, capsys):
    Stub.mode = "fail_once"
    out = tmp_path / "o.jsonl"
    code, _, err = run_cli(
        judge_args(samples_file, out, stub, "--k", 3, "--judge-concurrency", 1), capsys
    )
    assert code == 0, err
    assert len(read_jsonl(out)) == 4 and len(Stub.log) == 5  # one 500, retried
    Stub.mode, Stub.log = "few", []
    out2 = tmp_path / "o2.jsonl"
    code, _, err = run_cli(judge_args(samples_file, out2, stub, "--k", 3), capsys)
    assert code == 0, err
    assert [r.labels.provenance["requests"] for r in read_jsonl(out2, Sample.from_dict)] == [3] * 4
    assert [b["body"]["n"] for b in Stub.log if b["body"]["n"] != 3] != []  # asked for the rest


def test_judge_without_a_valid_answer_leaves_the_item_unlabeled_but_written(
    stub, samples_file, tmp_path, capsys
):
    Stub.mode = "junk"
    out = tmp_path / "o.jsonl"
    args = judge_args(samples_file, out, stub, "--k", 2)
    code, stdout, _ = run_cli(args, capsys)
    assert code == 0 and last_json(stdout)["labeled"] == 0
    recs = read_jsonl(out, Sample.from_dict)
    assert len(recs) == 4 and all(
        r.labels is None and "no parsable answer" in r.meta["label_error"] for r in recs
    )
    n = len(Stub.log)
    code, stdout, _ = run_cli(args, capsys)  # resumed: nothing asked again
    assert code == 0 and len(Stub.log) == n and last_json(stdout)["resumed"] == 4


def test_unreachable_judge_is_a_clean_error(samples_file, tmp_path, capsys):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once we leave: nothing listens there
    url = f"http://127.0.0.1:{port}/v1"
    args = judge_args(samples_file, tmp_path / "o.jsonl", url, "--judge-retries", 0)
    code, _, err = run_cli(args, capsys)
    assert code == 2 and "judge endpoint" in err and "Traceback" not in err
