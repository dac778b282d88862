"""Build the documentation site into docs/ from the notebooks, without Quarto (`make docs`).

1. nbdev's own notebook processing, per notebook (`show_doc` rendered, `#| hide` cells dropped, exported code
   shown as nbdev shows it); a notebook that fails names itself and the cell;
2. pages named as nbdev names them (`00_data.ipynb` -> `data.html`), nbdev's doc links turned into links
   between pages, which Sphinx checks;
3. Sphinx with myst-nb renders the stored outputs (nothing is re-executed) into docs/; a warning, such as a
   broken internal link with its source page, fails the build.
With Quarto installed, `nbdev-docs` and `nbdev-preview` build nbdev's own site from the same notebooks."""
import os, re, shutil, subprocess, sys
from pathlib import Path
import yaml

root = Path(__file__).resolve().parent.parent
NBS, SITE, OUT = root/'nbs', root/'_proc'/'site', root/'docs'

REPO = 'https://github.com/smallfast/smallfast'

def conf() -> str:
    "Sphinx settings: the project's name and version in the title, a link to the repository on every page, no empty general index"
    from smallfast import __version__
    return CONF.format(version=__version__, repo=REPO)

CONF = '''project = "smallfast"
copyright = "the smallfast developers"
html_title = "smallfast {version}"
html_use_index = False
html_theme_options = {{"announcement": '<a href="{repo}">smallfast on GitHub</a> · version {version}', "top_of_page_buttons": []}}
extensions = ["myst_nb"]
html_theme = "furo"
nb_execution_mode = "off"
nb_render_markdown_format = "myst"
nb_merge_streams = True
myst_enable_extensions = ["colon_fence", "dollarmath"]
myst_heading_anchors = 3
exclude_patterns = ["_build", "**/.ipynb_checkpoints"]
pygments_style = "friendly"
html_static_path = ["_static"]
html_css_files = ["smallfast.css"]
smartquotes = False  # a flag, a quote or a path on the page is what a reader types: --valid, not –valid; 'cpu', not curly quotes
'''

CSS = """/* tables in stored outputs (pandas, fastai's epoch tables) drawn as furo draws Markdown tables: one table style */
table.dataframe, table.fastprogress { border: 0; border-collapse: collapse; border-radius: .2rem; margin: 1rem 0;
  box-shadow: 0 .2rem .5rem rgba(0, 0, 0, .05), 0 0 .0625rem rgba(0, 0, 0, .1); }
table.dataframe th, table.dataframe td, table.fastprogress th, table.fastprogress td {
  border: 0; border-bottom: 1px solid var(--color-table-border); border-left: 1px solid var(--color-table-border); padding: .3rem .5rem; }
table.dataframe thead th, table.fastprogress thead th { background: var(--color-table-header-background); }
/* an output wider than a phone (a DataFrame, fastai's training table) scrolls sideways in its own box, the page around it stays put */
div.cell_output { overflow-x: auto; }
/* an explorer's pictures drawn in advance: its sliders wrap on a phone, its picture fits the column */
.smallfast-frames-controls { display: flex; flex-wrap: wrap; gap: .3rem 1.2rem; margin-bottom: .5rem; }
.smallfast-frames-controls label { display: flex; align-items: center; gap: .4rem; font-size: .85rem; }
.smallfast-frames-controls output { min-width: 2.5rem; font-family: var(--font-stack--monospace); }
.smallfast-frames img { max-width: 100%; height: auto; }
.smallfast-frames-note { font-size: .8rem; color: var(--color-foreground-secondary); }
"""

def reading_order(nbs:Path):
    "Notebooks as the site reads: home, tutorials, modules in number order, then studies"
    folder = lambda name: sorted((nbs/name).glob('*.ipynb')) if (nbs/name).is_dir() else []
    return [p for p in [nbs/'index.ipynb', *folder('tutorials'), *sorted(nbs.glob('[0-9]*.ipynb')), *folder('studies')] if p.exists()]

def _undocumented(def_names):
    "nbdev's names to document after an exported cell, less those a `show_doc` of the notebook already shows: nbdev adds `@patch` methods (`Class.method`, or just `method` under another decorator) even when they are"
    def names(cell, shown): return [n for n in def_names(cell, shown) if n not in shown and not any(s.endswith(f'.{n}') for s in shown)]
    return names

def process(nb_path):
    "The notebook after nbdev's docs processing, or exit naming the notebook and the failing cell"
    from fastcore.nbio import read_nb
    import nbdev.processors
    from nbdev.processors import FilterDefaults
    if not getattr(nbdev.processors._def_names, 'smallfast', False):
        nbdev.processors._def_names = _undocumented(nbdev.processors._def_names); nbdev.processors._def_names.smallfast = True
    nb = read_nb(nb_path)
    os.environ['IN_TEST'] = '1'
    try: FilterDefaults()(nb)
    except Exception as e: sys.exit(f"docs: {nb_path} failed to process: {e}")
    finally: os.environ.pop('IN_TEST', None)
    return nb

DOC_LINK = re.compile(r'\]\(https?://[^)\s]*?/smallfast/(?:[\w/.-]+?)\.html#([\w.-]+)\)')
ATTRS = re.compile(r'\{target="_blank"[^}]*\}')
SHOWDOC_HEAD = re.compile(r'^(#{2,4}) (\S+)$', re.M)
SOURCE_ABOVE = re.compile(r'^\[source\]\((\S+?)\)\s*\n+(#{2,4} \S+)$', re.M)

def fix_markdown(md:str) -> str:
    "nbdev's doc links as links to labels Sphinx checks; Quarto-only link attributes dropped"
    return ATTRS.sub('', DOC_LINK.sub(lambda m: f'](#{m[1].lower()})', md))

def showdoc_markdown(cell, labels:set=None) -> str:
    "A `show_doc` cell's rendered output, with a label on its heading for links to point at (once per label in `labels`)"
    md = ''.join(o['data']['text/markdown'] for o in cell.get('outputs', []) if 'text/markdown' in o.get('data', {}))
    md = SOURCE_ABOVE.sub(r'\2\n\n[source](\1)', fix_markdown(md))  # the source link under its heading, not above it
    labels = set() if labels is None else labels
    def label(m):
        name = m[2].lower()
        if name in labels: return m[0]
        labels.add(name); return f'({name})=\n{m[1]} {m[2]}'
    return SHOWDOC_HEAD.sub(label, fix_markdown(md), count=1)

def directives(src:str) -> list: return [l[2:].strip() for l in src.splitlines() if l.startswith('#|')]
def strip_directives(src:str) -> str: return '\n'.join(l for l in src.splitlines() if not l.startswith('#|')).strip()

WIDGET = 'application/vnd.jupyter.widget-view+json'
FRAMES = 'application/vnd.smallfast.frames+json'  # an `Explorer`'s pictures drawn in advance (`Explorer.still_frames`)

FLIP_SCRIPT = """(function () {
  const box = document.currentScript.parentElement, data = JSON.parse(box.querySelector('script[type="application/json"]').textContent);
  const img = box.querySelector('img'), inputs = Array.from(box.querySelectorAll('input'));
  const show = (input, i) => { input.value = i; input.nextElementSibling.textContent = data.controls[input.dataset.i].labels[i]; };
  inputs.forEach(input => input.addEventListener('input', () => {
    inputs.forEach(other => { if (other !== input) show(other, data.controls[other.dataset.i].start); });  // one control moves at a time
    const c = data.controls[input.dataset.i], i = Number(input.value);
    show(input, i);
    img.src = 'data:image/jpeg;base64,' + (c.pictures[i] || data.picture);
  }));
})();"""

def flipbook(frames:dict) -> str:
    "HTML for an explorer's pictures drawn in advance: a slider per control that swaps them, one control at a time, and a line saying so"
    import html, json
    sliders = ''.join(f'<label>{html.escape(c["name"])} <input type="range" min="0" max="{len(c["labels"]) - 1}" step="1" value="{c["start"]}" data-i="{i}">'
                      f'<output>{html.escape(c["labels"][c["start"]])}</output></label>' for i, c in enumerate(frames['controls']))
    data = json.dumps(frames).replace('</', '<\\/')  # nothing in it can close the script element
    return (f'<div class="smallfast-frames"><div class="smallfast-frames-controls">{sliders}</div>'
            f'<img alt="the explorer\'s picture" src="data:image/jpeg;base64,{frames["picture"]}">'
            '<p class="smallfast-frames-note">Pictures drawn in advance, one control moved at a time: run the notebook for the live panel.</p>'
            f'<script type="application/json">{data}</script><script>{FLIP_SCRIPT}</script></div>')

def static_output(o:dict) -> dict:
    "An output without live widgets: a saved ipywidgets view needs a running kernel, so the page shows an explorer's pictures drawn in advance with sliders that swap them, else the picture saved beside it, else says to run the notebook"
    if WIDGET not in o.get('data', {}): return o
    if FRAMES in o['data']: return dict(o, data={'text/html': flipbook(o['data'][FRAMES]), 'text/plain': '(an interactive ipywidgets panel: run the notebook to use it)'})
    still = {k: v for k, v in o['data'].items() if k == 'image/png'}
    return dict(o, data=still | {'text/plain': '(an interactive ipywidgets panel: run the notebook to use it)'})

def _is_check(node) -> bool:
    "Whether statement `node` only checks: an `assert`, a `test_*` call, or a loop, `with` or `try` whose body (a `try`'s handlers) does only that"
    import ast
    if isinstance(node, ast.Assert): return True
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
        f = node.value.func
        return (f.id if isinstance(f, ast.Name) else getattr(f, 'attr', '')).startswith('test_')
    if isinstance(node, ast.Try): return bool(node.handlers) and all(_is_check(n) for h in node.handlers for n in h.body)
    if isinstance(node, (ast.For, ast.With)): return all(_is_check(n) for n in node.body)
    return False

def only_checks(src:str) -> bool:
    "Whether a code cell only checks what the cells above did (`test_eq`, `test_fail`, `assert`): nothing a reader needs to follow the lesson"
    import ast
    try: body = ast.parse(strip_directives(src)).body
    except SyntaxError: return False
    return bool(body) and all(map(_is_check, body))

TESTS_TOGGLE = {'tags': ['hide-cell'], 'mystnb': {'code_prompt_show': 'Tests', 'code_prompt_hide': 'Hide the tests'}}  # myst-nb folds the cell under this toggle

def to_page(nb, page_names) -> tuple:
    "(page name, notebook ready for myst-nb)"
    import nbformat
    fm = yaml.safe_load(nb.cells[0].source.strip().strip('-')) if nb.cells and nb.cells[0].cell_type == 'raw' else {}
    name = Path(fm.get('output-file', 'index.html')).with_suffix('').as_posix()
    title = str(fm.get('title', name)).lstrip('# ').strip()
    cells, labels = [nbformat.v4.new_markdown_cell(f"# {title}" + (f"\n\n*{fm['description']}*" if fm.get('description') else ''))], set()
    for c in nb.cells[1 if fm else 0:]:
        if c.cell_type == 'markdown' and 'THIS FILE WAS AUTOGENERATED' in c.source: continue
        if c.cell_type == 'markdown': cells.append(nbformat.v4.new_markdown_cell(fix_markdown(c.source)))
        elif c.cell_type == 'code' and 'output: asis' in directives(c.source):
            if md := showdoc_markdown(c, labels): cells.append(nbformat.v4.new_markdown_cell(md))
        elif c.cell_type == 'code':
            new = nbformat.v4.new_code_cell(strip_directives(c.source))
            new.outputs = [nbformat.from_dict(static_output(o)) for o in c.get('outputs', [])]
            if 'echo: false' in directives(c.source): new.metadata['tags'] = ['remove-input']
            elif only_checks(c.source) and not new.outputs: new.metadata.update(TESTS_TOGGLE)  # a lesson's checks, folded away; still run by nbdev-test
            cells.append(new)
    page = nbformat.v4.new_notebook(cells=cells)
    page.metadata = {'kernelspec': {'name': 'python3', 'display_name': 'Python 3', 'language': 'python'},
                     'language_info': {'name': 'python'}}
    return name, page

def toctree(caption, pages) -> str:
    return f"```{{toctree}}\n:caption: {caption}\n:maxdepth: 1\n\n" + '\n'.join(pages) + "\n```" if pages else ''

def in_folder(page:tuple, folder:Path) -> tuple:
    "A page of a notebook in a subfolder of `nbs` (a tutorial) keeps its folder: `tutorials/playbook.ipynb` -> `tutorials/playbook.html`"
    name, nb = page
    return (folder/name).as_posix(), nb

def build(nbs:Path=NBS, site:Path=SITE, out:Path=OUT):
    import nbformat
    shutil.rmtree(site, ignore_errors=True); site.mkdir(parents=True)
    pages = [in_folder(to_page(process(p), None), p.parent.relative_to(nbs)) + (p,) for p in reading_order(nbs)]
    for name, page, src in pages:
        if name == 'index':
            tuts = [n for n, _, s in pages if s.parent.name == 'tutorials']
            mods = [n for n, _, s in pages if s.parent == nbs and n != 'index']
            studies = [n for n, _, s in pages if s.parent.name == 'studies']
            page.cells.append(nbformat.v4.new_markdown_cell('\n\n'.join(filter(None, [toctree('Tutorials', tuts), toctree('Modules', mods), toctree('Studies', studies)]))))
        (site/f'{name}.ipynb').parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(page, site/f'{name}.ipynb')
    (site/'conf.py').write_text(conf())
    (site/'_static').mkdir(exist_ok=True); (site/'_static'/'smallfast.css').write_text(CSS)
    html = site/'_build'/'html'  # myst-nb writes its work files beside the build folder, inside `site`
    r = subprocess.run([sys.executable, '-m', 'sphinx', '-W', '--keep-going', '-q', '-b', 'html', str(site), str(html)])
    if r.returncode: sys.exit("docs: Sphinx failed: see the warnings above, each names its source page")
    shutil.rmtree(out, ignore_errors=True); shutil.copytree(html, out)
    (out/'.nojekyll').touch()  # GitHub Pages serves the folder as built (Sphinx's _static/ and friends)
    print(f"docs: {len(pages)} pages written to {out}/")

if __name__ == '__main__':
    import argparse
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--nbs', type=Path, default=NBS, help='notebooks folder'); p.add_argument('--site', type=Path, default=SITE, help='work folder')
    p.add_argument('--out', type=Path, default=OUT, help='where the site lands')
    a = p.parse_args()
    os.chdir(root)  # nbdev finds the project's settings from here
    build(a.nbs.resolve(), a.site.resolve(), a.out.resolve())
