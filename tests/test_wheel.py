"""A wheel that stands alone: `python -m build --wheel` packs the project, and the wheel, installed into a fresh virtual environment
with no clone of the repository in sight, runs its console scripts.

The fresh environment borrows the dependencies (torch, fastai: gigabytes) from the environment running the tests through a `.pth` file
holding the path of its site-packages: a plain path line adds that folder to `sys.path` without processing the `.pth` files inside it,
so the editable install of smallfast there stays invisible (checked below). Every command runs with the temporary folder as its
working directory. Marked `wheel`: `pytest -m wheel` runs these tests alone, `pytest -m "not wheel"` leaves them out.
SMALLFAST_ROOT names another checkout to pack (default: the one holding this file)."""
import json, os, shutil, site, subprocess, sys, sysconfig, zipfile
from pathlib import Path
import numpy as np
import pytest
from PIL import Image

pytestmark = pytest.mark.wheel  # registered in pyproject.toml: `-m wheel` runs these alone, `-m "not wheel"` skips them

ROOT = Path(os.environ.get('SMALLFAST_ROOT') or Path(__file__).resolve().parents[1]).resolve()
SCRIPTS = ['smallfast-demo', 'smallfast-augbench', 'smallfast-bench', 'smallfast-train', 'smallfast-predict']
# what a build does not need, and what setuptools must not find left over from an earlier build (a stale build/lib goes into the wheel)
SKIP = shutil.ignore_patterns('.git', '.venv', 'build', 'dist', '*.egg-info', '__pycache__', '.pytest_cache', '.ipynb_checkpoints',
                              '_proc', 'docs', 'test-artifacts', 'runs', 'results')

def run(*args, cwd, env=None, timeout=600):
    return subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)

def tail(r, n=3000): return f"exit {r.returncode}\n{r.stdout[-n:]}\n{r.stderr[-n:]}"

def deps_paths() -> list:
    "The site-packages folders of the environment running the tests: where the fresh environment finds torch, fastai and the rest"
    paths = [*site.getsitepackages(), sysconfig.get_paths()['purelib'], sysconfig.get_paths()['platlib']]
    return [p for p in dict.fromkeys(str(Path(p).resolve()) for p in paths) if Path(p).is_dir()]

def build_cmd(tmp) -> tuple:
    "The command that runs `build`, and the PYTHONPATH it needs: this environment's, else one pip installs into a temporary folder"
    if run(sys.executable, '-c', 'import build', cwd=tmp).returncode == 0: return [sys.executable, '-m', 'build'], None
    r = run(sys.executable, '-m', 'pip', 'install', '-q', '--target', tmp/'build-tool', 'build', cwd=tmp)
    if r.returncode: pytest.skip(f"`build` is not installed, and pip could not install it: {(r.stderr.strip().splitlines() or ['?'])[-1]}")
    return [sys.executable, '-m', 'build'], str(tmp/'build-tool')

def fresh_env(venv:Path) -> dict:
    "The environment variables of a command in the fresh environment: its bin first on PATH, no PYTHONPATH, nothing of the test's environment"
    env = {k: v for k, v in os.environ.items() if k not in ('PYTHONPATH', 'PYTHONHOME', 'PYTHONSTARTUP', 'VIRTUAL_ENV', 'PYTHONSAFEPATH')}
    here = str(Path(sys.executable).parent)
    env['PATH'] = os.pathsep.join([str(venv/'bin'), *(p for p in os.environ.get('PATH', '').split(os.pathsep) if p and p != here)])
    env['VIRTUAL_ENV'] = str(venv)
    return env

@pytest.fixture(scope='module')
def wheel(tmp_path_factory) -> Path:
    "The wheel `python -m build --wheel` makes of a copy of the project (a build writes build/ and *.egg-info into the tree it packs)"
    tmp = tmp_path_factory.mktemp('wheel')
    cmd, pythonpath = build_cmd(tmp)
    src = shutil.copytree(ROOT, tmp/'src', ignore=SKIP, symlinks=True)
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    if pythonpath: env['PYTHONPATH'] = pythonpath
    r = run(*cmd, '--wheel', '--outdir', tmp/'dist', src, cwd=tmp, env=env)
    assert r.returncode == 0, tail(r)
    wheels = list((tmp/'dist').glob('*.whl'))
    assert len(wheels) == 1 and wheels[0].name.startswith('smallfast-') and wheels[0].name.endswith('-py3-none-any.whl'), wheels
    return wheels[0]

@pytest.fixture(scope='module')
def venv(wheel, tmp_path_factory):
    "(python, bin folder, env, working folder): a fresh virtual environment with the wheel installed and the dependencies borrowed"
    tmp = tmp_path_factory.mktemp('fresh')
    venv = tmp/'venv'
    r = run(sys.executable, '-m', 'venv', '--without-pip', venv, cwd=tmp)
    assert r.returncode == 0, tail(r)
    py, env = venv/'bin'/'python', fresh_env(venv)
    # installed before the dependencies are borrowed: pip sees an empty environment, not the editable smallfast of the tests' environment
    r = run(sys.executable, '-m', 'pip', '--python', py, 'install', '--no-deps', '--no-index', '--no-compile', wheel, cwd=tmp, env=env)
    assert r.returncode == 0, tail(r)
    purelib = run(py, '-c', "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=tmp, env=env).stdout.strip()
    assert Path(purelib).is_dir() and Path(purelib).resolve().is_relative_to(venv.resolve()), purelib
    (Path(purelib)/'_smallfast_test_deps.pth').write_text(''.join(p + '\n' for p in deps_paths()))
    return py, venv/'bin', env, tmp, Path(purelib).resolve()

def test_the_wheel_holds_the_package_and_its_metadata_only(wheel):
    with zipfile.ZipFile(wheel) as z: names = z.namelist()
    dist_info = wheel.name.split('-')[0] + '-' + wheel.name.split('-')[1] + '.dist-info/'
    assert all(n.startswith(('smallfast/', dist_info)) for n in names), [n for n in names if not n.startswith(('smallfast/', dist_info))]
    assert not [n for n in names if n.endswith(('.ipynb', '.pyc')) or '/tests/' in n or 'test_' in n.rsplit('/', 1)[-1] or 'conftest' in n]
    assert 'smallfast/_modidx.py' in names and 'smallfast/__init__.py' in names
    packed = {n for n in names if n.startswith('smallfast/')}
    assert {f'smallfast/{p.name}' for p in (ROOT/'smallfast').glob('*.py')} <= packed  # every module of the checkout
    with zipfile.ZipFile(wheel) as z:
        eps, meta = z.read(dist_info + 'entry_points.txt').decode(), z.read(dist_info + 'METADATA').decode()
    assert all(f'{s} = smallfast.cli:' in eps for s in SCRIPTS) and 'smallfast = smallfast._modidx:d' in eps, eps
    assert 'Name: smallfast' in meta and 'Requires-Dist: fastai' in meta, meta[:2000]

CHECK = '''
import importlib.metadata, importlib.util, json, sys
import smallfast, fastai, torch
from smallfast import cli
dist = importlib.metadata.distribution('smallfast')
print(json.dumps(dict(file=smallfast.__file__, cli=cli.__file__, path=sys.path, version=smallfast.__version__,
    dist=str(dist.locate_file('smallfast/__init__.py')), dist_version=dist.version, modules=sorted(sys.modules), prefix=sys.prefix,
    meta_path=[type(f).__module__ + '.' + type(f).__qualname__ for f in sys.meta_path])))
'''

def test_the_installed_package_is_the_wheels_and_the_checkout_is_out_of_sight(venv, wheel):
    py, bin_, env, cwd, purelib = venv
    r = run(py, '-c', CHECK, cwd=cwd, env=env, timeout=300)
    assert r.returncode == 0, tail(r)
    got = json.loads(r.stdout.strip().splitlines()[-1])
    for k in 'file', 'cli', 'dist': assert Path(got[k]).resolve().is_relative_to(purelib), (k, got[k])
    assert Path(got['prefix']).resolve() == purelib.parents[2] and got['version'] == got['dist_version'] == wheel.name.split('-')[1]
    assert not [p for p in got['path'] if p and Path(p).resolve() in (ROOT, ROOT/'smallfast', ROOT/'nbs', ROOT/'tests')], got['path']
    # the borrowed folder is on sys.path, its .pth files unprocessed: no editable finder of smallfast, no setuptools' distutils hack
    assert set(deps_paths()) <= {str(Path(p).resolve()) for p in got['path'] if p}, got['path']
    assert not [m for m in got['modules'] + got['meta_path'] if '__editable__' in m or m.startswith('_distutils_hack')], got['meta_path']

@pytest.mark.parametrize('script', ['smallfast-predict', 'smallfast-bench', 'smallfast-train'])
def test_help(venv, script):
    py, bin_, env, cwd, purelib = venv
    r = run(bin_/script, '--help', cwd=cwd, env=env, timeout=300)
    assert r.returncode == 0 and r.stdout.startswith('usage: ' + script), tail(r)
    assert (bin_/script).read_text().startswith(f'#!{py}'), (bin_/script).read_text()[:200]  # the wheel's script, run by the fresh python

def test_train_then_predict_a_folder_of_images(venv):
    py, bin_, env, cwd, purelib = venv
    r = run(bin_/'smallfast-train', '--data', 'digits', '--shots', '5', '--technique', 'baseline', '--epochs', '1', '--device', 'cpu',
            '--out', 'model.safetensors', cwd=cwd, env=env)
    assert r.returncode == 0 and 'test accuracy:' in r.stdout and (cwd/'model.safetensors').read_bytes()[8:9] == b'{', tail(r)  # a safetensors header
    rng, images = np.random.default_rng(0), cwd/'images'
    images.mkdir()
    for i in range(3): Image.fromarray(rng.integers(0, 256, (8 + 4 * i, 8 + 4 * i), dtype=np.uint8)).save(images/f'{i}.png')
    r = run(bin_/'smallfast-predict', 'model.safetensors', 'images', cwd=cwd, env=env)
    lines = r.stdout.strip().splitlines()
    assert r.returncode == 0 and lines[0].startswith('"path","prediction","probability"') and len(lines) == 4, tail(r)
    assert all(l.split(',')[1].strip('"') in [str(d) for d in range(10)] for l in lines[1:]), r.stdout

def test_bench_quick(venv):
    py, bin_, env, cwd, purelib = venv
    r = run(bin_/'smallfast-bench', '--quick', '--data', 'digits', '--techniques', 'baseline,logreg', '--device', 'cpu', '--epochs', '1', '--out', 'bench',
            cwd=cwd, env=env)
    assert r.returncode == 0, tail(r)
    recs = json.loads((cwd/'bench'/'results.json').read_text())
    assert {x['technique'] for x in recs} == {'baseline', 'logreg'} and len(recs) == 4, recs  # shots 10 and 50, one seed
    assert (cwd/'bench'/'results.md').exists() and 'written: ' in r.stdout, r.stdout
