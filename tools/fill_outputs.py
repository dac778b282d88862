"""Run a notebook's cells from the top down to the last of the named cells in a fresh kernel, and keep the outputs of the named cells only.

For a new cell in a notebook whose full run is long: the named cells get real outputs without rerunning (and so changing) the rest.

    python tools/fill_outputs.py nbs/01_transfer.ipynb a1e20002 a1e20004
"""
import sys
from pathlib import Path
import nbformat
from nbclient import NotebookClient

def fill_outputs(fn, ids):
    nb = nbformat.read(fn, as_version=4)
    order = [c.get('id') for c in nb.cells]
    if missing := [i for i in ids if i not in order]: sys.exit(f"{fn}: no cell with id {', '.join(missing)}")
    head = nbformat.v4.new_notebook(cells=[nbformat.from_dict(dict(c)) for c in nb.cells[:max(map(order.index, ids)) + 1]], metadata=nb.metadata)
    NotebookClient(head, timeout=1200, kernel_name='python3', resources={'metadata': {'path': str(Path(fn).parent)}}).execute()
    for c, ran in zip(nb.cells, head.cells):
        if c.get('id') in ids: c.outputs, c.execution_count = ran.outputs, ran.execution_count
    nbformat.write(nb, fn)

if __name__ == '__main__': fill_outputs(sys.argv[1], sys.argv[2:])
