"""The labeling run: chunks of items through a method, written as they finish, resumable.

- Results are appended (flushed and fsynced) per chunk as they finish. A rerun of the
  same command reads the output first and skips every id already there. A last line
  torn by a kill (SIGKILL, power loss) is cut off and its item redone: no finished
  item is redone, none is lost, none is duplicated.
- Labels are deterministic per item (per-item rollout seeds), so a resumed run, a
  run with another --chunk, and a Ray run all give the same labels.
- When every item is done, the output is rewritten (atomically) in input order.
- engine "ray": chunks are spread over Ray actors, each loading the policy once; the
  driver alone writes the output, with the same resume semantics.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from prmkit.data import InputError, Sample, append_jsonl, iter_jsonl, read_jsonl, write_jsonl
from prmkit.data.converters import iter_records, report_skipped
from prmkit.label import consensus, judge, mc, omega, perturb, progress, verify
from prmkit.label.base import ItemError, LabelContext, Settings, world_of
from prmkit.models.steps import render

METHODS: dict[str, Callable[[list[Sample], LabelContext], list[Sample]]] = {
    "mc": mc.label,
    "omega": omega.label,
    "progress": progress.label,
    "verify": verify.label,
    "judge": judge.label,
    "consensus": consensus.label,
    "perturb": perturb.label,
}
INPUTS = {"perturb": perturb.reference_sample}
"""Methods whose input records are not prmkit samples: method -> parse(record, index)."""
NEEDS_POLICY = {"mc", "omega", "progress"}
# Settings that change an item's labels: a resumed output must have been made with the same.
_RESUME_KEYS = ("k", "seed", "temperature", "max_new_tokens")


@dataclass(kw_only=True)
class LabelJob(Settings):
    """Everything needed to build a LabelContext again, in this process or a Ray worker."""

    method: str
    policy: str = ""
    with_path: str = ""


def build_context(job: LabelJob) -> LabelContext:
    """Load what the method needs (the policy, the other label set, the judge template)."""
    gen = None
    if job.method in NEEDS_POLICY:
        from prmkit.models.load import load_generator

        gen = load_generator(job.policy)
    shared = {f.name: getattr(job, f.name) for f in dataclasses.fields(Settings)}
    ctx = LabelContext(**shared, generator=gen, policy_name=job.policy)
    if job.method == "consensus":
        ctx.other = {s.id: s for s in read_jsonl(job.with_path, Sample.from_dict)}
    if job.method == "judge" and job.judge.template in judge.TEMPLATES:
        ctx.judge_template_text = judge.TEMPLATES[job.judge.template]
    elif job.method == "judge" and job.judge.template:
        p = Path(job.judge.template)
        if not p.is_file():
            raise InputError("no such template file", job.judge.template)
        try:
            ctx.judge_template_text = p.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise InputError("template is not valid UTF-8", job.judge.template) from None
    return ctx


def _line_numbers(path: Path) -> list[int]:
    """1-based numbers of the non-blank lines, in the order iter_jsonl yields records."""
    with open(path, "rb") as f:
        return [i for i, raw in enumerate(f, start=1) if raw.strip()]


def read_items(
    path: str, invalid: list[InputError] | None = None, method: str = ""
) -> tuple[list[Sample], dict[str, int]]:
    """The input samples and each id's line; a repeated id is an error at its line.
    With `invalid` (a list), a malformed line is appended to it and skipped. A method
    in INPUTS reads its own records (perturb: GSM8K references)."""
    samples, lines = [], []
    for n, (ln, obj) in enumerate(iter_records(path, invalid)):
        try:
            samples.append(INPUTS[method](obj, n) if method in INPUTS else Sample.from_dict(obj))
            lines.append(ln)
        except (ValueError, TypeError, KeyError) as e:
            if invalid is None:
                raise InputError(str(e), path, ln) from None
            invalid.append(InputError(str(e), path, ln))
    if not samples:
        raise InputError("file has no valid records" if invalid else "file has no records", path)
    where: dict[str, int] = {}
    for s, ln in zip(samples, lines):
        if s.id in where:
            raise InputError(
                f"sample id {s.id!r} repeats line {where[s.id]} (ids must be unique to resume)",
                path,
                ln,
            )
        where[s.id] = ln
    return samples, where


def record_method(d: dict) -> str | None:
    labels = d.get("labels") or {}
    meta = d.get("meta") or {}
    return (labels.get("provenance") or {}).get("method") or (meta.get("judge") or {}).get("method")


def repair_tail(path: Path) -> bool:
    """Cut a torn last line (no newline, not a whole JSON record). True if it cut one."""
    with open(path, "rb+") as f:
        data = f.read()
        end = data.rfind(b"\n") + 1
        tail = data[end:]
        if not tail.strip():
            return False
        try:
            whole = isinstance(json.loads(tail.decode("utf-8")), dict)
        except (UnicodeDecodeError, json.JSONDecodeError):
            whole = False
        if whole:  # cut just before its newline: the record itself is complete
            f.seek(0, os.SEEK_END)
            f.write(b"\n")
            return False
        f.truncate(end)
        f.flush()
        os.fsync(f.fileno())
        return True


def scan_output(path: str, job: LabelJob) -> dict[str, dict]:
    """Records already in the output, by id, after repairing a torn tail.

    A record made by another method or other settings is an error at its line: mixing
    label sets in silence would corrupt the output.
    """
    p = Path(path)
    if not p.exists():
        return {}
    repair_tail(p)
    done: dict[str, dict] = {}
    for d, ln in zip(iter_jsonl(p), _line_numbers(p)):
        if not isinstance(d, dict) or "id" not in d:
            raise InputError("not a labeled sample (no id)", path, ln)
        sid = str(d["id"])
        if sid in done:
            raise InputError(f"sample id {sid!r} appears twice in the output", path, ln)
        m = record_method(d)
        if m != job.method:
            raise InputError(
                f"holds labels of method {m!r}, this run is {job.method!r}: choose another --out",
                path,
                ln,
            )
        prov = (d.get("labels") or {}).get("provenance") or {}
        if job.method in NEEDS_POLICY | {"perturb"}:
            for key in _RESUME_KEYS if job.method in NEEDS_POLICY else ("seed",):
                if key in prov and prov[key] != getattr(job, key):
                    raise InputError(
                        f"was labeled with {key}={prov[key]}, this run has {key}={getattr(job, key)}: choose another --out",
                        path,
                        ln,
                    )
        done[sid] = d
    return done


def chunks(items: list, size: int) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def precheck(samples: list[Sample], ctx: LabelContext) -> None:
    """Input the policy cannot take fails before any rollout, naming its item."""
    gen = ctx.generator
    if gen is None:
        return
    limit = gen.context_length
    for s in samples:
        try:
            ids = gen.prompt_ids(render(s.prompt, s.steps, gen.step_sep))
        except ValueError as e:
            raise ItemError(s.id, str(e)) from None
        if ids is not None and limit is not None and len(ids) >= limit:
            why = f"problem and solution take {len(ids)} tokens, the policy's context length is {limit}"
            raise ItemError(s.id, why)


def as_input_error(e: Exception, where: dict[str, int], path: str) -> InputError:
    """A method's failure as the user sees it: at the item's line where one is known."""
    if isinstance(e, ItemError):
        return InputError(str(e), path, where.get(e.sample_id))
    if isinstance(e, ValueError):
        return InputError(str(e), path)
    return InputError(str(e))  # the judge endpoint, unreachable


def label_local(
    job: LabelJob,
    todo: list[Sample],
    size: int,
    write: Callable[[list[Sample]], None],
    where: dict[str, int],
    in_path: str,
) -> None:
    ctx = build_context(job)
    fn = METHODS[job.method]
    try:
        precheck(todo, ctx)
    except ItemError as e:
        raise as_input_error(e, where, in_path) from None
    for part in chunks(todo, size):
        try:
            labeled = fn(part, ctx)
        except (ValueError, ConnectionError) as e:
            raise as_input_error(e, where, in_path) from None
        write(labeled)


class _RayWorker:
    """A Ray actor: builds the context (loads the policy) once, then labels chunks."""

    def __init__(self, job: dict, threads: int = 1) -> None:
        import torch

        torch.set_num_threads(threads)
        self.job = LabelJob(**job)
        self.ctx = build_context(self.job)

    def label(self, dicts: list[dict]) -> list[dict]:
        samples = [Sample.from_dict(d) for d in dicts]
        precheck(samples, self.ctx)
        return [s.to_dict() for s in METHODS[self.job.method](samples, self.ctx)]


def label_ray(
    job: LabelJob,
    todo: list[Sample],
    size: int,
    write: Callable[[list[Sample]], None],
    address: str,
    num_cpus: int | None,
    where: dict[str, int],
    in_path: str,
) -> dict:
    """Chunks over Ray actors (one per CPU); results written by the caller as they arrive."""
    try:
        import ray
    except ImportError:
        raise InputError("--engine ray needs Ray: pip install 'prmkit[ray]'") from None
    import prmkit

    started = not ray.is_initialized()
    if started:
        kw: dict = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
        if address:
            kw["address"] = address
        else:
            kw["num_cpus"] = num_cpus or os.cpu_count() or 1
            src = str(Path(prmkit.__file__).resolve().parents[1])
            path = os.pathsep.join(
                [src] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
            )
            kw["runtime_env"] = {"env_vars": {"PYTHONPATH": path}}
        ray.init(**kw)
    try:
        n = num_cpus or max(1, int(ray.cluster_resources().get("CPU", 1)))
        n = max(1, min(n, -(-len(todo) // size)))
        Worker = ray.remote(num_cpus=1)(_RayWorker)
        actors = [Worker.remote(dataclasses.asdict(job)) for _ in range(n)]
        queue = list(chunks([s.to_dict() for s in todo], size))
        running: dict = {}
        for a in actors:  # two chunks in flight per actor keeps each one busy
            for _ in range(2):
                if queue:
                    running[a.label.remote(queue.pop(0))] = a
        while running:
            ready, _ = ray.wait(list(running), num_returns=1)
            ref = ready[0]
            actor = running.pop(ref)
            try:
                dicts = ray.get(ref)
            except ray.exceptions.RayTaskError as e:
                cause = getattr(e, "cause", None)
                if isinstance(cause, InputError):
                    raise InputError(str(cause)) from None
                if isinstance(cause, (ValueError, ConnectionError)):
                    raise as_input_error(cause, where, in_path) from None
                raise
            write([Sample.from_dict(d) for d in dicts])
            if queue:
                running[actor.label.remote(queue.pop(0))] = actor
        return {"ray_workers": n}
    finally:
        if started:
            ray.shutdown()


def summarize(records: list[dict]) -> dict:
    """Totals over labeled records: rollouts, tokens, per item, labels found."""
    provs = [(r.get("labels") or {}).get("provenance") or {} for r in records]
    rollouts = sum(int(p.get("rollouts", 0)) for p in provs)
    tokens = sum(int(p.get("tokens", 0)) for p in provs)
    n = max(1, len(records))
    fe = [r["labels"]["first_error"] for r in records if r.get("labels")]
    return {
        "items": len(records),
        "labeled": len(fe),
        "rollouts": rollouts,
        "tokens": tokens,
        "rollouts_per_item": round(rollouts / n, 3),
        "with_error": sum(f >= 0 for f in fe),
    }


def with_budget(job: LabelJob, samples: list[Sample]) -> LabelJob:
    """The job with its rollout budget: --max-new-tokens, else the largest default of
    the samples' worlds (a toolqa episode's 256, not a solution's 96)."""
    if job.max_new_tokens is not None or not samples:
        return job
    return dataclasses.replace(
        job, max_new_tokens=max(world_of(s, job).MAX_NEW_TOKENS for s in samples)
    )


def run_labeling(
    job: LabelJob,
    in_path: str,
    out_path: str,
    chunk: int = 64,
    engine: str = "local",
    address: str = "",
    num_cpus: int | None = None,
    progress: bool = True,
    skip_invalid: bool = False,
) -> dict:
    """Label every sample of in_path into out_path, resuming; returns the summary.
    skip_invalid: skip (and count) malformed input records instead of stopping."""
    if job.method not in METHODS:
        raise InputError(f"unknown method {job.method!r}; choose from {sorted(METHODS)}")
    if Path(out_path).resolve() == Path(in_path).resolve():
        raise InputError("--out must differ from --in (the output is appended to)", out_path)
    invalid = [] if skip_invalid else None
    samples, where = read_items(in_path, invalid, job.method)
    job = with_budget(job, samples)
    skipped = report_skipped(invalid)
    done = scan_output(out_path, job)
    todo = [s for s in samples if s.id not in done]
    t0 = time.time()
    new: list[dict] = []
    bar = tqdm(
        total=len(todo), desc=f"label {job.method}", unit="item", disable=not progress, leave=False
    )
    Path(out_path).parent.mkdir(parents=True, exist_ok=True)
    extra: dict = {}
    with open(out_path, "a", encoding="utf-8") as f:

        def write(labeled: list[Sample]) -> None:
            append_jsonl(f, labeled)
            new.extend(s.to_dict() for s in labeled)
            bar.update(len(labeled))

        if todo and engine == "ray":
            extra = label_ray(job, todo, chunk, write, address, num_cpus, where, in_path)
        elif todo:
            label_local(job, todo, chunk, write, where, in_path)
    bar.close()
    # Every item is done: rewrite in input order, so the file is the same however it was made.
    records = {str(d["id"]): d for d in iter_jsonl(out_path)} if Path(out_path).exists() else {}
    ordered = [records[s.id] for s in samples if s.id in records]
    write_jsonl(out_path, ordered)
    summary = {
        "method": job.method,
        "k": job.k if job.method in NEEDS_POLICY | {"judge"} else None,
        "out": out_path,
        "engine": engine,
        "resumed": len(done),
        "skipped": skipped,
    }
    summary |= summarize(ordered)
    summary["this_run"] = summarize(new) | {"seconds": round(time.time() - t0, 2)}
    if job.method == "consensus":
        summary["dropped_steps"] = dict(consensus.dropped_counts(samples, build_context(job)))
        summary["dropped_samples"] = len(samples) - len(ordered)
    return summary | extra
