"""One run, one table: charging-rules against honest baselines (issue #14, item 5).

    python benchmarks/suite.py --n 50000 --repeat 3 --json-out bench.json
    python benchmarks/suite.py --n 2000 --repeat 1                      # quick
    python benchmarks/suite.py --only durable-engine,batch-nolog,startup

Every measurement is a whole process (interpreter start-up, imports, reading the file,
printing the result), timed from outside by wall clock; the figure is the median of
--repeat runs, the peak RSS (ru_maxrss of that process, from wait4) the largest of them.
The tool is driven only through its CLI, never imported (its modules are moving).

Rows (see benchmarks/README.md):
  durable-engine   hand-written durable_rules, C engine API (benchmarks/handwritten_durable.py)
                   -- THE BASELINE the ratios are taken against
  durable-lang     the same ruleset written with durable.lang (@when_all, assert_fact)
  zen              zen-engine, the policy as a JDM first-hit decision table (benchmarks/zen_kc.py)
  batch-nolog      charging-rules batch FILE --no-log --json (the shipped set, rules/), as a
                   user runs it: one worker process per CPU core
  batch-nolog-1    the same in one process (--jobs 1), like the baselines
  batch-nolog-kc   the same with --guidelines rules/kc-drug-policy.yaml: exactly the policy
                   the baselines encode, whatever else is added to the shipped set
  batch-log        charging-rules batch FILE --json --audit-dir FRESH_DIR
  batch-log-1      the same in one process (--jobs 1)
  batch-pg         charging-rules batch FILE --json --audit-db URL (PostgreSQL 15 started here)
                   when `batch --help` offers --audit-db; skipped with a note otherwise
  startup          charging-rules screen ONE.json --no-log --json vs bare imports
  manual           generated manuals of 10/30/100 guidelines (benchmarks/manual.py): batch
                   rate relative to the shipped set, and rules validate / lint / test times

Outcome counts of every throughput row are checked against the baseline's; a difference is
flagged, and explained when the shipped rules changed beyond the policy the baselines encode.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
import manual  # noqa: E402
from referrals import generate  # noqa: E402  (the shared referral generator)

THROUGHPUT = ("durable-engine", "durable-lang", "zen", "batch-nolog", "batch-nolog-1",
              "batch-nolog-kc", "batch-log", "batch-log-1", "batch-pg")
SECTIONS = (*THROUGHPUT, "startup", "manual")
BASELINE = "durable-engine"
KC_FILE = ROOT / "rules" / "kc-drug-policy.yaml"
# sha256 of rules/kc-drug-policy.yaml when handwritten_durable.py and zen_kc.py were written
# against it: if the file changes, their outcome counts may legitimately differ.
KC_SHA256_ENCODED = "56094b02187c54f6470378d724c35ab0a2e334f9d18ffa2eca224f7c747421a6"
SHIPPED_GUIDELINES = {"kc-drug-policy.yaml", "victim-outreach.yaml"}
REFERRAL = ROOT / "examples" / "referrals" / "kc-sale-no-violence.json"
BARE = [sys.executable, "-c", "import durable.lang, pydantic, yaml, rich, typer"]


def cli() -> list[str]:
    """The console script users type, from this interpreter's environment."""
    script = Path(sys.executable).parent / "charging-rules"
    return [str(script)] if script.exists() else [sys.executable, "-m", "charging_rules"]


# --- one process, measured ------------------------------------------------------------------

@dataclass
class Run:
    seconds: float
    maxrss_kib: int
    returncode: int
    stdout: str
    stderr: str
    timed_out: bool = False


def run(command: list[str], timeout: float, env: dict[str, str] | None = None) -> Run:
    """Run one process to completion: wall time, its own peak RSS (wait4), output."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(command, stdout=out, stderr=err, cwd=ROOT, env=env,
                                start_new_session=True)
        expired = threading.Event()

        def kill() -> None:
            expired.set()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, 9)

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Run(seconds, usage.ru_maxrss, proc.returncode, out.read(), err.read(),
                   expired.is_set())


def last_json(text: str) -> dict[str, Any] | None:
    for line in reversed(text.strip().splitlines()):
        with contextlib.suppress(ValueError):
            value = json.loads(line)
            if isinstance(value, dict):
                return value
    with contextlib.suppress(ValueError):  # pretty-printed over several lines
        value = json.loads(text)
        return value if isinstance(value, dict) else None
    return None


def failure(result: Run, timeout: float) -> str:
    if result.timed_out:
        return f"timeout after {timeout:.0f} s"
    lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
    message = lines[-1].strip() if lines else f"exit {result.returncode}"
    verb = "refused" if "error" in message.lower() or "refus" in message.lower() else "failed"
    message = message.removeprefix("error:").strip()
    return f"{verb}: {message[:200]} (exit {result.returncode})"


@dataclass
class Row:
    name: str
    what: str
    n: int
    status: str = "ok"
    seconds: list[float] = field(default_factory=list)
    maxrss_kib: list[int] = field(default_factory=list)
    outcomes: Any = None
    note: str = ""

    @property
    def median(self) -> float | None:
        return statistics.median(self.seconds) if self.seconds else None

    @property
    def rate(self) -> float | None:
        return self.n / self.median if self.median and self.n else None


def always(argv: list[str]) -> Callable[[int], list[str]]:
    """The same command on every repeat."""
    return lambda _: argv


def fresh_audit_dirs(prefix: Path, argv: list[str], extra: Sequence[str] = ()
                     ) -> tuple[Callable[[int], list[str]], Callable[[int], None]]:
    """A command writing a new audit log each repeat, and the cleanup removing it after."""
    def logged(i: int) -> list[str]:
        return [*argv, "--audit-dir", f"{prefix}-{i}", *extra]

    def remove(i: int) -> None:
        shutil.rmtree(f"{prefix}-{i}", ignore_errors=True)

    return logged, remove


def measure(row: Row, make: Callable[[int], list[str]], repeat: int, timeout: float,
            env: dict[str, str], before: Callable[[int], None] | None = None,
            after: Callable[[int], None] | None = None, keep_failed: bool = False) -> Row:
    """Run `make(i)` --repeat times. A failing run ends the row with its message as status;
    with keep_failed (commands whose time matters even when they refuse, e.g. `rules test`
    on a set the engine refuses) its time is kept and the remaining runs still happen."""
    for index in range(repeat):
        if before:
            before(index)
        try:
            result = run(make(index), timeout, env)
        finally:
            if after:
                after(index)
        if result.returncode != 0 or result.timed_out:
            row.status = failure(result, timeout)
            if not keep_failed or result.timed_out:
                break
        row.seconds.append(result.seconds)
        row.maxrss_kib.append(result.maxrss_kib)
        summary = last_json(result.stdout)
        if summary is not None:
            row.outcomes = summary.get("outcomes", summary)
    print(f"  {row.name:16} {_brief(row)} {'' if row.status == 'ok' else row.status}",
          file=sys.stderr, flush=True)
    return row


def _brief(row: Row) -> str:
    rate = f"{row.rate:,.0f}/s" if row.rate else ""
    return f"{rate}  runs: " + ", ".join(f"{s:.2f}s" for s in row.seconds)


# --- PostgreSQL, throwaway ------------------------------------------------------------------

@contextlib.contextmanager
def postgres() -> Iterator[Callable[[str], str]]:
    """A PostgreSQL server run as OS user `postgres` on a unix socket in a temp dir; yields
    make_db(name) -> URL. Stopped and deleted afterwards."""
    base = Path(tempfile.mkdtemp(prefix="cr-bench-pg-"))
    base.chmod(0o755)
    data, sock = base / "data", base / "sock"
    sock.mkdir(mode=0o777)
    sock.chmod(0o777)
    for path in (base, sock):
        shutil.chown(path, "postgres", "postgres")
    as_pg = ["runuser", "-u", "postgres", "--"]

    def check(command: list[str]) -> None:
        proc = subprocess.run(as_pg + command, capture_output=True, text=True, timeout=120)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(command[:2])}: {proc.stderr.strip()[-300:]}")

    started = False
    try:
        check(["initdb", "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
               "--no-sync"])
        check(["pg_ctl", "-D", str(data), "-l", str(base / "server.log"), "-w", "-o",
               f"-k {sock} -c listen_addresses='' -c fsync=on", "start"])
        started = True

        def make_db(name: str) -> str:
            check(["createdb", "-h", str(sock), name])
            return f"postgresql://postgres@/{name}?host={sock}"

        yield make_db
    finally:
        if started:
            subprocess.run([*as_pg, "pg_ctl", "-D", str(data), "-m", "fast", "-w", "stop"],
                           capture_output=True, timeout=120)
        shutil.rmtree(base, ignore_errors=True)


def supports_audit_db(env: dict[str, str]) -> bool:
    proc = subprocess.run([*cli(), "batch", "--help"], capture_output=True, text=True,
                          cwd=ROOT, env={**env, "COLUMNS": "200", "NO_COLOR": "1"})
    return "--audit-db" in proc.stdout + proc.stderr


# --- the sections ---------------------------------------------------------------------------

def throughput(args: argparse.Namespace, referrals: Path, env: dict[str, str],
               work: Path) -> list[Row]:
    rows: list[Row] = []
    timeout = max(args.timeout, args.n / 200)  # a big --n must not hit the per-command limit
    chosen = [name for name in THROUGHPUT if name in args.only]
    batch = [*cli(), "batch", str(referrals), "--json"]
    shipped = ["--guidelines", str(ROOT / "rules")]
    for name in chosen:
        if name == "durable-engine":
            rows.append(measure(Row(name, "hand-written durable_rules (C engine API)", args.n),
                                lambda _: [sys.executable, str(HERE / "handwritten_durable.py"),
                                           str(referrals), "--api", "engine"],
                                args.repeat, timeout, env))
        elif name == "durable-lang":
            rows.append(measure(Row(name, "hand-written durable_rules (durable.lang)", args.n),
                                lambda _: [sys.executable, str(HERE / "handwritten_durable.py"),
                                           str(referrals), "--api", "lang"],
                                args.repeat, timeout, env))
        elif name == "zen":
            row = Row(name, "zen-engine JDM decision table", args.n)
            try:
                import zen  # noqa: F401
            except ImportError:
                row.status = "skipped: zen-engine not installed (pip install -e '.[bench]')"
                rows.append(row)
                continue
            rows.append(measure(row, lambda _: [sys.executable, str(HERE / "zen_kc.py"),
                                                str(referrals)], args.repeat, timeout, env))
        elif name == "batch-nolog":
            rows.append(measure(Row(name, "charging-rules batch --no-log", args.n),
                                lambda _: [*batch, "--no-log", *shipped], args.repeat,
                                timeout, env))
        elif name == "batch-nolog-1":
            rows.append(measure(Row(name, "batch --no-log, one process (--jobs 1)", args.n),
                                lambda _: [*batch, "--no-log", *shipped, "--jobs", "1"],
                                args.repeat, timeout, env))
        elif name == "batch-nolog-kc":
            rows.append(measure(Row(name, "batch --no-log, KC guideline file only", args.n),
                                lambda _: [*batch, "--no-log", "--guidelines", str(KC_FILE)],
                                args.repeat, timeout, env))
        elif name == "batch-log":
            logged, remove = fresh_audit_dirs(work / "audit", [*batch, *shipped])
            rows.append(measure(Row(name, "charging-rules batch, file audit log", args.n),
                                logged, args.repeat, timeout, env, after=remove))
        elif name == "batch-log-1":
            logged, remove = fresh_audit_dirs(work / "audit1", [*batch, *shipped],
                                              ["--jobs", "1"])
            rows.append(measure(Row(name, "batch, file audit log, one process", args.n),
                                logged, args.repeat, timeout, env, after=remove))
        elif name == "batch-pg":
            rows.append(batch_pg(args, batch + shipped, env, timeout))
    return rows


def batch_pg(args: argparse.Namespace, batch: list[str], env: dict[str, str],
             timeout: float) -> Row:
    row = Row("batch-pg", "charging-rules batch, PostgreSQL audit log", args.n)
    if not supports_audit_db(env):
        row.status = "skipped: this charging-rules has no `batch --audit-db` yet"
        return row
    if shutil.which("initdb") is None or shutil.which("pg_ctl") is None:
        row.status = "skipped: initdb/pg_ctl not on PATH"
        return row
    try:
        with postgres() as make_db:
            urls = [make_db(f"bench{i}") for i in range(args.repeat)]

            def init_db(i: int) -> None:  # untimed: the schema is created before each run
                proc = subprocess.run([*cli(), "audit", "init-db", "--audit-db", urls[i]],
                                      capture_output=True, text=True, cwd=ROOT, env=env,
                                      timeout=args.timeout)
                if proc.returncode != 0:
                    raise RuntimeError(f"audit init-db: {proc.stderr.strip()[-300:]}")

            return measure(row, lambda i: [*batch, "--audit-db", urls[i]], args.repeat,
                           timeout, env, before=init_db)
    except (RuntimeError, OSError, subprocess.SubprocessError) as error:
        row.status = f"failed: {error}"
        return row


def startup(args: argparse.Namespace, env: dict[str, str]) -> dict[str, Any]:
    screen = [*cli(), "screen", str(REFERRAL), "--no-log", "--json",
              "--guidelines", str(ROOT / "rules")]
    times: dict[str, list[float]] = {"bare": [], "screen": []}
    rss: dict[str, list[int]] = {"bare": [], "screen": []}
    status = "ok"
    for _ in range(args.startup_runs):  # interleaved, so drifting load hits both alike
        for name, command in (("bare", BARE), ("screen", screen)):
            result = run(command, args.timeout, env)
            if result.returncode != 0 or result.timed_out:
                status = f"{name} {failure(result, args.timeout)}"
                break
            times[name].append(result.seconds)
            rss[name].append(result.maxrss_kib)
        if status != "ok":
            break
    out: dict[str, Any] = {"status": status, "runs": args.startup_runs,
                           "bare_command": " ".join(BARE[1:]), "screen_command":
                           " ".join(screen)}
    if status == "ok":
        for name in times:
            out[name] = {"min_ms": min(times[name]) * 1000,
                         "median_ms": statistics.median(times[name]) * 1000,
                         "maxrss_kib": max(rss[name])}
        out["ratio_of_mins"] = min(times["screen"]) / min(times["bare"])
        out["ratio_of_medians"] = (statistics.median(times["screen"])
                                   / statistics.median(times["bare"]))
    print(f"  startup          {status}", file=sys.stderr, flush=True)
    return out


def manuals(args: argparse.Namespace, env: dict[str, str], work: Path) -> dict[str, Any]:
    referrals = manual.write_referrals(work / "manual-referrals.jsonl", args.n)
    batch = [*cli(), "batch", str(referrals), "--no-log", "--json"]
    timeout = max(args.timeout, args.n / 200)
    shipped = measure(Row("manual-shipped", "shipped set (rules/) on the manual's referrals",
                          args.n), lambda _: [*batch, "--guidelines", str(ROOT / "rules")],
                      args.repeat, timeout, env)
    # Issue #14 asks for the 30-guideline manual at half the one-guideline set's rate: the
    # KC policy file alone is that set (the shipped one has grown to three guidelines).
    single = measure(Row("manual-one", "KC guideline file only on the manual's referrals",
                         args.n), lambda _: [*batch, "--guidelines", str(KC_FILE)],
                     args.repeat, timeout, env)
    sizes = []
    for size in args.manual_sizes:
        directory = manual.write_manual(work / f"manual-{size}", size)
        entry: dict[str, Any] = {"guidelines": size}
        row = measure(Row(f"manual-{size}", f"batch --no-log, {size}-guideline manual",
                          args.n), always([*batch, "--guidelines", str(directory)]),
                      args.repeat, args.timeout, env)
        entry["batch"] = asdict(row) | {"rate": row.rate, "median_s": row.median}
        if row.rate and shipped.rate:
            entry["batch"]["vs_shipped"] = row.rate / shipped.rate
        if row.rate and single.rate:
            entry["batch"]["vs_one"] = row.rate / single.rate
        for command in ("validate", "lint", "test"):
            check = measure(Row(f"  rules {command}", f"rules {command}", 0),
                            always([*cli(), "rules", command, str(directory)]),
                            args.repeat, args.timeout, env, keep_failed=True)
            entry[command] = asdict(check) | {"median_s": check.median}
        sizes.append(entry)
    return {"referrals": args.n, "sizes": sizes,
            **{name: asdict(row) | {"rate": row.rate, "median_s": row.median}
               for name, row in (("shipped", shipped), ("one", single))}}


# --- outcome checks -------------------------------------------------------------------------

def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else "absent"


def checks(rows: list[Row]) -> tuple[list[str], bool]:
    """Compare every row's outcome counts with the baseline's; returns lines and whether an
    unexplained mismatch was found."""
    by_name = {row.name: row for row in rows if row.outcomes is not None}
    reference = by_name.get(BASELINE) or by_name.get("durable-lang")
    if reference is None:
        return ["outcome check: no hand-written baseline measured"], False
    extra = sorted({p.name for p in (ROOT / "rules").glob("*.yaml")} - SHIPPED_GUIDELINES
                   - {"set.yaml"})
    kc_changed = sha256(KC_FILE) != KC_SHA256_ENCODED
    lines = [f"outcome counts ({reference.name} is the reference):"]
    bad = False
    for row in by_name.values():
        same = row.outcomes == reference.outcomes
        verdict = "same" if same else "MISMATCH"
        if not same and row.name.startswith("batch"):
            reasons = []
            if kc_changed:
                reasons.append("rules/kc-drug-policy.yaml changed since the baselines were "
                               "written (sha256 differs)")
            if extra and row.name != "batch-nolog-kc":
                reasons.append(f"the shipped set has guidelines beyond the KC policy: "
                               f"{', '.join(extra)}")
            if not all(isinstance(v, int) for v in dict(row.outcomes).values()):
                reasons.append("batch --json reports outcomes in a new shape")
            if reasons:
                verdict += " (expected: " + "; ".join(reasons) + ")"
            else:
                verdict += " (UNEXPLAINED: the tool and the hand-written policy disagree)"
                bad = True
        elif not same:
            verdict += " (UNEXPLAINED: two hand-written baselines disagree)"
            bad = True
        lines.append(f"  {row.name:16} {json.dumps(row.outcomes, sort_keys=True)}  {verdict}")
    return lines, bad


# --- output ---------------------------------------------------------------------------------

def _rate_of(rows: list[Row], name: str) -> float | None:
    return next((r.rate for r in rows if r.name == name and r.rate), None)


def table(rows: list[Row]) -> list[str]:
    """Each rate against the C-API baseline and against the `durable.lang` one (the issue's
    "parse, flatten, post" ruleset)."""
    base = _rate_of(rows, BASELINE)
    lang = _rate_of(rows, "durable-lang")
    lines = [f"{'row':16} {'what':42} {'rate/s':>9} {'vs base':>8} {'vs lang':>8} "
             f"{'median s':>9} {'peak RSS':>9}", "-" * 107]
    for row in rows:
        if row.rate is None or row.status != "ok":
            lines.append(f"{row.name:16} {row.what:42} {row.status}")
            continue
        ratio = f"{row.rate / base:.2f}x" if base else "-"
        to_lang = f"{row.rate / lang:.2f}x" if lang else "-"
        lines.append(f"{row.name:16} {row.what:42} {row.rate:9,.0f} {ratio:>8} {to_lang:>8} "
                     f"{row.median:9.2f} {max(row.maxrss_kib) / 1024:6.0f} MiB")
    return lines


def startup_lines(result: dict[str, Any]) -> list[str]:
    if result["status"] != "ok":
        return [f"startup: {result['status']}"]
    out = [f"start-up ({result['runs']} fresh processes each; min / median):"]
    for name, label in (("bare", "bare imports (durable.lang, pydantic, yaml, rich, typer)"),
                        ("screen", "charging-rules screen kc-sale-no-violence.json --json")):
        r = result[name]
        out.append(f"  {label:58} {r['min_ms']:7.1f} ms / {r['median_ms']:7.1f} ms  "
                   f"{r['maxrss_kib'] / 1024:5.0f} MiB")
    out.append(f"  ratio of mins {result['ratio_of_mins']:.2f}x  "
               f"(medians {result['ratio_of_medians']:.2f}x)")
    return out


def manual_lines(result: dict[str, Any]) -> list[str]:
    shipped = result["shipped"]
    out = [f"generated manuals ({result['referrals']} referrals with the manuals' statutes; "
           f"batch --no-log):"]
    for name, row in (("shipped set (rules/)", shipped), ("one guideline (KC policy)",
                                                         result["one"])):
        out.append(f"  {name}: "
                   + (f"{row['rate']:,.0f}/s" if row["rate"] else row["status"]))
    for entry in result["sizes"]:
        batch = entry["batch"]
        if batch["rate"] and batch["status"] == "ok":
            text = (f"{batch['rate']:,.0f}/s ({batch.get('vs_shipped', 0):.2f}x shipped, "
                    f"{batch.get('vs_one', 0):.2f}x one guideline)")
        else:
            text = batch["status"]
        out.append(f"  {entry['guidelines']:3} guidelines: batch {text}")
        for command in ("validate", "lint", "test"):
            check = entry[command]
            value = f"{check['median_s']:.2f} s" if check["median_s"] is not None else ""
            status = "" if check["status"] == "ok" else check["status"]
            out.append(f"      rules {command:8} {value:9} {status}".rstrip())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=50_000, help="referrals per throughput run")
    parser.add_argument("--repeat", type=int, default=3, help="runs per row (median)")
    parser.add_argument("--only", default=",".join(SECTIONS),
                        help=f"comma-separated rows/sections: {','.join(SECTIONS)}")
    parser.add_argument("--json-out", type=Path, help="write the results as JSON here")
    parser.add_argument("--timeout", type=float, default=300.0,
                        help="seconds per command (throughput runs: at least n/200)")
    parser.add_argument("--startup-runs", type=int, default=20)
    parser.add_argument("--manual-sizes", default="10,30,100")
    args = parser.parse_args()
    args.only = {name.strip() for name in args.only.split(",") if name.strip()}
    unknown = args.only - set(SECTIONS)
    if unknown:
        parser.error(f"unknown rows: {', '.join(sorted(unknown))} (known: {', '.join(SECTIONS)})")
    args.manual_sizes = [int(size) for size in args.manual_sizes.split(",") if size]

    started = dt.datetime.now(dt.UTC)
    with tempfile.TemporaryDirectory(prefix="cr-bench-suite-") as tmp:
        work = Path(tmp)
        env = {**os.environ, "CHARGING_RULES_AUDIT_DIR": str(work / "stray-audit"),
               "NO_COLOR": "1"}
        referrals = work / f"referrals-{args.n}.jsonl"
        print(f"generating {args.n} referrals -> {referrals}", file=sys.stderr, flush=True)
        generate(referrals, args.n)
        rows = throughput(args, referrals, env, work)
        start_result = startup(args, env) if "startup" in args.only else None
        manual_result = manuals(args, env, work) if "manual" in args.only else None

    check_lines, bad = checks(rows)
    header = [f"charging-rules benchmark suite  {started:%Y-%m-%d %H:%M} UTC  "
              f"n={args.n} repeat={args.repeat}  {os.cpu_count()} CPUs, load "
              f"{os.getloadavg()[0]:.1f}  Python {platform.python_version()}",
              f"command: {' '.join(['python', 'benchmarks/suite.py', *sys.argv[1:]])}", ""]
    body = header + table(rows) + [""] + check_lines
    if start_result:
        body += ["", *startup_lines(start_result)]
    if manual_result:
        body += ["", *manual_lines(manual_result)]
    print("\n".join(body))
    if args.json_out:
        base = _rate_of(rows, BASELINE)
        payload = {
            "started": started.isoformat(), "command": sys.argv, "n": args.n,
            "repeat": args.repeat, "cpus": os.cpu_count(), "load": os.getloadavg(),
            "python": platform.python_version(), "baseline": BASELINE,
            "rows": [asdict(r) | {"rate": r.rate, "median_s": r.median,
                                  "vs_baseline": r.rate / base if base and r.rate
                                  else None} for r in rows],
            "outcome_check": {"lines": check_lines, "unexplained_mismatch": bad},
            "startup": start_result, "manual": manual_result, "table": body,
        }
        args.json_out.write_text(json.dumps(payload, indent=2) + "\n")
    if bad:
        sys.exit("outcome counts differ with no known reason: see the outcome check above")


if __name__ == "__main__":
    main()
