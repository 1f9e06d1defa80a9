"""Shared helpers for the benchmark scripts: thread settings, timing, tables and `RESULT` lines.

Every script measures dlproj against a baseline *in the same process* (or, for start-up and memory, in fresh
subprocesses started by the same script), prints a Markdown table of both sides and their ratio, and ends with
one line per target:

    RESULT <name> <measured> <target> <met|missed>

Benchmarks measure; they never assert on wall-clock times. A script exits with status 0 whether or not a target
is met (a crash is still a non-zero exit), and writes its results to `bench-results/<script>.json`.
"""
from __future__ import annotations
import os

THREADS = int(os.environ.get('DLPROJ_BENCH_THREADS', '2'))
# Set before torch is imported (here and in every subprocess), so every BLAS/OpenMP pool has the same size.
for _v in ('OMP_NUM_THREADS', 'MKL_NUM_THREADS', 'OPENBLAS_NUM_THREADS'): os.environ[_v] = str(THREADS)

import datetime, json, platform, resource, statistics, subprocess, sys, time, warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = ROOT/'bench-results'
_results: list[dict] = []

def setup(threads:int=THREADS):
    "Fix torch's thread count and silence warnings that would clutter the tables."
    import torch
    torch.set_num_threads(threads)
    warnings.filterwarnings('ignore')
    from dlproj.utils import get_logger
    get_logger(level='WARNING')   # dlproj logs each epoch when progress bars are off; keep the tables readable

def machine()->str:
    "One line describing where the numbers come from."
    cpu = platform.processor() or platform.machine()
    try: cpu = next(l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name'))
    except (OSError, StopIteration): pass
    try: import torch; tv = torch.__version__
    except ImportError: tv = '?'
    load = ' '.join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, 'getloadavg') else '?'
    return (f"{cpu}, {os.cpu_count()} cores, {THREADS} torch threads; Python {platform.python_version()}, torch {tv}; "
            f"load average {load}; {datetime.datetime.now().isoformat(timespec='minutes')}")

def header(title:str, method:str):
    "Print the script's title, the method and the machine."
    print(f"# {title}\n\nmethod: {method}\nmachine: {machine()}\n", flush=True)

def median(xs): return statistics.median(xs)

def fmt(x, nd:int=3)->str:
    if isinstance(x, str): return x
    if x is None: return '-'
    if isinstance(x, int): return f"{x:,}"
    return f"{x:.{nd}f}" if abs(x) < 1e4 else f"{x:,.0f}"

def table(rows:list[dict], cols:list[str]|None=None, nd:int=3):
    "Print `rows` as a Markdown table."
    cols = cols or list(rows[0])
    print('| ' + ' | '.join(cols) + ' |'); print('|' + '---|'*len(cols))
    for r in rows: print('| ' + ' | '.join(fmt(r.get(c), nd) for c in cols) + ' |')
    print(flush=True)

def result(name:str, measured:float, target:float, higher_is_better:bool=False, nd:int=3, note:str='')->bool:
    "Print a `RESULT` line (with an optional trailing `(note)`) and remember it for the JSON file."
    ok = measured >= target if higher_is_better else measured <= target
    print(f"RESULT {name} {measured:.{nd}f} {target:g} {'met' if ok else 'missed'}" + (f" ({note})" if note else ''), flush=True)
    _results.append(dict(name=name, measured=measured, target=target, met=ok, higher_is_better=higher_is_better, **({'note': note} if note else {})))
    return ok

def result_status(name:str, target:float|None, status:str, note:str='', higher_is_better:bool=True):
    "A `RESULT` line without a measurement, `RESULT <name> - <target> <status>`: `skipped` (data missing) or `error` (the run failed)."
    print(f"RESULT {name} - {'-' if target is None else f'{target:g}'} {status}" + (f" ({note})" if note else ''), flush=True)
    _results.append(dict(name=name, measured=None, target=target, met=None, status=status, higher_is_better=higher_is_better, **({'note': note} if note else {})))

def save(script:str, **data):
    "Write the RESULT lines and any tables to `bench-results/<script>.json`."
    RESULTS_DIR.mkdir(exist_ok=True)
    (RESULTS_DIR/f"{script}.json").write_text(json.dumps(dict(machine=machine(), results=_results, **data), indent=1, default=str))

def python_env()->dict:
    "The environment for child processes: same thread settings, unbuffered output."
    return {**os.environ, 'PYTHONUNBUFFERED': '1'}

def time_cmd(cmd:list[str], repeats:int=7, warmup:int=1, cwd=None)->list[float]:
    "Wall-clock seconds of `cmd` in fresh processes, `warmup` dropped runs first; raises if it fails."
    ts = []
    for i in range(warmup + repeats):
        t = time.perf_counter()
        r = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, env=python_env())
        dt = time.perf_counter() - t
        if r.returncode != 0: raise RuntimeError(f"{cmd} failed ({r.returncode}):\n{r.stderr[-2000:]}")
        if i >= warmup: ts.append(dt)
    return ts

def run_child(code:str, timeout:int=600)->dict:
    "Run Python `code` in a fresh process; it prints one JSON line last, which is returned with the child's peak RSS."
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, env=python_env(), timeout=timeout, cwd=ROOT)
    if r.returncode != 0: raise RuntimeError(f"child failed ({r.returncode}):\n{r.stderr[-3000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])

# Used by children: the process's own peak resident set size in MiB (Linux reports kilobytes).
PEAK_RSS = "__import__('resource').getrusage(__import__('resource').RUSAGE_SELF).ru_maxrss / 1024"

def peak_rss_mib()->float: return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

def atomic_file(path:Path, write):
    "Call `write(tmp)` for a temporary file next to `path` (same suffix, so pandas picks the format), then rename it."
    path = Path(path); path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")
    try: write(tmp); os.replace(tmp, path)
    finally: tmp.unlink(missing_ok=True)
    return path

if __name__ == '__main__': print(machine())
