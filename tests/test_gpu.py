"""GPU: the whole loop on CUDA for an image folder (in memory and lazy), a table and a series.

Train (the lr finder, mixed precision) → interrupted after epoch 2 → resume (weights, optimizer state) →
evaluate → predict, each on the GPU, and the GPU's predictions checked against the same model on the CPU.
Marked `gpu` and skipped, with the reason, where torch sees no CUDA device. `DLPROJ_TEST_DEVICE=cpu` runs the
same checks on the CPU, which is how the test itself is checked on machines without a GPU.
"""
import os
import numpy as np, pandas as pd, pytest, torch
from fastai.callback.core import Callback

DEVICE = os.environ.get('DLPROJ_TEST_DEVICE', 'cuda')
pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(DEVICE.startswith('cuda') and not torch.cuda.is_available(),
                                 reason="no CUDA GPU here (torch.cuda.is_available() is False); "
                                        "DLPROJ_TEST_DEVICE=cpu runs these checks on the CPU")]

class StopAfter(Callback):
    "Interrupt the fit after epoch `n`, once its checkpoint is written (as a kill would)."
    order = 99
    def __init__(self, n): self.n = n
    def after_epoch(self):
        if self.epoch + 1 == self.n:
            if self.learn.writer is not None: self.learn.writer.flush()   # no background writer while loader workers fork
            raise KeyboardInterrupt('interrupted by the test')

CASES = {'image': ('example:digits', {'in_memory': True}), 'image_lazy': ('example:digits', {'in_memory': False}),
         'table': ('example:breast_cancer', {}), 'series': ('example:digits_series', {})}

@pytest.mark.parametrize('case', list(CASES))
def test_loop_on_device(tmp_path, case):
    from dlproj.train import train
    from dlproj.evaluate import evaluate, get_split_predictions
    from dlproj.inference import predict
    from dlproj.main import main
    from dlproj.utils import read_json, read_checkpoint
    source,data = CASES[case]
    cfg = {'experiment': case, 'seed': 0, 'data': {'source': source, **data}, 'output': {'runs_dir': str(tmp_path/'runs')},
           'train': {'epochs': 4, 'lr': 'auto', 'device': DEVICE, 'mixed_precision': True, 'progress': False}}
    with pytest.raises(KeyboardInterrupt): train(cfg, cbs=[StopAfter(2)])
    run = next((tmp_path/'runs'/case).iterdir())
    assert read_json(run/'env.json')['device'].startswith(DEVICE)
    ck = read_checkpoint(run/'checkpoints'/'last.pth')
    assert ck['epoch'] == 2 and ck['opt']['state'], "the checkpoint holds the optimizer's state"
    assert train(resume=run) == run
    h = pd.read_csv(run/'history.csv')
    assert list(h.epoch) == [1, 2, 3, 4] and np.isfinite(h.valid_loss).all(), h
    ev = evaluate(run, device=DEVICE)
    assert ev['n'] > 0 and all(np.isfinite(v) for v in ev['metrics'].values() if isinstance(v, float)), ev
    # the same weights on the CPU give the same predictions, up to float rounding
    _,_,on_dev = get_split_predictions(run, device=DEVICE)
    _,_,on_cpu = get_split_predictions(run, device='cpu')
    np.testing.assert_allclose(on_dev, on_cpu, atol=1e-3, rtol=1e-3)
    p_dev = predict(run, source, device=DEVICE)
    p_cpu = predict(run, source, device='cpu')
    assert len(p_dev) == len(p_cpu) > 0 and (p_dev['prediction'] == p_cpu['prediction']).mean() >= 0.99
    assert main(['evaluate', str(run), '--device', DEVICE]) == 0

def test_refit_on_device(tmp_path):
    "A config naming only a small table: early stopping, then the refit on train + valid, on the device."
    from dlproj.train import train
    from dlproj.utils import read_json
    run = train({'experiment': 'refit', 'seed': 0, 'data': {'source': 'example:breast_cancer'}, 'output': {'runs_dir': str(tmp_path)},
                 'train': {'device': DEVICE, 'progress': False}})
    m = read_json(run/'metrics.json')
    assert read_json(run/'env.json')['device'].startswith(DEVICE)
    assert m['refit']['epochs'] == m['best_epoch'] and m['test']['accuracy'] >= 0.9, m
