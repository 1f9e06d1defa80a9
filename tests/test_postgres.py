"""A real PostgreSQL server, not a mock: two `dlproj tune` workers share one Optuna study through it, every trial is
recorded once and the best config is written. The server is Debian's `postgresql` (initdb into a temporary folder,
started on a free loopback port, stopped and removed at the end); `make test-slow` installs the package when it is
missing and the user is root, and the test is skipped, with the reason, where it can't run. Marked slow."""
import glob, os, pwd, shutil, socket, subprocess, sys, tempfile
from pathlib import Path
import pytest, yaml

EXE = shutil.which('dlproj', path=str(Path(sys.executable).parent)) or 'dlproj'
BIN = next(iter(sorted(glob.glob('/usr/lib/postgresql/*/bin'))[-1:]), None) or (str(Path(shutil.which('initdb')).parent) if shutil.which('initdb') else None)

def _as_server_user(cmd, **kw):
    "Run a PostgreSQL command as the `postgres` user when we are root (the server refuses to run as root)."
    if os.geteuid() == 0: cmd = ['runuser', '-u', 'postgres', '--', *cmd]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, **kw)

@pytest.fixture
def postgres_url():
    if BIN is None: pytest.skip("needs Debian's postgresql package (apt-get install postgresql; make test-slow installs it as root)")
    if os.geteuid() == 0:
        try: pg = pwd.getpwnam('postgres')
        except KeyError: pytest.skip("running as root, and there is no postgres user to run the server as")
    base = Path(tempfile.mkdtemp(prefix='dlproj-pg-')); os.chmod(base, 0o755)
    data = base/'data'; data.mkdir()
    if os.geteuid() == 0: os.chown(data, pg.pw_uid, pg.pw_gid); os.chown(base, pg.pw_uid, pg.pw_gid)
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); port = s.getsockname()[1]
    r = _as_server_user([f'{BIN}/initdb', '-D', str(data), '-U', 'postgres', '--auth=trust'])
    assert r.returncode == 0, r.stderr[-2000:]
    r = _as_server_user([f'{BIN}/pg_ctl', '-D', str(data), '-l', str(base/'server.log'), '-w', 'start',
                         '-o', f"-p {port} -c listen_addresses=127.0.0.1 -k {base}"])
    assert r.returncode == 0, r.stderr[-2000:] + (base/'server.log').read_text()[-2000:]
    try:
        r = subprocess.run([f'{BIN}/createdb', '-h', '127.0.0.1', '-p', str(port), '-U', 'postgres', 'optuna'], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        yield f"postgresql://postgres@127.0.0.1:{port}/optuna"
    finally:
        _as_server_user([f'{BIN}/pg_ctl', '-D', str(data), '-m', 'immediate', 'stop'])
        shutil.rmtree(base, ignore_errors=True)

@pytest.mark.slow
def test_two_workers_one_postgres_study(tmp_path, postgres_url):
    import optuna
    from dlproj.hyperparameter_tuning import make_storage
    cfg = {'experiment': 'pg', 'data': {'source': 'example:breast_cancer'}, 'train': {'epochs': 3, 'progress': False},
           'output': {'runs_dir': str(tmp_path/'runs'), 'plots': False, 'report': False},
           'tune': {'pruner': 'none', 'space': {'train.lr': {'low': 1e-3, 'high': 1e-1, 'log': True}}}}
    (tmp_path/'pg.yaml').write_text(yaml.safe_dump(cfg))
    env = {**os.environ, 'OMP_NUM_THREADS': '1'}
    cmd = lambda i: [EXE, 'tune', str(tmp_path/'pg.yaml'), '--storage', postgres_url, '--study', 'pg', '--trials', '4', '--seed-offset', str(i)]
    procs = [subprocess.Popen(cmd(i), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(2)]
    for p in procs:
        out,err = p.communicate(timeout=600)
        assert p.returncode == 0, err[-3000:]
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    st = optuna.load_study(study_name='pg', storage=make_storage(postgres_url, None))   # the driver dlproj picks
    done = [t for t in st.trials if t.state.name == 'COMPLETE']
    assert 4 <= len(done) <= 5, [t.state.name for t in st.trials]   # a trial running in the other worker at the total still finishes
    runs = [t.user_attrs['run'] for t in done]
    assert len(set(runs)) == len(runs) and len({t.number for t in st.trials}) == len(st.trials)
    assert all((Path(r)/'metrics.json').exists() for r in runs)
    assert (tmp_path/'runs'/'pg'/'tune'/'best.yaml').exists()
