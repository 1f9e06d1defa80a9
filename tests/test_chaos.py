"""Chaos: SIGKILL a tuning worker, a trial, and an experiment grid between and during its points (a rank of a
two-process run: `test_distributed.py::test_killed_rank_resumes`). Each time the same command, run again, finishes the
job: no finished trial or run is lost or done twice, every wait is bounded, and no process of the killed command is left
behind. Marked slow (a few minutes on two cores)."""
import json, os, signal, subprocess, sys, time
from pathlib import Path
import pandas as pd, psutil, pytest, yaml
from test_cli import ROOT, EXE

ENV = {**os.environ, 'OMP_NUM_THREADS': '1'}
pytestmark = pytest.mark.slow

def _start(*args)->subprocess.Popen:
    "Start `dlproj ARGS`, its error output to a file (a pipe nobody reads would block its writers once full)."
    import tempfile
    err = tempfile.TemporaryFile('w+')
    p = subprocess.Popen([EXE, *map(str, args)], env=ENV, stdout=subprocess.DEVNULL, stderr=err, text=True)
    p.err = err; return p

def _stderr(p)->str: p.err.seek(0); return p.err.read()

def _run(*args, timeout=600)->subprocess.CompletedProcess:
    return subprocess.run([EXE, *map(str, args)], env=ENV, capture_output=True, text=True, timeout=timeout)

def _until(cond, p:subprocess.Popen, timeout:float=300, what:str=''):
    "Poll `cond()` until it returns something truthy; fail (after stopping `p`) if `p` ends first or time runs out."
    deadline = time.time() + timeout
    while time.time() < deadline:
        try: v = cond()
        except (OSError, ValueError, KeyError, pd.errors.EmptyDataError): v = None   # a file being written
        if v: return v
        if p.poll() is not None: pytest.fail(f"the command ended (status {p.returncode}) before {what}: {_stderr(p)[-2000:]}")
        time.sleep(0.05)
    _kill_tree(p); pytest.fail(f"timed out waiting for {what}")

def _tree(p)->list[psutil.Process]:
    try: return [psutil.Process(p.pid)] + psutil.Process(p.pid).children(recursive=True)
    except psutil.NoSuchProcess: return []

def _kill_tree(p):
    for q in _tree(p):
        try: q.kill()
        except psutil.NoSuchProcess: pass

def _none_left(procs:list[psutil.Process], timeout:float=60):
    "Every process in `procs` is gone within `timeout` seconds (those still there are killed, and the test fails)."
    _,alive = psutil.wait_procs(procs, timeout=timeout)
    alive = [q for q in alive if q.status() != psutil.STATUS_ZOMBIE]
    for q in alive: q.kill()
    assert not alive, f"left behind: {[(q.pid, q.cmdline()[:6]) for q in alive]}"

def _table(name:str, tmp_path:Path, **extra)->Path:
    "A small table config (breast cancer, 3 epochs, no plots or report) with a learning-rate search space."
    cfg = {'experiment': name, 'data': {'source': 'example:breast_cancer'}, 'model': {'trees': False},
           'train': {'epochs': 3, 'progress': False, 'calibrate': False},
           'output': {'runs_dir': str(tmp_path/'runs'), 'plots': False, 'report': False},
           'tune': {'pruner': 'none', 'space': {'train.lr': {'low': 1e-3, 'high': 1e-1, 'log': True}}}, **extra}
    p = tmp_path/f'{name}.yaml'; p.write_text(yaml.safe_dump(cfg)); return p

def _study(tmp_path:Path, name:str):
    "The study as dlproj keeps it in its folder."
    import optuna
    from dlproj.config import load_config
    from dlproj.hyperparameter_tuning import load_study
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return load_study(load_config(tmp_path/f'{name}.yaml'), name)

def _states(st)->dict:
    out = {}
    for t in st.get_trials(deepcopy=False): out.setdefault(t.state.name, []).append(t)
    return out

def _running(st)->list:
    "Trials that are running and know their run directory (a trial is marked running before its data is loaded)."
    return [t for t in _states(st).get('RUNNING', []) if 'run' in t.user_attrs]

def _check_study(st, total:int):
    "At least `total` finished trials, each its own number, its own finished run; nothing left running."
    s = _states(st)
    done = s.get('COMPLETE', []) + s.get('PRUNED', [])
    assert len(done) >= total, {k: len(v) for k,v in s.items()}
    assert not s.get('RUNNING'), [t.number for t in s['RUNNING']]
    runs = [t.user_attrs['run'] for t in done]
    assert len(set(runs)) == len(runs)
    assert all((Path(r)/'metrics.json').exists() for r in runs)
    return s

def test_kill_a_tuning_worker(tmp_path):
    cfg = _table('workers', tmp_path)
    p = _start('tune', cfg, '--workers', '2', '--trials', '4')
    workers = _until(lambda: [q for q in psutil.Process(p.pid).children() if '--seed-offset' in q.cmdline()] or None, p, what='workers')
    _until(lambda: len(_states(_study(tmp_path, 'workers')).get('COMPLETE', [])) >= 1
           and _running(_study(tmp_path, 'workers')), p, what='a finished trial and a running one')
    procs = _tree(p)
    workers[0].kill()
    p.wait(timeout=300)   # the other worker finishes the study; the command says one worker failed
    assert p.returncode != 0 and 'worker' in _stderr(p)
    _none_left(procs)
    r = _run('tune', cfg, '--workers', '2', '--trials', '4')   # the same command again
    assert r.returncode == 0, r.stderr[-3000:]
    s = _check_study(_study(tmp_path, 'workers'), 4)
    assert len(s.get('FAIL', [])) == 1   # the killed worker's trial, failed with its reason
    assert (tmp_path/'runs'/'workers'/'tune'/'best.yaml').exists()

def test_kill_a_trial(tmp_path):
    cfg = _table('trial', tmp_path)
    p = _start('tune', cfg, '--trials', '3')
    _until(lambda: len(_states(_study(tmp_path, 'trial')).get('COMPLETE', [])) >= 1
           and _running(_study(tmp_path, 'trial')), p, what='a finished trial and a running one')
    before = {t.number: t.value for t in _states(_study(tmp_path, 'trial'))['COMPLETE']}
    procs = _tree(p); p.kill(); p.wait(30)
    _none_left(procs)
    r = _run('tune', cfg, '--trials', '3')
    assert r.returncode == 0, r.stderr[-3000:]
    s = _check_study(_study(tmp_path, 'trial'), 3)
    assert before.items() <= {t.number: t.value for t in s['COMPLETE']}.items()   # the finished trials kept as they were
    killed, = s['FAIL']
    r = _run('runs', '--runs-dir', tmp_path/'runs', '--experiment', 'trial')
    line = next(l for l in r.stdout.splitlines() if Path(killed.user_attrs['run']).name in l)
    assert 'interrupted' in line, r.stdout

def _history(run:Path)->int: return len(pd.read_csv(run/'history.csv')) if (run/'history.csv').exists() else 0

def _points(tmp_path:Path)->list[dict]:
    return json.loads((tmp_path/'runs'/'grid'/'experiment.json').read_text())['points']

def test_kill_a_grid_between_and_during_points(tmp_path):
    cfg = _table('grid', tmp_path)
    args = ('experiment', cfg, '--grid', 'train.lr=0.001,0.003,0.01')
    p = _start(*args)   # killed between points: right after the first is recorded
    _until(lambda: [r for r in _points(tmp_path) if r['status'] == 'finished'], p, what='the first point')
    procs = _tree(p); p.kill(); p.wait(30); _none_left(procs)
    first = {r['run'] for r in _points(tmp_path) if r['status'] == 'finished'}
    p = _start(*args)   # killed during a point: once the next point's run has trained an epoch
    runs = lambda: [r for r in (tmp_path/'runs'/'grid').iterdir() if r.is_dir() and str(r) not in first]
    _until(lambda: any(_history(r) >= 1 for r in runs()), p, what="the next point's first epoch")
    procs = _tree(p); p.kill(); p.wait(30); _none_left(procs)
    r = _run(*args)
    assert r.returncode == 0, r.stderr[-3000:]
    pts = _points(tmp_path)
    done = [q for q in pts if q['status'] == 'finished']
    assert sorted(json.loads(q['overrides'][0].split('=', 1)[1]) for q in done) == [0.001, 0.003, 0.01]   # each point once
    assert first <= {q['run'] for q in done} and len({q['run'] for q in done}) == 3
    assert all((Path(q['run'])/'metrics.json').exists() for q in done)
