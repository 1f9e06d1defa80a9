"""Training overhead: dlproj's training path against a hand-written PyTorch loop, in the same process.

Both sides train the same seeded model (the initial weights that `train()` builds, copied) on the same in-memory
tensors, in the same batch order (the torch RNG state `train()` starts its epochs with), with Adam (lr 1e-3,
no weight decay, constant learning rate; torch's Adam with fastai's defaults betas=(0.9, 0.99), eps=1e-5 on
the raw side), image models in channels-last layout (dlproj's `ChannelsLastFit`), no augmentation, batch size as given, num_workers=0, no progress bar, and the same validation pass (loss and
accuracy) after every epoch.

- **dlproj** is `dlproj.train.train()` itself: `build_data` (in-memory `TensorDL`), `build_learner`, `fit` with
  `HistoryCallback` and `RunTracker` (history.csv, best weights and checkpoints at the default
  `train.checkpoint_every: auto`, in a temporary run directory). An extra callback records the wall clock at the end of each epoch.
- **raw** is `for xb,yb in batches: loss = F.cross_entropy(model(xb), yb); loss.backward(); opt.step();
  opt.zero_grad()` then the validation loop, over tensors normalised once up front (images) or as encoded by
  dlproj (tables).
- **checkpoint: false** (for context): the same `train()` with `train.checkpoint=false`, i.e. without the
  checkpoint file (history.csv and the best weights are still written, at the same interval).
- **fastai default** (digits only, for context): a plain fastai `Learner` over `DataLoaders.from_dsets`, i.e.
  fastai's per-item collation, with fastai's Adam; same model and hyperparameters, its own shuffling.

On a GPU (`DLPROJ_BENCH_DEVICE=cuda`, the default when torch sees one) both sides run there with mixed precision
(fastai's `MixedPrecision`: fp16 autocast and a gradient scaler, against `torch.autocast` and `torch.amp.GradScaler` on
the raw side), the raw side holding its normalised tensors on the GPU from the start, and dlproj holding its
in-memory tensors on the GPU too (`TensorDL` copies tensors that fit once). A fourth case, **digits_lazy_bs64**
(GPU only), decodes the PNG files every epoch: dlproj's lazy image loader (fastai `DataBlock`, worker processes,
pinned memory) against a hand-written `torch.utils.data.DataLoader` over a PIL `Dataset` with the same number of
workers and pinned memory; both shuffle on their own, so that case has no loss-agreement row.
The result names then end in `_cuda`.

An epoch's time is the wall-clock time from the end of the previous epoch to the end of this one, so it includes
everything between (validation, callbacks, file writes). The first epoch of every run is a dropped warm-up. The
sides run in alternating order for several rounds; the reported figure is the median over all kept epochs.
"""
from __future__ import annotations
import _common as C
import copy, os, statistics, sys, tempfile, time
from pathlib import Path

C.setup()
import numpy as np, pandas as pd, torch, torch.nn.functional as F
from PIL import Image
from fastai.callback.core import Callback
from dlproj.config import load_config
from dlproj.dataset import build_data
from dlproj.encode import normalized_images
from dlproj.model import build_model
from dlproj.train import train, _resolve
from dlproj.utils import read_json, seed_everything

ROUNDS, EPOCHS, TARGET = int(os.environ.get('DLPROJ_BENCH_ROUNDS', 6)), 6, 1.10   # per round: 1 warm-up + 5 kept epochs, for each side
DEVICE = os.environ.get('DLPROJ_BENCH_DEVICE') or ('cuda' if torch.cuda.is_available() else 'cpu')
GPU = DEVICE.startswith('cuda')
LAZY = GPU or os.environ.get('DLPROJ_BENCH_LAZY') == '1'   # the lazy case (GPU only; `DLPROJ_BENCH_LAZY=1` checks it on a CPU)
WORKERS = min(8, os.cpu_count() or 1)

CASES = [  # name, source, batch size, extra config
    ('digits_bs64', 'example:digits', 64, {}),
    ('digits_bs256', 'example:digits', 256, {}),
    ('tabular_bs64', 'example:breast_cancer', 64, {'train': {'metrics': ['accuracy']}}),
] + ([('digits_lazy_bs64', 'example:digits', 64, {'data': {'in_memory': False, 'num_workers': WORKERS}})] if LAZY else [])

def config(source, bs, extra, runs_dir):
    cfg = {'experiment': 'bench', 'seed': 0, 'data': {'source': source, 'num_workers': 0, 'augment': {'rotate': 0., 'zoom': 1.}},
           'train': {'epochs': EPOCHS, 'batch_size': bs, 'lr': 1e-3, 'policy': 'constant', 'wd': 0., 'optimizer': 'adam',
                     'progress': False, 'device': DEVICE, 'mixed_precision': GPU},
           'output': {'runs_dir': str(runs_dir), 'plots': False, 'report': False}}
    for k,v in extra.items(): cfg[k] = {**cfg.get(k, {}), **v}
    return cfg

class EpochClock(Callback):
    "Wall-clock time at the start of the fit and at the end of every epoch (runs after every other callback)."
    order = 10_000
    def __init__(self, grab=False): self.grab,self.ts,self.init = grab,[],None
    def before_fit(self):
        if self.grab: self.init = (copy.deepcopy(self.learn.model.state_dict()), torch.get_rng_state())
        self.ts = [time.perf_counter()]
    def after_epoch(self):
        if GPU: torch.cuda.synchronize()
        self.ts.append(time.perf_counter())

def epoch_times(ts): return [b - a for a,b in zip(ts[:-1], ts[1:])][1:]   # drop the warm-up epoch

def run_dlproj(cfg, grab=False):
    clock = EpochClock(grab)
    run = train(cfg, cbs=[clock])
    last = pd.read_csv(run/'history.csv').iloc[-1]
    return epoch_times(clock.ts), dict(train_loss=float(last.train_loss), valid_loss=float(last.valid_loss), accuracy=float(last.accuracy)), clock.init

def smooth(losses, beta=0.98):
    "fastai's `train_loss`: the debiased exponential moving average of the batch losses."
    v = 0.
    for i,l in enumerate(losses, 1): v = beta*v + (1-beta)*l
    return v / (1 - beta**len(losses))

def amp():
    "fp16 autocast on a GPU, as fastai's `MixedPrecision`; nothing on a CPU."
    return torch.autocast('cuda', dtype=torch.float16) if GPU else torch.autocast('cpu', enabled=False)

def raw_epochs(model, batches, valid_batches, n_valid):
    "The hand-written loop over `batches()` and `valid_batches()` (callables giving `(inputs, y)` pairs on the device)."
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.99), eps=1e-5, weight_decay=0.)
    scaler = torch.amp.GradScaler('cuda', enabled=GPU)
    ts,losses = [time.perf_counter()],[]
    for epoch in range(EPOCHS):
        model.train()
        for xs,y in batches():
            with amp(): loss = F.cross_entropy(model(*xs), y)
            scaler.scale(loss).backward(); scaler.step(opt); scaler.update(); opt.zero_grad()
            losses.append(loss.detach())
        model.eval()
        tot,correct = 0.,0
        with torch.no_grad(), amp():
            for xs,y in valid_batches():
                out = model(*xs)
                tot += F.cross_entropy(out.float(), y, reduction='sum'); correct += (out.argmax(1) == y).sum()
        valid_loss,acc = float(tot) / n_valid,float(correct) / n_valid
        ts.append(time.perf_counter())
    return epoch_times(ts), dict(train_loss=smooth([float(l) for l in losses]), valid_loss=valid_loss, accuracy=acc)

def run_raw(model0, rng0, dls, bs, image:bool, pre:dict):
    "The hand-written loop over in-memory tensors, from the same weights and RNG state as dlproj's fit."
    trn,val = [t.cpu() for t in dls.train.tensors],[t.cpu() for t in dls.valid.tensors]
    if image:   # dlproj's batch transforms, once for the whole tensor
        norm = normalized_images(pre)
        trn,val = (norm(trn[0]), trn[1]),(norm(val[0]), val[1])
    trn,val = [t.to(DEVICE) for t in trn],[t.to(DEVICE) for t in val]
    xs_t,y_t,xs_v,y_v = trn[:-1],trn[-1],val[:-1],val[-1]
    model = copy.deepcopy(model0).to(DEVICE)
    if image: model = model.to(memory_format=torch.channels_last)   # as dlproj's `ChannelsLastFit` trains image models
    torch.set_rng_state(rng0)
    n,nv = len(y_t),len(y_v)
    stop = n - n % bs if n > bs else n
    def batches():
        idx = torch.randperm(n)
        for i in range(0, stop, bs):
            ix = idx[i:i+bs]
            yield tuple(x[ix] for x in xs_t), y_t[ix]
    valid = lambda: ((tuple(x[i:i+bs] for x in xs_v), y_v[i:i+bs]) for i in range(0, nv, bs))
    return raw_epochs(model, batches, valid, nv)

class PngDataset(torch.utils.data.Dataset):
    "Hand-written lazy image dataset: decode one PNG with PIL into a uint8 `[C,H,W]` tensor."
    def __init__(self, paths, labels, channels): self.paths,self.labels,self.mode = paths,labels,'L' if channels == 1 else 'RGB'
    def __len__(self): return len(self.paths)
    def __getitem__(self, i):
        with Image.open(self.paths[i]) as f: a = np.asarray(f.convert(self.mode))
        x = torch.from_numpy(a.copy())
        return (x[None] if x.ndim == 2 else x.permute(2, 0, 1)), self.labels[i]

def run_raw_lazy(model0, bundle, bs, pre):
    "The hand-written loop over PNG files decoded by `WORKERS` worker processes into pinned memory."
    from torch.utils.data import DataLoader
    items,root,norm = bundle.items,bundle.root,normalized_images(pre)
    def dl(split, shuffle):
        rows = items.loc[bundle.splits[split]]
        paths = [str(p if Path(p).is_absolute() else root/p) for p in rows['path']]
        labels = [pre['classes'].index(l) for l in rows['label'].astype(str)]
        return DataLoader(PngDataset(paths, labels, pre['channels']), batch_size=bs, shuffle=shuffle, drop_last=shuffle,
                          num_workers=WORKERS, pin_memory=GPU)
    trn,val = dl('train', True),dl('valid', False)
    on_dev = lambda b: ((norm(b[0].to(DEVICE, non_blocking=True)).contiguous(memory_format=torch.channels_last),), b[1].to(DEVICE, non_blocking=True))
    model = copy.deepcopy(model0).to(DEVICE).to(memory_format=torch.channels_last)
    return raw_epochs(model, lambda: map(on_dev, trn), lambda: map(on_dev, val), len(bundle.splits['valid']))

def run_fastai(model0, dls, bs, pre):
    "Plain fastai: `DataLoaders.from_dsets` (per-item collation), fastai's Adam, its own shuffling."
    from fastai.data.core import DataLoaders
    from fastai.learner import Learner
    from fastai.losses import CrossEntropyLossFlat
    from fastai.metrics import accuracy
    from fastai.optimizer import Adam
    norm = normalized_images(pre)
    ds = lambda t: list(zip(norm(t[0].cpu()), t[1].cpu()))
    fdls = DataLoaders.from_dsets(ds(dls.train.tensors), ds(dls.valid.tensors), bs=bs, num_workers=0, device=DEVICE)
    clock = EpochClock()
    learn = Learner(fdls, copy.deepcopy(model0), loss_func=CrossEntropyLossFlat(), opt_func=Adam, lr=1e-3, wd=0., metrics=accuracy, cbs=[clock])
    if GPU: learn.to_fp16()
    with learn.no_bar(), learn.no_logging(): learn.fit(EPOCHS, 1e-3, wd=0.)
    return epoch_times(clock.ts), dict(train_loss=float(learn.recorder.values[-1][0]), valid_loss=float(learn.recorder.values[-1][1]))

def main():
    where = f"{torch.cuda.get_device_name(0)}, mixed precision" if GPU else 'CPU'
    C.header(f'Training overhead on {DEVICE}: dlproj vs a hand-written PyTorch loop',
             f"{ROUNDS} rounds x {EPOCHS} epochs per side, sides alternating; first epoch of each run dropped (warm-up); "
             f"median epoch wall time over the {ROUNDS*(EPOCHS-1)} kept epochs; {where}; torch threads={C.THREADS}; "
             f"num_workers=0 (in memory), {WORKERS} (lazy case)")
    rows,results,agree = [],{},[]
    tmp = Path(tempfile.mkdtemp())
    for name,src,bs,extra in CASES:
        cfg = config(src, bs, extra, tmp/name)
        t_d,l_d,(sd0,rng0) = run_dlproj(cfg, grab=True)
        bundle = build_data(cfg)   # the same tensors train() used (same seed, same split)
        pre = bundle.preprocess
        image = pre['kind'] == 'image'
        lazy = image and not bundle.info['in_memory']
        model0 = build_model(_resolve(load_config(cfg), bundle).model, pre); model0.load_state_dict(sd0)   # the model train() resolved
        times = {'dlproj': list(t_d), 'raw': [], 'no_ckpt': []}
        nock = copy.deepcopy(cfg); nock['train']['checkpoint'] = False
        losses = {'dlproj': l_d}
        if image and not lazy: times['fastai'] = []
        for r in range(ROUNDS):
            order = ['raw', 'dlproj'] if r % 2 == 0 else ['dlproj', 'raw']
            for side in order:
                if side == 'raw':
                    t,l = run_raw_lazy(model0, bundle, bs, pre) if lazy else run_raw(model0, rng0, bundle.dls, bs, image, pre)
                    times['raw'] += t; losses['raw'] = l
                elif r > 0:
                    t,l,_ = run_dlproj(cfg); times['dlproj'] += t; losses['dlproj'] = l
            t,_,_ = run_dlproj(nock); times['no_ckpt'] += t
            if 'fastai' in times and r < 2:
                t,l = run_fastai(model0, bundle.dls, bs, pre); times['fastai'] += t; losses['fastai'] = l
        med = {k: statistics.median(v) for k,v in times.items()}
        nb = len(bundle.dls.train) + len(bundle.dls.valid)
        ratio = med['dlproj'] / med['raw']
        results[name] = dict(med_ms={k: v*1000 for k,v in med.items()}, ratio=ratio, batches_per_epoch=nb, losses=losses,
                             spread={k: (min(v)*1000, max(v)*1000) for k,v in times.items()})
        rows.append({'case': name, 'batches/epoch': nb, 'raw ms/epoch': med['raw']*1000, 'dlproj ms/epoch': med['dlproj']*1000,
                     'dlproj / raw': ratio, 'extra ms/batch': (med['dlproj'] - med['raw']) * 1000 / nb,
                     'checkpoint: false / raw': med['no_ckpt'] / med['raw'],
                     'fastai default / raw': med['fastai'] / med['raw'] if 'fastai' in med else None})
        ld,lr_ = losses['dlproj'],losses['raw']
        if not lazy: agree.append({'case': name, 'raw train_loss': lr_['train_loss'], 'dlproj train_loss': ld['train_loss'],
                      'raw valid_loss': lr_['valid_loss'], 'dlproj valid_loss': ld['valid_loss'],
                      'max rel. diff': max(abs(ld[k] - lr_[k]) / abs(lr_[k]) for k in ('train_loss', 'valid_loss')),
                      'raw acc': lr_['accuracy'], 'dlproj acc': ld['accuracy']})
        print(f"{name}: raw {med['raw']*1000:.1f} ms, dlproj {med['dlproj']*1000:.1f} ms per epoch", flush=True)
    print('\n## Median epoch time\n'); C.table(rows, nd=3)
    print('## Final losses after the same epochs (loss agreement)\n'); C.table(agree, nd=5)
    for name,_,_,_ in CASES: C.result(f"train_overhead_{name}" + ('_cuda' if GPU else ''), results[name]['ratio'], TARGET)
    worst = max(a['max rel. diff'] for a in agree)
    C.result('train_loss_agreement_max_rel_diff' + ('_cuda' if GPU else ''), worst, 0.01)
    C.save('bench_train' + ('_cuda' if GPU else ''), cases=results, table=rows, agreement=agree)

if __name__ == '__main__': main()
