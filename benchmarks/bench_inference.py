"""Inference: `dlproj.inference.predict` against the bare model's forward pass, in the same process.

Two short runs are trained first (breast_cancer and digits; a few epochs: speed doesn't depend on accuracy). The table's
run is the network alone (`model.trees: false`): these rows measure the pipeline around a model. A table's default
model also walks its trees (the boosting's 100, and on small tables a forest's); that cost is the model's, and the
last table prints it: the same 10,000 rows predicted by a default run (network + trees) and by the network alone.
Inputs: 10,000 table rows (the breast-cancer rows drawn with replacement, written as a CSV file) and 10,000
image files (the digits PNGs, copied with new names into class folders).

- **bare forward**: the loaded model in eval mode under `torch.inference_mode()`, called on batches of 256 of
  the *preprocessed* tensors (encoded once; images also converted to floats and normalised once).
- **dlproj model stage**: `Predictor.outputs` on the same encoded tensors, batch size 256: the loader, the batch
  transforms (for images: bytes to floats, normalise) and the forward pass, as `predict` runs them.
- **dlproj predict, end to end**: `predict(predictor, file_or_folder, out=CSV)`, i.e. `dlproj predict RUN INPUT
  --out FILE` minus loading the model and importing torch; split into reading + encoding the input, the model
  stage, and building + writing the output table.

Each timing: warm-up calls dropped, then the median of 15 calls (reading and writing: of 3). A side and its baseline
(model stage and bare forward; end to end and its floor: 15 calls each for the table, 3 for the images) are called in
turn, so that a slow stretch of the machine, or the first calls' allocations, fall on both (the table's 15 pairs take
0.25 s each: on two shared cores, its median over 5 moved by 0.1 in the ratio from run to run).

End to end against the floor a hand-written script would have (the same process, the model already loaded):

- **table, 200,000 rows**: `predict(predictor, CSV, out=CSV)` against the I/O floor, pandas reading the same CSV
  and writing one column of results (no model at all); target 1.5x.
- **images, 10,000 files**: `predict(predictor, folder, out=CSV)` against a hand-written loop: PIL opens each
  file, `torch.from_numpy` stacks batches of 256, normalise, forward pass, argmax, pandas writes path and class;
  target 1.2x.
"""
from __future__ import annotations
import _common as C
import shutil, statistics, tempfile, time
from pathlib import Path

C.setup()
import numpy as np, pandas as pd, torch
from dlproj.train import train
from dlproj.data_utils import resolve_source
from dlproj.dataset import encode_inputs, input_dl
from dlproj.inference import Predictor, predict
from dlproj.inputs import read_chunks, list_images
from dlproj.predictions import postprocess

N, BS, REPEATS, TARGET = 10_000, 256, 15, 0.9
N_BIG, E2E_TABLE_TARGET, E2E_IMAGE_TARGET = 200_000, 1.5, 1.2

def timed(f, repeats=REPEATS, warmup=1):
    for _ in range(warmup): f()
    ts = []
    for _ in range(repeats):
        t = time.perf_counter(); f(); ts.append(time.perf_counter() - t)
    return statistics.median(ts)

def timed_pair(f, g, repeats=REPEATS, warmup=2):
    "Median seconds of `f` and of `g`, called in turn (warm-up calls first), so that both see the same state of the machine."
    for _ in range(warmup): f(); g()
    tf,tg = [],[]
    for _ in range(repeats):
        t = time.perf_counter(); f(); tf.append(time.perf_counter() - t)
        t = time.perf_counter(); g(); tg.append(time.perf_counter() - t)
    return statistics.median(tf), statistics.median(tg)

def bare_forward(model, xs:tuple, bs:int=BS):
    with torch.inference_mode():
        return torch.cat([model(*(x[i:i+bs] for x in xs)) for i in range(0, len(xs[0]), bs)])

def quick_run(name, source, epochs, runs, trees=False):
    return train({'experiment': name, 'data': {'source': source}, 'output': {'runs_dir': str(runs), 'plots': False, 'report': False},
                  'train': {'epochs': epochs, 'lr': 1e-2, 'progress': False},
                  **({'model': {'trees': False}} if not trees and source == 'example:breast_cancer' else {})})

def tabular_input(tmp:Path)->Path:
    df = pd.read_csv(resolve_source('example:breast_cancer')).drop(columns=['target'])
    df.sample(N, replace=True, random_state=0).to_csv(tmp/'rows.csv', index=False)
    return tmp/'rows.csv'

def image_input(tmp:Path)->Path:
    src = resolve_source('example:digits'); files = sorted(src.rglob('*.png'))
    dest = tmp/'images'
    for i in range(N):
        f = files[i % len(files)]; (dest/f.parent.name).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(f, dest/f.parent.name/f"{i:05d}.png")
    return dest

def bench_kind(kind:str, run:Path, inp:Path, tmp:Path)->dict:
    p = Predictor(run)
    pre,model = p.pre,p.model
    # what predict does, stage by stage
    if kind == 'tabular': read = lambda: pd.concat(list(read_chunks(inp)))
    else: read = lambda: list_images(inp)
    data = read()
    tensors,_ = encode_inputs(pre, data)
    t_read_encode = timed(lambda: encode_inputs(pre, read()), repeats=3)
    out = p.outputs(tensors, BS)
    t_post = timed(lambda: postprocess(pre, out, list(range(len(out)))).to_csv(tmp/'post.csv', index=False), repeats=3)
    # the bare forward pass on the same preprocessed tensors
    xs = tensors
    if kind == 'image':
        mean,std = torch.tensor(pre['mean'])[:,None,None],torch.tensor(pre['std'])[:,None,None]
        xs = ((tensors[0].float() / 255 - mean) / std,)
    t_model,t_bare = timed_pair(lambda: p.outputs(tensors, BS), lambda: bare_forward(model, xs))
    torch.testing.assert_close(bare_forward(model, xs), out, rtol=1e-4, atol=1e-4)   # the same outputs
    t_e2e = timed(lambda: predict(p, inp, out=tmp/'pred.csv'), repeats=3)
    assert len(pd.read_csv(tmp/'pred.csv')) == N
    n = len(tensors[0])
    return dict(kind=kind, n=n, bare_s=t_bare, model_s=t_model, read_encode_s=t_read_encode, post_s=t_post, e2e_s=t_e2e,
                bare_per_s=n / t_bare, model_per_s=n / t_model, e2e_per_s=n / t_e2e, ratio=t_bare / t_model)

def table_vs_io_floor(run:Path, tmp:Path)->dict:
    "A whole `predict` on a 200,000-row CSV against pandas reading it and writing one column."
    df = pd.read_csv(resolve_source('example:breast_cancer')).drop(columns=['target'])
    big = tmp/'rows_200k.csv'; df.sample(N_BIG, replace=True, random_state=1).to_csv(big, index=False)
    p = Predictor(run)
    def floor():
        x = pd.read_csv(big)
        pd.DataFrame({'prediction': np.zeros(len(x), dtype=np.int64)}).to_csv(tmp/'floor.csv', index=False)
    t_floor,t_dlproj = timed_pair(floor, lambda: predict(p, big, out=tmp/'pred_200k.csv'), repeats=15, warmup=1)
    assert len(pd.read_csv(tmp/'pred_200k.csv', usecols=['prediction'])) == N_BIG
    return dict(n=N_BIG, floor_s=t_floor, dlproj_s=t_dlproj, ratio=t_dlproj / t_floor)

def images_vs_pil_loop(run:Path, folder:Path, tmp:Path)->dict:
    "A whole `predict` on 10,000 image files against a hand-written PIL + torch loop."
    from PIL import Image
    p = Predictor(run); pre,model = p.pre,p.model
    mean,std = torch.tensor(pre['mean'])[:,None,None],torch.tensor(pre['std'])[:,None,None]
    classes = np.array(pre['classes'])
    def hand():
        files = sorted(folder.rglob('*.png')); preds = []
        with torch.inference_mode():
            for i in range(0, len(files), BS):
                x = torch.from_numpy(np.stack([np.asarray(Image.open(f).convert('L')) for f in files[i:i+BS]]))[:,None]
                preds.append(model((x.float() / 255 - mean) / std).argmax(1))
        pd.DataFrame({'path': [str(f) for f in files], 'prediction': classes[torch.cat(preds).numpy()]}).to_csv(tmp/'hand.csv', index=False)
    t_hand,t_dlproj = timed_pair(hand, lambda: predict(p, folder, out=tmp/'pred_img.csv'), repeats=3, warmup=1)
    a,b = pd.read_csv(tmp/'hand.csv'),pd.read_csv(tmp/'pred_img.csv')
    assert len(a) == len(b) == N and (a['prediction'].astype(str).values == b.sort_values('id')['prediction'].astype(str).values).mean() > 0.999
    return dict(n=N, hand_s=t_hand, dlproj_s=t_dlproj, ratio=t_dlproj / t_hand)

def main(tmp:Path):
    C.header('Inference: dlproj predict vs the bare forward pass',
             f"{N:,} rows / images; batch size {BS}; warm-up, then the median of {REPEATS} calls (I/O stages: 3; end to end: 15 table, 3 images), each side alternating with its baseline; "
             "throughput = items / median seconds")
    runs = {'tabular': quick_run('bc', 'example:breast_cancer', 3, tmp/'runs'), 'image': quick_run('digits', 'example:digits', 2, tmp/'runs')}
    inputs = {'tabular': tabular_input(tmp), 'image': image_input(tmp)}
    res = {k: bench_kind(k, runs[k], inputs[k], tmp) for k in ('tabular', 'image')}
    print('## Throughput (items per second)\n')
    C.table([{'input': f"{k} ({r['n']:,})", 'bare forward /s': r['bare_per_s'], 'dlproj model stage /s': r['model_per_s'],
              'model stage / bare': r['ratio'], 'dlproj predict end to end /s': r['e2e_per_s']} for k,r in res.items()], nd=2)
    print('## Where the end-to-end time goes (seconds)\n')
    C.table([{'input': k, 'read + encode': r['read_encode_s'], 'model stage': r['model_s'], 'post-process + write CSV': r['post_s'],
              'end to end': r['e2e_s'], 'model share': r['model_s'] / r['e2e_s']} for k,r in res.items()], nd=4)
    e2e_t = table_vs_io_floor(runs['tabular'], tmp)
    e2e_i = images_vs_pil_loop(runs['image'], inputs['image'], tmp)
    print('## End to end against a hand-written floor (seconds)\n')
    C.table([{'input': f"table ({e2e_t['n']:,} rows)", 'floor': 'pandas read + write one column', 'floor s': e2e_t['floor_s'],
              'dlproj predict s': e2e_t['dlproj_s'], 'dlproj / floor': e2e_t['ratio']},
             {'input': f"images ({e2e_i['n']:,} files)", 'floor': 'PIL + torch loop', 'floor s': e2e_i['hand_s'],
              'dlproj predict s': e2e_i['dlproj_s'], 'dlproj / floor': e2e_i['ratio']}], nd=3)
    for k,r in res.items(): C.result(f"inference_{k}_model_stage_vs_bare", r['ratio'], TARGET, higher_is_better=True)
    C.result('inference_e2e_table_200k_vs_io_floor', e2e_t['ratio'], E2E_TABLE_TARGET)
    C.result('inference_e2e_images_10k_vs_pil_loop', e2e_i['ratio'], E2E_IMAGE_TARGET)
    blend = quick_run('bc_blend', 'example:breast_cancer', 3, tmp/'runs', trees=True)
    pn,pb = Predictor(runs['tabular']),Predictor(blend)
    t_net,t_blend = timed_pair(lambda: predict(pn, inputs['tabular'], out=tmp/'p_net.csv'),
                               lambda: predict(pb, inputs['tabular'], out=tmp/'p_blend.csv'), repeats=5, warmup=1)
    members = ', '.join(f"{type(m).__name__} of {len(m.output)} trees" for m in pb.model.members)
    print(f"## A table's default model: network + trees ({members})\n")
    C.table([{'input': f"table ({N:,} rows)", 'network alone s': t_net, 'network + trees s': t_blend, 'ratio': t_blend / t_net}], nd=3)
    C.save('bench_inference', stages=res, e2e_table=e2e_t, e2e_images=e2e_i,
           blend=dict(n=N, network_s=t_net, blend_s=t_blend, ratio=t_blend / t_net, members=members))

if __name__ == '__main__':
    with tempfile.TemporaryDirectory() as d: main(Path(d))   # the runs, 200,000 rows and 10,000 images: about 100 MB, removed after
