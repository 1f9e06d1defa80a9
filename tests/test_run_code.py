"""A run directory is data: the code its config names runs only when you pass it (with the sha256 the run recorded);
a name no file can have is an error."""
import hashlib, json, shutil
from pathlib import Path
import pytest, yaml
from test_cli import dlproj

MODELS = '''from torch import nn
from dlproj.model import register_arch
@register_arch('two_layer', 'tabular')
def two_layer(spec, hidden:int=16):
    "Continuous columns only, one hidden layer."
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.f = nn.Sequential(nn.Linear(spec['n_cont'], hidden), nn.ReLU(), nn.Linear(hidden, spec['n_out']))
        def forward(self, x_cat, x_cont): return self.f(x_cont)
    return Net()
'''

@pytest.mark.slow
def test_resume_and_reproduce_run_only_the_code_you_pass(tmp_path):
    mine = tmp_path/'my_models.py'; mine.write_text(MODELS)
    (tmp_path/'kept').mkdir(); kept = tmp_path/'kept'/'my_models.py'; kept.write_text(MODELS)   # the same code, elsewhere
    cfg = tmp_path/'cfg.yaml'
    cfg.write_text(yaml.safe_dump({'data': {'source': 'example:breast_cancer'}, 'model': {'arch': 'two_layer', 'module': 'my_models.py'},
                                   'train': {'epochs': 3, 'progress': False},
                                   'output': {'runs_dir': str(tmp_path/'runs'), 'report': False}}))
    r = dlproj('train', cfg, cwd=tmp_path)   # your own config: its module is imported, and its sha256 recorded
    assert r.returncode == 0, r.stderr[-2000:]
    run = Path(next(l for l in r.stdout.splitlines() if l.startswith('run: '))[5:])
    sha = hashlib.sha256(MODELS.encode()).hexdigest()
    assert json.loads((run/'env.json').read_text())['model_module'] == {'source': str(mine), 'sha256': sha}
    unfinished = run.with_name(run.name + '-copy'); shutil.copytree(run, unfinished); (unfinished/'metrics.json').unlink()
    # the file the runs name is changed to do something else when imported
    pwned = tmp_path/'PWNED'
    mine.write_text(f"open({str(pwned)!r}, 'w').write('ran')\n" + MODELS)
    changed = hashlib.sha256(mine.read_bytes()).hexdigest()
    for args in (['runs', '--check', run], ['train', '--resume', unfinished]):
        r = dlproj(*args, cwd=tmp_path)
        assert r.returncode == 2 and 'Traceback' not in r.stderr, r.stderr[-2000:]
        assert f"pass it yourself, dlproj --module {mine} {' '.join(map(str, args))}" in r.stderr, r.stderr
        assert not pwned.exists()   # nothing the run names was imported
    r = dlproj('--module', mine, 'train', '--resume', unfinished, cwd=tmp_path)   # you passed it: it runs, and is refused for the run
    assert r.returncode == 2 and sha in r.stderr and changed in r.stderr and str(mine) in r.stderr, r.stderr[-2000:]
    assert not (unfinished/'metrics.json').exists()
    r = dlproj('train', cfg, 'train.resume=true', cwd=tmp_path)   # your config's own module counts as passed: it changed, too
    assert r.returncode == 2 and sha in r.stderr and changed in r.stderr, r.stderr[-2000:]
    r = dlproj('--module', kept, 'train', '--resume', unfinished, cwd=tmp_path)   # the code it was trained with
    assert r.returncode == 0 and (unfinished/'metrics.json').exists(), r.stderr[-2000:]
    r = dlproj('--module', kept, 'runs', '--check', run, cwd=tmp_path)
    assert r.returncode == 0 and 'is reproduced' in r.stdout, r.stdout + r.stderr[-2000:]

def test_a_nul_byte_in_a_name_is_an_error(tmp_path):
    cfg = tmp_path/'cfg.yaml'
    cfg.write_text(yaml.safe_dump({'data': {'source': 'example:breast_cancer'}, 'train': {'epochs': 1, 'progress': False},
                                   'output': {'runs_dir': str(tmp_path/'runs')}}))
    for args,key in ((['train', cfg, 'experiment="a\\0b"'], 'experiment'),
                     (['train', cfg, 'output.runs_dir="runs\\0x"'], 'output.runs_dir'),
                     (['tune', cfg, 'tune.study="s\\0"', 'tune.space={train.lr: {low: 0.001, high: 0.1}}'], 'tune.study'),
                     (['experiment', cfg, '--grid', 'model.module="m\\0.py",x.py'], 'model.module')):
        r = dlproj(*args, cwd=tmp_path)
        assert r.returncode == 2 and 'Traceback' not in r.stderr, r.stderr[-2000:]
        assert f"{key}: " in r.stderr and 'NUL byte' in r.stderr, r.stderr
    (tmp_path/'nul.yaml').write_text('data: {source: "bc\\0.csv"}\n')
    r = dlproj('train', tmp_path/'nul.yaml', cwd=tmp_path)
    assert r.returncode == 2 and 'data.source: ' in r.stderr and 'NUL byte' in r.stderr, r.stderr
    assert not (tmp_path/'runs').exists()
