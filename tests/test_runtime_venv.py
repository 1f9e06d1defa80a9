"""The runtime without torch: what `dlproj predict --engine onnx` imports, and a fresh virtual environment installed
as `requirements-runtime.txt` says, predicting there.

dlproj's own requirements include torch, so the runtime is installed with `pip install -r requirements-runtime.txt`
and then `pip install --no-deps dlproj` (`pip install --no-deps .` in a clone). The first test checks, in a Python where
importing torch, fastai, fastcore, scikit-learn or matplotlib fails, that the modules `dlproj predict` runs import.
The second (slow: a few minutes, most of them pip's) builds the environment with `python -m venv` and pip, from PyPI
or the index pip is configured with (skipped, with the reason, where pip reaches none), and installs dlproj from a
copy of this checkout, as from a clone: the build writes its `build/` and `*.egg-info` folders into the copy. In it, where `import torch`
fails, `dlproj predict RUN FILE --engine onnx --out preds.csv` predicts a table, a folder of images and a table of
series with runs trained and exported here: the same ids and classes as `predict(run, FILE, engine='torch')` in
this process, the probabilities within 1e-5."""
import os, shutil, subprocess, sys
from pathlib import Path
import numpy as np, pandas as pd, pytest

ROOT = Path(__file__).resolve().parents[1]
BLOCKED = ('torch', 'torchvision', 'fastai', 'fastcore', 'sklearn', 'matplotlib')
TOL = 1e-5
# what pip prints when it reaches no index (no network, no proxy, a host it can't resolve)
UNREACHABLE = ('NewConnectionError', 'Failed to establish a new connection', 'Temporary failure in name resolution',
               'Network is unreachable', 'ConnectTimeoutError', 'ProxyError', 'Max retries exceeded', '(from versions: none)')


def test_prediction_modules_import_without_the_training_stack():
    "`dlproj.runtime`, `dlproj.inference` and `dlproj.main` import, and the parser builds, where torch & co. can't."
    code = (f"import sys\nfor m in {BLOCKED!r}: sys.modules[m] = None\n"
            "import dlproj.runtime, dlproj.inference, dlproj.main\ndlproj.main.make_parser()\n"
            "print('imported', sorted(m for m in ('dlproj.runtime', 'dlproj.inference', 'dlproj.main') if m in sys.modules))")
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.strip() == "imported ['dlproj.inference', 'dlproj.main', 'dlproj.runtime']", r.stdout


def _run(args, timeout, cwd):
    "A subprocess's result, away from this checkout and its PYTHONPATH: the venv must use what was installed in it."
    env = {k: v for k,v in os.environ.items() if k not in ('PYTHONPATH', 'PYTHONHOME', 'VIRTUAL_ENV')}
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=timeout, env=env, cwd=cwd)


def _venv(tmp_path:Path)->Path:
    "A fresh venv holding requirements-runtime.txt and dlproj (no deps); skips where pip reaches no index."
    env = tmp_path/'venv'
    r = _run([sys.executable, '-m', 'venv', env], 300, tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    pip = [env/'bin'/'python', '-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--no-input',
           '--retries', '2', '--timeout', '60']
    r = _run(pip + ['-r', ROOT/'requirements-runtime.txt'], 1200, tmp_path)
    if r.returncode != 0 and any(s in r.stderr for s in UNREACHABLE):
        pytest.skip(f"pip reaches no package index here, so the runtime can't be installed: {r.stderr.strip()[-500:]}")
    assert r.returncode == 0, r.stderr[-3000:]
    src = tmp_path/'dlproj-src'   # a clone's worth of this checkout: the build writes into the folder it builds
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns('.git', '.venv', '__pycache__', '*.egg-info', 'build',
                                                             'runs', '_docs', '_proc', '.pytest_cache'))
    r = _run(pip + ['--no-deps', src], 600, tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    return env


def _inputs(tmp_path:Path)->dict:
    "kind: (data source, model section, the file predicted on), each with at least 1,000 items."
    from dlproj.data_utils import read_table, resolve_source
    bc = read_table(resolve_source('example:breast_cancer')).drop(columns='target')
    rng = np.random.default_rng(0)
    extra = bc.sample(1200 - len(bc), replace=True, random_state=0).reset_index(drop=True)
    extra *= rng.normal(1, 0.05, extra.shape)   # jittered copies: rows the model has not seen
    pd.concat([bc, extra], ignore_index=True).to_csv(tmp_path/'rows.csv', index=False)
    return {'table': ('example:breast_cancer', {}, tmp_path/'rows.csv'),   # the default: the network and trees
            'images': ('example:digits', {'arch': 'small_cnn', 'params': {'channels': [8, 16]}},
                       resolve_source('example:digits')),
            'series': ('example:digits_series', {'arch': 'cnn1d', 'params': {'channels': [8, 16]}},
                       resolve_source('example:digits_series'))}


@pytest.mark.slow
def test_onnx_predicts_in_a_venv_without_torch(tmp_path):
    from dlproj.export import export_onnx
    from dlproj.inference import predict
    from dlproj.train import train
    from dlproj.utils import get_logger
    get_logger(level='WARNING')
    env = _venv(tmp_path)
    r = _run([env/'bin'/'python', '-c', 'import torch'], 120, tmp_path)
    assert r.returncode != 0 and "No module named 'torch'" in r.stderr, (r.returncode, r.stderr[-500:])
    r = _run([env/'bin'/'python', '-c', 'import dlproj, onnxruntime; print(dlproj.__file__)'], 120, tmp_path)
    assert r.returncode == 0 and str(env) in r.stdout, (r.stdout, r.stderr[-2000:])   # the installed copy
    for kind,(src,model,inp) in _inputs(tmp_path).items():
        run = train({'experiment': kind, 'data': {'source': src}, 'model': model,
                     'train': {'epochs': 1, 'progress': False, 'checkpoint': False},
                     'output': {'runs_dir': str(tmp_path/'runs'), 'plots': False, 'report': False}})
        export_onnx(run)
        out = tmp_path/f'{kind}.csv'
        r = _run([env/'bin'/'dlproj', 'predict', run, inp, '--engine', 'onnx', '--out', out], 600, tmp_path)
        assert r.returncode == 0, (kind, r.stderr[-3000:])
        got = pd.read_csv(out, dtype={'id': str, 'prediction': str})
        want = predict(run, inp, engine='torch')
        assert len(got) == len(want) >= 1000, (kind, len(got), len(want))
        assert got.id.tolist() == want.id.astype(str).tolist(), kind
        assert got.prediction.tolist() == want.prediction.astype(str).tolist(), kind
        probs = [c for c in want.columns if c.startswith('prob_')]
        assert probs and list(got.columns) == list(want.columns), (kind, list(got.columns))
        diff = np.abs(got[probs].to_numpy(float) - want[probs].to_numpy(float)).max()
        assert diff <= TOL, f"{kind}: max |probability difference| {diff:.2e}"
        if kind == 'table':   # the default engine, where torch is missing: a user error that says what to do
            r = _run([env/'bin'/'dlproj', 'predict', run, inp], 600, tmp_path)
            assert r.returncode == 2 and '--engine onnx' in r.stderr and 'internal error' not in r.stderr, r.stderr[-2000:]
