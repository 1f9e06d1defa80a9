"Tuning across processes: `dlproj tune --workers 2` shares one study (Optuna's journal file); a worker killed with SIGKILL loses no finished trial. Marked slow."
import os, shutil, signal, subprocess, sys, time
from pathlib import Path
import pytest, yaml

EXE = shutil.which('dlproj', path=str(Path(sys.executable).parent)) or 'dlproj'
ENV = {**os.environ, 'OMP_NUM_THREADS': '1'}

def _config(tmp_path, name):
    cfg = {'experiment': name, 'data': {'source': 'example:breast_cancer'}, 'train': {'epochs': 3, 'progress': False},
           'output': {'runs_dir': str(tmp_path/'runs'), 'plots': False, 'report': False},
           'tune': {'pruner': 'none', 'space': {'train.lr': {'low': 1e-3, 'high': 1e-1, 'log': True}}}}
    (tmp_path/f'{name}.yaml').write_text(yaml.safe_dump(cfg))
    return tmp_path/f'{name}.yaml'

def _finished(storage, name):
    import optuna
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    st = optuna.load_study(study_name=name, storage=storage)
    return [t for t in st.trials if t.state.name in ('COMPLETE', 'PRUNED')]

@pytest.mark.slow
def test_two_workers_share_one_study(tmp_path):
    from dlproj.hyperparameter_tuning import make_storage
    r = subprocess.run([EXE, 'tune', _config(tmp_path, 'shared'), '--workers', '2', '--trials', '4'], env=ENV,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    done = _finished(make_storage(f"journal:{tmp_path/'runs'/'shared'/'tune'/'journal.log'}", None), 'shared')
    # the total is reached; a trial already running in the other worker then still finishes
    assert 4 <= len(done) <= 5, len(done)
    runs = [t.user_attrs['run'] for t in done]
    assert len(set(runs)) == len(runs) and len({t.number for t in done}) == len(done)   # each trial once, each its own run
    assert all((Path(p)/'metrics.json').exists() for p in runs)
    assert (tmp_path/'runs'/'shared'/'tune'/'best.yaml').exists()

@pytest.mark.slow
def test_killed_worker_loses_no_finished_trial(tmp_path):
    cfg = _config(tmp_path, 'killed')
    storage = f"sqlite:///{(tmp_path/'runs'/'killed'/'tune'/'optuna.db').resolve()}"
    p = subprocess.Popen([EXE, 'tune', cfg, '--trials', '6'], env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline,before = time.time() + 300,[]
    while time.time() < deadline and p.poll() is None:
        try: before = _finished(storage, 'killed')
        except Exception: before = []   # the study is not created yet
        if len(before) >= 2: break
        time.sleep(0.2)
    assert p.poll() is None and len(before) >= 2, "the worker ended before it could be killed"
    p.send_signal(signal.SIGKILL); p.wait(30)
    kept = {(t.number, t.value) for t in _finished(storage, 'killed')}
    assert {(t.number, t.value) for t in before} <= kept
    r = subprocess.run([EXE, 'tune', cfg, '--trials', '6'], env=ENV, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    after = _finished(storage, 'killed')
    assert len(after) == 6 and kept <= {(t.number, t.value) for t in after}
