"""Accuracy: dlproj's shipped configs against scikit-learn baselines on the same stratified splits.

For each of 5 seeds, dlproj trains with the shipped config (`configs/digits.yaml`, `configs/breast_cancer.yaml`)
and `seed=<s> data.test_pct=0.2 data.valid_pct=0.1`: a stratified 20% test split, 10% for validation (choosing
the best epoch) and 70% for training. The scikit-learn baselines are fitted on the same 80% (train + valid:
they need no validation split at their default settings) and scored on the same 20% test rows, read from the
run's `splits.json`; digits are read back from the very PNG files dlproj trained on. Reported: mean and
standard deviation of the test accuracy over the seeds.

"dlproj (defaults)" is the same example trained from a config that names only the data (`data.source:
example:<name>`, the same seed and split fractions, every other value a default): the shipped configs keep the
settings they were tuned with, but a user must not need them, so each example has to meet its target without.
It is trained on the same seed, so its splits are the same rows (`splits.json` is checked).
"""
from __future__ import annotations
import _common as C
import statistics, tempfile, time
from pathlib import Path

C.setup()
import numpy as np, pandas as pd
from PIL import Image
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from dlproj.train import train
from dlproj.utils import read_json

SEEDS = [0, 1, 2, 3, 4]
DIGITS_TARGET = 0.990   # mean test accuracy of the shipped digits config
BC_MARGIN = 0.005       # breast cancer: at least the best baseline minus half a point

def dlproj_run(name:str, seed:int, runs_dir:Path, defaults:bool=False):
    "Train the example with its shipped config, or (`defaults`) from a config naming only its data."
    t = time.perf_counter()
    cfg = {'experiment': f'{name}_defaults', 'data': {'source': f'example:{name}'}} if defaults else C.ROOT/'configs'/f'{name}.yaml'
    run = train(cfg, f'seed={seed}', 'data.test_pct=0.2', 'data.valid_pct=0.1',
                'train.progress=false', f'output.runs_dir={runs_dir}', 'output.plots=false', 'output.report=false')
    return run, read_json(run/'metrics.json')['test']['accuracy'], time.perf_counter() - t

def digits_xy(run:Path, ids:list):
    root = Path(read_json(run/'data.json')['path'])
    x = np.stack([np.asarray(Image.open(root/i), dtype=np.float32).ravel() / 255 for i in ids])
    return x, np.array([Path(i).parent.name for i in ids])

def table_xy(run:Path, ids:list):
    d = read_json(run/'data.json'); target = read_json(run/'preprocess.json')['target']
    df = pd.read_csv(d['path']).loc[ids]
    return df.drop(columns=[target]).to_numpy(np.float64), df[target].astype(str).to_numpy()

BASELINES = {
    'digits': {'SVC (RBF)': lambda s: SVC(),
               'MLP (100)': lambda s: MLPClassifier(max_iter=1000, random_state=s),
               'logistic regression': lambda s: make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000))},
    'breast_cancer': {'logistic regression': lambda s: make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000)),
                      'SVC (RBF)': lambda s: make_pipeline(StandardScaler(), SVC()),
                      'random forest': lambda s: RandomForestClassifier(random_state=s)},
}

def bench(name:str, xy, runs_dir:Path):
    acc = {'dlproj': [], 'dlproj (defaults)': []} | {k: [] for k in BASELINES[name]}
    secs = []
    for s in SEEDS:
        run,a,dt = dlproj_run(name, s, runs_dir); acc['dlproj'].append(a); secs.append(dt)
        sp = read_json(run/'splits.json')
        run_d,a_d,_ = dlproj_run(name, s, runs_dir, defaults=True); acc['dlproj (defaults)'].append(a_d)
        assert read_json(run_d/'splits.json')['test'] == sp['test'], 'the defaults run must test on the same rows'
        xtr,ytr = xy(run, sp['train'] + sp['valid']); xte,yte = xy(run, sp['test'])
        for k,mk in BASELINES[name].items(): acc[k].append(float((mk(s).fit(xtr, ytr).predict(xte) == yte).mean()))
        print(f"{name} seed {s}: " + ', '.join(f"{k} {v[-1]:.4f}" for k,v in acc.items()), flush=True)
    rows = [{'model': k, 'mean test accuracy': statistics.mean(v), 'std': statistics.stdev(v),
             'min': min(v), 'max': max(v)} for k,v in acc.items()]
    return rows, acc, statistics.median(secs), len(sp['test'])

def main():
    C.header('Accuracy: dlproj vs scikit-learn on the same splits',
             f"seeds {SEEDS}; stratified 80/20 train/test split per seed (dlproj: 70% train + 10% valid from the 80%); "
             "dlproj uses the shipped config unchanged; scikit-learn defaults, fitted on the 80%")
    tmp = Path(tempfile.mkdtemp())
    out = {}
    for name,xy in (('digits', digits_xy), ('breast_cancer', table_xy)):
        rows,acc,sec,n_test = bench(name, xy, tmp/name)
        print(f"\n## {name} ({n_test} test rows per seed; dlproj run: {sec:.1f} s median, end to end)\n")
        C.table(rows, nd=4)
        out[name] = dict(rows=rows, acc=acc, train_seconds=sec)
    mean = lambda name, k: statistics.mean(out[name]['acc'][k])
    best_name,best = max(((k, statistics.mean(v)) for k,v in out['breast_cancer']['acc'].items() if not k.startswith('dlproj')), key=lambda o: o[1])
    print(f"breast_cancer: best baseline {best_name} {best:.4f}; target {best - BC_MARGIN:.4f}\n")
    C.result('accuracy_digits_test_mean', mean('digits', 'dlproj'), DIGITS_TARGET, higher_is_better=True, nd=4)
    C.result('accuracy_breast_cancer_test_mean', mean('breast_cancer', 'dlproj'), round(best - BC_MARGIN, 4), higher_is_better=True, nd=4)
    C.result('accuracy_digits_defaults_test_mean', mean('digits', 'dlproj (defaults)'), DIGITS_TARGET, higher_is_better=True, nd=4)
    C.result('accuracy_breast_cancer_defaults_test_mean', mean('breast_cancer', 'dlproj (defaults)'), round(best - BC_MARGIN, 4),
             higher_is_better=True, nd=4)
    C.save('bench_accuracy', **out)

if __name__ == '__main__': main()
