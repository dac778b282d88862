import contextlib, hashlib, os, shutil, struct, tempfile
from pathlib import Path
import numpy as np
import pytest
from smallfast.data import IDX_FILES

def write_idx(fn, a, magic=None):
    "Write uint8 array `a` as an IDX file, optionally with a wrong `magic` header"
    head = magic if magic is not None else b'\0\0\x08' + bytes([a.ndim])
    Path(fn).write_bytes(head + struct.pack(f'>{a.ndim}I', *a.shape) + a.tobytes())

def write_idx_set(folder, n_train=20, n_test=10, n_classes=10, size=28, seed=0):
    "Four valid IDX files with random images and balanced labels in `folder`"
    rng, folder = np.random.default_rng(seed), Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for split, n in ('x_train', n_train), ('x_test', n_test):
        write_idx(folder/IDX_FILES[split], rng.integers(0, 256, (n, size, size), dtype=np.uint8))
        write_idx(folder/IDX_FILES['y' + split[1:]], (np.arange(n) % n_classes).astype(np.uint8))
    return folder

def tree_digest(folder):
    "A digest of every file name and content under `folder`, to show nothing was changed"
    h = hashlib.sha256()
    for p in sorted(Path(folder).rglob('*')):
        h.update(str(p.relative_to(folder)).encode())
        if p.is_file(): h.update(p.read_bytes())
    return h.hexdigest()

@pytest.fixture
def idx_set(tmp_path): return write_idx_set(tmp_path/'idx')

SHOTS = Path(os.environ.get('SMALLFAST_SCREENSHOTS', Path(__file__).resolve().parent.parent/'test-artifacts'/'screenshots'))  # screenshots the browser tests leave for a person
CHROMIUM, DRIVER = shutil.which('chromium') or '/usr/bin/chromium', shutil.which('chromedriver') or '/usr/bin/chromedriver'

def need_browser():
    "Skip unless Debian's chromium and chromium-driver are installed; fail instead where SMALLFAST_REQUIRE_BROWSER is set (CI)"
    if Path(CHROMIUM).exists() and Path(DRIVER).exists(): return
    if os.environ.get('SMALLFAST_REQUIRE_BROWSER'): pytest.fail(f"headless Chromium is required: {CHROMIUM} or {DRIVER} is missing")
    pytest.skip("Debian's chromium and chromium-driver are not installed")

@contextlib.contextmanager
def chromium(width:int=1280, height:int=1400):
    "A headless Chromium driven by selenium, with a fresh profile"
    need_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix='smallfast-chromium-')
    for a in ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run', '--disable-background-networking',
              '--disable-component-update', '--disable-sync', f'--user-data-dir={profile}', f'--window-size={width},{height}']:
        opts.add_argument(a)
    driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
    try: yield driver
    finally: driver.quit(); shutil.rmtree(profile, ignore_errors=True)
