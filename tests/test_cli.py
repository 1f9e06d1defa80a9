"The `dlproj` command end to end, in subprocesses: train -> evaluate -> predict -> report for every shipped config."
import json, os, shutil, subprocess, sys
from pathlib import Path
import numpy as np, pandas as pd, pytest, yaml

ROOT = Path(__file__).resolve().parents[1]
EXE = shutil.which('dlproj', path=str(Path(sys.executable).parent)) or shutil.which('dlproj') or 'dlproj'   # a full path: torchrun reads a bare name as a file

def dlproj(*args, cwd=None, timeout=600):
    env = {**os.environ, 'OMP_NUM_THREADS': os.environ.get('OMP_NUM_THREADS', '1')}
    return subprocess.run([EXE, *map(str, args)], capture_output=True, text=True, cwd=cwd, env=env, timeout=timeout)

def _config(tmp_path, name, **train):
    cfg = yaml.safe_load((ROOT/'configs'/f'{name}.yaml').read_text())
    cfg['output']['runs_dir'] = str(tmp_path/'runs')
    cfg['train'].update(progress=False, **train)
    p = tmp_path/f'{name}.yaml'; p.write_text(yaml.safe_dump(cfg)); return p

def _train(cfg):
    r = dlproj('train', cfg)
    assert r.returncode == 0, r.stderr[-3000:]
    run = Path(next(l for l in r.stdout.splitlines() if l.startswith('run: '))[5:])
    return run, r.stdout

def test_help_lists_the_subcommands_without_heavy_imports():
    r = dlproj('--help')
    assert r.returncode == 0
    for c in ('train', 'evaluate', 'predict', 'report', 'runs', 'example'): assert c in r.stdout
    r = subprocess.run([sys.executable, '-c', "import sys, dlproj.main; dlproj.main.make_parser(); print(sorted(m for m in ('torch','fastai','pandas') if m in sys.modules))"],
                       capture_output=True, text=True)
    assert r.stdout.strip() == '[]', r.stdout

def test_digits_whole_loop(tmp_path):
    "The README's main job with the shipped config: test accuracy >= 0.97, and predict agrees with evaluate."
    run, out = _train(_config(tmp_path, 'digits'))
    for f in ('config.yaml', 'env.json', 'data.json', 'splits.json', 'history.csv', 'metrics.json', 'model.safetensors',
              'preprocess.json', 'report.html', 'predictions_test.csv', 'plots/loss.png', 'plots/confusion_matrix.png'):
        assert (run/f).exists(), f
    m = json.loads((run/'metrics.json').read_text())
    assert m['evaluation']['split'] == 'test' and m['evaluation']['metrics']['accuracy'] >= 0.97, m['evaluation']
    assert 'test metrics:' in out and 'accuracy=' in out
    # predict on the test files: one row per input, the same predictions as evaluate
    splits = json.loads((run/'splits.json').read_text())
    root = Path(json.loads((run/'data.json').read_text())['path'])
    files = tmp_path/'to_predict'
    for rel in splits['test']:
        (files/rel).parent.mkdir(parents=True, exist_ok=True); shutil.copy(root/rel, files/rel)
    r = dlproj('predict', run, files, '--out', tmp_path/'pred.csv')
    assert r.returncode == 0, r.stderr[-3000:]
    pred = pd.read_csv(tmp_path/'pred.csv')
    assert len(pred) == len(splits['test'])
    ev = pd.read_csv(run/'predictions_test.csv')
    got = dict(zip(pred['id'].map(lambda p: Path(p).as_posix()[-len('x/0000.png'):]), pred['prediction'].astype(str)))
    want = dict(zip(ev['id'].map(lambda p: Path(p).as_posix()[-len('x/0000.png'):]), ev['prediction'].astype(str)))
    assert got == want
    r = dlproj('evaluate', run); assert r.returncode == 0 and 'accuracy=' in r.stdout, r.stderr
    r = dlproj('report', run); assert r.returncode == 0 and Path(r.stdout.strip()) == run/'report.html'
    r = dlproj('runs', '--runs-dir', tmp_path/'runs'); assert r.returncode == 0 and run.name in r.stdout

def test_image_table_predict_and_evaluate(tmp_path):
    "An image run predicts on, and is evaluated on, a table of image paths as on a folder of the same files."
    run, _ = _train(_config(tmp_path, 'digits', epochs=2))
    root = Path(json.loads((run/'data.json').read_text())['path'])
    test = json.loads((run/'splits.json').read_text())['test']
    for rel in test:
        (tmp_path/'files'/rel).parent.mkdir(parents=True, exist_ok=True); shutil.copy(root/rel, tmp_path/'files'/rel)
    tbl = pd.DataFrame({'image': [f'files/{r}' for r in test], 'label': [Path(r).parent.name for r in test], 'site': 'north'})
    tbl.to_csv(tmp_path/'digits_test.csv', index=False)    # paths relative to the table's folder, not to the cwd
    r = dlproj('predict', run, tmp_path/'digits_test.csv', '--out', tmp_path/'pred_table.csv')
    assert r.returncode == 0, r.stderr[-3000:]
    r = dlproj('predict', run, tmp_path/'files', '--out', tmp_path/'pred_folder.csv')
    assert r.returncode == 0, r.stderr[-3000:]
    got = pd.read_csv(tmp_path/'pred_table.csv', dtype={'prediction': str, 'label': str})
    assert list(got.columns[:4]) == ['id', 'label', 'site', 'prediction'] and (got['site'] == 'north').all()
    assert got['id'].tolist() == tbl['image'].tolist() and got['label'].tolist() == tbl['label'].tolist()
    ref = pd.read_csv(tmp_path/'pred_folder.csv', dtype={'prediction': str}).set_index('id')
    assert got['prediction'].tolist() == ref.loc[[p.removeprefix('files/') for p in got['id']], 'prediction'].tolist()
    # evaluating on the table of the test files gives the test split's numbers, written as for a folder
    r = dlproj('evaluate', run, '--data', tmp_path/'digits_test.csv')
    assert r.returncode == 0 and 'accuracy=' in r.stdout, r.stderr[-3000:]
    out = run/'evaluations'/'digits_test'
    ev = json.loads((out/'metrics.json').read_text())['evaluation']
    split = json.loads((run/'metrics.json').read_text())['evaluation']
    assert split['split'] == 'test' and ev['n'] == split['n'] == len(test)
    assert ev['metrics']['accuracy'] == pytest.approx(split['metrics']['accuracy'], abs=1e-12)
    for f in ('predictions.csv', 'confusion_matrix.csv', 'misclassified.csv'): assert (out/f).exists(), f
    # a table without a path column: exit 2, the file and its columns named, nothing written
    tbl.drop(columns='image').to_csv(tmp_path/'no_paths.csv', index=False)
    r = dlproj('predict', run, tmp_path/'no_paths.csv', '--out', tmp_path/'none.csv')
    assert r.returncode == 2 and 'no_paths.csv: no column holds paths of image files' in r.stderr, r.stderr
    assert "columns present: ['label', 'site']" in r.stderr and 'Traceback' not in r.stderr, r.stderr
    assert not (tmp_path/'none.csv').exists()
    r = dlproj('evaluate', run, '--data', tmp_path/'no_paths.csv')
    assert r.returncode == 2 and "columns present: ['label', 'site']" in r.stderr and 'Traceback' not in r.stderr, r.stderr
    assert not (run/'evaluations'/'no_paths').exists()

@pytest.mark.parametrize('name,metric,low', [('breast_cancer', 'accuracy', 0.93), ('diabetes', 'r2', 0.2), ('digits_series', 'accuracy', 0.85)])
def test_tables_and_series(tmp_path, name, metric, low):
    run, _ = _train(_config(tmp_path, name))
    ev = json.loads((run/'metrics.json').read_text())['evaluation']['metrics']
    assert ev[metric] >= low, ev
    assert (run/'report.html').exists()
    cfg = yaml.safe_load((run/'config.yaml').read_text())
    src = Path(json.loads((run/'data.json').read_text())['path'])
    test_ids = json.loads((run/'splits.json').read_text())['test']
    df = pd.read_csv(src).loc[test_ids].drop(columns=[cfg['data']['target']])
    df.to_csv(tmp_path/'new.csv', index=False)          # the test rows, without their labels
    r = dlproj('predict', run, tmp_path/'new.csv', '--out', tmp_path/'out.csv')
    assert r.returncode == 0, r.stderr[-3000:]
    got = pd.read_csv(tmp_path/'out.csv')
    want = pd.read_csv(run/'predictions_test.csv').set_index('id').loc[test_ids]
    assert len(got) == len(test_ids)                   # one row per input, in input order
    if cfg['data']['task'] == 'regression':
        assert np.allclose(got['prediction'].to_numpy(), want['prediction'].to_numpy(), rtol=1e-5)
    else:
        assert list(got['prediction'].astype(str)) == list(want['prediction'].astype(str))

def test_user_errors_exit_2(tmp_path):
    cfg = _config(tmp_path, 'breast_cancer', epochs=1)
    r = dlproj('train', cfg, 'train.lrr=1')
    assert r.returncode == 2 and r.stderr.strip() == 'dlproj train: error: unknown key train.lrr; did you mean train.lr?', r.stderr
    r = dlproj('train', cfg, 'data.source=missing.csv')
    assert r.returncode == 2 and 'missing.csv' in r.stderr and 'Traceback' not in r.stderr
    r = dlproj('evaluate', tmp_path/'no-run')
    assert r.returncode == 2 and 'no-run' in r.stderr and 'Traceback' not in r.stderr
    assert not (tmp_path/'runs').exists()        # nothing was written by the failed commands
    run, _ = _train(cfg)
    pd.DataFrame({'mean radius': [10.0]}).to_csv(tmp_path/'partial.csv', index=False)
    r = dlproj('predict', run, tmp_path/'partial.csv')
    assert r.returncode == 2 and 'mean texture' in r.stderr and 'Traceback' not in r.stderr

def test_own_architecture_from_a_file(tmp_path):
    "model.module names your own file for training; predicting with the run imports it only when --module asks."
    (tmp_path/'my_models.py').write_text('''from torch import nn
from dlproj.model import register_arch
@register_arch('two_layer', 'tabular')
def two_layer(spec, hidden:int=16):
    "Continuous columns only, one hidden layer."
    class Net(nn.Module):
        def __init__(self): super().__init__(); self.f = nn.Sequential(nn.Linear(spec['n_cont'], hidden), nn.ReLU(), nn.Linear(hidden, spec['n_out']))
        def forward(self, x_cat, x_cont): return self.f(x_cont)
    return Net()
''')
    cfg = tmp_path/'cfg.yaml'
    cfg.write_text(yaml.safe_dump({'data': {'source': 'example:breast_cancer'}, 'model': {'arch': 'two_layer', 'module': 'my_models.py'},
                                   'train': {'epochs': 5, 'progress': False}, 'output': {'runs_dir': str(tmp_path/'runs'), 'report': False}}))
    r = dlproj('train', cfg, cwd=tmp_path)   # the module path is relative to where dlproj runs
    assert r.returncode == 0, r.stderr[-2000:]
    run = Path(next(l for l in r.stdout.splitlines() if l.startswith('run: '))[5:])
    pre = json.loads((run/'preprocess.json').read_text())
    assert pre['model']['module'] == str(tmp_path/'my_models.py') and pre['model']['n_params'] == 30*16 + 16 + 16*2 + 2
    r = dlproj('predict', run, 'example:breast_cancer')
    assert r.returncode == 2 and f"pass --module {tmp_path/'my_models.py'}" in r.stderr, r.stderr
    r = dlproj('--module', tmp_path/'my_models.py', 'predict', run, 'example:breast_cancer', '--out', tmp_path/'p.csv')
    assert r.returncode == 0, r.stderr[-2000:]
    assert len(pd.read_csv(tmp_path/'p.csv')) == 569

@pytest.mark.slow
def test_two_experiment_processes_share_one_grid(tmp_path):
    "Two `dlproj experiment` processes on one experiment: every point trained once, by one of them, and every record kept."
    cfg = tmp_path/'grid.yaml'
    cfg.write_text(yaml.safe_dump({'experiment': 'shared', 'data': {'source': 'example:breast_cancer'}, 'model': {'trees': False},
                                   'train': {'epochs': 3, 'progress': False},
                                   'output': {'runs_dir': str(tmp_path/'runs'), 'plots': False, 'report': False}}))
    args = [EXE, 'experiment', str(cfg), '--grid', 'train.lr=0.001,0.002,0.003,0.004,0.005,0.006']
    env = {**os.environ, 'OMP_NUM_THREADS': '1'}
    ps = [subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) for _ in range(2)]
    try: outs = [p.communicate(timeout=600) for p in ps]
    finally:
        for p in ps:
            if p.poll() is None: p.kill(); p.wait(timeout=30)
    assert [p.returncode for p in ps] == [0, 0], [e[-2000:] for _,e in outs]
    pts = json.loads((tmp_path/'runs'/'shared'/'experiment.json').read_text())['points']
    assert sorted(float(q['overrides'][0].split('=')[1]) for q in pts) == [0.001, 0.002, 0.003, 0.004, 0.005, 0.006]
    assert {q['status'] for q in pts} == {'finished'}
    runs = sorted(str(r) for r in (tmp_path/'runs'/'shared').iterdir() if r.is_dir())
    assert runs == sorted(q['run'] for q in pts)          # six runs, no point trained twice
