"""Keep the outputs of a notebook's example cells, so that the docs site shows them (`make outputs`).

Each notebook is run as `nbdev_test` runs it (cells flagged `slow` or `gpu` are skipped). The outputs of the cells a
reader sees are written back: results, displays and printed text, with PNGs reduced to 900 pixels wide in a 128-colour
palette (a few tens of KB each) and without the display size Jupyter stores beside them (it is the size before
reducing: Quarto writes it into the page, which stretches the picture past its column; without it the picture is
shown at its own size, at most the column's width). Hidden and exported cells keep none, nor does stderr (logging). `nbdev_clean` keeps
outputs, so the drift check of `make test` is unaffected; rerun this after changing a notebook's examples.

    .venv/bin/python tools/keep_outputs.py nbs/05_visualization.ipynb nbs/tutorials/*.ipynb
"""
import sys, os, json
from pathlib import Path
import nbformat
from execnb.shell import CaptureShell
from nbdev.process import NBProcessor
from nbdev.frontmatter import FrontmatterProc
from fastcore.xtras import working_directory
os.environ['IN_TEST'] = '1'
MAX_BYTES = 150_000
import base64, io
from PIL import Image
def small_png(b64:str, width:int=900)->str:
    "The PNG at most `width` pixels wide, in a 128-colour palette: a few tens of KB instead of hundreds."
    im = Image.open(io.BytesIO(base64.b64decode(b64))).convert('RGB')
    if im.width > width: im = im.resize((width, round(im.height * width / im.width)), Image.LANCZOS)
    buf = io.BytesIO(); im.quantize(128).save(buf, format='PNG', optimize=True)
    return base64.b64encode(buf.getvalue()).decode()
def drop_png_size(output):
    "Remove the stored display width/height of `output`'s PNG (Quarto would write them into the page)."
    md = output.get('metadata', {})
    if isinstance(md.get('image/png'), dict):
        for k in ('width', 'height'): md['image/png'].pop(k, None)
        if not md['image/png']: del md['image/png']
def run(fn):
    fn = Path(fn).resolve()
    nb = NBProcessor(fn, procs=FrontmatterProc, process=True).nb
    def no_eval(cell):
        if cell.cell_type != 'code': return True
        direc = getattr(cell, 'directives_', {}) or {}
        if direc.get('eval:', [''])[0].lower() == 'false': return True
        return bool({'slow', 'gpu'} & set(direc.keys()))
    k = CaptureShell(fn)
    with working_directory(fn.parent): k.run_all(nb, exc_stop=True, preproc=no_eval)
    outs = {}
    for c in nb.cells:
        if c.cell_type != 'code': continue
        direc = getattr(c, 'directives_', {}) or {}
        if 'hide' in direc or 'export' in direc or 'exporti' in direc: continue
        keep = [o for o in c.get('outputs', []) if o.get('output_type') in ('execute_result', 'display_data')
                or (o.get('output_type') == 'stream' and o.get('name') == 'stdout')]
        for o in keep:
            if 'execution_count' in o: o['execution_count'] = None
            if 'image/png' in o.get('data', {}):
                o['data']['image/png'] = small_png(o['data']['image/png'])
                drop_png_size(o)
        size = len(json.dumps(keep))
        if keep and size <= MAX_BYTES: outs[c.get('id')] = keep
        elif keep: print(f"  {fn.name}: cell {c.get('id')} output {size:,} bytes: not kept")
    orig = nbformat.read(fn, 4)
    n = 0
    for c in orig.cells:
        if c.cell_type == 'code':
            c.outputs = [nbformat.from_dict(o) for o in outs.get(c.get('id'), [])]
            n += bool(c.outputs)
    nbformat.write(orig, fn)
    print(f"{fn.name}: outputs kept in {n} cells, {fn.stat().st_size:,} bytes")
if __name__ == '__main__':
    for f in sys.argv[1:]: run(f)
