"""Load benchmark for `prmkit serve prm`: dynamic batching against a batch size of 1.

A bounded client on loopback: CLIENTS concurrent keep-alive connections, each sending
one `POST /score` (one arithmetic solution) after another for SECONDS. Both modes run
back to back in one invocation, each on a fresh server process; throughput counts
answered 200s per second, latency is per request on the client. Then a bad-input sweep
against the batching server while a few clients keep sending correct requests: every
bad request must get a 4xx and every correct one a 200 with the right scores.

    python benchmarks/serve_load.py                    # 64 clients x 30 s per mode
    python benchmarks/serve_load.py --seconds 5        # a quick look
    python benchmarks/serve_load.py --model DIR        # a trained PRM (prmkit serve prm --model DIR)

Without --model the server scores with a stand-in: prmkit's own `ModelScorer` over a
randomly initialised built-in PRM (small by default, d_model 32 and 2 layers; the
policy's default size is --d-model 128 --n-layer 4 --n-head 4). It runs exactly the
code a trained built-in PRM runs (`<step>` tags, one forward pass per length bucket),
without the trained weights.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from score_pass_size import solutions  # noqa: E402

from prmkit.models.gpt import GPTConfig  # noqa: E402
from prmkit.models.tokenizer import CharTokenizer  # noqa: E402
from prmkit.prm.models import BuiltinStepModel  # noqa: E402
from prmkit.prm.scoring import ModelScorer  # noqa: E402


def standin_scorer(cfg: GPTConfig, seed: int = 0, threads: int = 1) -> ModelScorer:
    """prmkit's own `ModelScorer` over a randomly initialised built-in PRM (`<step>` tags)."""
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    scorer = ModelScorer(BuiltinStepModel.new(cfg, tag=None))
    scorer.kind = "stand-in built-in PRM (random init)"
    return scorer


def payloads(n: int, seed: int) -> list[dict]:
    """`/score` bodies: arithmetic solutions, half right and half corrupted."""
    return [{"problem": p, "steps": steps} for p, steps in solutions(n, seed)]


# ---- server process ---------------------------------------------------------------------


def serve_standin(a) -> None:
    from prmkit.serve.http import serve_app
    from prmkit.serve.prm_server import create_app

    cfg = GPTConfig(
        vocab_size=CharTokenizer().vocab_size, n_layer=a.n_layer, n_head=a.n_head, d_model=a.d_model
    )
    if a.no_scorer_process:
        scorer = standin_scorer(cfg, a.seed, a.threads)
    else:  # what `prmkit serve prm` does by default
        from prmkit.serve.scorer_process import ScorerProcess

        scorer = ScorerProcess(standin_scorer, cfg, a.seed, a.threads, threads=a.threads)
    app = create_app(scorer, max_batch_size=a.max_batch_size, max_wait_ms=a.max_wait_ms)
    serve_app(app, "127.0.0.1", 0, scorer.kind)


class Server:
    """A server subprocess on a free loopback port; stderr is collected by a thread."""

    def __init__(self, cmd: list[str]) -> None:
        env = dict(
            os.environ, PYTHONPATH=str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")
        )
        self.proc = subprocess.Popen(
            cmd, stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
        )
        self.lines: list[str] = []
        self.url: str | None = None
        ready = threading.Event()

        def pump():
            for line in self.proc.stderr:
                self.lines.append(line)
                if self.url is None and line.startswith("serving ") and " on http://" in line:
                    self.url = line.rsplit(" on ", 1)[1].strip()
                    ready.set()
            ready.set()

        threading.Thread(target=pump, daemon=True).start()
        if not ready.wait(120) or self.url is None:
            self.stop()
            raise RuntimeError("server did not start:\n" + "".join(self.lines[-20:]))
        for _ in range(600):
            try:
                if httpx.get(self.url + "/health", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError("server never answered /health")

    def cpu_seconds(self) -> float:
        """CPU time the server process and its live children (the scoring process) have
        used, all threads, from /proc; nan elsewhere."""
        total = 0.0
        try:
            for stat in Path("/proc").glob("[0-9]*/stat"):
                try:
                    fields = stat.read_text().rsplit(")", 1)[1].split()
                except OSError:  # a process that ended mid-scan
                    continue
                if stat.parent.name == str(self.proc.pid) or fields[1] == str(self.proc.pid):
                    total += int(fields[11]) + int(fields[12])
        except OSError:
            return float("nan")
        return total / os.sysconf("SC_CLK_TCK")

    def health(self) -> dict:
        return httpx.get(self.url + "/health", timeout=10).json()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# ---- the bounded client ---------------------------------------------------------------------


def _request(host: str, path: str, body: bytes) -> bytes:
    head = f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    return head.encode() + body


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    status = int((await reader.readline()).split()[1])
    n = 0
    while True:
        h = await reader.readline()
        if h in (b"\r\n", b""):
            break
        if h[:15].lower() == b"content-length:":
            n = int(h[15:])
    return status, await reader.readexactly(n)


async def _client(
    host: str, port: int, reqs: list[bytes], deadline: float, start: int, rec: dict
) -> None:
    reader = writer = None
    i = start
    while time.perf_counter() < deadline:
        data = reqs[i % len(reqs)]
        i += 1
        t0 = time.perf_counter()
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection(host, port)
            writer.write(data)
            status, body = await _read_response(reader)
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError) as e:
            rec["failed"] += 1
            rec["errors"].append(type(e).__name__)
            if writer is not None:
                writer.close()
            reader = writer = None
            continue
        rec["latency"].append(time.perf_counter() - t0)
        if status != 200 or not body.startswith(b'{"scores"'):
            rec["failed"] += 1
            rec["errors"].append(f"HTTP {status}")
        else:
            rec["ok"] += 1
    if writer is not None:
        writer.close()


async def _load(url: str, clients: int, seconds: float, reqs: list[bytes]) -> dict:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    rec = {"ok": 0, "failed": 0, "latency": [], "errors": []}
    t0 = time.perf_counter()
    await asyncio.gather(
        *(_client(host, int(port), reqs, t0 + seconds, k * 7, rec) for k in range(clients))
    )
    rec["elapsed"] = time.perf_counter() - t0
    return rec


def run_load(url: str, clients: int, seconds: float, items: list[dict]) -> dict:
    host = url.removeprefix("http://")
    reqs = [_request(host, "/score", json.dumps(it).encode()) for it in items]
    gc.collect()
    gc.freeze()  # no full GC passes over torch and friends mid-measurement
    try:  # a leaner event loop leaves more of the shared CPU to the server
        import uvloop

        rec = uvloop.run(_load(url, clients, seconds, reqs))
    except ImportError:
        rec = asyncio.run(_load(url, clients, seconds, reqs))
    lat = sorted(rec["latency"])

    def pct(q: float) -> float:
        return round(1000 * lat[min(len(lat) - 1, int(q * len(lat)))], 1) if lat else float("nan")

    return {
        "requests_ok": rec["ok"],
        "failed": rec["failed"],
        "errors": sorted(set(rec["errors"]))[:5],
        "seconds": round(rec["elapsed"], 2),
        "throughput_rps": round(rec["ok"] / rec["elapsed"], 1),
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
    }


# ---- bad-input sweep ----------------------------------------------------------------------


def bad_inputs(char_vocab: bool = False) -> list[tuple[str, str, bytes]]:
    """(name, path, raw body) of requests that must all get a 4xx (`char_vocab`: the PRM
    reads the built-in character vocabulary, so a non-ASCII step is unscorable)."""
    ok = {"problem": "Start with 7, then +5.", "steps": ["7+5=12", "Answer: 12"]}
    j = lambda d: json.dumps(d).encode()  # noqa: E731
    return [
        ("empty steps", "/score", j({"problem": ok["problem"], "steps": []})),
        (
            "10 MB body",
            "/score",
            j({"problem": ok["problem"], "steps": ["1+1=2"] * (10 * 2**20 // 9)}),
        ),
        ("steps not a list", "/score", j({"problem": ok["problem"], "steps": "7+5=12"})),
        ("step not a string", "/score", j({"problem": ok["problem"], "steps": [7, 12]})),
        ("problem not a string", "/score", j({"problem": 7, "steps": ok["steps"]})),
        ("body not an object", "/score", j([ok])),
        ("missing problem", "/score", j({"steps": ok["steps"]})),
        ("invalid JSON", "/score", b'{"problem": "x", "steps": [}'),
        ("invalid UTF-8", "/score", b'{"problem": "\xff\xfe", "steps": ["a"]}'),
        ("empty body", "/score", b""),
        ("deeply nested JSON", "/score", b"[" * 200_000),
        (
            "thousands of steps",
            "/score",
            j({"problem": ok["problem"], "steps": ["12+0=12"] * 5000}),
        ),
        ("batch of non-objects", "/score", j({"items": [1, 2]})),
        ("items empty", "/score", j({"items": []})),
        ("get_reward query not a list", "/get_reward", j({"query": "text"})),
        (
            "get_reward length mismatch",
            "/get_reward",
            j({"query": ["a\nb"], "prompts": ["a", "b"]}),
        ),
    ] + (
        [
            (
                "outside the PRM's vocabulary",
                "/score",
                j({"problem": ok["problem"], "steps": ["7+5=12 ✓"]}),
            )
        ]
        if char_vocab
        else []
    )


def sweep(url: str, good: list[dict], expect) -> dict:
    """Send every bad input while 4 clients keep sending correct requests."""
    stop = threading.Event()
    bg = {"ok": 0, "wrong": 0, "failed": 0}

    def background():
        with httpx.Client(base_url=url, timeout=60) as c:
            k = 0
            while not stop.is_set():
                it = good[k % len(good)]
                k += 1
                try:
                    r = c.post("/score", json=it)
                except httpx.TransportError:
                    bg["failed"] += 1
                    continue
                if r.status_code != 200:
                    bg["failed"] += 1
                elif expect is not None and not expect(it, r.json()["scores"]):
                    bg["wrong"] += 1
                else:
                    bg["ok"] += 1

    threads = [threading.Thread(target=background) for _ in range(4)]
    for t in threads:
        t.start()
    results = []
    with httpx.Client(base_url=url, timeout=120) as c:
        for name, path, body in bad_inputs(char_vocab=expect is not None):
            try:
                r = c.post(path, content=body, headers={"content-type": "application/json"})
                status, msg = r.status_code, r.json().get("error", "")
            except (httpx.TransportError, ValueError) as e:
                status, msg = 0, f"{type(e).__name__}: {e}"
            results.append({"input": name, "status": status, "message": str(msg)[:90]})
        after = c.post("/score", json=good[0])
    stop.set()
    for t in threads:
        t.join()
    return {
        "bad_inputs": results,
        "all_4xx": all(400 <= r["status"] < 500 for r in results),
        "background_ok": bg["ok"],
        "background_wrong": bg["wrong"],
        "background_failed": bg["failed"],
        "serving_after": after.status_code == 200,
    }


# ---- main ---------------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=30.0, help="load duration per mode")
    ap.add_argument("--warmup", type=float, default=3.0, help="load before measuring, per mode")
    ap.add_argument("--clients", type=int, default=64)
    ap.add_argument(
        "--max-batch-size", type=int, default=32, help="batch size of the batching mode"
    )
    ap.add_argument("--max-wait-ms", type=float, default=5.0)
    ap.add_argument(
        "--model", default=None, help="a PRM for `prmkit serve prm --model` (default: the stand-in)"
    )
    ap.add_argument("--d-model", type=int, default=32, help="stand-in PRM width")
    ap.add_argument("--n-layer", type=int, default=2, help="stand-in PRM depth")
    ap.add_argument("--n-head", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1, help="torch threads in the server")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--workers",
        type=int,
        default=1,
        help="with --model, an encoder PRM: `serve prm --workers` (scoring processes)",
    )
    ap.add_argument(
        "--repeats", type=int, default=1, help="alternate the two modes this many times"
    )
    ap.add_argument("--no-sweep", action="store_true")
    ap.add_argument(
        "--no-scorer-process",
        action="store_true",
        help="score on a thread of the server process (`serve prm --no-scorer-process`)",
    )
    ap.add_argument("--serve-standin", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.workers != 1 and a.model is None:
        ap.error("--workers applies to an encoder PRM given by --model")
    if a.serve_standin:
        return serve_standin(a)

    items = payloads(512, a.seed)
    expect = None
    if a.model is None:
        cfg = GPTConfig(
            vocab_size=CharTokenizer().vocab_size,
            n_layer=a.n_layer,
            n_head=a.n_head,
            d_model=a.d_model,
        )
        ref = standin_scorer(cfg, a.seed)
        table = {
            (it["problem"], tuple(it["steps"])): s
            for it, s in zip(
                items[:64], ref.score([(it["problem"], it["steps"]) for it in items[:64]])
            )
        }

        def expect(it, scores):
            want = table[(it["problem"], tuple(it["steps"]))]
            return len(want) == len(scores) and all(abs(x - y) < 1e-4 for x, y in zip(want, scores))

    scorer_flag = ["--no-scorer-process"] if a.no_scorer_process else []

    def command(bs: int, wait: float) -> list[str]:
        if a.model is not None:
            return [
                sys.executable,
                "-m",
                "prmkit.cli",
                "serve",
                "prm",
                "--model",
                a.model,
                "--port",
                "0",
                "--max-batch-size",
                str(bs),
                "--max-wait-ms",
                str(wait),
                "--threads",
                str(a.threads),
                "--workers",
                str(a.workers),
                *scorer_flag,
            ]
        extra = [
            "--d-model",
            str(a.d_model),
            "--n-layer",
            str(a.n_layer),
            "--n-head",
            str(a.n_head),
            "--threads",
            str(a.threads),
            "--seed",
            str(a.seed),
            *scorer_flag,
        ]
        return [
            sys.executable,
            __file__,
            "--serve-standin",
            "--max-batch-size",
            str(bs),
            "--max-wait-ms",
            str(wait),
            *extra,
        ]

    modes = [("dynamic batching", a.max_batch_size, a.max_wait_ms), ("max batch size 1", 1, 0.0)]
    runs: dict[str, list[dict]] = {name: [] for name, _, _ in modes}
    sweep_result = None
    for rep in range(a.repeats):  # modes alternate, so load from others hits both alike
        for name, bs, wait in modes:
            server = Server(command(bs, wait))
            try:
                if a.warmup > 0:
                    run_load(server.url, a.clients, a.warmup, items)
                before = server.health()
                cpu0, own0 = server.cpu_seconds(), sum(os.times()[:2])
                r = run_load(server.url, a.clients, a.seconds, items)
                cpu1, own1 = server.cpu_seconds(), sum(os.times()[:2])
                h = server.health()
                n = max(1, r["requests_ok"] + r["failed"])
                r["server_cpu_ms_per_request"] = round(1000 * (cpu1 - cpu0) / n, 3)
                r["client_cpu_ms_per_request"] = round(1000 * (own1 - own0) / n, 3)
                done = h["batches"] - before["batches"]
                r["mean_batch_size"] = round((h["items"] - before["items"]) / max(1, done), 2)
                runs[name].append(r)
                print(
                    f"{name:>18} #{rep + 1}: {r['throughput_rps']:8.1f} req/s  "
                    f"p50 {r['p50_ms']:7.1f} ms  p99 {r['p99_ms']:7.1f} ms  "
                    f"mean batch {r['mean_batch_size']:5.1f}  failed {r['failed']}  "
                    f"server CPU {r['server_cpu_ms_per_request']:.2f} ms/req",
                    file=sys.stderr,
                )
                if bs > 1 and not a.no_sweep and sweep_result is None:
                    sweep_result = sweep(server.url, items[:64], expect)
            finally:
                server.stop()

    def median(xs: list[float]) -> float:
        xs = sorted(xs)
        return xs[len(xs) // 2] if len(xs) % 2 else (xs[len(xs) // 2 - 1] + xs[len(xs) // 2]) / 2

    agg = {
        name: {
            "max_batch_size": bs,
            "throughput_rps": round(median([r["throughput_rps"] for r in runs[name]]), 1),
            "p50_ms": round(median([r["p50_ms"] for r in runs[name]]), 1),
            "p99_ms": round(median([r["p99_ms"] for r in runs[name]]), 1),
            "mean_batch_size": round(median([r["mean_batch_size"] for r in runs[name]]), 2),
            "server_cpu_ms_per_request": round(
                median([r["server_cpu_ms_per_request"] for r in runs[name]]), 3
            ),
            "requests_ok": sum(r["requests_ok"] for r in runs[name]),
            "failed": sum(r["failed"] for r in runs[name]),
            "runs": runs[name],
        }
        for name, bs, _ in modes
    }
    d, b = agg["dynamic batching"], agg["max batch size 1"]
    summary = {
        "benchmark": "serve_load",
        "scorer": a.model or f"stand-in built-in PRM d_model={a.d_model} n_layer={a.n_layer}",
        "scorer_process": not a.no_scorer_process,
        "workers": a.workers,
        "clients": a.clients,
        "seconds": a.seconds,
        "repeats": a.repeats,
        "cpus": os.cpu_count(),
        "load_average": round(os.getloadavg()[0], 1) if hasattr(os, "getloadavg") else None,
        "modes": agg,
        "throughput_ratio": round(d["throughput_rps"] / b["throughput_rps"], 2),
        "p99_ratio": round(d["p99_ms"] / b["p99_ms"], 3),
        "goal_met": d["throughput_rps"] >= 4 * b["throughput_rps"]
        and d["p99_ms"] <= b["p99_ms"]
        and d["failed"] == 0
        and b["failed"] == 0,
    }
    print(
        f"ratio {summary['throughput_ratio']}x throughput, p99 x{summary['p99_ratio']} "
        f"(medians of {a.repeats}); goal (>=4x, p99 no worse, 0 failed) met: {summary['goal_met']}",
        file=sys.stderr,
    )
    if sweep_result is not None:
        for r in sweep_result["bad_inputs"]:
            print(f"  {r['status']}  {r['input']:<30} {r['message']}", file=sys.stderr)
        summary["sweep"] = sweep_result
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
