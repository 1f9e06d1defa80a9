"""A full disk and a read-only runs folder are user errors: exit 2 naming the path and the free space, no traceback,
no temporary files, and a run that resumes from its last complete checkpoint once there is room.

The runs folder is a small tmpfs, mounted by the test, so it needs root (and a kernel that allows the mount);
elsewhere it is skipped with the reason. The notebooks test the same paths everywhere through `/dev/full`.
"""
import os, re, shutil, subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
EXE = shutil.which('dlproj', path=str(Path(sys.executable).parent)) or 'dlproj'

def _dlproj(*args, cwd=ROOT):
    return subprocess.run([EXE, *map(str, args)], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, 'OMP_NUM_THREADS': '1'}, timeout=300)

@pytest.fixture
def small_fs(tmp_path):
    "A 2 MB tmpfs: room for the digits run's first checkpoint (1.5 MB), not for the next one beside it; unmounted afterwards."
    if os.geteuid() != 0: pytest.skip('mounting a small tmpfs needs root')
    mnt = tmp_path/'small'; mnt.mkdir()
    r = subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', str(mnt)], capture_output=True, text=True)
    if r.returncode: pytest.skip(f"can't mount a tmpfs here: {r.stderr.strip()}")
    try: yield mnt
    finally: subprocess.run(['umount', '-l', str(mnt)], capture_output=True)

def _user_error(r, what:str):
    assert r.returncode == 2, (r.returncode, r.stderr[-3000:])
    assert what in r.stderr and 'MiB free in' in r.stderr, r.stderr[-3000:]
    assert 'Traceback' not in r.stderr and 'internal error' not in r.stderr, r.stderr[-3000:]

def test_full_disk_then_resume(small_fs):
    r = _dlproj('train', 'configs/digits.yaml', f'output.runs_dir={small_fs}/runs', 'train.epochs=4', 'output.report=false',
                'train.checkpoint_every=1ep')   # a checkpoint after epoch 1, then the disk is full
    _user_error(r, 'no space left on the device')
    assert not list(small_fs.rglob('*.tmp')), list(small_fs.rglob('*.tmp'))
    runs = list((small_fs/'runs'/'digits').iterdir())
    m = re.search(r'keeps its last complete checkpoint \(epoch 1\): make room, then resume it: dlproj train --resume (\S+)$', r.stderr.strip())
    assert m is not None and [Path(m.group(1))] == runs and not (runs[0]/'metrics.json').exists(), r.stderr[-2000:]
    subprocess.run(['mount', '-o', 'remount,size=64m', str(small_fs)], check=True)   # room made
    r = _dlproj('train', '--resume', runs[0])
    assert r.returncode == 0, r.stderr[-3000:]
    assert (runs[0]/'metrics.json').exists() and not list(small_fs.rglob('*.tmp'))

def test_full_before_the_first_checkpoint(small_fs):
    "Nothing to resume: the run directory is removed, not left half-written."
    (small_fs/'filler').write_bytes(b'0' * 1_600_000)
    r = _dlproj('train', 'configs/digits.yaml', f'output.runs_dir={small_fs}/runs', 'train.epochs=2')
    _user_error(r, 'no space left on the device')
    assert 'No epoch had finished' in r.stderr and list((small_fs/'runs'/'digits').iterdir()) == [], r.stderr[-2000:]

def test_read_only_runs_folder(small_fs):
    subprocess.run(['mount', '-o', 'remount,ro', str(small_fs)], check=True)
    r = _dlproj('train', 'configs/digits.yaml', f'output.runs_dir={small_fs}/runs', 'train.epochs=1')
    _user_error(r, 'read-only file system')
    assert str(small_fs/'runs') in r.stderr
