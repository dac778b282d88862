#!/usr/bin/env python
"""Store in every notebook under nbs/ the `language_info` that JupyterLab writes on opening it with this environment's kernel.

JupyterLab stamps a notebook it opens with its kernel's `kernelspec` and `language_info`, and marks the notebook
changed where they differ from what is stored. `nbdev-clean` keeps `language_info` (`allowed_metadata_keys` in
pyproject.toml) and stores the kernelspec's `display_name` as its `name`, which `make install` gives the
environment's `python3` kernel, so the notebooks open clean in JupyterLab on this Python.
Run it with the environment's Python (`.venv/bin/python tools/stamp_kernel.py`) where that Python changes: on another
Python the notebooks open marked changed. `--check` says which notebooks differ, and exits 1 if any does."""
import argparse, json, sys
from pathlib import Path
from ipykernel.ipkernel import IPythonKernel

root = Path(__file__).resolve().parent.parent

def stamped(nb:dict) -> dict:
    "`nb`'s metadata with this kernel's `language_info`"
    return nb['metadata'] | {'language_info': IPythonKernel.language_info}

def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--check', action='store_true', help='change nothing; exit 1 if a notebook stores another language_info')
    args = p.parse_args()
    differ = []
    for fn in sorted((root/'nbs').rglob('*.ipynb')):
        if any(part.startswith(('.', '_')) for part in fn.relative_to(root).parts): continue  # as nbdev skips them
        nb = json.loads(fn.read_text(encoding='utf-8'))
        if nb['metadata'] == (new := stamped(nb)): continue
        differ.append(fn.relative_to(root))
        if not args.check:
            nb['metadata'] = new
            fn.write_text(json.dumps(nb, indent=1, ensure_ascii=False, sort_keys=True) + '\n', encoding='utf-8')
    for fn in differ: print(f"{fn}: {'stores another language_info' if args.check else 'stamped'}")
    if args.check and differ: print(f"run {sys.executable} tools/stamp_kernel.py, then nbdev-clean", file=sys.stderr); sys.exit(1)

if __name__ == '__main__': main()
