"""report.html shows what the data names (classes, columns, the file, the experiment) as text, never as markup: checked in
the raw HTML always, and in headless Chromium (Debian's `chromium` package), marked slow and run by `make test-slow`.
The plots take class names as text too."""
import base64, html, os, shutil, signal, subprocess
from html.parser import HTMLParser
import numpy as np, pandas as pd, pytest, yaml

CHROMIUM = shutil.which('chromium') or shutil.which('chromium-browser')
FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
         '--disable-component-update', '--disable-sync', '--hide-scrollbars']
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium package (apt-get install chromium)")

# each would run a script, add an element or break out of an attribute if it reached the page as markup
CLASSES = ['<script>alert(1)</script>', '<img id=injected1 src=x onerror="document.title=\'pwned\'">', '"dq" \'sq\' $x$ &amp;']
TARGET = '<script>document.title="pwned"</script>'
COLUMN = '<b id=injected2>"col"</b> \'$x$\' &amp;'
EXPERIMENT = '<i id=injected3>"dq" \'sq\' $x$ &amp;'
FILE = '<script>alert(3)</script> "dq" \'sq\' $x$ &amp;.csv'   # a folder `<script>alert(3)<` holding `script> ... .csv`

@pytest.fixture(scope='module')
def hostile(tmp_path_factory):
    "A trained and evaluated table run whose classes, target, a column, file and experiment are hostile; its report page."
    from dlproj.train import train
    from dlproj.evaluate import evaluate
    from dlproj.runs import report
    tmp,rng = tmp_path_factory.mktemp('report'),np.random.default_rng(0)
    y = np.arange(120) % 3
    src = tmp/FILE; src.parent.mkdir()
    pd.DataFrame({COLUMN: y + rng.normal(0, .3, 120), 'b': rng.normal(0, 1, 120), TARGET: [CLASSES[i] for i in y]}).to_csv(src, index=False)
    run = train({'experiment': EXPERIMENT, 'data': {'source': str(src), 'target': TARGET, 'cont_names': [COLUMN, 'b']},
                 'output': {'runs_dir': str(tmp/'runs')}, 'train': {'epochs': 2, 'progress': False}})
    evaluate(run)
    return run, report(run), src

class _Page(HTMLParser):
    "What a page is made of: its elements (tag and attributes), its text, its title and its `<pre>` blocks."
    def __init__(self, s):
        super().__init__(); self.tags,self.text,self.pre,self.title,self._in = [],[],[],None,None
        self.feed(s); self.close(); self.text = ''.join(self.text)
    def handle_starttag(self, tag, attrs): self.tags.append((tag, dict(attrs))); self._in = tag
    def handle_endtag(self, tag): self._in = None
    def handle_data(self, d):
        self.text.append(d)
        if self._in == 'title': self.title = d
        if self._in == 'pre': self.pre.append(d)

def _check_page(s, run, src):
    "No element, script or handler came from the data; every hostile name is there as text."
    p = _Page(s)
    assert p.title == f"dlproj report — {EXPERIMENT} / {run.name}"                  # no script set the title
    assert not [(t,a) for t,a in p.tags if t == 'script' or 'injected' in (a.get('id') or '') or any(k.startswith('on') for k in a)]
    for h in [*CLASSES, EXPERIMENT, str(src), f"prob_{CLASSES[0]}"]: assert h in p.text, h   # `prob_...`: a table's column
    cfg = yaml.safe_load(p.pre[-1])                                                  # the config, as written
    assert (cfg['data']['target'], cfg['data']['cont_names']) == (TARGET, [COLUMN, 'b'])

def test_report_escapes_hostile_names(hostile):
    # the raw report.html, without a browser: every name from the data escaped, so CI checks it with or without Chromium
    run,page,src = hostile
    s = page.read_text(encoding='utf-8')
    assert '<script' not in s.lower() and '<img id' not in s and '<b id' not in s and '<i id' not in s
    assert html.escape(CLASSES[0]) in s
    _check_page(s, run, src)

def test_evaluate_draws_class_names_with_dollars(tmp_path):
    # a class name is a label, not a formula: `$\foo$` (not valid mathtext) must not stop the evaluation or its plots
    from dlproj.train import train
    from dlproj.evaluate import evaluate
    y = np.arange(60) % 2
    pd.DataFrame({'a': y + np.random.default_rng(0).normal(0, .3, 60), 't': np.array(['$\\foo$', 'b'])[y]}).to_csv(tmp_path/'d.csv', index=False)
    run = train({'data': {'source': str(tmp_path/'d.csv'), 'target': 't'}, 'output': {'runs_dir': str(tmp_path/'runs')},
                 'train': {'epochs': 1, 'progress': False}})
    assert 'plots/confusion_matrix.png' in evaluate(run)['files']

def test_report_leaves_out_files_that_link_elsewhere(hostile, tmp_path):
    "A run directory is data: a file in it that is a symbolic link, or a folder that leads out of it, is refused, named, left out."
    from dlproj.runs import report
    run,_,_ = hostile
    png = b'\x89PNG\r\n\x1a\n' + b'SECRET-BYTES-7f3a' * 8
    (tmp_path/'id_rsa.png').write_bytes(png); (tmp_path/'secret.csv').write_text('password\nSECRET-TEXT-9c1e\n')
    (tmp_path/'outside').mkdir(); (tmp_path/'outside'/'confusion_matrix.png').write_bytes(png)
    x,y = tmp_path/'runs'/'x'/run.name,tmp_path/'runs'/'y'/run.name
    shutil.copytree(run, x); shutil.copytree(run, y)
    links = {'plots/loss.png': 'id_rsa.png', 'misclassified.csv': 'secret.csv', 'history.csv': 'secret.csv', 'metrics.json': 'secret.csv'}
    for f,target in links.items(): (x/f).unlink(); (x/f).symlink_to(tmp_path/target)
    shutil.rmtree(y/'plots'); (y/'plots').symlink_to(tmp_path/'outside')            # a folder of the run that leads out of it
    for r,refused in ((x, list(links)), (y, ['plots/confusion_matrix.png'])):
        s = report(r).read_text(encoding='utf-8')
        assert 'SECRET-TEXT-9c1e' not in s and base64.b64encode(png).decode() not in s
        note = _Page(s.split("<p class='refused'>")[1].split('</p>')[0]).text
        for f in refused: assert f in note, (f, note)
        assert '<h2>Config</h2>' in s                                             # the rest of the run is there
    assert 'Misclassified' in report(y).read_text(encoding='utf-8')

def _dom(page, prof):
    "The page's DOM after it loaded and ran whatever scripts it has, as Chromium serializes it."
    p = subprocess.Popen([CHROMIUM, *FLAGS, f'--user-data-dir={prof}', '--dump-dom', page.as_uri()],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try: out,err = p.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL); p.communicate()   # the browser and its helper processes
        pytest.fail(f"{page}: Chromium did not finish; an alert() from the data blocks --dump-dom")
    assert '</html>' in out, err[-2000:]
    return out

@pytest.mark.slow
@needs_chromium
def test_hostile_names_stay_text_in_chromium(hostile, tmp_path):
    # the report as a browser builds it: no script from the data ran (the title is the report's), nothing was injected
    run,page,src = hostile
    _check_page(_dom(page, tmp_path/'profile'), run, src)
    # the check can see an injection: the same names written into a page as markup change its title and elements
    raw = tmp_path/'raw.html'
    raw.write_text(f"<html><head><title>t</title></head><body>{CLASSES[1]}{TARGET}{COLUMN}{EXPERIMENT}</body></html>")
    p = _Page(_dom(raw, tmp_path/'profile'))
    assert p.title == 'pwned' and {a.get('id') for _,a in p.tags} >= {'injected1', 'injected2', 'injected3'}

@pytest.mark.slow
@needs_chromium
def test_report_renders_in_chromium(tmp_path):
    # a digits run's report has its title, plots and contrast (not a blank page) in a screenshot
    from PIL import Image
    from dlproj.train import train
    from dlproj.evaluate import evaluate
    from dlproj.runs import report
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

@pytest.mark.slow
@needs_chromium
def test_threshold_and_importance_render_in_chromium(tmp_path):
    # a two-class run given a decision threshold and explained: its report says the cut, what it was chosen for, shows
    # the curves, and the permutation importance (chart and table)
    from dlproj.train import train
    from dlproj.evaluate import evaluate
    from dlproj.threshold import set_threshold
    from dlproj.explain import permutation_importance
    from dlproj.runs import report
    run = train({'experiment': 'cut', 'data': {'source': 'example:breast_cancer'}, 'output': {'runs_dir': str(tmp_path/'runs')},
                 'train': {'epochs': 2, 'progress': False}})
    cut = set_threshold(run, 'auto', 'balanced_accuracy'); evaluate(run); imp = permutation_importance(run, repeats=2)
    p = _Page(_dom(report(run), tmp_path/'profile'))
    assert (f"malignant is predicted from a probability of {cut['value']:.4g}, chosen for the highest balanced_accuracy "
            f"on the {cut['n']} validation rows") in p.text, p.text[:3000]
    assert "The evaluation's labels, accuracy, precision, recall and F1 use it" in p.text
    alts = {a.get('alt') for tag,a in p.tags if tag == 'img'}
    assert {'Precision and recall by threshold (valid)', 'Permutation importance'} <= alts, alts
    assert imp.feature[0] in p.text.split('Permutation importance')[-1][:300]   # its table, the first column first
