"Training on two processes (torchrun, gloo on the CPU): the shards, rank 0's run directory, the one-process accuracy, and a resume after the launcher is killed."
import json, os, signal, subprocess, sys, time
from pathlib import Path
import pandas as pd, pytest, torch, yaml
from test_cli import ROOT, EXE, dlproj

DEVICE = os.environ.get('DLPROJ_TEST_DEVICE', 'cuda')   # for the gpu-marked test; `cpu` runs it here, with gloo

def _config(tmp_path, **train):
    "The shipped digits config (a bundled image folder, small CNN), shortened, checkpointing every epoch."
    cfg = yaml.safe_load((ROOT/'configs'/'digits.yaml').read_text())
    cfg['output'].update(runs_dir=str(tmp_path/'runs'), report=False, plots=False)
    cfg['train'].update({'progress': False, 'epochs': 8, 'checkpoint_every': '1ep', **train})
    p = tmp_path/'digits.yaml'; p.write_text(yaml.safe_dump(cfg)); return p

def _train(*args):
    r = dlproj('train', *args)
    assert r.returncode == 0, r.stderr[-3000:]
    return Path(next(l for l in r.stdout.splitlines() if l.startswith('run: '))[5:])

def _read(run, f): return json.loads((run/f).read_text())

def test_two_processes_train_like_one(tmp_path):
    cfg = _config(tmp_path)
    one = _train(cfg)
    runs_before = set((tmp_path/'runs'/'digits').iterdir())
    two = _train(cfg, '--nproc', '2')
    assert set((tmp_path/'runs'/'digits').iterdir()) - runs_before == {two}   # two processes, one run directory
    d = _read(two, 'distributed.json')
    assert (d['world_size'], d['backend'], d['batch_size'], d['rank_batch_size']) == (2, 'gloo', 64, 32)
    r0,r1 = d['ranks']
    assert (r0['rank'], r1['rank']) == (0, 1) and r0['pid'] != r1['pid']   # both ranks ran
    assert _read(two, 'env.json')['pid'] == r0['pid'] and _read(two, 'env.json')['processes'] == 2   # rank 0 wrote the run
    assert r0['weights'] == r1['weights']   # gradients were averaged: the ranks' parameters stayed identical
    n = len(_read(two, 'splits.json')['train'])
    steps = n // 64   # one process: 64-row batches, the last partial one dropped
    for r in (r0, r1):
        assert [e['epoch'] for e in r['epochs']] == list(range(1, 9))
        for e in r['epochs']:   # each rank: half of every batch, so half the rows of an epoch, in as many optimizer steps
            assert (e['batches'], e['rows']) == (steps, steps * 32), e
    acc = lambda run: _read(run, 'metrics.json')['evaluation']['metrics']['accuracy']
    assert abs(acc(two) - acc(one)) <= 0.02, (acc(one), acc(two))
    assert len(pd.read_csv(two/'history.csv')) == 8 and not list(two.rglob('*.tmp'))

@pytest.mark.slow
def test_killed_launcher_resumes(tmp_path):
    "SIGKILL the launcher after epoch 3: its workers stop with it, and `--resume` with two processes finishes the run as an uninterrupted one."
    cfg = _config(tmp_path)
    whole = _train(cfg, '--nproc', '2')
    env = {**os.environ, 'OMP_NUM_THREADS': '1'}
    with open(tmp_path/'launcher.err', 'w') as err:
        p = subprocess.Popen([EXE, 'train', str(cfg), '--nproc', '2'], stdout=subprocess.DEVNULL, stderr=err, env=env)
    deadline,run = time.time() + 300,None
    while time.time() < deadline and p.poll() is None:
        new = [r for r in (tmp_path/'runs'/'digits').iterdir() if r != whole]
        if new and (new[0]/'history.csv').exists() and len(pd.read_csv(new[0]/'history.csv')) >= 3: run = new[0]; break
        time.sleep(0.1)
    if run is None:   # say where it stopped: the launcher's output and the run's files, and leave nothing running
        p.kill(); p.wait()
        made = [(r.name, sorted(f.name for f in r.iterdir())) for r in (tmp_path/'runs'/'digits').iterdir() if r != whole]
        pytest.fail(f"the run did not reach epoch 3 (launcher: {p.returncode}); runs: {made}\n"
                    f"{(tmp_path/'launcher.err').read_text()[-3000:]}")
    p.send_signal(signal.SIGKILL); p.wait()
    while (run/'train.lock').exists() and time.time() < deadline: time.sleep(0.1)   # the workers die with their launcher
    assert not (run/'metrics.json').exists()
    ck = len(pd.read_csv(run/'history.csv'))   # epochs checkpointed before the kill
    assert 3 <= ck < 8
    resumed = _train('--resume', run, '--nproc', '2')
    assert resumed == run and _read(run, 'metrics.json')['epochs_run'] == 8
    d = _read(run, 'distributed.json')
    assert [e['epoch'] for e in d['ranks'][0]['epochs']] == list(range(ck + 1, 9))   # only the epochs after the resume
    assert d['ranks'][0]['weights'] == _read(whole, 'distributed.json')['ranks'][0]['weights']   # the same model, bit for bit

@pytest.mark.slow
def test_check_repeats_a_two_process_run(tmp_path):
    "`runs --check` re-runs a `--nproc 2` run on two processes (a one-process re-run differs from the first epoch on)."
    cfg = tmp_path/'bc.yaml'
    cfg.write_text(yaml.safe_dump({'experiment': 'bc', 'data': {'source': 'example:breast_cancer'}, 'train': {'epochs': 2, 'progress': False},
                                   'output': {'runs_dir': str(tmp_path/'runs'), 'plots': False, 'report': False}}))
    run = _train(cfg, '--nproc', '2')
    r = dlproj('runs', '--check', run)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.splitlines() == ['re-run as it was trained: 2 processes',
                                     f"{run} is reproduced: the same history (2 epochs) and metrics, exactly"], r.stdout

def _rows_per_second(run):
    h = pd.read_csv(run/'history.csv')
    n = len(_read(run, 'splits.json')['train'])
    return (n // 64) * 64 * len(h) / h.seconds.sum()

@pytest.mark.gpu
@pytest.mark.skipif(DEVICE.startswith('cuda') and not torch.cuda.is_available(),
                    reason="no CUDA GPU here (torch.cuda.is_available() is False); DLPROJ_TEST_DEVICE=cpu runs this check on the CPU")
def test_torchrun_on_the_device(tmp_path):
    "One process under torchrun trains through the process group (NCCL on a GPU) as well as the plain run; two GPUs, two processes."
    cfg = _config(tmp_path, device=DEVICE)
    plain = _train(cfg)
    env = {**os.environ, 'OMP_NUM_THREADS': os.environ.get('OMP_NUM_THREADS', '1')}
    r = subprocess.run([sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node', '1', EXE, 'train', str(cfg)],
                       capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    one = Path(next(l for l in r.stdout.splitlines() if l.startswith('run: '))[5:])
    d = _read(one, 'distributed.json')
    assert d['world_size'] == 1 and ('nccl' if DEVICE.startswith('cuda') else 'gloo') in d['backend'], d
    assert _read(one, 'env.json')['device'].startswith(DEVICE.split(':')[0])
    acc = lambda run: _read(run, 'metrics.json')['evaluation']['metrics']['accuracy']
    assert abs(acc(one) - acc(plain)) <= 0.02, (acc(plain), acc(one))
    print(f"\n{DEVICE}: plain {_rows_per_second(plain):,.0f} rows/s, torchrun 1 process {_rows_per_second(one):,.0f} rows/s "
          f"(test accuracy {acc(plain):.4f} vs {acc(one):.4f})")
    if DEVICE.startswith('cuda') and torch.cuda.device_count() >= 2:
        two = _train(cfg, '--nproc', '2')
        d = _read(two, 'distributed.json')
        assert 'nccl' in d['backend'] and d['ranks'][0]['weights'] == d['ranks'][1]['weights']
        assert {r['device'] for r in d['ranks']} == {'cuda:0', 'cuda:1'}
        assert abs(acc(two) - acc(plain)) <= 0.02, (acc(plain), acc(two))
        print(f"{DEVICE}: 2 processes (2 GPUs) {_rows_per_second(two):,.0f} rows/s")

@pytest.mark.slow
def test_accelerate_launch(tmp_path):
    "`accelerate launch --multi_gpu` runs the unchanged `dlproj train` on two CPU processes (`--cpu` would start one)."
    cfg = _config(tmp_path, epochs=2)
    env = {**os.environ, 'OMP_NUM_THREADS': '1'}
    acc = str(Path(EXE).with_name('accelerate'))
    r = subprocess.run([acc, 'launch', '--multi_gpu', '--num_processes', '2', '--num_machines', '1', '--mixed_precision', 'no',
                        '--dynamo_backend', 'no', EXE, 'train', str(cfg)], capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    run = Path(next(l for l in r.stdout.splitlines() if l.startswith('run: '))[5:])
    d = _read(run, 'distributed.json')
    assert d['world_size'] == 2 and d['ranks'][0]['weights'] == d['ranks'][1]['weights']

@pytest.mark.slow
def test_killed_rank_resumes(tmp_path):
    """SIGKILL one rank mid-epoch: rank 0 saves the last finished epoch, the command exits 3 saying how to resume,
    nothing is left running, and `--resume --nproc 2` finishes the run."""
    import psutil
    from dlproj.utils import read_checkpoint
    cfg = _config(tmp_path, epochs=8, batch_size=16, checkpoint_every='100ep')   # no checkpoint before the end but the save on the way out
    env = {**os.environ, 'OMP_NUM_THREADS': '1'}
    p = subprocess.Popen([EXE, 'train', str(cfg), '--nproc', '2'], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    procs,deadline = [psutil.Process(p.pid)],time.time() + 300
    try:
        log = lambda: next((tmp_path/'runs'/'digits').glob('*/train.log'), None) if (tmp_path/'runs'/'digits').exists() else None
        while time.time() < deadline and not (log() and 'epoch 3/8' in log().read_text()) and p.poll() is None: time.sleep(0.05)
        assert p.poll() is None and log() is not None, 'the run did not reach epoch 3'
        procs += procs[0].children(recursive=True)
        rank1 = next(c for c in procs[1:] if c.environ().get('RANK') == '1')
        rank1.send_signal(signal.SIGKILL)
        err = p.communicate(timeout=120)[1]
    finally:
        for q in procs:   # nothing of the run may be left: each process we saw, by its id
            if q.is_running() and q.status() != psutil.STATUS_ZOMBIE: q.kill()
    assert not [q.pid for q in procs if q.is_running() and q.status() != psutil.STATUS_ZOMBIE]
    run = log().parent
    assert p.returncode == 3 and 'internal error' not in err, err[-3000:]
    assert f"dlproj train --resume {run} --nproc 2" in err, err[-3000:]
    # the epochs before the kill, not lost. Rank 0 logs epoch 3 when it has finished it, but the epoch counts as finished
    # once both ranks have passed its end-of-epoch exchange (the early-stopping broadcast): rank 1, killed while it may
    # still be in epoch 3, can leave epoch 2 as the last one both finished
    saved = read_checkpoint(run/'checkpoints'/'last.pth')['epoch']
    assert 2 <= saved < 8 and not (run/'metrics.json').exists() and not (run/'train.lock').exists()
    assert _train('--resume', run, '--nproc', '2') == run
    assert _read(run, 'metrics.json')['epochs_run'] == 8 and len(pd.read_csv(run/'history.csv')) == 8

@pytest.mark.slow
def test_batch_of_one_row_per_process_is_refused(tmp_path):
    "A tabular run whose batch gives each process one row (BatchNorm can't train on it) fails up front, once, and leaves nothing behind."
    cfg = tmp_path/'bc.yaml'
    cfg.write_text(yaml.safe_dump({'data': {'source': 'example:breast_cancer'}, 'output': {'runs_dir': str(tmp_path/'runs')},
                                   'train': {'epochs': 1, 'batch_size': 3, 'progress': False}}))
    r = dlproj('train', cfg, '--nproc', '2')
    assert r.returncode == 2 and 'Traceback' not in r.stderr, r.stderr[-3000:]
    assert 'train.batch_size=3 gives each of the 2 processes batches of 1 row' in r.stderr and 'train.batch_size=4 or more' in r.stderr
    assert not (tmp_path/'runs').exists()
