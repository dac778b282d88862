"""Draw the stored output of every one-line `show_doc(...)` cell of the named notebooks again, with the renderer `pyproject.toml` names, as nbdev's docs processing draws them.

After a change to the library moves a definition (its source link's line) or to the renderer; the other cells' outputs are kept.

    python tools/redraw_show_doc.py nbs/00_data.ipynb nbs/06_grid.ipynb
"""
import json, os, sys
from pathlib import Path
from nbdev.process import NBProcessor
from nbdev.processors import exec_show_docs
from fastcore.nbio import read_nb

def redraw(fn) -> int:
    "Draw `fn`'s show_doc outputs again, in place; how many"
    nb = read_nb(fn); nb.has_docs_ = True
    NBProcessor(fn, [exec_show_docs], nb=nb).process()
    raw, n = json.loads(Path(fn).read_text()), 0
    for c, done in zip(raw['cells'], nb.cells):
        src = ''.join(c['source']).strip()
        if c['cell_type'] == 'code' and src.startswith('show_doc(') and '\n' not in src:
            c['outputs'] = [dict(o) for o in done.get('outputs', [])]; n += 1
    Path(fn).write_text(json.dumps(raw, indent=1, ensure_ascii=False) + '\n')
    return n

if __name__ == '__main__':
    if len(sys.argv) < 2: sys.exit(__doc__)
    os.environ['IN_TEST'] = '1'  # the hidden cells shrink any work: only the show_doc outputs are kept
    for fn in map(Path, sys.argv[1:]):
        here = os.getcwd(); os.chdir(fn.parent)  # a notebook runs in its own folder
        try: print(f"{fn}: {redraw(fn.name)} show_doc outputs drawn")
        finally: os.chdir(here)
