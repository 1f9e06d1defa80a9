"""The dashboard opens offline in headless Chromium (Debian's `chromium`): every chart drawn, every run listed, no console error (slow).
The dashboard and `dlproj runs` never follow a symbolic link out of a run directory."""
import json, os, re, shutil, subprocess
from pathlib import Path
import pytest

CHROMIUM = shutil.which('chromium') or shutil.which('chromium-browser')
OFFLINE = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
           '--disable-component-update', '--disable-sync', '--proxy-server=http://127.0.0.1:9',   # nothing can be fetched
           '--host-resolver-rules=MAP * ~NOTFOUND', '--enable-logging=stderr', '--v=0', '--virtual-time-budget=10000']

@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium package (apt-get install chromium)")
def test_dashboard_offline_in_chromium(tmp_path):
    from dlproj.run_experiment import run_grid
    from dlproj.runs import dashboard, list_runs
    run_grid({'experiment': 'dash', 'data': {'source': 'example:breast_cancer'}, 'train': {'epochs': 1, 'progress': False},
              'output': {'runs_dir': str(tmp_path/'runs'), 'plots': False, 'report': False}}, grid={'train.lr': [1e-2, 3e-3]})
    page = dashboard(tmp_path/'runs', 'dash')
    r = subprocess.run([CHROMIUM, *OFFLINE, f'--user-data-dir={tmp_path/"profile"}', '--dump-dom', page.as_uri()],
                       capture_output=True, text=True, timeout=180)
    dom = r.stdout
    assert dom.count('class="main-svg"') >= 3, r.stderr[-3000:]       # plotly drew the charts, offline
    for run_id in list_runs(tmp_path/'runs', 'dash').run_id: assert run_id in dom
    errors = [l for l in r.stderr.splitlines() if 'CONSOLE' in l and re.search(r'Uncaught|Error', l)]
    assert not errors, errors

def test_dashboard_and_runs_leave_out_linked_files(tmp_path):
    from dlproj.train import train
    from dlproj.runs import dashboard
    from test_cli import dlproj
    run = train({'experiment': 'dash', 'data': {'source': 'example:breast_cancer'}, 'train': {'epochs': 1, 'progress': False},
                 'model': {'trees': False}, 'output': {'runs_dir': str(tmp_path/'runs'), 'plots': False, 'report': False}})
    secret = tmp_path/'secret.json'
    secret.write_text(json.dumps({'valid': {'accuracy': 0.123456789}, 'note': 'SECRET-JSON-51d2'}))
    x = run.parent/'20990101-000000-000000-1'; shutil.copytree(run, x)
    for f in ('metrics.json', 'history.csv', 'env.json'): (x/f).unlink(); (x/f).symlink_to(secret)
    shutil.copytree(run, tmp_path/'elsewhere'); (run.parent/'20990101-000000-000000-2').symlink_to(tmp_path/'elsewhere')
    page = dashboard(tmp_path/'runs', 'dash').read_text()
    assert 'SECRET-JSON-51d2' not in page and '0.123456789' not in page
    for f in ('metrics.json', 'history.csv', 'env.json'): assert f"{x.name}/{f} (a symbolic link" in page, f
    assert run.name in page and '20990101-000000-000000-2' not in page              # a linked run directory is left out
    r = dlproj('runs', '--runs-dir', tmp_path/'runs', '--experiment', 'dash')
    assert r.returncode == 0 and run.name in r.stdout and x.name in r.stdout and 'SECRET' not in r.stdout, r.stderr[-2000:]
    assert f"{x/'metrics.json'}: refused: a symbolic link" in r.stderr and '20990101-000000-000000-2: refused' in r.stderr, r.stderr
    r = dlproj('dashboard', '../elsewhere', '--runs-dir', tmp_path/'runs')
    assert r.returncode == 2 and 'expected the name of one folder' in r.stderr and not (tmp_path/'elsewhere'/'dashboard.html').exists()
