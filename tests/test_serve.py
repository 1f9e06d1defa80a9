"`dlproj serve` end to end: the command in another process, on a free port, spoken to over HTTP with httpx."
import contextlib, json, os, shutil, signal, socket, subprocess, sys, time
from pathlib import Path
import httpx, numpy as np, pandas as pd, pytest
from dlproj.data_utils import read_table, resolve_source
from dlproj.export import export_onnx
from dlproj.inference import predict
from dlproj.inputs import list_images
from dlproj.train import train

pytestmark = pytest.mark.slow
# dlproj.main has no `__main__` guard: the console script's call, spelled out (no PATH lookup of `dlproj`)
DLPROJ = [sys.executable, '-c', 'import sys; from dlproj.main import main; sys.exit(main())']

@pytest.fixture(scope='module')
def runs(tmp_path_factory):
    "A tabular run (breast cancer, the network alone) and an image run (digits), both exported."
    tmp = tmp_path_factory.mktemp('serve')
    quick = lambda name, src, **model: train({'experiment': name, 'data': {'source': src}, 'model': model,
                                              'train': {'epochs': 1, 'progress': False},
                                              'output': {'runs_dir': str(tmp/'runs'), 'plots': False, 'report': False}})
    rb,rd = quick('bc', 'example:breast_cancer', trees=False),quick('digits', 'example:digits')
    for r in (rb, rd): export_onnx(r)
    return rb, rd

def _free_port()->int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

def _refused(port:int)->bool:
    "Whether nothing listens on the port any more."
    with socket.socket() as s: return s.connect_ex(('127.0.0.1', port)) != 0

@contextlib.contextmanager
def _server(run, log:Path, *args, timeout=180):
    "`dlproj serve RUN ARGS` on a free port until the block ends, up once `/health` answers: `(url, process)`."
    port = _free_port()
    env = {**os.environ, 'OMP_NUM_THREADS': '1'}
    with open(log, 'w') as out:
        p = subprocess.Popen([*DLPROJ, 'serve', str(run), '--port', str(port), *args], stdout=out, stderr=subprocess.STDOUT,
                             env=env, start_new_session=True)
    try:
        url,end = f"http://127.0.0.1:{port}",time.monotonic() + timeout
        while True:
            assert p.poll() is None, f"dlproj serve exited with {p.returncode}:\n{log.read_text()[-3000:]}"
            assert time.monotonic() < end, f"no answer from {url}/health in {timeout}s:\n{log.read_text()[-3000:]}"
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{url}/health", timeout=5).status_code == 200: break
            time.sleep(0.5)
        yield url, p
    finally:   # the process and, with --workers, its workers (one session)
        if p.poll() is None:
            with contextlib.suppress(ProcessLookupError): os.killpg(p.pid, signal.SIGKILL)
            p.wait()

def _stop(p:subprocess.Popen, port:int):
    "SIGTERM, as a service manager stops a server: the process ends and the port is free."
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=60)
    assert _refused(port), f"port {port} still answers after the server stopped"

def test_serve_table(runs, tmp_path):
    "JSON rows and a CSV upload get `predict`'s predictions; bad input is a 4xx that names it; limits are 413s."
    rb,_ = runs
    bc = read_table(resolve_source('example:breast_cancer')).drop(columns='target')
    rows = bc.sample(40, random_state=0).reset_index(drop=True)
    with _server(rb, tmp_path/'server.log', '--max-rows', '50', '--max-body-mb', '0.05') as (url, p):
        with httpx.Client(base_url=url, timeout=60) as c:
            assert c.get('/health').json() == {'status': 'ok', 'run': rb.name, 'engine': 'onnx'}
            meta = c.get('/metadata').json()
            assert (meta['kind'], meta['task'], meta['classes'], meta['experiment']) == ('tabular', 'classification', ['benign', 'malignant'], 'bc')
            assert len(meta['input_schema']['columns']) == 30 and meta['exporter'] in ('dynamo', 'torchscript') and meta['opset'] > 0
            r = c.post('/predict', json={'rows': rows.to_dict('records'), 'top_k': 2})
            assert r.status_code == 200, r.text
            got,want = pd.DataFrame(r.json()['predictions']),predict(rb, rows, top_k=2, engine='onnx')
            assert list(got.columns) == list(want.columns)
            assert got.id.tolist() == want.id.tolist() and got.prediction.tolist() == want.prediction.tolist()
            assert got.top2.tolist() == want.top2.tolist()
            np.testing.assert_allclose(got.filter(like='prob').to_numpy(), want.filter(like='prob').to_numpy(), rtol=0, atol=1e-6)
            # a CSV upload: the file's predictions, by row number
            r = c.post('/predict', files={'files': ('rows.csv', rows.to_csv(index=False).encode(), 'text/csv')})
            assert r.status_code == 200 and [o['prediction'] for o in r.json()['predictions']] == want.prediction.tolist(), r.text
            # bad input names the column: a 422 from the schema, a 400 from encoding a file
            bad = rows.head(2).to_dict('records'); bad[1]['worst area'] = 'large'
            r = c.post('/predict', json={'rows': bad})
            assert r.status_code == 422 and r.json()['detail'][0]['loc'] == ['body', 'rows', 1, 'worst area'], r.text
            odd = rows.head(3).astype({'worst area': object}); odd.loc[2, 'worst area'] = 'large'
            r = c.post('/predict', files={'files': ('odd.csv', odd.to_csv(index=False).encode(), 'text/csv')})
            assert (r.status_code, r.json()) == (400, {'detail': "odd.csv: column 'worst area' must be numeric; row 2 holds 'large'"})
            # too many rows; too large a body, with its length and chunked without one
            r = c.post('/predict', json={'rows': bc.head(51).to_dict('records')})
            assert r.status_code == 413 and 'over the limit of 50' in r.json()['detail'], r.text
            big = json.dumps({'rows': bc.head(45).to_dict('records'), 'pad': 'x' * 60_000}).encode()
            for body in (big, iter([big[:30_000], big[30_000:]])):
                r = c.post('/predict', content=body, headers={'content-type': 'application/json'})
                assert r.status_code == 413 and 'over the limit of 52,429 bytes' in r.json()['detail'], r.text
            assert c.get('/docs').status_code == 200
            assert 'PredictRequest' in c.get('/openapi.json').json()['components']['schemas']
        _stop(p, int(url.rsplit(':', 1)[1]))
    log = (tmp_path/'server.log').read_text()
    assert f"Uvicorn running on {url}" in log and 'Traceback' not in log, log[-3000:]

def test_serve_images_two_workers(runs, tmp_path):
    "Images uploaded in one request, to two worker processes: `predict`'s predictions, the unreadable file skipped."
    _,rd = runs
    files = list_images(resolve_source('example:digits'))[::180]
    sent = [('files', (f"{f.parent.name}-{f.name}", f.read_bytes(), 'image/png')) for f in files]
    with _server(rd, tmp_path/'server.log', '--workers', '2') as (url, p):
        with httpx.Client(base_url=url, timeout=60) as c:
            assert c.get('/metadata').json()['input_schema']['kind'] == 'image'
            for _ in range(4):   # a few requests, for both workers
                r = c.post('/predict', files=sent + [('files', ('notes.png', b'not an image', 'image/png'))], data={'top_k': '2'})
                assert r.status_code == 200, r.text
            got,want = pd.DataFrame(r.json()['predictions']),predict(rd, files, top_k=2, engine='onnx')
            assert got.id.tolist() == [name for _,(name,_,_) in sent]
            assert got.prediction.tolist() == want.prediction.tolist() and got.top2.tolist() == want.top2.tolist()
            np.testing.assert_allclose(got.filter(like='prob_').to_numpy(), want.filter(like='prob_').to_numpy(), rtol=0, atol=1e-6)
            assert [s['path'] for s in r.json()['skipped']] == ['notes.png']
            r = c.post('/predict', json={'rows': [{'a': 1}]})
            assert r.status_code == 415, r.text
        _stop(p, int(url.rsplit(':', 1)[1]))
    log = (tmp_path/'server.log').read_text()
    assert log.count('Started server process') == 2 and 'Traceback' not in log, log[-3000:]

def test_serve_refuses(runs, tmp_path):
    "A run without an export, and a port already taken: exit status 2 and a message that says what to do."
    rb,_ = runs
    plain = tmp_path/'plain'; shutil.copytree(rb, plain, ignore=shutil.ignore_patterns('export'))
    r = subprocess.run([*DLPROJ, 'serve', str(plain), '--port', str(_free_port())], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and f'dlproj export {plain}' in r.stderr and '--engine torch' in r.stderr, r.stderr
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); s.listen()
        r = subprocess.run([*DLPROJ, 'serve', str(rb), '--port', str(s.getsockname()[1])], capture_output=True, text=True,
                           timeout=120)
    assert r.returncode == 2 and 'the server could not start on 127.0.0.1:' in r.stderr, r.stderr
