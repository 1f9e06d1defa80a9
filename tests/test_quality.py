"""Defaults that learn: a config naming only the data reaches a published-class result on a real UCR set, fast.

GunPoint (UCR archive, official split: 50 training and 150 test series of 150 steps) is the smallest set on
which the old default sequence model sat at chance. Published FCN/ResNet accuracy: 1.00/0.99 (Fawaz et al. 2019);
1-NN Euclidean: 0.913. The `.ts` files come from the sktime wheel (downloaded with `pip download --no-deps`,
never installed), the same way `benchmarks/bench_quality.py` gets its series. The default trains a second model on
the training and validation series together (the refit, tested on tables in `06_train`); this test keeps the first
model, trained on 40 of the 50 series, which halves its time and must still reach the target.
"""
import sys, time
from pathlib import Path
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]/'benchmarks'))

def _gunpoint():
    from bench_quality import ts_files
    return ts_files('GunPoint')

def test_default_series_model_on_gunpoint(tmp_path):
    files = _gunpoint()
    if files is None: pytest.skip("the sktime wheel (for the UCR .ts files) could not be found or downloaded with pip")
    from dlproj.train import train
    from dlproj.utils import read_json
    from dlproj.config import load_config
    import torch; torch.set_num_threads(1)
    t = time.time()
    run = train({'experiment': 'gunpoint', 'data': {'source': str(files[0]), 'test_source': str(files[1])},
                 'output': {'runs_dir': str(tmp_path/'runs')}, 'train': {'progress': False, 'refit': False}})
    secs = time.time() - t
    m,c = read_json(run/'metrics.json'),load_config(run/'config.yaml')
    print(f"GunPoint with defaults: test accuracy {m['test']['accuracy']:.3f} in {secs:.0f} s ({c.model.arch}, {m['epochs_run']} epochs)")
    assert c.model.arch == 'resnet1d' and c.data.kind == 'sequence'
    assert read_json(run/'data.json')['split_sizes']['test'] == 150
    assert m['test']['accuracy'] >= 0.90, m
    # the same .ts file through predict and evaluate: one row per series, the run's own test score
    from dlproj.inference import predict
    from dlproj.evaluate import evaluate
    p = predict(run, files[1])
    assert len(p) == 150 and list(p['id'][:3]) == [0, 1, 2]
    ev = evaluate(run, data=str(files[1]))
    assert ev['n'] == 150 and abs(ev['metrics']['accuracy'] - m['test']['accuracy']) < 1e-6, (ev['metrics'], m['test'])
