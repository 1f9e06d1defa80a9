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
PREDICT_TARGET = 1.15
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
    pred = predict_one_row()
    C.table(pred, nd=3)
    for r in pred: C.result(f"startup_predict_one_row_vs_model_imports_{r['run']}", r['ratio'], PREDICT_TARGET)
    C.save('bench_startup', table=rows, predict=pred)

def predict_one_row()->list[dict]:
    "A one-row CSV through `dlproj predict`, against importing what loading the run's model needs."
    import tempfile
    import pandas as pd
    from dlproj.train import train
    from dlproj.data_utils import resolve_source
    tmp = Path(tempfile.mkdtemp())
    out = {'output': {'runs_dir': str(tmp/'runs'), 'plots': False, 'report': False}}
    tab = train({'experiment': 'tab', 'data': {'source': 'example:breast_cancer'}, 'train': {'epochs': 1, 'progress': False}, **out})
    img = train({'experiment': 'img', 'data': {'source': 'example:digits'}, 'model': {'arch': 'resnet18'},
                 'train': {'epochs': 1, 'progress': False}, **out})
    pd.read_csv(resolve_source('example:breast_cancer')).drop(columns='target').head(1).to_csv(tmp/'one.csv', index=False)
    pd.DataFrame({'path': [sorted(resolve_source('example:digits').rglob('*.png'))[0]]}).to_csv(tmp/'one_image.csv', index=False)
    rows = []
    # the table's default model walks its trees with scikit-learn's compiled tree walk: loading it needs that module too
    tab_mods = 'fastai.tabular.model, sklearn.ensemble._hist_gradient_boosting._predictor'
    for name,run,inp,mod in (('tabular', tab, 'one.csv', tab_mods), ('image', img, 'one_image.csv', 'torchvision.models')):
        t_pred = C.median(C.time_cmd([EXE, 'predict', str(run), str(tmp/inp)], repeats=5, warmup=1))
        t_imp = C.median(C.time_cmd([sys.executable, '-c', f"import torch, pandas, safetensors.torch, {mod}"], repeats=5, warmup=1))
        rows.append({'run': name, 'dlproj predict s': t_pred, f'import torch, pandas, safetensors, arch module s': t_imp, 'ratio': t_pred / t_imp})
    return rows

if __name__ == '__main__': main()
