"""Memory: peak resident set size (RSS) of training the digits example, and of streaming predictions.

Every measurement is a fresh process (the `dlproj` command, as a user runs it); its peak RSS comes from the
kernel's accounting for that one child (`os.wait4`). For reference, the peak of a process that only imports
dlproj's training module (torch + fastai): what every subcommand pays before it reads any data.

- **train**: `dlproj train configs/digits.yaml` (the README's main job: train, evaluate, write the report).
- **predict**: `dlproj predict RUN rows.csv --out preds.csv` on 20,000 and on 100,000 rows of the breast-cancer
  table (rows drawn with replacement). A CSV up to 64 MiB is read in one call, then encoded, predicted and
  written in slices, one per worker (at most `chunk_size`, 100,000 rows), so the peak grows with the input only
  by the table read (24 MB per 100,000 rows of 30 numbers) and by the slices' intermediate arrays. Each
  size runs twice; the larger peak counts.
"""
from __future__ import annotations
import _common as C
import os, shutil, subprocess, sys, tempfile, time
from pathlib import Path

C.setup()   # only to quiet warnings from the imports below; the measured processes are children
EXE = shutil.which('dlproj', path=str(Path(sys.executable).parent)) or 'dlproj'
SIZES, TARGET = (20_000, 100_000, 200_000), 1.10

def peak_rss(cmd:list, cwd=None)->tuple[float, float]:
    "Run `cmd` in a fresh process: (peak RSS in MiB, wall seconds); raises if it fails."
    with tempfile.TemporaryFile() as err:
        t = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, env=C.python_env(), cwd=cwd)
        _,status,ru = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        dt = time.perf_counter() - t
        if p.returncode != 0: err.seek(0); raise RuntimeError(f"{cmd} failed ({p.returncode}):\n{err.read().decode()[-3000:]}")
    return ru.ru_maxrss / 1024, dt

def main():
    C.header('Memory: peak RSS of training and of streaming predictions',
             "fresh process per measurement (the dlproj command); peak RSS of that process from os.wait4; predict: 2 runs per size, max")
    tmp = Path(tempfile.mkdtemp())
    rows = []
    base,_ = peak_rss([sys.executable, '-c', 'import dlproj.train'])
    rows.append({'process': 'import dlproj.train (torch, fastai)', 'peak RSS MiB': base, 'above import MiB': 0., 'seconds': None})
    cfg = tmp/'digits.yaml'
    cfg.write_text((C.ROOT/'configs'/'digits.yaml').read_text().replace('runs_dir: runs', f'runs_dir: {tmp/"runs"}'))
    tr,dt = peak_rss([EXE, 'train', str(cfg), 'train.progress=false'])
    rows.append({'process': 'dlproj train configs/digits.yaml', 'peak RSS MiB': tr, 'above import MiB': tr - base, 'seconds': dt})
    # a breast-cancer run to predict with (quality does not matter here)
    bc = tmp/'bc.yaml'
    bc.write_text(f"experiment: bc\ndata:\n  source: example:breast_cancer\ntrain:\n  epochs: 2\n  progress: false\n"
                  f"output:\n  runs_dir: {tmp/'runs'}\n  plots: false\n  report: false\n")
    r = subprocess.run([EXE, 'train', str(bc)], capture_output=True, text=True, env=C.python_env())
    if r.returncode != 0: raise RuntimeError(r.stderr[-3000:])
    run = next(l for l in r.stdout.splitlines() if l.startswith('run: '))[5:].strip()
    import pandas as pd
    from dlproj.data_utils import resolve_source
    df = pd.read_csv(resolve_source('example:breast_cancer')).drop(columns=['target'])
    peaks = {}
    for n in SIZES:
        f = tmp/f'rows_{n}.csv'; df.sample(n, replace=True, random_state=0).to_csv(f, index=False)
        runs = [peak_rss([EXE, 'predict', run, str(f), '--out', str(tmp/f'pred_{n}.csv')]) for _ in range(2)]
        assert len(pd.read_csv(tmp/f'pred_{n}.csv')) == n
        peaks[n] = max(p for p,_ in runs)
        rows.append({'process': f'dlproj predict on {n:,} rows (CSV {f.stat().st_size / 2**20:.1f} MiB)', 'peak RSS MiB': peaks[n],
                     'above import MiB': peaks[n] - base, 'seconds': min(t for _,t in runs)})
    C.table(rows, nd=1)
    a,b,c = SIZES
    print(f"predict: {b:,} rows peak {peaks[b]:.1f} MiB vs {a:,} rows {peaks[a]:.1f} MiB: {peaks[b] - peaks[a]:+.1f} MiB "
          f"for {b // a}x the rows; {c:,} rows {peaks[c]:.1f} MiB ({peaks[c] - peaks[b]:+.1f} MiB vs {b:,})\n")
    C.result('memory_predict_peak_100k_vs_20k', peaks[b] / peaks[a], TARGET)
    C.save('bench_memory', table=rows, train_peak_mib=tr, import_peak_mib=base, predict_peaks_mib=peaks)

if __name__ == '__main__': main()
