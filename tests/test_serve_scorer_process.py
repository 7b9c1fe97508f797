"""`ScorerProcess`: a PRM in a child process behind the StepScorer protocol, with its
errors kept apart (client mistakes stay ValueError/InputError) and a restart after the
child dies."""

import os
import signal

import pytest

from prmkit.data import InputError
from prmkit.prm.base import RulePRM, load_scorer
from prmkit.serve.scorer_process import ScorerProcess

GOOD = [
    ("Start with 7, then +5.", ["7+5=12", "Answer: 12"]),
    ("Start with 3, then *2, -1.", ["3*2=6", "6-1=4", "Answer: 4"]),
]


def test_scores_like_the_scorer_it_wraps_and_survives_a_dead_child():
    sp = ScorerProcess(load_scorer, "rule", "arithmetic", threads=1)
    try:
        assert sp.kind == RulePRM("arithmetic").kind
        assert sp.score(GOOD) == RulePRM("arithmetic").score(GOOD) == [[1.0, 1.0], [1.0, 0.0, 0.0]]
        with pytest.raises(ValueError, match="not an arithmetic-world prompt"):
            sp.score([("garbage", ["1+1=2"])])
        assert sp.score(GOOD[:1]) == [[1.0, 1.0]]  # a client error leaves the child serving
        os.kill(sp.proc.pid, signal.SIGKILL)  # a child found dead is restarted on the next call
        sp.proc.join(10)
        assert sp.score(GOOD[:1]) == [[1.0, 1.0]] and sp.starts == 2
    finally:
        sp.close()
    assert not sp.alive()


def test_a_factory_error_is_raised_by_the_constructor(tmp_path):
    with pytest.raises(InputError, match="no such PRM directory"):
        ScorerProcess(load_scorer, str(tmp_path / "nope"), "arithmetic")


def test_a_child_dying_mid_call_fails_that_call_only():
    """The call that was running raises RuntimeError (the server answers 500); the next
    call starts a new child; through the server, later requests are answered."""
    import httpx
    from serve_fixtures import crashing_scorer

    from prmkit.serve.http import ThreadServer
    from prmkit.serve.prm_server import create_app

    sp = ScorerProcess(crashing_scorer, threads=1)
    try:
        with pytest.raises(RuntimeError, match=r"exited \(exit code 3\)"):
            sp.score([("crash", ["1+1=2"])])
        assert sp.score(GOOD[:1]) == [[0.5, 0.5]] and sp.starts == 2
        with ThreadServer(create_app(sp)) as url, httpx.Client(base_url=url, timeout=60) as c:
            r = c.post("/score", json={"problem": "crash", "steps": ["1+1=2"]})
            assert r.status_code == 500 and "scoring process exited" in r.json()["error"]
            r = c.post("/score", json={"problem": GOOD[0][0], "steps": GOOD[0][1]})
            assert r.status_code == 200 and r.json()["scores"] == [0.5, 0.5]
            assert c.get("/health").json()["scorer_starts"] == 3  # restarted once more
    finally:
        sp.close()
