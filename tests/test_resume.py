"A training run killed with SIGKILL resumes from its last checkpoint and ends with a continuous history."
import os, signal, subprocess, sys, time
from pathlib import Path
import pandas as pd, yaml

def _env(): return {**os.environ, 'OMP_NUM_THREADS': '1'}

def _run_py(code:str, **kw): return subprocess.Popen([sys.executable, '-c', code], env=_env(), **kw)

def _epoch_of(ck:Path):
    from dlproj.utils import read_checkpoint
    try: return read_checkpoint(ck)['epoch']
    except Exception: return 0

def test_sigkill_then_resume(tmp_path):
    epochs = 12
    cfg = {'experiment': 'killed', 'seed': 3, 'data': {'source': 'example:digits'},
           'output': {'runs_dir': str(tmp_path/'runs')},
           'train': {'epochs': epochs, 'batch_size': 16, 'lr': 3e-3, 'progress': False}}
    (tmp_path/'cfg.yaml').write_text(yaml.safe_dump(cfg))
    p = _run_py(f"from dlproj.train import train; train({str(tmp_path/'cfg.yaml')!r})")
    deadline,run = time.time() + 120,None
    while time.time() < deadline and p.poll() is None:
        runs = list((tmp_path/'runs'/'killed').glob('*'))
        if runs and _epoch_of(runs[0]/'checkpoints'/'last.pth') >= 2: run = runs[0]; break
        time.sleep(0.02)
    assert p.poll() is None, "training ended before it could be killed"
    p.send_signal(signal.SIGKILL); p.wait(30)
    assert run is not None and not (run/'metrics.json').exists()
    done = len(pd.read_csv(run/'history.csv'))
    assert 2 <= done < epochs
    # the checkpoint on disk is whole (atomic writes); history.csv is written just before it in each epoch,
    # so a kill between the two leaves one more history row than checkpointed epochs, which resume drops
    assert _epoch_of(run/'checkpoints'/'last.pth') in (done, done - 1)
    r = subprocess.run([sys.executable, '-c', f"from dlproj.train import train; print(train(resume={str(run)!r}))"],
                       env=_env(), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert Path(r.stdout.strip().splitlines()[-1]) == run
    h = pd.read_csv(run/'history.csv')
    assert list(h.epoch) == list(range(1, epochs + 1))
    assert (run/'metrics.json').exists() and (run/'model.safetensors').exists()
    assert not [p for p in run.rglob('*.tmp')]
