"""Load benchmark for `prmkit serve policy`: CLIENTS concurrent clients, failures counted,
seeded answers compared with the same requests sent one after another.

The server is the `prmkit serve policy` command in a subprocess. Every request is
seeded, asks for one to three prompts of different lengths (so the policy pads a
batch) and n of 1 or 2. First each request is sent once, sequentially; then CLIENTS
clients send the same requests at once, ROUNDS each. A failure is any answer other
than a 200; a mismatch is a 200 whose texts differ from the sequential answer.

    python benchmarks/policy_load.py                  # a tiny random HF policy, 64 clients
    python benchmarks/policy_load.py --model DIR      # a prmkit or Hugging Face policy folder

Without --model the policy is a tiny random Llama with a byte-level BPE tokenizer built
on the spot (tests/hf_tiny.py), the kind of policy whose tokenizer failed concurrent
batched requests.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from serve_load import Server  # noqa: E402

CORPUS = [
    "Start with 7, then +5, *3, -4.\n7+5=12\n12*3=36\n36-4=32\nAnswer: 32",
    "Start with 3, then *2.\n3*2=6\nAnswer: 6",
] * 30


def bodies(n: int, model: str, max_tokens: int) -> list[dict]:
    """Seeded requests: 1-3 prompts of different lengths, n of 1 or 2."""
    return [
        {
            "model": model,
            "prompt": [
                f"Start with {i % 9 + 1}, then +{j + 2}, *3." + " -1" * (i % 4)
                for j in range(1 + i % 3)
            ],
            "n": 1 + i % 2,
            "max_tokens": max_tokens,
            "temperature": 1.0,
            "seed": 1000 + i,
        }
        for i in range(n)
    ]


def texts(resp: dict) -> list[str]:
    return [c["text"] for c in sorted(resp["choices"], key=lambda c: c["index"])]


async def load(url: str, reqs: list[dict], clients: int, rounds: int) -> dict:
    """Each client sends its share of the requests, `rounds` times over."""
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    out = {"answers": [], "latency": [], "errors": []}
    async with httpx.AsyncClient(base_url=url, timeout=600, limits=limits) as c:

        async def client(k: int) -> None:
            for _ in range(rounds):
                for i in range(k, len(reqs), clients):
                    t0 = time.perf_counter()
                    try:
                        r = await c.post("/v1/completions", json=reqs[i])
                    except httpx.HTTPError as e:
                        out["errors"].append(type(e).__name__)
                        continue
                    out["latency"].append(time.perf_counter() - t0)
                    if r.status_code != 200:
                        out["errors"].append(f"HTTP {r.status_code}: {r.text[:120]}")
                    else:
                        out["answers"].append((i, r.json()))

        t0 = time.perf_counter()
        await asyncio.gather(*[client(k) for k in range(clients)])
        out["seconds"] = time.perf_counter() - t0
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="", help="policy folder (default: a tiny random HF policy)")
    ap.add_argument("--clients", type=int, default=64, help="concurrent clients")
    ap.add_argument("--rounds", type=int, default=2, help="times each client sends its share")
    ap.add_argument("--requests", type=int, default=64, help="distinct seeded requests")
    ap.add_argument("--max-tokens", type=int, default=16, help="max_tokens of every request")
    ap.add_argument("--threads", type=int, default=1, help="the server's torch threads")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        model = a.model
        if not model:
            from hf_tiny import build_tiny_hf

            model = str(build_tiny_hf(Path(tmp) / "tiny-hf", CORPUS))
        cmd = [sys.executable, "-m", "prmkit.cli", "serve", "policy", "--model", model]
        server = Server(cmd + ["--port", "0", "--threads", str(a.threads)])
        try:
            name = httpx.get(server.url + "/v1/models").json()["data"][0]["id"]
            reqs = bodies(a.requests, name, a.max_tokens)
            with httpx.Client(base_url=server.url, timeout=600) as c:
                seq = [c.post("/v1/completions", json=b) for b in reqs]
            seq_fail = sum(r.status_code != 200 for r in seq)
            want = [texts(r.json()) if r.status_code == 200 else None for r in seq]
            res = asyncio.run(load(server.url, reqs, a.clients, a.rounds))
        finally:
            server.stop()
    mismatched = sum(texts(r) != want[i] for i, r in res["answers"])
    tokens = sum(r["usage"]["completion_tokens"] for _, r in res["answers"])
    lat = sorted(res["latency"])
    summary = {
        "benchmark": "policy_load",
        "model": a.model or "tiny random HF Llama (tests/hf_tiny.py)",
        "clients": a.clients,
        "requests": len(res["answers"]) + len(res["errors"]),
        "failures": len(res["errors"]),
        "sequential_failures": seq_fail,
        "mismatched_with_sequential": mismatched,
        "seconds": round(res["seconds"], 2),
        "requests_per_s": round(len(res["answers"]) / res["seconds"], 2),
        "completion_tokens_per_s": round(tokens / res["seconds"], 1),
        "latency_p50_s": round(statistics.median(lat), 3) if lat else None,
        "latency_p95_s": round(lat[int(0.95 * (len(lat) - 1))], 3) if lat else None,
        "first_errors": res["errors"][:3],
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
