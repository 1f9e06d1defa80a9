"The dashboard opens offline in headless Chromium (Debian's `chromium`): every chart drawn, every run listed, no console error. Marked slow."
import os, re, shutil, subprocess
from pathlib import Path
import pytest

CHROMIUM = shutil.which('chromium') or shutil.which('chromium-browser')
OFFLINE = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
           '--disable-component-update', '--disable-sync', '--proxy-server=http://127.0.0.1:9',   # nothing can be fetched
           '--host-resolver-rules=MAP * ~NOTFOUND', '--enable-logging=stderr', '--v=0', '--virtual-time-budget=10000']

@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium package (apt-get install chromium)")
def test_dashboard_offline_in_chromium(tmp_path):
    from dlproj.run_experiment import run_grid, dashboard, list_runs
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
