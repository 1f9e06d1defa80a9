"""Quality: dlproj with a config that names only the data, against classical scikit-learn baselines.

For every dataset dlproj trains from a config that names *only the data* -- `data.source`, `data.test_source`
(the held-out test file), `data.target` for tables, `data.kind` where the layout alone is ambiguous -- plus
`experiment`, `seed`, `output.runs_dir` (a temporary folder) and `train.progress: false`. Everything else
(model, epochs, batch size, learning rate, preprocessing) is dlproj's default of the day: this measures what a
user gets by pointing dlproj at their files. The baselines are fitted in the same process on every row of the
same training file (dlproj carves its validation split out of it) and scored on the same test file's rows.

Datasets are written once, as a user would bring them, into `$DLPROJ_BENCH_DATA` (default
`~/.cache/dlproj-bench`), each file or folder atomically (a temporary name, then a rename):

- **tables** (scikit-learn): a stratified 25 % test split drawn with the seed (so each seed also changes the
  split; regression stratifies on target quintiles), one train file and one test file per seed, in the formats
  listed in the table. Two datasets get realism: a categorical column and ~5 % of their feature cells blanked
  with a fixed RNG (the same cells for every seed). Baselines: one `ColumnTransformer` (numbers: median
  impute + standard scaling; text columns: most-frequent impute + one-hot) in front of LogisticRegression /
  Ridge, SVC / SVR (RBF) and HistGradientBoosting{Classifier,Regressor}, all at scikit-learn's defaults
  (regressors predict a standardised target through `TransformedTargetRegressor`).
- **series** (UCR/UEA `.ts` files, official train/test splits, from the sktime 1.2.0 wheel without installing
  sktime): dlproj reads the `.ts` files itself. The baselines use this script's own small `.ts` parser; series of
  varying length (JapaneseVowels) are padded at the end with each channel's last value to the longest series in
  train + test. Baselines: 1-NN Euclidean on the raw and on z-normalised series (per series and channel), and
  logistic regression on the flattened z-normalised series; they are deterministic on a fixed split, so they run
  once. Also dlproj's bundled `example:digits_series` (64 steps), with a seeded stratified 25 % test split.
- **series regression** (the `.ts` files of the UEA/UCR regression archive in the same wheel, official splits):
  Tecator (fat content from 100-step absorbance spectra) and Covid3Month (a country's deaths over three months,
  84 steps); test R^2. Baselines: ridge (`RidgeCV`, alphas 1e-3..1e3) and 1-NN regression, on the raw and on the
  z-normalised series; target: dlproj's mean R^2 at least the best of them.
- **images**: scikit-learn digits as PNG class folders (seeded stratified 25 % test), and the full
  Fashion-MNIST (60,000 train / 10,000 test, Debian package `dataset-fashion-mnist`) as PNG class folders; one
  seed only for Fashion-MNIST. Baselines: logistic regression and SVC (RBF) on pixels / 255 (Fashion-MNIST: fitted
  on a stratified 10,000-image subsample of the training folder), read back from the PNG files.

Reported per dataset: dlproj's mean test score over the seeds (min-max) and its mean end-to-end `train()` wall
time, each baseline's mean test score and mean fit + predict time, a published anchor where there is one, the
target and whether it is met. `--quick` is a smoke test of this script (1 seed, `train.epochs=2`), not a measurement.

    make bench-quality                                  # everything, 3 seeds (not part of `make bench`)
    python benchmarks/bench_quality.py --only tables,ArrowHead --seeds 5 --skip-fashion
    python benchmarks/bench_quality.py --quick --only iris,digits_series    # does the script run?

Results: `bench-results/bench_quality.json` (`bench_quality.quick.json` for `--quick`, so a smoke run never replaces
a measurement). Exit status 0 whether or not targets are met; 1 when a dlproj run failed (the other datasets still
run and are reported; the failed ones get `RESULT <name> - <target> error`); missing data gives `skipped`.
"""
from __future__ import annotations
import _common as C
import argparse, gzip, os, shutil, statistics, struct, subprocess, sys, tempfile, time, traceback, zipfile
from pathlib import Path

C.setup()
import numpy as np, pandas as pd
from PIL import Image
from sklearn import datasets as skd
from sklearn.compose import ColumnTransformer, TransformedTargetRegressor
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge, RidgeCV
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.svm import SVC, SVR
from threadpoolctl import threadpool_limits
import dlproj.data_utils as du
from dlproj.train import train
from dlproj.utils import read_json

DATA = Path(os.environ.get('DLPROJ_BENCH_DATA') or Path.home()/'.cache'/'dlproj-bench').expanduser()
VERSION = 'v1'   # bump when the way the files are written changes: the cache is keyed on it
TEST_FRAC = 0.25
MISSING_FRAC = 0.05
CLS_MARGIN, REG_MARGIN, FCN_MARGIN = 0.01, 0.02, 0.03
FASHION_ACC, FASHION_SECONDS, FASHION_SUBSAMPLE = 0.92, 15*60, 10_000
QUICK_NOTE = 'quick smoke run: 1 seed, train.epochs=2; not a quality measurement'

# ---------------------------------------------------------------------------------------------------------------
# writing files atomically

atomic_file = C.atomic_file

def atomic_dir(path:Path, build)->Path:
    "`path`, built once by `build(tmp)` in a temporary folder beside it and renamed into place."
    path = Path(path)
    if path.exists(): return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=path.parent))
    try:
        build(tmp)
        try: os.rename(tmp, path)
        except OSError:
            if not path.exists(): raise   # another process won the race
    finally: shutil.rmtree(tmp, ignore_errors=True)
    return path

# ---------------------------------------------------------------------------------------------------------------
# tables

def _iris():
    d = skd.load_iris(as_frame=True); df = d.frame.drop(columns='target')
    df['species'] = np.asarray(d.target_names)[d.target]; return df

def _wine():
    d = skd.load_wine(as_frame=True); df = d.frame.drop(columns='target')
    df['cultivar'] = np.asarray(d.target_names)[d.target]; return df

def _breast_cancer():
    d = skd.load_breast_cancer(as_frame=True); df = d.frame.drop(columns='target')
    # realism: 'mean radius' arrives binned into quintile labels, a text column (the other radius columns stay numbers)
    df.insert(0, 'mean radius band', pd.qcut(df.pop('mean radius'), 5, labels=['XS','S','M','L','XL']).astype(str))
    df['diagnosis'] = np.asarray(d.target_names)[d.target]; return df

def _digits_table():
    d = skd.load_digits(as_frame=True); df = d.frame.drop(columns='target').astype(np.int64)  # pixel_0_0 .. pixel_7_7
    df['digit'] = d.target.to_numpy(); return df

def _diabetes():
    df = skd.load_diabetes(scaled=False, as_frame=True).frame.rename(columns={'target': 'progression'})
    df['sex'] = df['sex'].map({1.: 'a', 2.: 'b'})   # realism: the 1/2 code as text (which is which is not documented)
    return df

# name: (frame, target, task, file format, realism (categorical + missing cells), data.kind to name)
TABLES = {
    'iris':          (_iris, 'species', 'classification', 'csv', False, None),
    'wine':          (_wine, 'cultivar', 'classification', 'xlsx', False, None),
    'breast_cancer': (_breast_cancer, 'diagnosis', 'classification', 'json', True, None),
    # 64 integer pixel columns: named so that the benchmark measures dlproj on a *table*, whatever the inference does
    'digits_table':  (_digits_table, 'digit', 'classification', 'parquet', False, 'tabular'),
    'diabetes':      (_diabetes, 'progression', 'regression', 'csv', True, None),
}

def blank_cells(df:pd.DataFrame, target:str, frac:float=MISSING_FRAC, seed:int=0)->pd.DataFrame:
    "~`frac` of the feature cells set missing, with a fixed RNG (the same cells on every run)."
    df = df.copy(); rng = np.random.default_rng(seed)
    for c in df.columns.drop(target):
        m = rng.random(len(df)) < frac
        df[c] = (df[c].astype(float) if pd.api.types.is_numeric_dtype(df[c]) else df[c]).mask(m)
    return df

def write_table(df:pd.DataFrame, path:Path):
    fmt = path.suffix[1:]
    if fmt == 'csv': atomic_file(path, lambda p: df.to_csv(p, index=False))
    elif fmt == 'xlsx': atomic_file(path, lambda p: df.to_excel(p, index=False))
    elif fmt == 'json': atomic_file(path, lambda p: df.to_json(p, orient='records', double_precision=15))
    elif fmt == 'parquet': atomic_file(path, lambda p: df.to_parquet(p, index=False))
    else: raise ValueError(fmt)

def read_back(path:Path)->pd.DataFrame:
    "Read a table file with plain pandas (the baselines' side; independent of dlproj's reader)."
    return {'.csv': pd.read_csv, '.xlsx': pd.read_excel, '.parquet': pd.read_parquet,
            '.json': lambda p: pd.read_json(p, orient='records', precise_float=True, convert_dates=False)}[path.suffix](path)

def table_files(name:str, seed:int)->tuple[Path, Path]:
    "The train and test files of `name` for `seed` (written on first use)."
    make,target,task,fmt,realism,_ = TABLES[name]
    d = DATA/VERSION/'tables'/name/f"seed{seed}"
    tr_p,te_p = d/f"{name}_train.{fmt}", d/f"{name}_test.{fmt}"
    if tr_p.exists() and te_p.exists(): return tr_p, te_p
    df = make()
    if realism: df = blank_cells(df, target, seed=sum(map(ord, name)))
    strat = df[target] if task == 'classification' else pd.qcut(df[target], 5, labels=False)
    tr,te = train_test_split(df, test_size=TEST_FRAC, random_state=seed, stratify=strat)
    write_table(te.reset_index(drop=True), te_p); write_table(tr.reset_index(drop=True), tr_p)
    return tr_p, te_p

def column_prep(X:pd.DataFrame)->ColumnTransformer:
    cat = [c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])]
    num = [c for c in X.columns if c not in cat]
    return ColumnTransformer([
        ('num', make_pipeline(SimpleImputer(strategy='median'), StandardScaler()), num),
        ('cat', make_pipeline(SimpleImputer(strategy='most_frequent'), OneHotEncoder(handle_unknown='ignore', sparse_output=False)), cat)])

TABLE_BASELINES = {  # column name: (classifier, regressor) factories of a seed
    'linear': (lambda s: LogisticRegression(max_iter=5000), lambda s: Ridge()),
    'SVM (RBF)': (lambda s: SVC(), lambda s: SVR()),
    'HGB': (lambda s: HistGradientBoostingClassifier(random_state=s), lambda s: HistGradientBoostingRegressor(random_state=s)),
}

def table_baselines(name:str, tr_p:Path, te_p:Path, seed:int)->dict:
    _,target,task,*_ = TABLES[name]
    tr,te = read_back(tr_p),read_back(te_p)
    Xtr,ytr,Xte,yte = tr.drop(columns=[target]),tr[target],te.drop(columns=[target]),te[target]
    out = {}
    def fit_score(k, mc, mr):
        if task == 'classification':
            m = make_pipeline(column_prep(Xtr), mc(seed)).fit(Xtr, ytr.astype(str))
            return accuracy_score(yte.astype(str), m.predict(Xte))
        m = TransformedTargetRegressor(make_pipeline(column_prep(Xtr), mr(seed)), transformer=StandardScaler()).fit(Xtr, ytr)
        return r2_score(yte, m.predict(Xte))
    for k,(mc,mr) in TABLE_BASELINES.items():
        # HGB gets one OpenMP thread: on tables this small a second thread only adds synchronisation, and on a loaded
        # two-core machine (two OpenMP runtimes in this process: torch's and scikit-learn's) it turned 0.05 s fits into 90 s
        t = time.perf_counter()
        with threadpool_limits(1 if k == 'HGB' else None, user_api='openmp'): score = fit_score(k, mc, mr)
        out[k] = (float(score), time.perf_counter() - t)
    return out

# ---------------------------------------------------------------------------------------------------------------
# series

SKTIME_WHEEL = 'sktime-1.2.0-py3-none-any.whl'
# Fawaz et al. 2019, "Deep learning for time series classification: a review", test accuracy (FCN, ResNet)
SERIES = {'ArrowHead': (0.843, 0.845), 'OSULeaf': (0.977, 0.979), 'BasicMotions': None, 'JapaneseVowels': (0.993, 0.992)}
SERIES_REGRESSION = ['Tecator', 'Covid3Month']
ANCHOR_NOTE = {'BasicMotions': 'n/a (not in Fawaz et al. 2019)'}

def find_wheel()->Path|None:
    "The sktime 1.2.0 wheel: `$DLPROJ_SKTIME_WHEEL`, the cache, or `pip download` into the cache."
    cands = [os.environ.get('DLPROJ_SKTIME_WHEEL'), DATA/'wheels'/SKTIME_WHEEL]
    for c in cands:
        if c and Path(c).is_file(): return Path(c)
    (DATA/'wheels').mkdir(parents=True, exist_ok=True)
    print(f"downloading {SKTIME_WHEEL} (only its .ts data files are used; sktime is not installed) ...", flush=True)
    try:
        r = subprocess.run([sys.executable, '-m', 'pip', 'download', 'sktime==1.2.0', '--no-deps', '--disable-pip-version-check',
                            '-q', '-d', str(DATA/'wheels')], capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as e: print(f"pip download failed: {e}"); return None
    if r.returncode != 0: print(f"pip download failed:\n{r.stderr[-1000:]}")
    w = DATA/'wheels'/SKTIME_WHEEL
    return w if w.is_file() else None

def ts_files(name:str)->tuple[Path, Path]|None:
    "`<name>_TRAIN.ts` and `<name>_TEST.ts` in the cache, extracted from the sktime wheel on first use; None if unavailable."
    d = DATA/'ucr'/name
    paths = d/f"{name}_TRAIN.ts", d/f"{name}_TEST.ts"
    if all(p.exists() for p in paths): return paths
    wheel = find_wheel()
    if wheel is None: return None
    with zipfile.ZipFile(wheel) as z:
        for p in paths: atomic_file(p, lambda tmp, p=p: tmp.write_bytes(z.read(f"sktime/datasets/data/{name}/{p.name}")))
    return paths

def parse_ts(path:Path)->tuple[list[np.ndarray], np.ndarray]:
    "A small `.ts` reader: one `(channels, length)` float array per series (`?` is NaN, filled by interpolation), and the labels."
    xs,ys,in_data = [],[],False
    with open(path, encoding='utf-8', errors='replace') as f:
        for line in f:
            s = line.strip()
            if not s or s.startswith('#'): continue
            if not in_data:
                low = s.lower()
                if low.startswith('@timestamps') and low.split()[-1] == 'true': raise ValueError(f"{path}: timestamped .ts files are not supported")
                in_data = low.startswith('@data'); continue
            *chans,label = s.split(':')
            vals = [[np.nan if v.strip() == '?' else float(v) for v in c.split(',')] for c in chans]
            n = max(map(len, vals))
            a = np.array([v + [np.nan]*(n - len(v)) for v in vals], dtype=np.float64)
            if np.isnan(a).any(): a = pd.DataFrame(a.T).interpolate(limit_direction='both').fillna(0.).to_numpy().T
            xs.append(a); ys.append(label.strip())
    return xs, np.array(ys)

def znorm(a:np.ndarray)->np.ndarray:
    "Per channel of one series: zero mean, unit standard deviation (a flat channel becomes zeros)."
    sd = a.std(axis=1, keepdims=True)
    return (a - a.mean(axis=1, keepdims=True)) / np.where(sd > 0, sd, 1.)

def pad_last(xs:list[np.ndarray], n:int)->np.ndarray:
    "Stack series of varying length into `(series, channels, n)`, repeating each channel's last value."
    return np.stack([np.concatenate([a, np.repeat(a[:, -1:], n - a.shape[1], axis=1)], axis=1) for a in xs])

def series_baselines(xtr:list, ytr, xte:list, yte)->dict:
    n = max(a.shape[1] for a in xtr + xte)
    raw_tr,raw_te = pad_last(xtr, n).reshape(len(xtr), -1), pad_last(xte, n).reshape(len(xte), -1)
    z_tr,z_te = pad_last([znorm(a) for a in xtr], n).reshape(len(xtr), -1), pad_last([znorm(a) for a in xte], n).reshape(len(xte), -1)
    out = {}
    for k,m,a,b in (('1-NN ED raw', KNeighborsClassifier(1, algorithm='brute'), raw_tr, raw_te),
                    ('1-NN ED z-norm', KNeighborsClassifier(1, algorithm='brute'), z_tr, z_te),
                    ('logreg z-norm', LogisticRegression(max_iter=5000), z_tr, z_te)):
        t = time.perf_counter(); acc = accuracy_score(yte, m.fit(a, ytr).predict(b))
        out[k] = (float(acc), time.perf_counter() - t)
    return out

def series_regression_baselines(xtr:list, ytr, xte:list, yte)->dict:
    "Test R^2 of ridge and 1-NN regression on the raw and on the z-normalised series."
    n = max(a.shape[1] for a in xtr + xte)
    flat = lambda xs, f=lambda a: a: pad_last([f(a) for a in xs], n).reshape(len(xs), -1)
    ytr,yte,out = np.asarray(ytr, float),np.asarray(yte, float),{}
    for k,mk,f in (('ridge raw', lambda: RidgeCV(alphas=np.logspace(-3, 3, 13)), lambda a: a),
                   ('ridge z-norm', lambda: RidgeCV(alphas=np.logspace(-3, 3, 13)), znorm),
                   ('1-NN raw', lambda: KNeighborsRegressor(1, algorithm='brute'), lambda a: a),
                   ('1-NN z-norm', lambda: KNeighborsRegressor(1, algorithm='brute'), znorm)):
        t = time.perf_counter(); r2 = r2_score(yte, mk().fit(flat(xtr, f), ytr).predict(flat(xte, f)))
        out[k] = (float(r2), time.perf_counter() - t)
    return out

def series_shape(xs:list)->str:
    lens = sorted({a.shape[1] for a in xs})
    return f"{xs[0].shape[0]} ch x " + (f"{lens[0]}" if len(lens) == 1 else f"{lens[0]}-{lens[-1]} (padded)")

def digits_series_files(seed:int)->tuple[Path, Path]:
    "Train/test CSVs of dlproj's bundled `example:digits_series` (t0..t63, label), a stratified 25 % test split."
    d = DATA/VERSION/'series'/'digits_series'/f"seed{seed}"
    tr_p,te_p = d/'digits_series_train.csv', d/'digits_series_test.csv'
    if tr_p.exists() and te_p.exists(): return tr_p, te_p
    df = pd.read_csv(du.example_path('digits_series'))
    tr,te = train_test_split(df, test_size=TEST_FRAC, random_state=seed, stratify=df['label'])
    atomic_file(te_p, lambda p: te.to_csv(p, index=False)); atomic_file(tr_p, lambda p: tr.to_csv(p, index=False))
    return tr_p, te_p

def csv_series(path:Path)->tuple[list, np.ndarray]:
    df = pd.read_csv(path); cols = [f"t{i}" for i in range(64)]
    return [r[None].astype(np.float64) for r in df[cols].to_numpy()], df['label'].astype(str).to_numpy()

# ---------------------------------------------------------------------------------------------------------------
# images

FASHION_DIR = Path('/usr/share/datasets/fashion-mnist')
FASHION_CLASSES = ['T-shirt_top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle_boot']
FASHION_ANCHOR = ("Fashion-MNIST README benchmark table (submitted, untested; test accuracy): 2 Conv+pooling 0.876 / 0.916 "
                  "(TensorFlow docs), 2 Conv <100K parameters 0.925, 2 Conv ~113K parameters 0.922, 3 Conv+BN+pooling 0.921, "
                  "3 Conv+pooling+2 FC+dropout 0.926, 5 Conv+BN+pooling 0.931, MLP 256-128-100 0.883, XgBoost 0.898, "
                  "HOG+SVM 0.926, ResNet18 (augmented) 0.949, WRN-28-10 0.959, human 0.835. benchmark/baselines.json holds "
                  "only the grid of scikit-learn classifiers and parameters the authors ran, no accuracies.")

def write_pngs(root:Path, images:np.ndarray, labels, names:list[str], ids):
    "uint8 grey images into `root/<class name>/<id>.png`."
    for n in set(np.asarray(names)[np.asarray(labels)]): (root/n).mkdir(parents=True, exist_ok=True)
    for im,l,i in zip(images, labels, ids): Image.fromarray(im).save(root/names[l]/f"{i:05d}.png", compress_level=1)

def digits_image_dirs(seed:int)->tuple[Path, Path]:
    "sklearn's digits as 8x8 grey PNGs in class folders, `train/` and `test/` (stratified 25 %, drawn with `seed`)."
    def build(tmp:Path):
        d = skd.load_digits(); ims = np.round(d.images*255/16).astype(np.uint8)
        tr,te = train_test_split(np.arange(len(ims)), test_size=TEST_FRAC, random_state=seed, stratify=d.target)
        for sub,ix in (('train', tr), ('test', te)): write_pngs(tmp/sub, ims[ix], d.target[ix], [str(c) for c in range(10)], ix)
    root = atomic_dir(DATA/VERSION/'images'/'digits'/f"seed{seed}", build)
    return root/'train', root/'test'

def _idx(path:Path)->np.ndarray:
    with gzip.open(path, 'rb') as f: b = f.read()
    magic,n = struct.unpack('>II', b[:8])
    if magic == 2051: r,c = struct.unpack('>II', b[8:16]); return np.frombuffer(b, np.uint8, offset=16).reshape(n, r, c)
    if magic == 2049: return np.frombuffer(b, np.uint8, offset=8)
    raise ValueError(f"{path}: not an idx file (magic {magic})")

def fashion_dirs()->tuple[Path, Path]|None:
    "Fashion-MNIST as PNG class folders `train/` (60,000) and `test/` (10,000), written once; None if the package is missing."
    src = {f"{s}-{k}": FASHION_DIR/f"{s}-{k}-{'idx3' if k == 'images' else 'idx1'}-ubyte.gz" for s in ('train', 't10k') for k in ('images', 'labels')}
    def build(tmp:Path):
        t = time.perf_counter()
        for sub,pre in (('train','train'), ('test','t10k')):
            x,y = _idx(src[f"{pre}-images"]),_idx(src[f"{pre}-labels"])
            write_pngs(tmp/sub, x, y, FASHION_CLASSES, range(len(x)))
        print(f"wrote Fashion-MNIST as 70,000 PNG files in {time.perf_counter() - t:.1f} s", flush=True)
    root = DATA/'images'/'fashion-mnist'
    if not root.exists() and not all(p.exists() for p in src.values()): return None
    atomic_dir(root, build)
    return root/'train', root/'test'

def read_pngs(paths:list[Path])->np.ndarray:
    return np.stack([np.asarray(Image.open(p), dtype=np.float32).ravel() / 255 for p in paths])

def folder_items(root:Path)->tuple[list[Path], np.ndarray]:
    ps = sorted(p for p in root.glob('*/*.png'))
    return ps, np.array([p.parent.name for p in ps])

IMAGE_BASELINES = {'logreg': lambda: LogisticRegression(max_iter=2000), 'SVC (RBF)': lambda: SVC()}

def image_baselines(xtr, ytr, xte, yte)->dict:
    out = {}
    for k,mk in IMAGE_BASELINES.items():
        t = time.perf_counter(); acc = accuracy_score(yte, mk().fit(xtr, ytr).predict(xte))
        out[k] = (float(acc), time.perf_counter() - t)
    return out

# ---------------------------------------------------------------------------------------------------------------
# dlproj

class Bench:
    def __init__(self, args):
        self.args,self.quick = args,args.quick
        self.seeds = [0] if args.quick else list(range(args.seeds))
        self.runs = Path(tempfile.mkdtemp(prefix='dlproj-bench-quality-'))
        self.rows = {'tables': [], 'series': [], 'series regression': [], 'images': []}
        self.out,self.errors,self.pending = {},[],[]   # pending: RESULT lines, printed after the tables

    def dlproj(self, name:str, data:dict, seed:int, metric:str):
        "Train from a config naming only the data; (test score, end-to-end seconds)."
        cfg = dict(experiment=f"quality-{name}", seed=seed, data=data, train=dict(progress=False), output=dict(runs_dir=str(self.runs)))
        t = time.perf_counter()
        run = train(cfg, *(['train.epochs=2'] if self.quick else []), *self.args.set)
        dt = time.perf_counter() - t
        test = read_json(run/'metrics.json').get('test') or {}
        if metric not in test: raise KeyError(f"{run}/metrics.json: no test {metric!r} (test metrics: {sorted(test)})")
        return float(test[metric]), dt

    def dlproj_seeds(self, name:str, data_for_seed, metric:str, seeds=None):
        "dlproj over the seeds: (scores, seconds, error message or None). Stops at the first failure."
        scores,secs = [],[]
        for s in seeds if seeds is not None else self.seeds:
            try: sc,dt = self.dlproj(name, data_for_seed(s), s, metric)
            except Exception as e:
                msg = f"{type(e).__name__}: {e}".splitlines()[0][:300]
                print(f"{name} seed {s}: dlproj FAILED: {msg}", flush=True); traceback.print_exc()
                self.errors.append(f"{name}: {msg}")
                return scores, secs, msg
            scores.append(sc); secs.append(dt)
            print(f"{name} seed {s}: dlproj {metric} {sc:.4f} ({dt:.1f} s)", flush=True)
        return scores, secs, None

    def finish(self, kind:str, name:str, rows:str, scores, secs, err, base:dict, anchor:str, target, metric:str,
               extra:dict|None=None, skipped:str|None=None):
        """One table row, the JSON record and the pending RESULT line for a dataset.
        `err`: dlproj failed (RESULT `error`); `skipped`: why dlproj did not run (RESULT `skipped`)."""
        err = err or None
        mean = statistics.mean(scores) if scores and not err and not skipped else None
        met = None if mean is None or target is None else mean >= target
        row = {'dataset': name, 'rows (train/test)': rows, **(extra or {}),
               'dlproj mean (min-max)': '-' if mean is None else f"{mean:.4f} ({min(scores):.4f}-{max(scores):.4f})",
               'dlproj s': statistics.mean(secs) if secs and not err else None}
        for k,v in base.items():
            row[k] = statistics.mean(x for x,_ in v) if v else None
            row[f"{k} s"] = statistics.mean(t for _,t in v) if v else None
        row |= {'anchor': anchor, 'target': target, 'met': ('error' if err else 'skipped') if met is None else ('yes' if met else 'no')}
        status = 'error' if err else 'skipped' if skipped or mean is None else None
        self.rows[kind].append(row)
        self.out[name] = dict(kind=kind, metric=metric, rows=rows, dlproj=scores, dlproj_seconds=secs, error=err, skipped=skipped,
                              baselines={k: [dict(score=x, seconds=t) for x,t in v] for k,v in base.items()},
                              anchor=anchor, target=target, met=met, seeds=self.seeds, **(extra or {}))
        self.pending.append((f"quality_{name}_{metric}", mean, target, status, err or skipped, True))

    # -------------------------------------------------------------------------------------------------------------
    def tables(self, names):
        for name in names:
            _,target,task,fmt,realism,kind = TABLES[name]
            metric,margin = ('accuracy', CLS_MARGIN) if task == 'classification' else ('r2', REG_MARGIN)
            base = {k: [] for k in TABLE_BASELINES}
            for s in self.seeds:
                tr_p,te_p = table_files(name, s)
                for k,v in table_baselines(name, tr_p, te_p, s).items(): base[k].append(v)
                print(f"{name} seed {s}: " + ', '.join(f"{k} {v[-1][0]:.4f}" for k,v in base.items()), flush=True)
            def data(s):
                tr_p,te_p = table_files(name, s)
                return {'source': str(tr_p), 'test_source': str(te_p), 'target': target, **({'kind': kind} if kind else {})}
            scores,secs,err = self.dlproj_seeds(name, data, metric)
            best = max(statistics.mean(x for x,_ in v) for v in base.values())
            n_te = len(read_back(table_files(name, self.seeds[0])[1]))
            n = len(TABLES[name][0]())
            self.finish('tables', name, f"{n - n_te}/{n_te}", scores, secs, err, base, '-', round(best - margin, 4), metric,
                        extra={'file': fmt + (' + text column, 5% cells missing' if realism else '')})

    def series(self, names):
        have_ts = hasattr(du, 'read_ts')
        for name in names:
            if name == 'digits_series': self.digits_series(); continue
            fcn = SERIES[name]
            anchor = ANCHOR_NOTE.get(name) or f"FCN {fcn[0]:.3f} / ResNet {fcn[1]:.3f}"
            files = self.ts_files_or_skip('series', name, anchor, 'accuracy')
            if files is None: continue
            tr_p,te_p = files
            (xtr,ytr),(xte,yte) = parse_ts(tr_p),parse_ts(te_p)
            b = series_baselines(xtr, ytr, xte, yte)
            print(f"{name}: " + ', '.join(f"{k} {a:.4f}" for k,(a,_) in b.items()) + " (official split: the same for every seed)", flush=True)
            best_nn = max(b['1-NN ED raw'][0], b['1-NN ED z-norm'][0])
            target = round(max(best_nn, fcn[0] - FCN_MARGIN) if fcn else best_nn, 4)
            if have_ts:
                self.check_read_ts(name, tr_p, xtr, ytr)
                scores,secs,err = self.dlproj_seeds(name, lambda s: {'source': str(tr_p), 'test_source': str(te_p)}, 'accuracy')
            else:
                print(f"{name}: dlproj side skipped: dlproj.data_utils.read_ts is not there yet (dlproj can't read .ts files)", flush=True)
                scores,secs,err = [],[],None
            self.finish('series', name, f"{len(xtr)}/{len(xte)}", scores, secs, err, {k: [v]*len(self.seeds) for k,v in b.items()},
                        anchor, target, 'accuracy', extra={'shape': series_shape(xtr + xte)},
                        skipped=None if have_ts else 'dlproj.data_utils.read_ts missing')

    def ts_files_or_skip(self, kind:str, name:str, anchor:str, metric:str):
        "The set's `.ts` files; None, said and recorded as skipped, when the sktime wheel can't be had."
        files = ts_files(name)
        if files is None:
            print(f"\n{name}: SKIPPED: the sktime 1.2.0 wheel (for its .ts files) is missing and could not be downloaded. "
                  f"Get it with `pip download sktime==1.2.0 --no-deps -d {DATA/'wheels'}` (or set DLPROJ_SKTIME_WHEEL to the .whl).\n", flush=True)
            self.finish(kind, name, '-', [], [], None, {}, anchor, None, metric, skipped='sktime wheel missing')
        return files

    def series_regression(self, names):
        for name in names:
            files = self.ts_files_or_skip('series regression', name, '-', 'r2')
            if files is None: continue
            tr_p,te_p = files
            (xtr,ytr),(xte,yte) = parse_ts(tr_p),parse_ts(te_p)
            b = series_regression_baselines(xtr, ytr, xte, yte)
            print(f"{name}: " + ', '.join(f"{k} {a:.4f}" for k,(a,_) in b.items()) + " (official split: the same for every seed)", flush=True)
            scores,secs,err = self.dlproj_seeds(name, lambda s: {'source': str(tr_p), 'test_source': str(te_p)}, 'r2')
            self.finish('series regression', name, f"{len(xtr)}/{len(xte)}", scores, secs, err,
                        {k: [v]*len(self.seeds) for k,v in b.items()}, '-', round(max(a for a,_ in b.values()), 4), 'r2',
                        extra={'shape': series_shape(xtr + xte)})

    def check_read_ts(self, name, path, xs, ys):
        "Warn when dlproj's `read_ts` and this script's parser disagree on the number of series or their labels."
        try:
            df = du.read_ts(path)
            g = df.groupby('series', sort=False)['label'].first()
            if len(g) != len(xs) or list(g.astype(str)) != list(ys):
                print(f"WARNING {name}: dlproj read_ts gives {len(g)} series, this parser {len(xs)}; labels "
                      f"{'agree' if list(g.astype(str)) == list(ys) else 'differ'}", flush=True)
        except Exception as e: print(f"WARNING {name}: comparing with dlproj read_ts failed: {type(e).__name__}: {e}", flush=True)

    def digits_series(self):
        base = {'1-NN ED raw': [], '1-NN ED z-norm': [], 'logreg z-norm': []}
        for s in self.seeds:
            tr_p,te_p = digits_series_files(s)
            (xtr,ytr),(xte,yte) = csv_series(tr_p),csv_series(te_p)
            for k,v in series_baselines(xtr, ytr, xte, yte).items(): base[k].append(v)
            print(f"digits_series seed {s}: " + ', '.join(f"{k} {v[-1][0]:.4f}" for k,v in base.items()), flush=True)
        def data(s):
            tr_p,te_p = digits_series_files(s)
            return {'source': str(tr_p), 'test_source': str(te_p), 'target': 'label'}
        scores,secs,err = self.dlproj_seeds('digits_series', data, 'accuracy')
        best_nn = max(statistics.mean(x for x,_ in base[k]) for k in ('1-NN ED raw', '1-NN ED z-norm'))
        self.finish('series', 'digits_series', f"{len(xtr)}/{len(xte)}", scores, secs, err, base, '-', round(best_nn, 4),
                    'accuracy', extra={'shape': '1 ch x 64'})

    def digits_images(self):
        base = {k: [] for k in IMAGE_BASELINES}
        for s in self.seeds:
            tr,te = digits_image_dirs(s)
            (ptr,ytr),(pte,yte) = folder_items(tr),folder_items(te)
            for k,v in image_baselines(read_pngs(ptr), ytr, read_pngs(pte), yte).items(): base[k].append(v)
            print(f"digits_images seed {s}: " + ', '.join(f"{k} {v[-1][0]:.4f}" for k,v in base.items()), flush=True)
        scores,secs,err = self.dlproj_seeds('digits_images', lambda s: dict(zip(('source','test_source'), map(str, digits_image_dirs(s)))), 'accuracy')
        best = max(statistics.mean(x for x,_ in v) for v in base.values())
        self.finish('images', 'digits_images', f"{len(ptr)}/{len(pte)}", scores, secs, err, base, '-', round(best - CLS_MARGIN, 4),
                    'accuracy', extra={'size': '8x8 grey'})

    def fashion(self):
        t = time.perf_counter(); dirs = fashion_dirs()
        anchor = 'README: CNNs 0.916-0.934, ResNet18 0.949'
        if dirs is None:
            print("\nfashion_mnist: SKIPPED: Fashion-MNIST not found under /usr/share/datasets/fashion-mnist; "
                  "install it with `sudo apt-get install dataset-fashion-mnist` (Debian/Ubuntu).\n", flush=True)
            self.finish('images', 'fashion_mnist', '-', [], [], None, {}, anchor, FASHION_ACC, 'accuracy', extra={'size': '28x28 grey'},
                        skipped='dataset-fashion-mnist missing')
            self.pending.append(('quality_fashion_mnist_train_seconds', None, FASHION_SECONDS, 'skipped', 'dataset-fashion-mnist missing', False))
            return
        print(f"fashion_mnist: PNG folders ready in {time.perf_counter() - t:.1f} s ({dirs[0].parent})", flush=True)
        (ptr,ytr),(pte,yte) = folder_items(dirs[0]),folder_items(dirs[1])
        sub,_ = train_test_split(np.arange(len(ptr)), train_size=FASHION_SUBSAMPLE, random_state=0, stratify=ytr)
        xs,xte = read_pngs([ptr[i] for i in sub]),read_pngs(pte)
        base = {k: [v] for k,v in image_baselines(xs, ytr[sub], xte, yte).items()}
        print("fashion_mnist (baselines on a 10,000-image subsample): " + ', '.join(f"{k} {v[0][0]:.4f} ({v[0][1]:.0f} s)" for k,v in base.items()), flush=True)
        scores,secs,err = self.dlproj_seeds('fashion_mnist', lambda s: {'source': str(dirs[0]), 'test_source': str(dirs[1])}, 'accuracy', seeds=[0])
        if secs: print(f"fashion_mnist: dlproj train() took {secs[0]:.1f} s end to end (target <= {FASHION_SECONDS} s)", flush=True)
        self.finish('images', 'fashion_mnist', f"{len(ptr)}/{len(pte)}", scores, secs, err, base, anchor, FASHION_ACC, 'accuracy',
                    extra={'size': '28x28 grey'})
        self.out['fashion_mnist'] |= dict(seeds=[0], baseline_train_subsample=FASHION_SUBSAMPLE, anchor_full=FASHION_ANCHOR)
        row = self.rows['images'][-1]   # the table's target/met cover both RESULTs: accuracy and train() time
        row['target'] = f"{FASHION_ACC} in <= {FASHION_SECONDS} s"
        if row['met'] in ('yes', 'no'): row['met'] = 'yes' if row['met'] == 'yes' and secs[0] <= FASHION_SECONDS else 'no'
        ok = bool(secs) and not err
        self.pending.append(('quality_fashion_mnist_train_seconds', secs[0] if ok else None, FASHION_SECONDS, None if ok else 'error', err, False))

    # -------------------------------------------------------------------------------------------------------------
    def report(self):
        notes = {'tables': f"Test metric: accuracy (classification), R^2 (diabetes). Target: dlproj mean >= best baseline mean "
                           f"- {CLS_MARGIN} (classification) / - {REG_MARGIN} (R^2). Seconds: dlproj = end-to-end train(); "
                           "baselines = fit + predict (HGB with one OpenMP thread). Realism (text column + ~5% missing cells, fixed RNG): breast_cancer "
                           "('mean radius' as quintile labels XS..XL) and diabetes ('sex' as text).",
                 'series': "Official UCR/UEA train/test splits (baselines deterministic: the same for every seed), except "
                           "digits_series (seeded stratified 25% test). Varying lengths padded with each channel's last value. "
                           f"Target: >= best 1-NN Euclidean and >= published FCN - {FCN_MARGIN} (Fawaz et al. 2019).",
                 'series regression': "Official train/test splits of the UEA/UCR regression archive (baselines deterministic). "
                           "Test R^2. Target: dlproj mean >= the best of ridge and 1-NN, raw or z-normalised.",
                 'images': f"Pixels / 255 for the baselines. digits: target best baseline - {CLS_MARGIN}. Fashion-MNIST: one "
                           f"seed (0); baselines fitted on a stratified {FASHION_SUBSAMPLE:,}-image subsample of the 60,000 "
                           f"training images; target accuracy >= {FASHION_ACC} with train() <= {FASHION_SECONDS} s."}
        for kind,rows in self.rows.items():
            if not rows: continue
            print(f"\n## {kind}\n\n{notes[kind]}\n")
            cols = list(dict.fromkeys(k for r in rows for k in r))
            C.table(rows, cols, nd=4)
        if 'fashion_mnist' in self.out: print(FASHION_ANCHOR + "\n")
        note = '; '.join(([QUICK_NOTE] if self.quick else []) + ([f"with --set {' '.join(self.args.set)}"] if self.args.set else []))
        for name,mean,target,status,why,hib in self.pending:
            if status: C.result_status(name, target, status, note='; '.join(x for x in (why, note) if x), higher_is_better=hib)
            else: C.result(name, mean, target, higher_is_better=hib, nd=4 if hib else 1, note=note)

# ---------------------------------------------------------------------------------------------------------------

GROUPS = {'tables': list(TABLES), 'series': [*SERIES, 'digits_series'], 'series_regression': SERIES_REGRESSION,
          'images': ['digits_images', 'fashion_mnist']}

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--only', help=f"comma-separated datasets or groups: {', '.join(GROUPS)}, {', '.join(n for g in GROUPS.values() for n in g)}")
    p.add_argument('--seeds', type=int, default=3, help='seeds per dataset (default 3; Fashion-MNIST always runs one)')
    p.add_argument('--skip-fashion', action='store_true', help='leave out Fashion-MNIST (70,000 images)')
    p.add_argument('--quick', action='store_true', help='smoke test of this script: 1 seed, train.epochs=2, no Fashion-MNIST')
    p.add_argument('--set', nargs='+', default=[], metavar='KEY=VALUE',
                   help="extra overrides for every dlproj run, e.g. train.device=cuda (debugging: the results then no longer measure the defaults)")
    p.add_argument('--keep-runs', action='store_true', help="keep dlproj's run folders (printed at the end)")
    args = p.parse_args(argv)
    every = [n for g in GROUPS.values() for n in g]
    if args.only:
        want = []
        for w in (x.strip() for x in args.only.split(',') if x.strip()):
            hit = GROUPS.get(w.lower()) or [n for n in every if n.lower() == w.lower()]
            if not hit: p.error(f"--only: unknown dataset {w!r}; valid: {', '.join(GROUPS)}, {', '.join(every)}")
            want += hit
    else: want = every
    if args.quick or args.skip_fashion: want = [n for n in want if n != 'fashion_mnist']
    if args.seeds < 1: p.error('--seeds must be at least 1')
    b = Bench(args)
    C.header('Quality: dlproj (config naming only the data) vs scikit-learn baselines',
             f"seeds {b.seeds} (Fashion-MNIST: seed 0 only); dlproj = train() from a config naming only data.source, "
             "data.test_source, data.target (tables), data.kind where needed, experiment, seed, output.runs_dir, train.progress=false"
             + (", plus train.epochs=2 (--quick: a smoke test, NOT a quality measurement)" if args.quick else "")
             + (f", plus --set {' '.join(args.set)} (NOT the defaults)" if args.set else "")
             + f"; baselines fitted on the same training file's rows and scored on the same test rows; data cached in {DATA}")
    print(f"dlproj.data_utils.read_ts: {'present' if hasattr(du, 'read_ts') else 'MISSING (dlproj side of the .ts datasets is skipped)'}\n", flush=True)
    try:
        b.tables([n for n in want if n in TABLES])
        b.series([n for n in want if n in GROUPS['series']])
        b.series_regression([n for n in want if n in SERIES_REGRESSION])
        if 'digits_images' in want: b.digits_images()
        if 'fashion_mnist' in want: b.fashion()
        b.report()
        C.save('bench_quality' + ('.quick' if args.quick else ''), args=vars(args), data_dir=str(DATA), datasets=b.out,
               tables={k: v for k,v in b.rows.items() if v}, errors=b.errors)
    finally:
        if args.keep_runs: print(f"dlproj runs kept in {b.runs}")
        else: shutil.rmtree(b.runs, ignore_errors=True)
    if b.errors:
        print(f"\n{len(b.errors)} dlproj run(s) failed:\n" + '\n'.join(f"  {e}" for e in b.errors), flush=True)
        return 1
    return 0

if __name__ == '__main__': sys.exit(main())
