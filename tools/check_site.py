"""Check the built docs site (`make docs` runs it after `nbdev_docs`; so does the deploy workflow).

    python tools/check_site.py _docs [--log docs.log]

Fails (exit 1, one line per problem) when the site has
- a link to a page or file that is not there, or to an `#anchor` that its page lacks (internal links only);
- a picture whose width/height attributes are wider than the text column, larger than the picture itself, or of
  another aspect ratio than the picture (it would be cut off, blurred or stretched);
- a temporary path (`/tmp/`, `pytest-of-`, `dlproj-scratch`) or a run id (`20261207-051023-520187-14465`) in a page's
  text: outputs that change on every run and mean nothing to a reader;
- a warning in the build log (Quarto's and Pandoc's, and nbdev's "cells containing imports and other code", with
  the notebook it is in).
Pages are named with the notebook they come from. Needs only the standard library (Pillow, when present, also reads
JPEG sizes).
"""
import argparse, base64, html.parser, io, json, re, struct, sys
from pathlib import Path
from urllib.parse import urlsplit, unquote

TEMP_PATTERNS = [r'/tmp/', r'pytest-of-', r'dlproj-scratch', r'\b\d{8}-\d{6}-\d+-\d+\b']
SKIP_DIRS = {'site_libs'}

class Page(html.parser.HTMLParser):
    "The ids, links, pictures and visible text of one HTML page."
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.ids, self.links, self.imgs, self.text, self._skip = set(), [], [], [], 0
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for k in ('id', 'name'):
            if a.get(k) and (k == 'id' or tag == 'a'): self.ids.add(a[k])
        if tag == 'a' and a.get('href') is not None: self.links.append(a['href'])
        if tag == 'img': self.imgs.append(a)
        if tag in ('script', 'style', 'noscript'): self._skip += 1
    def handle_endtag(self, tag):
        if tag in ('script', 'style', 'noscript'): self._skip = max(0, self._skip - 1)
    def handle_data(self, data):
        if not self._skip: self.text.append(data)

def image_size(data: bytes):
    "(width, height) of a PNG, GIF or (with Pillow) any image Pillow reads; None if unknown."
    if data[:8] == b'\x89PNG\r\n\x1a\n': return struct.unpack('>II', data[16:24])
    if data[:6] in (b'GIF87a', b'GIF89a'): return struct.unpack('<HH', data[6:10])
    try:
        from PIL import Image
        return Image.open(io.BytesIO(data)).size
    except Exception: return None

def column_width(site: Path) -> int:
    "The text column's width in px: `body-width` of nbs/_quarto.yml (Quarto's default, 800, if not set)."
    for yml in (site.parent/'nbs'/'_quarto.yml', site.parent/'_proc'/'_quarto.yml'):
        if yml.exists():
            m = re.search(r'body-width:\s*(\d+)px', yml.read_text())
            if m: return int(m.group(1))
    return 800

def site_url(site: Path) -> str:
    "The site's own address (`site-url` of nbs/nbdev.yml): nbdev writes links to documented names with it."
    for yml in (site.parent/'nbs'/'nbdev.yml', site.parent/'_proc'/'nbdev.yml'):
        if yml.exists():
            m = re.search(r'site-url:\s*"?([^"\s]+)"?', yml.read_text())
            if m: return m.group(1).rstrip('/') + '/'
    return ''

def notebooks(site: Path) -> dict:
    "Page path (relative to the site) -> the notebook it is rendered from, e.g. 'visualization.html' -> nbs/05_...ipynb"
    nbs, res = site.parent/'nbs', {}
    for nb in nbs.rglob('*.ipynb'):
        if any(p.startswith(('.', '_')) for p in nb.relative_to(nbs).parts): continue
        stem = re.sub(r'^\d+[a-z]?_', '', nb.stem)
        res[str(nb.relative_to(nbs).parent/f'{stem}.html').lstrip('./')] = str(nb.relative_to(site.parent))
    return res

def check_img(page: Path, a: dict, col: int) -> list:
    "Problems with one <img>: size attributes wider than the column, larger than the picture or of another aspect."
    w, h, src = a.get('width'), a.get('height'), a.get('src') or ''
    num = lambda v: float(v) if v and re.fullmatch(r'\d+(\.\d+)?(px)?', v) else None
    w, h = num(w.removesuffix('px') if w else w), num(h.removesuffix('px') if h else h)
    if w is None and h is None: return []
    probs, where = [], f'<img src="{src[:60]}"> width={a.get("width")} height={a.get("height")}'
    if w and w > col: probs.append(f'{where}: wider than the {col}px column (cut off or shrunk out of shape)')
    data = None
    if src.startswith('data:image') and ';base64,' in src: data = base64.b64decode(src.split(';base64,', 1)[1])
    elif not urlsplit(src).scheme and not src.startswith('//'):
        f = (page.parent/unquote(urlsplit(src).path)).resolve()
        if f.is_file(): data = f.read_bytes()
    size = image_size(data) if data else None
    if size and all(size):
        nw, nh = size
        if w and w > nw * 1.02: probs.append(f'{where}: larger than the picture itself ({nw}x{nh}): blurred, stretched')
        if w and h and abs(w / h - nw / nh) > 0.02 * nw / nh:
            probs.append(f'{where}: aspect {w / h:.2f} but the picture is {nw}x{nh} ({nw / nh:.2f}): stretched')
    return probs

def log_problems(log: Path, root: Path) -> list:
    "Every warning in the build log; nbdev's import-cell warning names the notebook holding the cell."
    text, probs = log.read_text(errors='replace'), []
    cells = {}
    for nb in (root/'nbs').rglob('*.ipynb'):
        if '.ipynb_checkpoints' in nb.parts: continue
        try:
            for c in json.loads(nb.read_text())['cells']:
                src = '\n'.join(l for l in ''.join(c['source']).splitlines() if not l.startswith('#|')).strip()
                cells.setdefault(src, str(nb.relative_to(root)))
        except Exception: pass
    def where(src):
        return cells.get(src) or next((nb for s, nb in cells.items() if src and src in s), 'a notebook')
    for m in re.finditer(r'UserWarning: (Found cells containing imports[^\n]*)\n---\n(.*?)\n---\n', text, re.S):
        src = m.group(2).strip()
        first = src.splitlines()[0] if src else ''
        probs.append(f'{log}: {where(src)}: {m.group(1)} (cell starting {first[:70]!r}); '
                     'put the imports in a `#| hide` cell of their own')
    text = re.sub(r'UserWarning: Found cells containing imports.*?\n---\n.*?\n---\n', '', text, flags=re.S)
    page = None
    for line in text.splitlines():
        l = re.sub(r'\x1b\[[0-9;]*m', '', line).strip()
        m = re.match(r'\[\s*\d+/\d+\]\s+(\S+\.(ipynb|qmd|md))$', l)
        if m: page = m.group(1); continue
        if re.search(r'\bWARN(ING)?\b|Warning:', l) and not l.startswith('warn(f'):
            probs.append(f'{log}: ' + (f'nbs/{page}: ' if page else '') + l[:300])
    return probs

def check(site: Path, log: Path | None = None) -> list:
    "All problems of the site at `site` (and of its build log)."
    site = site.resolve()
    pages = {p: None for p in site.rglob('*.html') if not SKIP_DIRS & set(p.relative_to(site).parts)}
    for p in pages:
        parser = Page(); parser.feed(p.read_text(errors='replace')); pages[p] = parser
    col, nbmap, own, probs = column_width(site), notebooks(site), site_url(site), []
    def name(p: Path):
        rel = str(p.relative_to(site))
        return f'{rel} ({nbmap[rel]})' if rel in nbmap else rel
    for p, pg in pages.items():
        for href in sorted(set(pg.links)):
            u = urlsplit(href)
            if own and href.startswith(own):
                u, base = urlsplit(href[len(own):]), site
            elif u.scheme or href.startswith(('//', 'mailto:', 'javascript:')): continue
            else: base = p.parent
            target = p if not u.path and base == p.parent else (base/unquote(u.path)).resolve()
            if u.path.endswith('/') or target.is_dir(): target = target/'index.html'
            if not target.exists():
                probs.append(f'{name(p)}: link to a missing page: {href}'); continue
            if u.fragment and target.suffix == '.html':
                ids = pages[target].ids if target in pages else set()
                if unquote(u.fragment) not in ids: probs.append(f'{name(p)}: link to a missing anchor: {href}')
        for a in pg.imgs:
            src = a.get('src') or ''
            if src and not urlsplit(src).scheme and not src.startswith('//'):
                if not (p.parent/unquote(urlsplit(src).path)).exists(): probs.append(f'{name(p)}: missing picture {src}')
            probs += [f'{name(p)}: {m}' for m in check_img(p, a, col)]
        text = ' '.join(pg.text)
        found = sorted({m for pat in TEMP_PATTERNS for m in re.findall(rf'\S*{pat}\S*', text)})
        probs += [f'{name(p)}: temporary path or run id in the text: {m[:120]}' for m in found[:8]]
    if log is not None:
        probs += log_problems(log, site.parent) if log.exists() else [f'{log}: build log not found']
    return probs

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('site', type=Path, help='the built site, e.g. _docs')
    ap.add_argument('--log', type=Path, help="the build's output (nbdev_docs 2>&1 | tee docs.log)")
    args = ap.parse_args()
    if not (args.site/'index.html').exists(): sys.exit(f'{args.site}/index.html not found: build the site first (make docs)')
    problems = check(args.site, args.log)
    for pr in problems: print(pr)
    n = sum(1 for p in args.site.rglob('*.html') if 'site_libs' not in p.parts)
    print(f'check_site: {n} pages, {len(problems)} problem(s)' + ('' if problems else ': the site is clean'))
    sys.exit(1 if problems else 0)
