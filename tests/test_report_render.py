"report.html renders in headless Chromium (Debian's `chromium` package): marked slow, run by `make test-slow`."
import os, shutil, subprocess, sys, tempfile
from pathlib import Path
import pytest

CHROMIUM = shutil.which('chromium') or shutil.which('chromium-browser')
FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
         '--disable-component-update', '--disable-sync', '--hide-scrollbars']

@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium package (apt-get install chromium)")
def test_report_renders_in_chromium(tmp_path):
    from PIL import Image
    from dlproj.train import train
    from dlproj.evaluate import evaluate
    from dlproj.run_experiment import report
    run = train({'experiment': 'render', 'data': {'source': 'example:digits'}, 'output': {'runs_dir': str(tmp_path/'runs')},
                 'train': {'epochs': 2, 'progress': False}})
    evaluate(run); page = report(run)
    prof = tmp_path/'profile'
    dom = subprocess.run([CHROMIUM, *FLAGS, f'--user-data-dir={prof}', '--dump-dom', page.as_uri()],
                         capture_output=True, text=True, timeout=120)
    assert 'render / ' in dom.stdout and dom.stdout.count('<img') >= 3, dom.stderr[-2000:]
    shot = tmp_path/'report.png'
    subprocess.run([CHROMIUM, *FLAGS, f'--user-data-dir={prof}', f'--screenshot={shot}', '--window-size=1200,1600', page.as_uri()],
                   capture_output=True, text=True, timeout=120)
    im = Image.open(shot).convert('L')
    assert im.size == (1200, 1600)
    lo,hi = im.getextrema()
    assert hi - lo > 100          # not a blank page: text and plots have contrast
