"""The docs site, built offline from the notebooks and checked in a real browser (headless Chromium).

Needs Debian's chromium and chromium-driver; without them the tests are skipped, unless
SMALLFAST_REQUIRE_BROWSER=1 (set by .ci/run), which makes a missing browser a failure."""
import functools, http.server, os, re, shutil, socket, subprocess, sys, tempfile, threading, time
from pathlib import Path
from urllib.parse import urldefrag, urlparse
from urllib.request import urlopen
import pytest
from conftest import SHOTS, chromium

root = Path(__file__).resolve().parent.parent
DOCS = root/'docs'

class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args): pass

@pytest.fixture(scope='module')
def site():
    "Build the site, serve docs/ on localhost, yield its base URL"
    r = subprocess.run([sys.executable, root/'tools'/'build_docs.py'], capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout + r.stderr
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); port = s.getsockname()[1]
    handler = functools.partial(QuietHandler, directory=str(DOCS))
    server = http.server.ThreadingHTTPServer(('127.0.0.1', port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f'http://127.0.0.1:{port}/'
    server.shutdown()

@pytest.fixture(scope='module')
def browser(site):
    with chromium() as driver: yield driver

def pages(): return sorted(p.relative_to(DOCS).as_posix() for p in DOCS.rglob('*.html') if not p.relative_to(DOCS).parts[0].startswith('_'))

def content_pages(): return [p for p in pages() if p not in ('genindex.html', 'search.html')]

def test_every_page_answers_200(site):
    assert {'index.html', 'tutorials/playbook.html', 'data.html', 'transfer.html', 'augment.html', 'vae.html', 'semi.html', 'run.html', 'grid.html', 'report.html', 'cli.html', 'studies/image_size.html', 'studies/semi_supervised.html', 'tutorials/with_fastai_dataloaders.html'} <= set(pages())
    for p in pages(): assert urlopen(site + p).status == 200, p

def test_site_serves_as_built_and_names_itself(site):
    "GitHub Pages serves it as built; every page links the repository and says the version; the footer names the project; no empty general index"
    from smallfast import __version__
    assert (DOCS/'.nojekyll').exists()
    for p in content_pages():
        html = (DOCS/p).read_text()
        assert 'https://github.com/smallfast/smallfast' in html and f'version {__version__}' in html, p
        assert 'the smallfast developers' in html and 'genindex.html' not in html, p
    assert not (DOCS/'genindex.html').exists() or 'genindex.html' not in pages()

def test_source_links_sit_under_their_headings(site):
    html = (DOCS/'data.html').read_text()
    heading = html.index('id="subsample"')
    source, next_heading = html.index('>source</a>', heading), html.index('<section id=', heading + 1)
    assert source < next_heading  # under the heading it belongs to, not above the next one

def _api_headings(page) -> list:
    "The names `show_doc` headed on a built page, in order"
    return re.findall(r'<h[34]>([\w.]+)<a class="headerlink"', (DOCS/page).read_text())

def test_each_api_name_once_its_class_first(site):
    "nbdev documents a `@patch` method after its cell even when a `show_doc` already does: each name is shown once, a class before its methods"
    for p in content_pages():
        names = _api_headings(p)
        assert len(names) == len(set(names)), (p, sorted(n for n in set(names) if names.count(n) > 1))
    vae = _api_headings('vae.html')
    assert vae.index('ConvCVAE') < vae.index('ConvCVAE.encode') and vae.index('VAECallback') < vae.index('VAECallback.before_fit'), vae
    assert 'sample' not in vae and 'ConvCVAE.sample' in vae

def test_one_table_style(site, browser):
    "pandas' tables in stored outputs drawn like the Markdown ones: collapsed single borders, not the double ones of border=1"
    browser.get(site + 'tutorials/playbook.html')
    styles = browser.execute_script("""return ['table.dataframe', 'table.docutils'].map(s => { const t = document.querySelector(s), c = getComputedStyle(t);
        return [c.borderCollapse, getComputedStyle(t.querySelector('td')).borderBottomWidth]; });""")
    assert styles[0] == styles[1] == ['collapse', '1px'], styles

PHONE = 390  # px: the width of a common phone's screen

def test_wide_tables_scroll_in_their_own_box_on_a_phone(site, browser):
    "At a phone's width every table wider than the screen sits in a box of its own that scrolls sideways (furo's for Markdown tables, ours for cell outputs); the page itself never does"
    browser.execute_cdp_cmd('Emulation.setDeviceMetricsOverride', dict(width=PHONE, height=844, deviceScaleFactor=2, mobile=True))
    try:
        wide = 0
        for p in ['tutorials/playbook.html', 'cli.html', 'run.html', 'active.html', 'tutorials/with_fastai_dataloaders.html', 'studies/grid_cost.html']:
            browser.get(site + p)
            w, page_w, tables = browser.execute_script("""const w = document.documentElement.clientWidth, out = [];
                for (const t of document.querySelectorAll('table')) {
                    if (t.getBoundingClientRect().width <= w) continue;
                    let a = t.parentElement; while (a && !['auto', 'scroll'].includes(getComputedStyle(a).overflowX)) a = a.parentElement;
                    out.push(a ? a.className : 'none');
                }
                return [w, document.documentElement.scrollWidth, out];""")
            assert w == PHONE and page_w <= PHONE, (p, w, page_w)
            assert all('table-wrapper' in c or 'cell_output' in c for c in tables), (p, tables)
            wide += len(tables)
        assert wide >= 5  # the check saw tables wider than a phone
    finally: browser.execute_cdp_cmd('Emulation.clearDeviceMetricsOverride', {})

def test_the_bench_page_shows_what_the_command_writes(site):
    "The cli page shows the report of a full run: its plots, not only the code that draws them"
    html = (DOCS/'cli.html').read_text()
    assert html.count('<img') >= 2 and 'At 10/class the best on the test images is' in html

def test_every_study_page_has_a_plot(site):
    "A study's result is a plot as well as a table: each study page shows at least one picture drawn from its records"
    studies = [p for p in pages() if p.startswith('studies/')]
    assert len(studies) >= 11
    for p in studies: assert '<img' in (DOCS/p).read_text(), p

def test_the_explorers_show_as_pictures(site):
    "A saved explorer cannot run on a page: the page shows its pictures drawn in advance with sliders, and no widget text"
    for page, code in (('augment.html', 'explorer = aug_explorer(raw, n=6, frames=2)'), ('vae.html', 'explorer = vae_explorer(vae, frames=5)')):
        html = (DOCS/page).read_text()
        cell, = [c for c in html.split('class="cell docutils container"') if code in re.sub(r'<[^>]+>', '', c)]
        assert '<img' in cell and 'class="smallfast-frames"' in cell and cell.count('type="range"') >= 5, page
        assert 'Box(children=' not in html, page

FLIPBOOK = """const box = document.querySelector('.smallfast-frames'), img = box.querySelector('img'), inputs = box.querySelectorAll('input');
return [img.src.length, img.src.slice(-40), Array.from(inputs).map(i => [i.value, i.nextElementSibling.textContent])];"""
MOVE = "const input = document.querySelectorAll('.smallfast-frames input')[arguments[0]]; input.value = arguments[1]; input.dispatchEvent(new Event('input'));"

@pytest.mark.parametrize('page', ['augment.html', 'vae.html'])
def test_an_explorer_moves_on_the_page(site, browser, page):
    "On the site, moving an explorer's slider swaps its picture and its readout, and puts any other moved slider back"
    browser.get(site + page)
    browser.execute_script("document.querySelector('.smallfast-frames').scrollIntoView({block: 'center'})"); time.sleep(1)  # its picture laid out
    SHOTS.mkdir(parents=True, exist_ok=True); browser.save_screenshot(str(SHOTS/f'site-{page[:-5]}-explorer-start.png'))
    _, start, controls = browser.execute_script(FLIPBOOK)
    browser.execute_script(MOVE, 0, 0 if controls[0][0] != '0' else 1)
    browser.save_screenshot(str(SHOTS/f'site-{page[:-5]}-explorer-moved.png'))
    _, moved, after = browser.execute_script(FLIPBOOK)
    assert moved != start and after[0] != controls[0] and after[1:] == controls[1:], (controls, after)
    browser.execute_script(MOVE, 1, 0 if controls[1][0] != '0' else 1)
    _, again, last = browser.execute_script(FLIPBOOK)
    assert again not in (start, moved) and last[0] == controls[0], (controls, last)  # one control at a time: the first went back
    browser.execute_script(MOVE, 1, controls[1][0])
    assert browser.execute_script(FLIPBOOK)[1] == start  # every control at its own value: the first picture

def test_checks_fold_under_a_tests_toggle(site, browser):
    "A cell that only checks (test_eq, test_fail, assert) is folded under 'Tests'; the lesson's examples stay open; a reader unfolds the checks"
    html = (DOCS/'core.html').read_text()
    folded = html.split('<details class="admonition hide above-input">')[1:]
    assert len(folded) >= 5 and all('>Tests<' in f[:400] for f in folded)
    text = re.sub(r'<[^>]+>', '', folded[0][:folded[0].index('</details>')])
    assert 'test_eq' in text or 'test_fail' in text, text
    open_text = re.sub(r'<[^>]+>', '', re.sub(r'<details class="admonition hide.*?</details>', '', html, flags=re.S))
    assert 'list(TECHNIQUES)' in open_text and "['baseline'" in open_text  # an example and its output stay in view
    from selenium.webdriver.common.by import By
    browser.get(site + 'core.html')
    summary = browser.find_element(By.CSS_SELECTOR, 'details.hide summary')
    code = browser.find_element(By.CSS_SELECTOR, 'details.hide div.cell_input')
    assert not code.is_displayed()
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", summary); summary.click()
    from selenium.webdriver.support.ui import WebDriverWait
    WebDriverWait(browser, 5).until(lambda d: code.is_displayed())
    assert 'test_' in code.text

def test_only_checks_tells_a_check_from_a_lesson():
    sys.path.insert(0, str(root/'tools'))
    from build_docs import only_checks
    for src in ("test_eq(f(1), 2)\nassert g()", "for bad in (0, -1): test_fail(lambda: f(bad), contains='bad')",
                "try: f(0)\nexcept ValueError as e: test_eq(str(e), 'no')", "#| hide\ntest_close(x, 1)"):
        assert only_checks(src), src
    for src in ("x = f(1)\ntest_eq(x, 2)", "f(1)", "show_doc(f)", "", "def test_x(): pass", "try: f(0)\nexcept ValueError: pass"):
        assert not only_checks(src), src

def test_parameters_in_a_table_under_a_clean_signature(site):
    "An API entry as docs.fast.ai draws it: a signature without comments that fits the page, then a table of types, defaults and details"
    html = (DOCS/'grid.html').read_text()
    entry = html[html.index('id="run-grid"'):]
    entry = entry[:entry.index('<hr')] if '<hr' in entry else entry
    code = re.sub(r'<[^>]+>', '', entry[entry.index('<pre>'):entry.index('</pre>')])
    assert '#' not in code and 'smallfast.data.' not in code and '__main__' not in code, code
    assert max(map(len, code.splitlines())) <= 100, code
    assert '<table' in entry and 'Details' in entry and 'Hold out this many training images per class' in entry

def test_parameter_types_link_to_their_entries(site):
    "A parameter of one of smallfast's types links to that type's entry, on its own page"
    html = (DOCS/'run.html').read_text()
    entry = html[html.index('id="train"'):]
    table = entry[entry.index('<table'):entry.index('</table>')]
    assert '<a class="reference internal" href="core.html#runconfig">' in table and '<a class="reference internal" href="data.html#smalldata">' in table, table

def test_stored_show_doc_outputs_read_in_jupyterlab():
    "JupyterLab's markdown knows no Quarto attributes: no stored show_doc output carries one"
    import json
    found = [f"{p.relative_to(root)}: {c['source'][0] if c['source'] else ''}" for p in sorted((root/'nbs').rglob('*.ipynb')) for c in json.loads(p.read_text())['cells']
             if c['cell_type'] == 'code' and any('{target=' in ''.join(o.get('data', {}).get('text/markdown', '')) for o in c.get('outputs', []))]
    assert not found, found

def test_stored_outputs_carry_no_noise():
    "What a reader sees under a cell is its result: no console progress bar, no empty-generator warning, no NaN or markdown bold inside an HTML table, no path of the machine that ran it, no warning nobody asked for, no numpy scalar repr"
    import json
    noise = ('Your generator is empty', '\u2588', '<td>NaN</td>', '<td>**', '/tmp/', '/home/', '/root/', 'site-packages', str(root), 'UserWarning', 'np.float64(')
    found = [f"{p.relative_to(root)} {c.get('id')}: {n!r}" for p in sorted((root/'nbs').rglob('*.ipynb')) for c in json.loads(p.read_text())['cells']
             for o in c.get('outputs', []) for n in noise if n in json.dumps(o, ensure_ascii=False)]
    assert not found, found

def test_stored_source_links_point_at_their_definitions():
    "A stored show_doc's source link names the line where its name is defined, so a change above it means the outputs are drawn again"
    import json
    link = re.compile(r'^#+ (\S+)\s*\n\s*\[source\]\(https://github\.com/[^/]+/[^/]+/blob/[^/]+/(smallfast/\S+?\.py)#L(\d+)\)', re.M)
    found = [m.groups() for p in sorted((root/'nbs').rglob('*.ipynb')) for c in json.loads(p.read_text())['cells'] for o in c.get('outputs', [])
             if (m := link.search(''.join(o.get('data', {}).get('text/markdown', ''))))]
    assert len(found) > 50
    wrong = [f"{name}: {fn}#L{n} reads {line!r}" for name, fn, n in found
             if name.split('.')[-1] not in (line := ((root/fn).read_text().splitlines() + [''])[int(n) - 1])]
    assert not wrong, f"draw them again (python tools/redraw_show_doc.py NOTEBOOK, then nbdev-clean): {wrong}"

def test_code_a_reader_copies_has_no_test_switch():
    "A cell the site shows runs the full version: shrinking under nbdev-test (`IN_TEST`) happens in hidden cells only"
    import json
    hidden = re.compile(r'#\|\s*(hide|echo:\s*false)')
    found = [f"{p.relative_to(root)} {c.get('id')}" for p in sorted((root/'nbs').rglob('*.ipynb')) for c in json.loads(p.read_text())['cells']
             if c['cell_type'] == 'code' and 'IN_TEST' in ''.join(c['source']) and not hidden.match(''.join(c['source']))]
    assert not found, found

def _links(browser, url):
    browser.get(url)
    return {a.get_property('href') for a in browser.find_elements('css selector', 'a[href]')}

def test_text_a_reader_copies_is_typed_as_written(site):
    "Flags and quotes on the site are what a reader types: no en dash for a flag's two hyphens, no curly quotes for straight ones (Sphinx's smart quotes are off)"
    found = [f"{page}: {m.group(0)!r}" for page in content_pages() for m in re.finditer(r'\u2013[a-z][\w-]*|[\u2018\u2019\u201c\u201d]\S{0,20}', (DOCS/page).read_text())]
    assert not found, found[:10]

def test_every_internal_link_resolves(site, browser):
    broken = []
    for p in pages():
        for href in _links(browser, site + p):
            if not href.startswith(site): continue
            target, frag = urldefrag(href)
            try: html = urlopen(target).read().decode()
            except Exception as e: broken.append(f'{p} -> {href} ({e})'); continue
            if frag and f'id="{frag}"' not in html: broken.append(f'{p} -> {href} (no anchor #{frag})')
    assert not broken, '\n'.join(broken)

def test_images_have_loaded(site, browser):
    checked = 0
    for p in content_pages():
        browser.get(site + p)
        imgs = browser.find_elements('css selector', 'article img')
        for img in imgs:
            assert browser.execute_script('return arguments[0].complete && arguments[0].naturalWidth > 0', img), f'{p}: {img.get_attribute("src")}'
        checked += len(imgs)
    assert checked >= 3  # the home page's subset grid, the data and transfer pages' plots

def test_api_page_lists_subsample(site, browser):
    browser.get(site + 'data.html')
    heading = browser.find_element('css selector', '#subsample')
    assert 'subsample' in heading.text
    assert 'n_per_class' in browser.find_element('tag name', 'article').text

def _search(browser, site, term):
    from selenium.webdriver.support.ui import WebDriverWait
    browser.get(f'{site}search.html?q={term}')
    WebDriverWait(browser, 30).until(lambda b: b.find_elements('css selector', '#search-results ul.search li'))
    return [li.text for li in browser.find_elements('css selector', '#search-results ul.search li')]

def test_search_finds_api_names(site, browser):
    assert any('subsample' in r.lower() for r in _search(browser, site, 'subsample'))
    assert any('transfer_learner' in r for r in _search(browser, site, 'transfer_learner'))

def test_search_finds_vae_callback(site, browser):
    pytest.importorskip('smallfast.vae', reason='VAECallback does not exist yet')
    assert any('VAECallback' in r for r in _search(browser, site, 'VAECallback'))

def test_search_finds_fixmatch(site, browser):
    assert any('FixMatch' in r for r in _search(browser, site, 'FixMatch'))

def test_screenshots_for_a_person_to_look_at(site, browser):
    SHOTS.mkdir(parents=True, exist_ok=True)
    tutorials = [p for p in content_pages() if p.startswith('tutorials/')]
    for name, page in ('home', 'index.html'), ('tutorial' if tutorials else 'module', (tutorials or ['data.html'])[0]), ('api', 'grid.html#run-grid'):
        browser.get(site + page)
        if '#' in page: browser.execute_script("document.getElementById(arguments[0]).scrollIntoView({behavior: 'instant'})", page.split('#')[1])
        assert browser.save_screenshot(str(SHOTS/f'{name}.png'))
        assert (SHOTS/f'{name}.png').stat().st_size > 10_000
    print(f'screenshots in {SHOTS}')

def _notebook(folder, cells):
    import nbformat
    folder.mkdir(parents=True, exist_ok=True)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell('# Home\n\n> a page')])
    nbformat.write(nb, folder/'index.ipynb')
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell('# Broken\n\n> a broken page'), *cells])
    nb.metadata = {'kernelspec': {'name': 'python3', 'display_name': 'Python 3', 'language': 'python'}}
    nbformat.write(nb, folder/'00_broken.ipynb')

def _build(tmp_path):
    return subprocess.run([sys.executable, root/'tools'/'build_docs.py', '--nbs', tmp_path/'nbs', '--site', tmp_path/'site', '--out', tmp_path/'out'],
                          capture_output=True, text=True, timeout=600)

def test_a_notebook_that_fails_to_process_is_named_with_its_cell(tmp_path):
    import nbformat
    _notebook(tmp_path/'nbs', [nbformat.v4.new_code_cell('#| export\nimport no_such_module_anywhere'),
                               nbformat.v4.new_code_cell('#| export\ndef f(): "x"')])
    r = _build(tmp_path)
    assert r.returncode != 0
    assert '00_broken.ipynb failed to process' in r.stderr and 'import no_such_module_anywhere' in r.stderr and 'in cell' in r.stderr

def test_a_broken_internal_link_fails_the_build_naming_its_page(tmp_path):
    import nbformat
    _notebook(tmp_path/'nbs', [nbformat.v4.new_markdown_cell('See [the missing part](#no-such-section).')])
    r = _build(tmp_path)
    assert r.returncode != 0, r.stdout + r.stderr
    assert 'broken.ipynb' in r.stderr and 'no-such-section' in r.stderr
