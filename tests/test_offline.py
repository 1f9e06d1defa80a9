"""Offline means offline: a run tracked by W&B (no key) and MLflow (its local store) looks up no host and connects
nowhere but this machine, and no password of a URL in its config lands in any file."""
import json, os, re, shutil, subprocess, sys, textwrap
from pathlib import Path
import pytest

# variables that would switch the trackers' telemetry off by themselves (MLflow takes any CI's, and pytest's own, for one)
_QUIET = ('PYTEST_CURRENT_TEST', 'CI', 'GITHUB_ACTIONS', 'CIRCLECI', 'GITLAB_CI', 'JENKINS_URL', 'TRAVIS', 'TF_BUILD', 'BUILDKITE',
          'BITBUCKET_BUILD_NUMBER', 'CODEBUILD_BUILD_ARN', 'TEAMCITY_VERSION', 'CLOUD_RUN_EXECUTION', 'DO_NOT_TRACK')

CHILD = textwrap.dedent('''
    import atexit, json, socket, sys
    seen = []
    def local(host): return host in (None, '', 'localhost') or str(host).startswith('127.') or str(host) in ('::1', '0.0.0.0')
    def lookup(host, *a, **k):
        if not local(host): seen.append(['lookup', str(host)]); raise socket.gaierror(-3, 'offline test: no lookups')
        return real_lookup(host, *a, **k)
    def connect(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6) and not local(address[0]):
            seen.append(['connect', str(address[0]), address[1]]); raise OSError('offline test: no connections')
        return real_connect(self, address)
    real_lookup,real_connect = socket.getaddrinfo,socket.socket.connect
    socket.getaddrinfo,socket.socket.connect = lookup,connect
    atexit.register(lambda: open(sys.argv[2], 'w').write(json.dumps(seen)))   # registered first: runs last, after the trackers'
    from dlproj.run_experiment import run_experiment
    run = run_experiment({'experiment': 'offline', 'data': {'source': 'example:breast_cancer'},
                          'output': {'runs_dir': sys.argv[1], 'plots': False},
                          'train': {'epochs': 2, 'progress': False}, 'tracking': {'wandb': True, 'mlflow': True},
                          'tune': {'storage': 'postgresql://u:s3cr3t@db.example/optuna'}})
    print(run)
''')

def _strace_works()->bool:
    exe = shutil.which('strace')
    return bool(exe) and subprocess.run([exe, '-f', '-o', os.devnull, 'true'], capture_output=True).returncode == 0

@pytest.mark.slow
def test_tracked_run_stays_on_this_machine(tmp_path):
    env = {k: v for k,v in os.environ.items() if k not in _QUIET and not k.startswith(('WANDB_', 'MLFLOW_'))}
    env.update(OMP_NUM_THREADS='1', HOME=str(tmp_path/'home'))   # no W&B login or MLflow id of the user's
    seen,trace = tmp_path/'seen.json',tmp_path/'strace.txt'
    cmd = [sys.executable, '-c', CHILD, str(tmp_path/'runs'), str(seen)]
    strace = _strace_works()
    if strace: cmd = ['strace', '-f', '-e', 'trace=connect', '-o', str(trace), *cmd]   # W&B's own processes (wandb-core) too
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=540)
    assert r.returncode == 0, r.stderr[-3000:]
    assert json.loads(seen.read_text()) == [], 'looked up or connected to other machines (in Python)'
    if strace:   # any AF_INET(6) connect but to loopback, and any DNS query (port 53, even to a local resolver)
        out = [l for l in trace.read_text().splitlines() if re.search(r'connect\(\d+, \{sa_family=AF_INET6?', l)
               and (re.search(r'htons\(53\)', l) or not re.search(r'inet_addr\("127\.|inet_pton\(AF_INET6, "::1"', l))]
        assert out == [], out
    run = Path(r.stdout.strip().splitlines()[-1])
    assert (run/'report.html').exists() and list((run/'wandb').glob('offline-run-*'))
    leaks = [p for p in (tmp_path/'runs').rglob('*') if p.is_file() and b's3cr3t' in p.read_bytes()]
    assert leaks == [], leaks   # config.yaml, report.html, W&B's record, MLflow's database: the password is in none
    assert 'u:***@db.example' in (run/'config.yaml').read_text()
