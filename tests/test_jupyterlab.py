"""The notebooks as a newcomer meets them: JupyterLab serving a clean clone, driven in headless Chromium.

Before anything runs, no stored output may read as a widget's text; run, the explorer is live: a slider moved redraws its picture.
Opened, a notebook has nothing to save.
Needs Debian's chromium and chromium-driver (see test_docs)."""
import json, os, signal, socket, subprocess, sys, time
from pathlib import Path
from urllib.request import urlopen
import pytest
from conftest import SHOTS, chromium

root = Path(__file__).resolve().parent.parent
WIDGET_TEXT = ('VBox(children=', 'HBox(children=', 'Box(children=')

@pytest.fixture(scope='module')
def lab(tmp_path_factory):
    "JupyterLab on a free local port serving a clean clone of this repository; yields (its URL, the clone)"
    tmp = tmp_path_factory.mktemp('lab')
    clone = tmp/'smallfast'
    subprocess.run(['git', 'clone', '-q', str(root), str(clone)], check=True)
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); port = s.getsockname()[1]
    env = dict(os.environ, IN_TEST='1', JUPYTER_CONFIG_DIR=str(tmp/'config'), JUPYTER_RUNTIME_DIR=str(tmp/'runtime'))  # IN_TEST: the notebook's cells take their small sizes
    log = open(tmp/'lab.log', 'w')
    p = subprocess.Popen([sys.executable, '-m', 'jupyterlab', '--no-browser', '--ServerApp.ip=127.0.0.1', f'--ServerApp.port={port}', '--IdentityProvider.token=',
                          '--ServerApp.password=', '--allow-root', '--expose-app-in-browser', f'--ServerApp.root_dir={clone}'],
                         env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url, deadline = f'http://127.0.0.1:{port}', time.time() + 120
    while True:
        try: urlopen(f'{url}/api/status', timeout=2); break
        except OSError:
            if p.poll() is not None or time.time() > deadline: pytest.fail(f"JupyterLab did not start: {(tmp/'lab.log').read_text()[-2000:]}")
            time.sleep(0.5)
    yield url, clone
    os.killpg(p.pid, signal.SIGTERM)
    try: p.wait(30)
    except subprocess.TimeoutExpired: os.killpg(p.pid, signal.SIGKILL); p.wait()
    log.close()

def wait_for(driver, script:str, timeout:float=120, what:str=''):
    "Run `script` in the page until it returns something true; return that"
    end = time.time() + timeout
    while time.time() < end:
        if got := driver.execute_script(script): return got
        time.sleep(0.5)
    driver.save_screenshot(str(SHOTS/'jupyterlab-timeout.png'))
    raise AssertionError(f"timed out waiting for {what or script}")

NOTEBOOK = "const nb = window.jupyterapp && window.jupyterapp.shell.currentWidget; return nb && nb.context && nb.context.isReady"
KERNEL_IDLE = "const s = window.jupyterapp.shell.currentWidget.sessionContext; return s.session && s.session.kernel && s.session.kernel.status === 'idle'"
OUTPUT_TEXTS = "return Array.from(document.querySelectorAll('.jp-OutputArea-output')).map(e => e.innerText)"
CELL = "const cell = window.jupyterapp.shell.currentWidget.content.widgets[%d];"
EXPLORER_CELL = "return window.jupyterapp.shell.currentWidget.content.widgets.findIndex(c => c.model.sharedModel.getSource().startsWith('explorer = aug_explorer('))"
STORED_PICTURE = CELL + "const img = cell.node.querySelector('.jp-OutputArea-output img'); return img && img.src"
LIVE_PICTURE = CELL + "const img = cell.node.querySelector('.widget-output img'); return img && img.src"
LABELS = CELL + "return Array.from(cell.node.querySelectorAll('.widget-slider .widget-label')).map(l => [l.innerText, l.scrollWidth <= l.clientWidth])"
READOUT = CELL + "return Array.from(cell.node.querySelectorAll('.widget-slider')).find(s => s.innerText.includes(arguments[0])).querySelector('.widget-readout')"
RUN_TO_IT = """const done = arguments[arguments.length - 1], app = window.jupyterapp;
app.commands.execute('notebook:run-all-above').then(() => app.commands.execute('notebook:run-cell')).then(r => done(String(r)), e => done('error: ' + e))"""

def test_02_augment_reads_before_it_runs_and_its_explorer_is_live(lab):
    url, clone = lab
    SHOTS.mkdir(parents=True, exist_ok=True)
    with chromium(1280, 1000) as driver:
        driver.set_script_timeout(900)
        driver.get(f'{url}/lab/tree/nbs/02_augment.ipynb')
        wait_for(driver, NOTEBOOK, what='the notebook')
        wait_for(driver, "return document.querySelectorAll('.jp-OutputArea-output').length > 10", what='its stored outputs')
        texts = driver.execute_script(OUTPUT_TEXTS)
        assert not [t[:80] for t in texts if any(w in t for w in WIDGET_TEXT)], 'a stored output reads as a widget repr'
        k = driver.execute_script(EXPLORER_CELL)
        assert k > 0
        driver.execute_script("const nb = window.jupyterapp.shell.currentWidget.content; nb.activeCellIndex = arguments[0]; nb.activeCell.node.scrollIntoView()", k)
        stored = wait_for(driver, STORED_PICTURE % k, what="the explorer's stored picture")
        assert stored.startswith('data:image/png')
        driver.save_screenshot(str(SHOTS/'jupyterlab-02-stored.png'))
        wait_for(driver, KERNEL_IDLE, what='the kernel')  # the notebook names python3: no dialog asks for a kernel
        ran = driver.execute_async_script(RUN_TO_IT)
        assert not ran.startswith('error'), ran
        live = wait_for(driver, LIVE_PICTURE % k, timeout=300, what="the live explorer's picture")
        driver.save_screenshot(str(SHOTS/'jupyterlab-02-live.png'))
        labels = driver.execute_script(LABELS % k)
        assert ['max_lighting', True] in labels, labels  # each label in full
        readout = driver.execute_script(READOUT % k, 'max_rotate')
        readout.click()
        driver.execute_script("document.execCommand('selectAll')")
        readout.send_keys('90\n')
        end, moved = time.time() + 60, None
        while time.time() < end and not moved:
            src = driver.execute_script(LIVE_PICTURE % k)
            moved = src if src and src != live else None
            time.sleep(0.5)
        driver.save_screenshot(str(SHOTS/'jupyterlab-02-moved.png'))
        assert moved, 'moving max_rotate did not redraw the picture'

OPENED = """const done = arguments[arguments.length - 1], nb = window.jupyterapp.shell.currentWidget, kernel = nb.sessionContext.session.kernel;
Promise.all([kernel.info, kernel.spec]).then(([info, spec]) => setTimeout(() => done(JSON.stringify({dirty: nb.context.model.dirty,
  kernel: {kernelspec: {name: kernel.name, display_name: spec.display_name, language: spec.language}, language_info: info.language_info}})), 2000), e => done(JSON.stringify({error: String(e)})))"""

@pytest.mark.parametrize('notebook', ['nbs/00_core.ipynb', 'nbs/02_augment.ipynb', 'nbs/studies/semi_supervised.ipynb'])
def test_a_notebook_opens_clean(lab, notebook):
    "Opened and connected to its kernel, a notebook has nothing to save: what JupyterLab writes on opening (the kernel's kernelspec and language_info) is what is stored"
    url, clone = lab
    subprocess.run(['git', '-C', str(clone), 'checkout', '-q', '--', notebook], check=True)  # as committed, whatever an earlier test's session saved
    stored = json.loads((clone/notebook).read_text())['metadata']
    SHOTS.mkdir(parents=True, exist_ok=True)
    with chromium(1280, 1000) as driver:
        driver.set_script_timeout(120)
        driver.get(f'{url}/lab/tree/{notebook}')
        wait_for(driver, NOTEBOOK, what='the notebook')
        wait_for(driver, KERNEL_IDLE, what='the kernel')
        opened = json.loads(driver.execute_async_script(OPENED))  # after the kernel's info and spec have arrived, and JupyterLab has written them
        driver.save_screenshot(str(SHOTS/f'jupyterlab-opens-clean-{Path(notebook).stem}.png'))
    assert 'error' not in opened, opened
    kernel = opened['kernel']
    assert kernel['kernelspec'] == stored['kernelspec'], f"the environment's python3 kernel is {kernel['kernelspec']}, the notebooks store {stored['kernelspec']}: make install names it as nbdev-clean stores it"
    if kernel['language_info'] != stored['language_info']: pytest.skip(f"the kernel runs Python {kernel['language_info']['version']}, the notebooks store {stored['language_info']['version']}: they open changed on another Python (tools/stamp_kernel.py stores this one's)")
    assert opened['dirty'] is False, f'{notebook} opens with unsaved changes'
