"""Export: ONNX Runtime (`dlproj.runtime`) against the PyTorch predictor, in the same process; `dlproj serve` under load.

Short runs of the default model of each kind on the bundled examples (the table's blend of network and boosted
trees on breast_cancer, the small ResNet on the digits images, the 1-d ResNet on the digits series) and an LSTM on
the series, each exported with `dlproj.export.export_onnx`.

- **parity**: both engines predict the same 1,200 table rows (the 569 rows and jittered copies), 1,797 images and
  1,797 series; the largest difference of a class probability is reported per family (target 1e-5).
- **single-row latency**: `predict_df` on a one-row DataFrame (table) and `predict_files` on one image, through the
  `Predictor` (PyTorch, one thread) and the `OnnxPredictor` (one thread), called in turn; median of 1,000 calls each
  (100 warm-up calls dropped); target: ONNX at most 0.7x the PyTorch predictor's.
- **batch-1 throughput** of the table model through the runtime: rows per second of `OnnxPredictor.outputs` called
  on one encoded row at a time (the runtime's forward pass, what a service pays per row once the row is encoded),
  target 10,000 rows/s; `predict_df` on one-row DataFrames (pandas encoding and the prediction table around it) is
  printed beside it.
- **serve under load**: `dlproj serve RUN` (ONNX engine, one worker) and 16 client threads sending single-row
  `POST /predict` requests over kept-alive connections for 30 s (clients and server share the machine's cores);
  errors, p50/p99 latency and requests per second, against the bare runtime's single-row throughput in this process
  (`predict_df` on a one-row DataFrame, the in-process call for one row); target: at least 50% of it, 0 errors.
- **cold start**: a fresh process that imports the runtime, loads the table export and predicts one row, against
  `python -c "import onnxruntime, numpy, pandas"`; median of 7 fresh processes each, 2 warm-ups dropped; target 1.3x.
"""
from __future__ import annotations
import _common as C
import http.client, json, os, socket, statistics, subprocess, sys, tempfile, threading, time
from pathlib import Path

C.setup(1)
import numpy as np, pandas as pd, torch
from dlproj.train import train
from dlproj.data_utils import read_table, resolve_source
from dlproj.inputs import list_images
from dlproj.inference import Predictor, predict
from dlproj.export import export_onnx
from dlproj.runtime import OnnxPredictor

CALLS, WARMUP, LOAD_SECONDS, CLIENTS = 1000, 100, 30, 16

def runs(tmp:Path)->dict:
    "One short run per family, exported."
    out = {'output': {'runs_dir': str(tmp/'runs'), 'plots': False, 'report': False}}
    cfgs = {'table (blend)': ('example:breast_cancer', {}, 2), 'image (small_resnet)': ('example:digits', {}, 1),
            'series (resnet1d)': ('example:digits_series', {}, 1), 'series (lstm)': ('example:digits_series', {'arch': 'lstm'}, 1)}
    res = {}
    for name,(src,model,epochs) in cfgs.items():
        r = train({'experiment': name.split()[0], 'data': {'source': src}, 'model': model,
                   'train': {'epochs': epochs, 'progress': False}, **out})
        t = time.perf_counter(); export_onnx(r); res[name] = (r, time.perf_counter() - t)
    return res

def inputs(tmp:Path)->dict:
    "At least 1,000 inputs per kind from the bundled examples."
    bc = read_table(resolve_source('example:breast_cancer')).drop(columns='target')
    extra = bc.sample(631, replace=True, random_state=0) * np.random.default_rng(0).normal(1, 0.05, (631, bc.shape[1]))
    return {'table': pd.concat([bc, extra], ignore_index=True), 'image': list_images(resolve_source('example:digits')),
            'series': read_table(resolve_source('example:digits_series')).drop(columns='label')}

def parity(made:dict, data:dict)->list[dict]:
    rows = []
    for name,(run,secs) in made.items():
        x = data[name.split()[0]]
        a,b = predict(run, x),predict(run, x, engine='onnx')
        diff = float(np.abs(a.filter(like='prob_').to_numpy() - b.filter(like='prob_').to_numpy()).max())
        meta = json.loads((run/'export'/'model.json').read_text())
        rows.append({'family': name, 'items': len(a), 'max |d prob|': f"{diff:.1e}", 'same classes': bool((a.prediction == b.prediction).all()),
                     'exporter': meta['exporter'], 'export s': secs, '_diff': diff})
    return rows

def p50_pair(f, g)->tuple[float, float]:
    "Median seconds of `f` and of `g`, called in turn."
    for _ in range(WARMUP): f(); g()
    tf,tg = [],[]
    for _ in range(CALLS):
        t = time.perf_counter(); f(); tf.append(time.perf_counter() - t)
        t = time.perf_counter(); g(); tg.append(time.perf_counter() - t)
    return statistics.median(tf),statistics.median(tg)

def latency(made:dict, data:dict)->list[dict]:
    rows = []
    for kind,name in (('table', 'table (blend)'), ('image', 'image (small_resnet)')):
        run = made[name][0]
        pt,po = Predictor(run),OnnxPredictor(run, threads=1)
        one = data[kind].head(1) if kind == 'table' else data[kind][:1]
        call = (lambda p: lambda: p.predict_df(one)) if kind == 'table' else (lambda p: lambda: p.predict_files(one))
        t_torch,t_onnx = p50_pair(call(pt), call(po))
        rows.append({'input': f"one {kind} row" if kind == 'table' else 'one image', 'PyTorch predictor ms': t_torch*1e3,
                     'ONNX runtime ms': t_onnx*1e3, 'ratio': t_onnx / t_torch})
    return rows

def throughput(run:Path, data:dict)->dict:
    po = OnnxPredictor(run, threads=1)
    from dlproj.encode import encode_arrays
    rows = [encode_arrays(po.pre, data['table'].iloc[i:i+1])[0] for i in range(1000)]
    dfs = [data['table'].iloc[i:i+1] for i in range(1000)]
    for a in rows[:100]: po.outputs(a)
    t = time.perf_counter()
    for _ in range(5):
        for a in rows: po.outputs(a)
    forward = 5000 / (time.perf_counter() - t)
    t = time.perf_counter()
    for d in dfs: po.predict_df(d)
    whole = 1000 / (time.perf_counter() - t)
    return {'runtime forward, rows/s': forward, 'predict_df per row, rows/s': whole}

def free_port()->int:
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

def serve_load(run:Path, data:dict, bare_rps:float)->dict:
    "16 client threads against `dlproj serve` for 30 s: requests/s, p50/p99 and errors."
    port = free_port()
    exe = [sys.executable, '-c', 'import sys; from dlproj.main import main; sys.exit(main())']
    srv = subprocess.Popen(exe + ['serve', str(run), '--port', str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           env=C.python_env())
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                c = http.client.HTTPConnection('127.0.0.1', port, timeout=5); c.request('GET', '/health')
                if c.getresponse().status == 200: break
            except OSError: time.sleep(0.2)
        else: raise RuntimeError(f"dlproj serve did not start: {srv.stderr.read()[-2000:] if srv.poll() is not None else ''}")
        bodies = [json.dumps({'rows': [json.loads(data['table'].iloc[i:i+1].to_json(orient='records'))[0]]}) for i in range(200)]
        lat,errors,stop = [],[0],time.time() + LOAD_SECONDS
        def client(k):
            c = http.client.HTTPConnection('127.0.0.1', port, timeout=30); i = k
            while time.time() < stop:
                t = time.perf_counter()
                try:
                    c.request('POST', '/predict', body=bodies[i % len(bodies)], headers={'Content-Type': 'application/json'})
                    r = c.getresponse(); r.read()
                    if r.status != 200: errors[0] += 1
                    else: lat.append(time.perf_counter() - t)
                except OSError:
                    errors[0] += 1; c = http.client.HTTPConnection('127.0.0.1', port, timeout=30)
                i += 1
        ts = [threading.Thread(target=client, args=(k,)) for k in range(CLIENTS)]
        t0 = time.time()
        for t in ts: t.start()
        for t in ts: t.join()
        secs = time.time() - t0
    finally:
        srv.terminate()
        try: srv.wait(30)
        except subprocess.TimeoutExpired: srv.kill()
    lat.sort()
    rps = len(lat) / secs
    return {'requests': len(lat), 'errors': errors[0], 'requests/s': rps, 'p50 ms': lat[len(lat)//2]*1e3,
            'p99 ms': lat[int(len(lat)*0.99)]*1e3, 'bare runtime rows/s': bare_rps, 'vs bare': rps / bare_rps}

def cold_start(run:Path, data:dict)->dict:
    row = json.loads(data['table'].iloc[:1].to_json(orient='records'))
    code = ("import pandas as pd; from dlproj.runtime import OnnxPredictor; "
            f"OnnxPredictor({str(run)!r}).predict_df(pd.DataFrame({row!r}))")
    t_run = C.median(C.time_cmd([sys.executable, '-c', code], repeats=7, warmup=2))
    t_imp = C.median(C.time_cmd([sys.executable, '-c', 'import onnxruntime, numpy, pandas'], repeats=7, warmup=2))
    return {'load the export and predict one row s': t_run, 'import onnxruntime, numpy, pandas s': t_imp, 'ratio': t_run / t_imp}

def main():
    C.header('Export: the ONNX runtime against the PyTorch predictor, and dlproj serve',
             "short runs per family exported with export_onnx; latency medians of 1,000 calls in turn; serve: 16 clients, 30 s")
    tmp = Path(tempfile.mkdtemp())
    made,data = runs(tmp),inputs(tmp)
    par = parity(made, data)
    C.table(par, ['family', 'items', 'max |d prob|', 'same classes', 'exporter', 'export s'])
    for r in par: C.result(f"export_parity_max_abs_diff_{r['family'].split()[0]}_{r['family'].split('(')[1][:-1]}", r['_diff'], 1e-5, nd=8)
    lat = latency(made, data)
    C.table(lat)
    for r in lat: C.result(f"onnx_vs_torch_single_row_latency_{r['input'].split()[1]}", r['ratio'], 0.7)
    tp = throughput(made['table (blend)'][0], data)
    C.table([tp], nd=0)
    C.result('runtime_tabular_batch1_rows_per_second', tp['runtime forward, rows/s'], 10_000, higher_is_better=True, nd=0)
    load = serve_load(made['table (blend)'][0], data, tp['predict_df per row, rows/s'])
    C.table([load])
    C.result('serve_errors', load['errors'], 0, nd=0)
    C.result('serve_vs_bare_runtime_throughput', load['vs bare'], 0.5, higher_is_better=True)
    cold = cold_start(made['table (blend)'][0], data)
    C.table([cold])
    C.result('cold_start_runtime_vs_imports', cold['ratio'], 1.3)
    C.save('bench_export', parity=[{k: v for k,v in r.items() if k != '_diff'} for r in par], latency=lat,
           throughput=tp, serve=load, cold_start=cold)

if __name__ == '__main__': main()
