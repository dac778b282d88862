"""Write README.md from nbs/index.ipynb (nbdev-readme needs Quarto, which this project's machines cannot install).
Markdown cells are copied, shown code cells fenced, their text outputs fenced below them (markdown outputs as they are); `#| hide` cells are left out, `#| echo: false` cells show their output alone.
`--check` fails instead of writing when README.md is out of step with the notebook."""
import json, re, sys
from pathlib import Path

root = Path(__file__).resolve().parent.parent
HEADER = "<!-- Made from nbs/index.ipynb by tools/make_readme.py (`make readme`): edit the notebook, not this file -->\n\n"

def directives(src): return {l[3:].strip().split()[0] for l in src.splitlines() if l.startswith('#| ') and l[3:].strip()}
def body(src): return '\n'.join(l for l in src.splitlines() if not l.startswith('#|')).strip()

def text_outputs(cell):
    for o in cell.get('outputs', []):
        if o['output_type'] == 'stream': yield ''.join(o['text'])
        elif 'text/markdown' in o.get('data', {}): yield None, ''.join(o['data']['text/markdown'])
        elif 'text/plain' in o.get('data', {}) and 'image/png' not in o['data']: yield ''.join(o['data']['text/plain'])

NB_LINK = re.compile(r'\]\((?![a-z]+:|#|/)([^)\s]+\.ipynb)\)')

def repo_links(md:str) -> str:
    "Links between notebooks, relative to nbs/, made relative to the repository root where README.md lives"
    return NB_LINK.sub(r'](nbs/\1)', md)

def cell_md(cell):
    src = ''.join(cell['source'])
    if cell['cell_type'] == 'markdown': return [repo_links(src.strip())]
    if cell['cell_type'] != 'code' or {'hide', 'hide_input'} & directives(src) or not body(src): return []
    parts = [] if '#| echo: false' in src else [f"```python\n{body(src)}\n```"]  # echo: false shows the output alone
    for out in text_outputs(cell):
        parts.append(out[1].strip() if isinstance(out, tuple) else f"```\n{out.rstrip()}\n```")
    return parts

def make_readme(nb_path=root/'nbs'/'index.ipynb'):
    nb = json.loads(Path(nb_path).read_text())
    return HEADER + '\n\n'.join(p for c in nb['cells'] for p in cell_md(c)) + '\n'

if __name__ == '__main__':
    txt, dest = make_readme(), root/'README.md'
    if '--check' in sys.argv:
        if not dest.exists() or dest.read_text() != txt:
            sys.exit("README.md is out of step with nbs/index.ipynb: run `make readme` and commit it")
    else: dest.write_text(txt)
