"""A batch's rows screened in chunks, in this process or in worker processes (`--jobs`).

A chunk of rows as the reader parsed them goes in; per row comes out either why it was
skipped or what the batch needs of its screening: the outcome, whether the set's fallback
decided it, the audit record to append and the `screen --json` object (each only when
asked for). Only the calling process appends to the audit log, in the input's order, so the
hash chain and "logged before reported" are the same with one worker or many.

Workers are forked with the compiled guidelines already in memory (durable_rules' rulesets
included), before any thread of ours starts; a chunk is sent to them only as plain data, and
at most two chunks per worker are in flight, so memory stays flat on any input size.

A chunk's results come back through a file in a private spool directory, and only its name
through the pool. The pool reads each result whole with no timeout (CPython 3.11): a worker
killed while sending a large result would leave half a message that it waits on forever, so
the batch would hang instead of stopping. A name is a single pipe write, never half sent.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import pickle
import shutil
import tempfile
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from charging_rules.audit.entries import recommendation_entry
from charging_rules.errors import EngineError
from charging_rules.ingest.mapping import Mapping
from charging_rules.ingest.readers import Row
from charging_rules.ingest.records import Skipped, referral_row
from charging_rules.model.facts import to_fact
from charging_rules.model.recommendation import Recommendation
from charging_rules.screening.screener import Screener

IN_FLIGHT = 2  # chunks per worker
WARM_CHUNKS = 4  # screened before the workers are forked


@dataclass(frozen=True)
class Job:
    """What screening a chunk needs: the same in every worker."""

    screener: Screener
    mapping: Mapping | None
    label: str  # the input, as skipped rows name it
    actor: str
    shown: bool  # the `screen --json` object is wanted (`batch --out`)


@dataclass(frozen=True, slots=True)
class Result:
    """One screened row: outcome, decided by the set's fallback (no guideline applied),
    the audit record to append (None without a log), the `screen --json` object (None
    unless asked for; its decision_id is the caller's to fill in)."""

    outcome: str
    fallback: bool
    entry: dict[str, Any] | None
    shown: dict[str, object] | None


def out_of_scope(recommendation: Recommendation) -> bool:
    """No guideline applied to the record: no rule decided it and nothing is missing, so
    the set's fallback did (every scope failed, or the guidelines in scope abstained)."""
    return not recommendation.rules and recommendation.outcome != "needs_information"


def screen_chunk(job: Job, rows: list[Row]) -> list[Result | Skipped]:
    read = [referral_row(line, raw, job.mapping, job.label) for line, raw in rows]
    parsed = [item for item in read if not isinstance(item, Skipped)]
    records = [record for record, _ in parsed]
    plain = [to_fact(record) for record in records]  # evaluated, and logged
    screened = zip(parsed, plain, job.screener.evaluator("referral").evaluate_plain(
        records, plain), strict=True)
    logged = job.screener.store is not None
    out: list[Result | Skipped] = []
    for item in read:
        if isinstance(item, Skipped):
            out.append(item)
            continue
        (record, demographics), fact, rec = next(screened)
        out.append(Result(
            rec.outcome, out_of_scope(rec),
            recommendation_entry(rec, record, demographics, job.actor, fact) if logged
            else None,
            rec.to_json(None) if job.shown else None))
    return out


_job: Job | None = None  # a worker's, inherited when it is forked
_spool: Path | None = None  # where a worker leaves its chunks' results (inherited too)
_written = itertools.count()


def _worker_chunk(rows: list[Row]) -> str:
    """Screens a chunk in a worker; returns the name of the file holding its results."""
    assert _job is not None and _spool is not None
    path = _spool / f"{os.getpid()}-{next(_written)}"
    with path.open("wb") as out:
        pickle.dump(screen_chunk(_job, rows), out, protocol=pickle.HIGHEST_PROTOCOL)
    return path.name


def _collected(name: str) -> list[Result | Skipped]:
    """A chunk's results, from the file a worker wrote in our private spool directory."""
    assert _spool is not None
    path = _spool / name
    with path.open("rb") as data:
        results: list[Result | Skipped] = pickle.load(data)
    path.unlink()
    return results


def available_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") \
        else os.cpu_count() or 1


def screen_chunks(job: Job, jobs: int, chunks: Iterable[list[Row]]
                  ) -> Iterator[list[Result | Skipped]]:
    """Screen chunks in order: here (`jobs` 1), or in `jobs` forked worker processes.

    The first chunks are screened here either way: the workers, forked after them, start
    with the engine's caches holding the answers most referrals need (each would otherwise
    work them out again)."""
    chunks = iter(chunks)
    if jobs <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        yield from (screen_chunk(job, chunk) for chunk in chunks)
        return
    for chunk in itertools.islice(chunks, WARM_CHUNKS):
        yield screen_chunk(job, chunk)
    global _job, _spool
    _job = job
    _spool = Path(tempfile.mkdtemp(prefix="charging-rules-batch-"))  # ours alone (0700)
    executor = ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("fork"))
    try:
        yield from _in_order(executor, chunks, jobs * IN_FLIGHT)
    except BrokenProcessPool:
        raise EngineError("a screening worker process stopped unexpectedly (out of memory? "
                          "killed?); the audit log holds every referral reported before it") \
            from None
    finally:
        executor.shutdown(cancel_futures=True)
        shutil.rmtree(_spool, ignore_errors=True)
        _job = _spool = None


def _in_order(executor: ProcessPoolExecutor, chunks: Iterable[list[Row]], limit: int
              ) -> Iterator[list[Result | Skipped]]:
    pending: deque[Future[str]] = deque()
    for chunk in chunks:
        pending.append(executor.submit(_worker_chunk, chunk))
        if len(pending) >= limit:
            yield _collected(pending.popleft().result())
    while pending:
        yield _collected(pending.popleft().result())
