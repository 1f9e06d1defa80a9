"""Start-up: `dlproj --help` against `python -c "import dlproj"`, each in fresh processes.

`dlproj --help` must answer at once: the command module imports only `argparse`, and torch, fastai and pandas
are imported inside the subcommands. Each command runs in a fresh process, 2 dropped warm-up runs (to fill the
OS file cache) then 15 timed runs; the median wall time is reported. For context: a bare interpreter, and the
import of the training module (what a subcommand pays before it starts working).
"""
from __future__ import annotations
import _common as C
import shutil, statistics, sys
from pathlib import Path

REPEATS, WARMUP = 15, 2
EXE = shutil.which('dlproj', path=str(Path(sys.executable).parent)) or 'dlproj'

def main():
    C.header('Start-up: `dlproj --help` vs `import dlproj`',
             f"fresh process per run; {WARMUP} warm-up runs dropped, median of {REPEATS}; wall clock from the parent")
    cmds = {'python -c "pass"': [sys.executable, '-c', 'pass'],
            'python -c "import dlproj"': [sys.executable, '-c', 'import dlproj'],
            'dlproj --help': [EXE, '--help'],
            'python -c "import dlproj.train"': [sys.executable, '-c', 'import dlproj.train']}
    med = {}
    for k,c in cmds.items():
        ts = C.time_cmd(c, repeats=REPEATS, warmup=WARMUP) if "train" not in k else C.time_cmd(c, repeats=3, warmup=1)
        med[k] = dict(median=statistics.median(ts), min=min(ts), max=max(ts))
    base = med['python -c "import dlproj"']['median']
    rows = [{'command': k, 'median s': v['median'], 'min s': v['min'], 'max s': v['max'], 'vs import dlproj': v['median'] / base}
            for k,v in med.items()]
    C.table(rows, nd=3)
    h = med['dlproj --help']['median']
    C.result('startup_help_seconds', h, 0.5)
    C.result('startup_help_vs_import', h / base, 2.0)
    C.save('bench_startup', table=rows)

if __name__ == '__main__': main()
