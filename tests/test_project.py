"The project as a user meets it: the demo command, and the README kept in step with nbs/index.ipynb"
import json, os, subprocess, sys
from pathlib import Path
root = Path(__file__).resolve().parent.parent

def test_demo_command_runs_end_to_end():
    bin_dir = Path(sys.executable).parent
    r = subprocess.run([bin_dir/'smallfast-demo', '--epochs', '1', '--n-per-class', '2'], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert 'test accuracy after 1 epochs on 2 images per class' in r.stdout

def test_demo_rejects_bad_arguments():
    r = subprocess.run([Path(sys.executable).parent/'smallfast-demo', '--n-per-class', '0'], capture_output=True, text=True, timeout=300)
    assert r.returncode != 0 and 'n_per_class must be a positive integer, got 0' in r.stderr and 'Traceback' not in r.stderr

def test_readme_is_made_from_index_notebook():
    r = subprocess.run([sys.executable, root/'tools'/'make_readme.py', '--check'], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr

def test_the_library_imports_no_notebook_stack():
    "Importing every module but `showdoc` (nbdev's renderer of the docs) loads no widgets, IPython or notebook tools: they are imported where an explorer is drawn (matplotlib comes with fastai)"
    code = ("import sys, smallfast.core, smallfast.data, smallfast.transfer, smallfast.augment, smallfast.vae, smallfast.semi, smallfast.run, smallfast.active, smallfast.grid, smallfast.report, smallfast.cli; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'ipywidgets', 'IPython', 'jupyterlab', 'nbdev'}))")
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == '[]', r.stdout

def test_every_notebook_stores_the_kernel_jupyterlab_writes():
    "Each notebook stores the kernelspec `make install` names (as nbdev-clean writes it) and one and the same `language_info`, which JupyterLab compares on opening"
    metas = {fn.relative_to(root): json.loads(fn.read_text())['metadata'] for fn in sorted((root/'nbs').rglob('*.ipynb')) if not any(part.startswith(('.', '_')) for part in fn.relative_to(root).parts)}
    assert len(metas) > 20
    bad = [str(fn) for fn, m in metas.items() if m['kernelspec'] != {'display_name': 'python3', 'language': 'python', 'name': 'python3'}]
    assert not bad, f'another kernelspec in {bad}'
    infos = {json.dumps(m.get('language_info'), sort_keys=True) for m in metas.values()}
    assert len(infos) == 1, 'the notebooks store different language_info: run tools/stamp_kernel.py with the environment\'s Python, then nbdev-clean'
    stored = json.loads(infos.pop())
    from ipykernel.ipkernel import IPythonKernel
    if stored['version'] == IPythonKernel.language_info['version']: assert stored == IPythonKernel.language_info  # on the Python they store, what its kernel says
    else: assert stored['name'] == 'python'
