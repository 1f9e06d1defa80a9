"""Image data in memory (`TensorDL`) and lazy (fastai `DataBlock`) give the same validation batches, and the lazy path's
normalization statistics, read from a sample of `_STATS_SAMPLE` training images, stand for the whole training split."""
import numpy as np, pytest, torch
from PIL import Image
import dlproj.dataset as ds

@pytest.fixture(scope='module')
def folder(tmp_path_factory):
    "Two class folders of 150 8x8 grey images: `dark` around 50, `light` around 200, each image with its own level and noise."
    root,rng = tmp_path_factory.mktemp('images'),np.random.default_rng(0)
    for c,level in (('dark', 50), ('light', 200)):
        (root/c).mkdir()
        for i in range(150):
            x = level + rng.normal(0, 20) + rng.normal(0, 15, (8, 8))
            Image.fromarray(x.clip(0, 255).astype(np.uint8), 'L').save(root/c/f"{i:03d}.png")
    return root

def _both(root, **kw):
    "The bundle of each path, over one split."
    cfg = lambda mem: {'data': {'source': str(root), 'in_memory': mem}, 'train': {'batch_size': 32}}
    mem = ds.build_data(cfg(True), **kw)
    return mem, ds.build_data(cfg(False), splits=mem.splits, **kw)

def _valid(b):
    "The whole validation split as one plain tensor of inputs and one of labels."
    xs,ys = zip(*[(x.as_subclass(torch.Tensor), y.as_subclass(torch.Tensor)) for x,y in b.dls.valid])
    return torch.cat(xs), torch.cat(ys)

def _pixels(b, x):
    "Normalized inputs back in [0, 1] with the bundle's own statistics."
    return x * torch.tensor(b.preprocess['std'])[:, None, None] + torch.tensor(b.preprocess['mean'])[:, None, None]

def test_paths_agree_when_the_sample_is_every_training_image(folder):
    # 210 training images, fewer than `_STATS_SAMPLE` (2000): both paths read them all, so every tensor is the same
    mem,lazy = _both(folder)
    assert (mem.info['in_memory'], lazy.info['in_memory']) == (True, False)
    assert len(mem.splits['train']) < ds._STATS_SAMPLE
    np.testing.assert_allclose(lazy.preprocess['mean'], mem.preprocess['mean'], rtol=1e-6)
    np.testing.assert_allclose(lazy.preprocess['std'], mem.preprocess['std'], rtol=1e-6)
    (xm,ym),(xl,yl) = _valid(mem),_valid(lazy)
    assert torch.equal(yl, ym)
    torch.testing.assert_close(xl, xm, atol=1e-5, rtol=0)

def test_paths_decode_the_same_pixels_beyond_the_sample(folder, monkeypatch):
    # more training images (210) than the sample (100): whatever statistics each path normalizes with, both decode
    # the same validation pixels, in the same order, with the same labels
    monkeypatch.setattr(ds, '_STATS_SAMPLE', 100)
    mem,lazy = _both(folder)
    assert len(mem.splits['train']) > ds._STATS_SAMPLE
    (xm,ym),(xl,yl) = _valid(mem),_valid(lazy)
    assert torch.equal(yl, ym)
    torch.testing.assert_close(_pixels(lazy, xl), _pixels(mem, xm), atol=1e-5, rtol=0)

def test_lazy_stats_sample_stands_for_the_training_split(folder, monkeypatch):
    # the lazy path's statistics come from a seeded random 100 of the 210 training images. A sample that mixes the classes
    # as the split does is close to the in-memory path's statistics of all 210 (a random 100 lands within 0.06 of their mean 0.49 in
    # 99 draws of 100, within 0.09 in all of 2000, and within 0.02 of their std 0.31); the first 100 paths, all `dark`,
    # (the sample it once took) give a mean of 0.20 and a std of 0.10.
    monkeypatch.setattr(ds, '_STATS_SAMPLE', 100)
    mem,lazy = _both(folder)
    np.testing.assert_allclose(lazy.preprocess['mean'], mem.preprocess['mean'], atol=0.1, err_msg='mean')
    np.testing.assert_allclose(lazy.preprocess['std'], mem.preprocess['std'], atol=0.1, err_msg='std')
