"The saved model (safetensors + preprocess.json) reloads in a fresh process and reproduces the validation predictions exactly."
import os, subprocess, sys, textwrap
from pathlib import Path

def _py(code, cwd):
    r = subprocess.run([sys.executable, '-c', textwrap.dedent(code)], cwd=cwd, capture_output=True, text=True,
                       env={**os.environ, 'OMP_NUM_THREADS': '1'}, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    return r.stdout

TRAIN = """
    import torch
    import dlproj.train as T
    from dlproj.dataset import build_data
    from dlproj.utils import read_json
    _save = T.save_model
    def save_model(run_dir, model, pre, cfg):
        "Save as training does, then keep the in-memory final model's validation outputs (a table's: the network and its trees)."
        _save(run_dir, model, pre, cfg)
        dl = build_data(cfg, splits=read_json(run_dir/'splits.json')).dls.valid
        with torch.no_grad(): torch.save(torch.cat([model.eval()(*b[:dl.n_inp]) for b in dl]), 'valid_out.pt')
    T.save_model = save_model
    print(T.train({cfg!r}))
"""
RELOAD = """
    import torch, json
    from dlproj.train import load_model
    from dlproj.dataset import build_data
    from dlproj.config import load_config
    from dlproj.utils import read_json
    run = {run!r}
    model, pre = load_model(run)
    b = build_data(load_config(run + '/config.yaml'), splits=read_json(run + '/splits.json'))
    dl = b.dls.valid
    with torch.no_grad(): out = torch.cat([model(*xb[:dl.n_inp]) for xb in dl])
    ref = torch.load('valid_out.pt', weights_only=True)
    print(out.shape == ref.shape and bool(torch.equal(out, ref)))
"""

def _check(tmp_path, source, **train):
    cfg = {'experiment': 'reload', 'data': {'source': source}, 'output': {'runs_dir': str(tmp_path/'runs')},
           'train': {'epochs': 2, 'progress': False, **train}}
    run = _py(TRAIN.format(cfg=cfg), tmp_path).strip().splitlines()[-1]
    assert Path(run, 'model.safetensors').exists()
    assert _py(RELOAD.format(run=run), tmp_path).strip().splitlines()[-1] == 'True'

def test_image_model_reloads_exactly(tmp_path): _check(tmp_path, 'example:digits')
def test_tabular_regression_model_reloads_exactly(tmp_path): _check(tmp_path, 'example:diabetes', lr=1e-2)
