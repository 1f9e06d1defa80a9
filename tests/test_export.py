"""Every architecture family of the registry exports to ONNX and predicts as its PyTorch model does.

One short run per family (one epoch, small widths), exported with `export_onnx`, then predicted by both engines
(`predict(..., engine='torch'|'onnx')`) on at least 1,000 inputs drawn from the bundled examples: breast-cancer and
diabetes rows with jittered copies, a breast-cancer table with binned text categories and missing values, the 1,797
digits images and the 1,797 digits series. The probabilities agree to 1e-5, the classes and ids are the same (a
regression's values to 1e-5 relative), and so are the CSV files the two engines write. Each family's `model.json`
names the exporter that made the graph: `torch.export` (dynamo) for every family here, none needing the TorchScript
fallback. One test per family trains, exports and predicts, so that `pytest -n` never trains a family twice.
Slow: `make test-slow` (about two and a half minutes on two cores)."""
import textwrap, time
import numpy as np, onnx, pandas as pd, pytest
from dlproj.data_utils import read_table, resolve_source
from dlproj.export import export_onnx
from dlproj.inference import predict
from dlproj.model import ARCHS
from dlproj.train import train
from dlproj.utils import get_logger, read_json

pytestmark = pytest.mark.slow
TOL = 1e-5

# a user's own architecture, in a file that `model.module` names: the LeNet of the tutorial "Your own model"
OWN_MODULE = '''
from torch import nn
from dlproj.model import register_arch

@register_arch('export_lenet', 'image', description='Two conv-pool blocks and two linear layers, after LeCun et al.')
def export_lenet(pre, width:int=8, hidden:int=32):
    c, n_out = pre['channels'], pre['n_out']
    return nn.Sequential(
        nn.Conv2d(c, width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(2),
        nn.Flatten(), nn.Linear(8 * width, hidden), nn.ReLU(), nn.Linear(hidden, n_out))
'''

# family: (data source, model section, the input predicted on); the widths are small to keep each run short
FAMILIES = {
    'tabular_blend': ('example:breast_cancer', {}, 'breast_cancer'),     # the default: tabular_mlp + trees, calibrated
    'tabular_linear_categories': ('categories', {'arch': 'tabular_mlp', 'trees': False,
                                                 'params': {'layers': [32], 'linear': True}}, 'categories'),
    'tabular_regression': ('example:diabetes', {}, 'diabetes'),          # the default for a numeric target: a blend of values
    'small_cnn': ('example:digits', {'arch': 'small_cnn', 'params': {'channels': [8, 16]}}, 'digits'),
    'small_resnet': ('example:digits', {'arch': 'small_resnet', 'params': {'channels': [8, 16]}}, 'digits'),
    'resnet18': ('example:digits', {'arch': 'resnet18', 'pretrained': False}, 'digits'),
    'cnn1d': ('example:digits_series', {'arch': 'cnn1d', 'params': {'channels': [8, 16]}}, 'series'),
    'fcn': ('example:digits_series', {'arch': 'fcn', 'params': {'channels': [8, 16, 8]}}, 'series'),
    'resnet1d': ('example:digits_series', {'arch': 'resnet1d', 'params': {'channels': [8, 16, 16]}}, 'series'),
    'lstm': ('example:digits_series', {'arch': 'lstm', 'params': {'hidden': 16, 'layers': 2}}, 'series'),
    'gru': ('example:digits_series', {'arch': 'gru', 'params': {'hidden': 16, 'bidirectional': True}}, 'series'),
    'minirocket': ('example:digits_series', {'arch': 'minirocket', 'params': {'n_features': 840}}, 'series'),
    'own_module': ('example:digits', {'arch': 'export_lenet', 'module': 'OWN'}, 'digits'),
}
# resnet34 is torchvision's ResNet built by the same code as resnet18 (`model._resnet`), with more blocks per stage:
# resnet18 stands for both, at a fifth of the cost
COVERED_BY = {'resnet34': 'resnet18'}


def _jittered(df:pd.DataFrame, n:int, cols:list, seed:int=0)->pd.DataFrame:
    "`df`'s rows, then resampled copies up to `n` rows in all, their `cols` multiplied by N(1, 0.05): rows unseen."
    rng = np.random.default_rng(seed)
    extra = df.sample(n - len(df), replace=True, random_state=seed).reset_index(drop=True)
    extra[cols] = extra[cols] * rng.normal(1, 0.05, (len(extra), len(cols)))
    return pd.concat([df, extra], ignore_index=True)


def _categories_table(bc:pd.DataFrame, seed:int=0)->pd.DataFrame:
    "breast_cancer with three columns binned into text categories, ~10% of them missing, and gaps in two numbers."
    rng = np.random.default_rng(seed)
    t = bc.drop(columns=['mean radius', 'mean texture', 'worst area'])
    t.insert(0, 'radius', pd.qcut(bc['mean radius'], 3, labels=['small', 'medium', 'large']).astype(object))
    t.insert(1, 'texture', pd.qcut(bc['mean texture'], 4, labels=['smooth', 'fine', 'coarse', 'rough']).astype(object))
    t.insert(2, 'area band', pd.qcut(bc['worst area'], 5, labels=list('ABCDE')).astype(object))
    for c in ('radius', 'texture', 'area band'): t.loc[rng.random(len(t)) < 0.1, c] = None
    for c in ('mean smoothness', 'worst symmetry'): t.loc[rng.random(len(t)) < 0.05, c] = np.nan
    return t


@pytest.fixture(scope='module')
def work(tmp_path_factory):
    "A folder for the module's runs, inputs and outputs, with the input files written once."
    d = tmp_path_factory.mktemp('export')
    get_logger(level='WARNING')
    bc = read_table(resolve_source('example:breast_cancer'))
    nums = [c for c in bc.columns if c != 'target']
    _jittered(bc, 1200, nums).drop(columns='target').to_csv(d/'breast_cancer.csv', index=False)
    cats = _categories_table(bc)
    cats.to_csv(d/'categories_train.csv', index=False)
    rows = _jittered(cats, 1200, [c for c in cats.columns if cats[c].dtype.kind == 'f'], seed=1).drop(columns='target')
    rows.loc[::97, 'texture'] = 'unheard of'   # a category training never saw: coded as missing
    rows.to_csv(d/'categories.csv', index=False)
    dia = read_table(resolve_source('example:diabetes'))
    _jittered(dia, 1000, [c for c in dia.columns if c not in ('sex', 'target')]).drop(columns='target').to_csv(
        d/'diabetes.csv', index=False)
    (d/'own_models.py').write_text(textwrap.dedent(OWN_MODULE))
    return d


def _input(work, name):
    return {'breast_cancer': work/'breast_cancer.csv', 'categories': work/'categories.csv',
            'diabetes': work/'diabetes.csv', 'digits': resolve_source('example:digits'),
            'series': resolve_source('example:digits_series')}[name]


def _train_and_export(work, family:str)->tuple:
    "The family's run, trained and exported: `(run, model.json, seconds each took)`."
    src,model,_ = FAMILIES[family]
    data = {'source': str(work/'categories_train.csv'), 'target': 'target',
            'cat_names': ['radius', 'texture', 'area band']} if src == 'categories' else {'source': src}
    if model.get('module') == 'OWN': model = {**model, 'module': str(work/'own_models.py')}
    t0 = time.time()
    run = train({'experiment': family, 'data': data, 'model': model,
                 'train': {'epochs': 1, 'progress': False, 'checkpoint': False},
                 'output': {'runs_dir': str(work/'runs'), 'plots': False, 'report': False}})
    t1 = time.time()
    out = export_onnx(run)
    return run, read_json(out/'model.json'), {'train_s': t1 - t0, 'export_s': time.time() - t1}


def test_every_built_in_architecture_has_a_family():
    "The families cover the registry's built-in architectures (those of dlproj's own modules)."
    built_in = {n for n,e in ARCHS.items() if e.builder.__module__.startswith('dlproj.')}
    covered = {m.get('arch') or 'tabular_mlp' for _,m,_ in FAMILIES.values()} | set(COVERED_BY)
    assert built_in <= covered, f"architectures without an export test: {sorted(built_in - covered)}"


def _check_alike(want:pd.DataFrame, got:pd.DataFrame, task:str, what:str):
    "The two engines' predictions: same ids and classes, probabilities within TOL (values within TOL relative)."
    assert len(want) == len(got) and len(want) >= 1000, (what, len(want), len(got))
    assert want.id.astype(str).tolist() == got.id.astype(str).tolist(), what
    if task == 'regression':
        np.testing.assert_allclose(got.prediction.to_numpy(float), want.prediction.to_numpy(float), rtol=TOL, atol=0,
                                   err_msg=what)
        return
    probs = [c for c in want.columns if c.startswith('prob_')]
    assert probs and probs == [c for c in got.columns if c.startswith('prob_')], what
    diff = np.abs(got[probs].to_numpy(float) - want[probs].to_numpy(float)).max()
    assert diff <= TOL, f"{what}: max |probability difference| {diff:.2e}"
    assert want.prediction.astype(str).tolist() == got.prediction.astype(str).tolist(), what


@pytest.mark.parametrize('family', list(FAMILIES))
def test_onnx_predicts_as_torch(work, family):
    """Exported by torch.export; both engines' predictions alike, returned and written with `out=` (one test per
    family, so that `pytest -n` trains each once)."""
    run,meta,took = _train_and_export(work, family)
    pre = read_json(run/'preprocess.json')
    assert meta['exporter'] == 'dynamo', f"{family}: exported by the {meta['exporter']} exporter"
    assert meta['max_output_difference'] <= TOL, meta['max_output_difference']
    if family in ('tabular_blend', 'tabular_regression'): assert pre['blend']['members']   # the trees are in the graph
    # no ScatterND that adds: ONNX Runtime makes its additions on several threads unordered, and where indices repeat
    # the outputs change from call to call (08a_export); the trees sum their leaves with a product instead
    graph = onnx.load(str(run/'export'/'model.onnx')).graph
    adds = [n.name for n in graph.node if n.op_type == 'ScatterND' and any(a.name == 'reduction' and a.s != b'none'
                                                                             for a in n.attribute)]
    assert not adds, f"{family}: ScatterND with a reduction: {adds}"
    inp = _input(work, FAMILIES[family][2])
    t0 = time.time(); want = predict(run, inp)
    t1 = time.time(); got = predict(run, inp, engine='onnx')
    took['predict_s'] = {'torch': t1 - t0, 'onnx': time.time() - t1}
    _check_alike(want, got, pre['task'], family)
    # the CSV files of `predict(..., out=)`: the same ids and classes, the numbers within TOL
    classes = pre['task'] == 'classification'
    files = {e: work/f'{family}-{e}.csv' for e in ('torch', 'onnx')}
    for engine,f in files.items(): predict(run, inp, out=f, top_k=2 if classes else None, engine=engine)
    want,got = (pd.read_csv(f, dtype={'id': str, 'prediction': str, 'top1': str, 'top2': str}) for f in files.values())
    assert list(want.columns) == list(got.columns)
    if classes:
        assert want[['top1', 'top2']].equals(got[['top1', 'top2']]), family
        np.testing.assert_allclose(got.confidence, want.confidence, rtol=0, atol=TOL)
    _check_alike(want, got, pre['task'], f"{family} CSV")
    print(f"{family}: {meta['arch']}, {meta['exporter']} exporter, opset {meta['opset']}, {len(want)} inputs; "
          f"train {took['train_s']:.1f}s, export {took['export_s']:.1f}s, predict torch {took['predict_s']['torch']:.1f}s, "
          f"onnx {took['predict_s']['onnx']:.1f}s")
