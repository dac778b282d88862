"smallfast-suggest and smallfast-audit as a user meets them: a folder of images and a model file to a ranked CSV and a sheet of thumbnails, bad input refused before any work"
import csv, subprocess, sys
from pathlib import Path
import numpy as np
import pytest
from PIL import Image
from conftest import tree_digest

BIN = Path(sys.executable).parent

def cmd(name, *args, timeout=600):
    return subprocess.run([BIN/name, *map(str, args)], capture_output=True, text=True, timeout=timeout)

def shapes(root, counts:dict, unlabelled:int=0, seed=0):
    "Class folders of 16 px grey images, each class a bright bar in its own place, plus `unlabelled` images of them all in `unlabelled/`"
    rng = np.random.default_rng(seed)
    def img(k):
        a = rng.integers(0, 60, (16, 16)).astype(np.uint8); a[2 + 3 * k: 4 + 3 * k] += 150
        return Image.fromarray(a)
    for k, (c, n) in enumerate(counts.items()):
        (root/c).mkdir(parents=True, exist_ok=True)
        for i in range(n): img(k).save(root/c/f'{i}.png')
    if unlabelled:
        (root/'unlabelled').mkdir()
        for i in range(unlabelled): img(i % len(counts)).save(root/'unlabelled'/f'u{i}.png')
    return root

def rows(fn): return list(csv.DictReader(open(fn)))

@pytest.fixture(scope='module')
def made(tmp_path_factory):
    "(a dataset folder with unlabelled images, a model file trained on it)"
    root = tmp_path_factory.mktemp('active')
    data = shapes(root/'imgs', {'ants': 12, 'bees': 12, 'wasps': 12}, unlabelled=40)
    r = cmd('smallfast-train', '--data', data, '--technique', 'augment', '--epochs', '3', '--device', 'cpu', '--out', root/'m.safetensors')
    assert r.returncode == 0, r.stderr
    return data, root/'m.safetensors'

def test_suggest_writes_a_ranked_csv_and_a_sheet(made, tmp_path):
    data, model = made
    (data/'unlabelled'/'notes.png').write_text('not an image')
    try:
        before = tree_digest(data)
        r = cmd('smallfast-suggest', model, data, '--n', '10', '--out', tmp_path/'to-label.csv', '--sheet', tmp_path/'to-label.png')
        assert r.returncode == 0, r.stderr
        got = rows(tmp_path/'to-label.csv')
        assert list(got[0]) == ['path', 'score', 'guess', 'probability'] and len(got) == 10
        assert all(Path(x['path']).parent == data/'unlabelled' and x['guess'] in ('ants', 'bees', 'wasps') for x in got)
        scores = [float(x['score']) for x in got]
        assert scores == sorted(scores, reverse=True) and len({x['path'] for x in got}) == 10
        assert 'notes.png' in r.stderr and '10 of 40 images suggested' in r.stderr, r.stderr
        assert (tmp_path/'to-label.png').stat().st_size > 5_000
        assert tree_digest(data) == before  # the images are read, never touched
    finally: (data/'unlabelled'/'notes.png').unlink()

def test_suggest_to_stdout_every_strategy_and_a_pool_smaller_than_n(made):
    data, model = made
    for strategy in ('margin', 'entropy', 'least-confident', 'random'):
        r = cmd('smallfast-suggest', model, data/'unlabelled', '--n', '5', '--strategy', strategy, '--no-diverse')
        assert r.returncode == 0 and len(r.stdout.strip().splitlines()) == 6, (strategy, r.stderr)
    r = cmd('smallfast-suggest', model, data/'unlabelled', '--n', '500')
    assert r.returncode == 0 and len(r.stdout.strip().splitlines()) == 41 and 'n=500 but the pool holds 40 images' in r.stderr, r.stderr

def test_suggest_refuses_bad_input_before_any_work(made, tmp_path):
    data, model = made
    other = shapes(tmp_path/'other', {'cats': 2, 'dogs': 2}, unlabelled=2)
    (tmp_path/'taken.csv').write_text('keep me')
    (tmp_path/'empty').mkdir()
    for args, code, said in [((model, data, '--n', '0'), 2, '--n=0 is out of range'),
                             ((model, data, '--strategy', 'bald'), 2, "--strategy='bald': choose from margin"),
                             ((model, data, '--seed', '-1'), 2, '--seed=-1 is out of range'),
                             ((model, other), 2, "its classes ['cats', 'dogs'] are not the model's ['ants', 'bees', 'wasps']"),
                             ((model, data, '--out', tmp_path/'taken.csv'), 2, 'exists: give --force'),
                             ((model, data, '--out', tmp_path/'a.csv', '--sheet', tmp_path/'a.csv'), 2, '--out and --sheet are both'),
                             ((tmp_path/'nothing.safetensors', data), 2, 'model file not found'),
                             ((model, tmp_path/'empty'), 1, 'no image files in')]:
        r = cmd('smallfast-suggest', *args)
        assert r.returncode == code and said in r.stderr and 'Traceback' not in r.stderr, (args, r.stderr)
    assert (tmp_path/'taken.csv').read_text() == 'keep me' and not (tmp_path/'a.csv').exists()

def test_audit_finds_moved_labels_in_a_folder(tmp_path):
    data = shapes(tmp_path/'imgs', {'ants': 15, 'bees': 15, 'wasps': 15})
    for i, (src, dst) in enumerate([('ants', 'bees'), ('bees', 'wasps'), ('wasps', 'ants')]):  # three labels moved on purpose
        (data/src/f'{i}.png').rename(data/dst/f'moved{i}.png')
    r = cmd('smallfast-audit', '--data', data, '--technique', 'baseline', '--epochs', '10', '--folds', '3', '--device', 'cpu',
            '--out', tmp_path/'suspects.csv', '--sheet', tmp_path/'suspects.png')
    assert r.returncode == 0, r.stderr
    got = rows(tmp_path/'suspects.csv')
    assert got and list(got[0]) == ['path', 'label', 'suggested', 'probability', 'label_probability']
    flagged = {Path(x['path']).name for x in got}
    assert {'moved0.png', 'moved1.png', 'moved2.png'} <= flagged and len(flagged) <= 6, flagged  # the moved ones, and few others
    assert all(x['suggested'] != x['label'] for x in got)
    assert (tmp_path/'suspects.png').stat().st_size > 5_000 and 'labels look wrong' in r.stderr

def test_audit_refuses_bad_input_before_any_work(tmp_path):
    data = shapes(tmp_path/'imgs', {'ants': 6, 'bees': 6, 'wasps': 1})
    for args, said in [(('--folds', '1'), '--folds=1 is out of range'),
                       (('--folds', '3'), "--folds=3: 1 class(es) have fewer labelled images than that (class 'wasps' has 1)"),
                       (('--technique', 'svm'), '--technique svm is a classic method'),
                       (('--technique', 'semi'), 'audit trains on labelled images alone'),
                       (('--technique', 'baseline,augment'), 'give one technique'),
                       (('--seed', '-1'), '--seed=-1 is out of range')]:
        r = cmd('smallfast-audit', '--data', data, '--out', tmp_path/'s.csv', *args)
        assert r.returncode == 2 and said in r.stderr and 'Traceback' not in r.stderr, (args, r.stderr)
    r = cmd('smallfast-audit', '--out', tmp_path/'s.csv')
    assert r.returncode == 2 and '--data is required' in r.stderr
    assert not (tmp_path/'s.csv').exists()
