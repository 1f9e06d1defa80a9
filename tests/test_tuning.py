"""Tuning across processes: `dlproj tune --workers 2` and a plain `dlproj tune` share one study (the journal file in the
study folder); a process killed with SIGKILL, even while it holds the journal's lock, loses no finished trial and leaves
no trial running; stopping the command stops its workers. Marked slow: every wait is bounded, and no process is left."""
import os, shutil, signal, subprocess, sys, time
from pathlib import Path
import pytest, yaml

psutil = pytest.importorskip('psutil')
EXE = shutil.which('dlproj', path=str(Path(sys.executable).parent)) or 'dlproj'
ENV = {**os.environ, 'OMP_NUM_THREADS': '1'}
pytestmark = pytest.mark.slow

def _config(tmp_path, name, runs_dir=None, epochs=3):
    cfg = {'experiment': name, 'data': {'source': 'example:breast_cancer'}, 'model': {'trees': False},
           'train': {'epochs': epochs, 'progress': False, 'calibrate': False},
           'output': {'runs_dir': runs_dir or str(tmp_path/'runs'), 'plots': False, 'report': False},
           'tune': {'pruner': 'none', 'space': {'train.lr': {'low': 1e-3, 'high': 1e-1, 'log': True}}}}
    (tmp_path/f'{name}.yaml').write_text(yaml.safe_dump(cfg))
    return tmp_path/f'{name}.yaml'

def _start(*args, cwd=None)->subprocess.Popen:
    "Start a command, its output in files (a pipe nobody reads while waiting would fill up, and block every worker writing to it)."
    log = Path(cwd or Path(str(args[1])).parent)/f"cmd-{time.monotonic_ns()}"
    with open(f'{log}.out', 'w') as out, open(f'{log}.err', 'w') as err:
        p = subprocess.Popen([EXE, *map(str, args)], env=ENV, cwd=cwd, stdout=out, stderr=err,
                             start_new_session=True)   # its own process group: the `finally`s below can clean it all up
    p.err = lambda: Path(f'{log}.err').read_text()
    return p

def _run(*args, cwd=None, timeout=600)->subprocess.CompletedProcess:
    return subprocess.run([EXE, *map(str, args)], env=ENV, cwd=cwd, capture_output=True, text=True, timeout=timeout)

def _study(cfg:Path, study=None):
    "The study as dlproj keeps it (a relative runs folder is read from the current folder)."
    import optuna
    from dlproj.config import load_config
    from dlproj.hyperparameter_tuning import load_study
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return load_study(load_config(cfg), study)

def _states(st)->dict:
    out = {}
    for t in st.get_trials(deepcopy=False): out.setdefault(t.state.name, []).append(t)
    return out

def _until(cond, p:subprocess.Popen, timeout:float=300, what:str=''):
    "Poll `cond()` until it gives something truthy; fail if `p` ends first or time runs out."
    deadline = time.time() + timeout
    while time.time() < deadline:
        try: v = cond()
        except Exception: v = None   # a study not made yet, a file being written
        if v: return v
        if p.poll() is not None: pytest.fail(f"the command ended (status {p.returncode}) before {what}: {p.err()[-3000:]}")
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}")

def _workers(p)->list:
    return [q for q in psutil.Process(p.pid).children() if '--seed-offset' in q.cmdline()]

def _tree(p)->list:
    try: return [psutil.Process(p.pid)] + psutil.Process(p.pid).children(recursive=True)
    except psutil.NoSuchProcess: return []

def _none_left(procs:list, timeout:float=90):
    "Every process in `procs` ends within `timeout` seconds (those still there are killed, and the test fails)."
    _,alive = psutil.wait_procs(procs, timeout=timeout)
    alive = [q for q in alive if q.is_running() and q.status() != psutil.STATUS_ZOMBIE]
    for q in alive: q.kill()
    assert not alive, f"left behind: {[(q.pid, q.cmdline()[:6]) for q in alive]}"

def _clean_up(p:subprocess.Popen):
    try: os.killpg(p.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError): pass

def test_workers_and_plain_runs_share_one_study(tmp_path):
    cfg = _config(tmp_path, 'shared')
    r = _run('tune', cfg, '--workers', '2', '--trials', '4')
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.startswith('study shared: 0 of its 4 trials finished; adding 4\n'), r.stdout
    done = _states(_study(cfg)).get('COMPLETE', [])
    # the total is reached; a trial already running in the other worker then still finishes
    assert 4 <= len(done) <= 5, len(done)
    runs = [t.user_attrs['run'] for t in done]
    assert len(set(runs)) == len(runs) and len({t.user_attrs['sampler_seed'] for t in done}) == 2   # each its run; a seed a worker
    assert all((Path(p)/'metrics.json').exists() for p in runs)
    assert (tmp_path/'runs'/'shared'/'tune'/'journal.log').exists() and not (tmp_path/'runs'/'shared'/'tune'/'optuna.db').exists()
    r = _run('tune', cfg, '--trials', str(len(done) + 1))   # a plain run continues the workers' study
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.startswith(f'study shared: {len(done)} of its {len(done) + 1} trials finished; adding 1\n'), r.stdout
    st = _study(cfg)
    after = _states(st)['COMPLETE']
    assert len(after) == len(done) + 1 and {(t.number, t.value) for t in done} <= {(t.number, t.value) for t in after}
    from dlproj.config import load_config
    assert load_config(tmp_path/'runs'/'shared'/'tune'/'best.yaml').train.lr == pytest.approx(st.best_params['train.lr'])
    r = _run('tune', cfg, '--show')
    assert r.returncode == 0 and len(r.stdout.strip().splitlines()) == 1 + len(st.trials), r.stdout

def test_workers_stop_at_the_timeout(tmp_path):
    cfg = _config(tmp_path, 'timed')
    p = _start('tune', cfg, '--workers', '2', '--trials', '200', '--timeout', '10')
    t0 = time.time()
    try:
        try: p.wait(timeout=240)
        except subprocess.TimeoutExpired: pytest.fail('the workers did not stop at --timeout')
        assert p.returncode == 0, p.err()[-3000:]
        assert time.time() - t0 < 120
        assert 1 <= len(_states(_study(cfg)).get('COMPLETE', [])) < 200
    finally: _clean_up(p)

def test_killed_process_loses_no_finished_trial(tmp_path):
    cfg = _config(tmp_path, 'killed', epochs=20)   # trials of a few seconds: the polls below catch one running
    p = _start('tune', cfg, '--trials', '6')
    try:
        before = _until(lambda: (s := _states(_study(cfg))) and len(s.get('COMPLETE', [])) >= 2
                        and any('run' in t.user_attrs for t in s.get('RUNNING', [])) and s['COMPLETE'],
                        p, what='two finished trials and a running one with its run')
        procs = _tree(p); p.kill(); p.wait(30)
        _none_left(procs)
        kept = {(t.number, t.value) for t in _states(_study(cfg))['COMPLETE']}
        assert {(t.number, t.value) for t in before} <= kept
        r = _run('tune', cfg, '--trials', '6')
        assert r.returncode == 0, r.stderr[-3000:]
        s = _states(_study(cfg))
        assert len(s['COMPLETE']) == 6 and kept <= {(t.number, t.value) for t in s['COMPLETE']} and not s.get('RUNNING')
        killed, = s['FAIL']   # the trial the kill interrupted: failed, saying why, its run marked
        host = killed.user_attrs['owner']['host']
        assert killed.user_attrs['failed'] == f"its process (pid {p.pid} on {host}) ended while it ran (killed?)"
        show = _run('tune', cfg, '--show').stdout
        assert 'fail' in show and 'ended while it ran' in show, show
        run = Path(killed.user_attrs['run'])
        assert yaml.safe_load((run/'trial.json').read_text())['interrupted'] == killed.user_attrs['failed']
    finally: _clean_up(p)

LOCK = ("import os, signal; from dlproj.hyperparameter_tuning import make_storage; "   # a worker killed inside a journal write
        "s = make_storage('journal:runs/locked/tune/journal.log', None); print('ready', flush=True); input(); "
        "s._backend._lock.acquire(); os.kill(os.getpid(), signal.SIGKILL)")

def test_killed_worker_holding_the_journal_lock(tmp_path, monkeypatch):
    "A worker SIGKILLed mid-trial, its lock on the journal left behind, with the runs folder relative as by default."
    monkeypatch.chdir(tmp_path)
    cfg = _config(tmp_path, 'locked', runs_dir='runs', epochs=6)
    p = _start('tune', cfg.name, '--workers', '2', '--trials', '4', cwd=tmp_path)
    h = subprocess.Popen([sys.executable, '-c', LOCK], cwd=tmp_path, env=ENV, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert h.stdout.readline() == 'ready\n'
        workers = _until(lambda: len(w := _workers(p)) == 2 and w, p, what='two workers')
        _until(lambda: any(t.user_attrs.get('owner', {}).get('pid') == workers[0].pid for t in _states(_study(cfg)).get('RUNNING', [])),
               p, what="a trial of the first worker")
        procs,i = _tree(p),workers[0].cmdline()[-1]   # its --seed-offset: its number
        workers[0].kill(); workers[0].wait(timeout=30)
        lock = tmp_path/'runs'/'locked'/'tune'/'journal.log.lock'
        # killed mid-write, it left the lock itself (a second, made-up lock would race the survivor's stale-lock
        # release); else the lock as that worker would have left it had it been writing
        if lock.is_symlink(): h.kill()
        h.communicate('\n', timeout=60)
        assert lock.is_symlink()
        t0 = time.time()
        try: p.wait(timeout=300)   # the other worker waits out Optuna's grace period (30 s), breaks the lock, finishes the study
        except subprocess.TimeoutExpired: pytest.fail('the surviving worker never got past the stale lock')
        assert time.time() - t0 > 20   # the lock held it up
        err = p.err()
        assert p.returncode == 2 and f'worker {i} was killed (SIGKILL)' in err and 'run the same command again' in err, err[-3000:]
        _none_left(procs)
        s = _states(_study(cfg))
        done = s.get('COMPLETE', [])
        assert len(done) >= 4 and not s.get('RUNNING') and not os.path.lexists(tmp_path/'runs'/'locked'/'tune'/'journal.log.lock')
        killed, = s['FAIL']
        assert killed.user_attrs['owner']['pid'] == workers[0].pid and 'ended while it ran' in killed.user_attrs['failed']
        r = _run('tune', cfg.name, '--trials', str(len(done) + 1), cwd=tmp_path)   # a later run continues the study
        assert r.returncode == 0, r.stderr[-3000:]
        assert r.stdout.startswith(f'study locked: {len(done)} of its {len(done) + 1} trials finished; adding 1'), r.stdout
        assert len(_states(_study(cfg))['COMPLETE']) == len(done) + 1
    finally: _clean_up(p); h.kill(); h.wait()

@pytest.mark.parametrize('sig', [signal.SIGTERM, signal.SIGINT, signal.SIGKILL], ids=['SIGTERM', 'SIGINT', 'SIGKILL'])
def test_stopping_the_command_stops_its_workers(tmp_path, sig):
    cfg = _config(tmp_path, 'stopped', epochs=20)
    p = _start('tune', cfg, '--workers', '2', '--trials', '40')
    try:
        _until(lambda: len(_workers(p)) == 2, p, what='two workers')
        _until(lambda: len(_states(_study(cfg)).get('RUNNING', [])) == 2, p, what='a trial in each worker')
        procs = _tree(p)
        p.send_signal(sig)   # SIGKILL: the kernel stops the workers (PR_SET_PDEATHSIG)
        p.wait(timeout=120)
        assert p.returncode == (-signal.SIGKILL if sig == signal.SIGKILL else 130), p.err()[-3000:]
        _none_left(procs)
        from dlproj.hyperparameter_tuning import fail_stale_trials
        fail_stale_trials(st := _study(cfg))
        s = _states(st)
        assert not s.get('RUNNING') and len(s['FAIL']) == 2, {k: len(v) for k,v in s.items()}
        assert all('failed' in t.user_attrs for t in s['FAIL']), [(t.user_attrs, t.system_attrs) for t in s['FAIL']]
        assert all('interrupted' in t.user_attrs['failed'] or 'ended while it ran' in t.user_attrs['failed'] for t in s['FAIL']), [t.user_attrs for t in s['FAIL']]
    finally: _clean_up(p)
