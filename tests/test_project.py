"The project as a user meets it: the demo command, and the README kept in step with nbs/index.ipynb"
import os, subprocess, sys
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
