"Files and trust, as a hostile or unlucky user meets them: outputs that never clobber, results that know their data, folders read one way, CSV that keeps its rows, one-line interrupts"
import csv, io, json, os, shutil, signal, subprocess, sys, time, warnings
from pathlib import Path
import numpy as np
import pytest
from PIL import Image
from smallfast.data import image_folder

BIN = Path(sys.executable).parent

def cmd(name, *args, timeout=600, **kw):
    return subprocess.run([BIN/name, *map(str, args)], capture_output=True, text=True, timeout=timeout, **kw)

def classes(root, counts:dict, size=12, seed=0):
    "One folder per class of small grey images, each class its own brightness"
    rng = np.random.default_rng(seed)
    for k, (c, n) in enumerate(counts.items()):
        (root/c).mkdir(parents=True, exist_ok=True)
        for i in range(n): Image.fromarray((rng.integers(0, 60, (size, size)) + 120 * k).astype(np.uint8)).save(root/c/f'{i}.png')
    return root

@pytest.fixture(scope='module')
def baseline(tmp_path_factory):
    "A small CNN without augmentation, and its folder of images"
    root = tmp_path_factory.mktemp('baseline')
    data = classes(root/'imgs', {'dark': 6, 'light': 6})
    r = cmd('smallfast-train', '--data', data, '--technique', 'baseline', '--epochs', '1', '--device', 'cpu', '--out', root/'m.safetensors')
    assert r.returncode == 0, r.stderr
    return root/'m.safetensors', data

# 1. --force never replaces what is not a regular file
@pytest.mark.parametrize('kind', ['fifo', 'link'])
def test_predict_out_refuses_a_fifo_or_link_even_with_force(baseline, tmp_path, kind):
    fn, data = baseline
    out = tmp_path/'p.csv'
    (tmp_path/'target.csv').write_text('kept')
    os.mkfifo(out) if kind == 'fifo' else out.symlink_to(tmp_path/'target.csv')
    r = cmd('smallfast-predict', fn, data, '--out', out, '--force', timeout=120)
    assert r.returncode == 2 and f'{out} is not a regular file' in r.stderr and 'Traceback' not in r.stderr, r.stderr
    assert (out.is_fifo() if kind == 'fifo' else out.is_symlink()) and (tmp_path/'target.csv').read_text() == 'kept'

# 3. --export is checked against the grid's own files before the grid starts
@pytest.mark.parametrize('export, message', [('out', 'is the --out folder'), ('out/results.json', 'is a file the grid writes into --out')])
def test_export_may_not_be_the_grids_folder_or_files(tmp_path, export, message):
    data = classes(tmp_path/'imgs', {'a': 6, 'b': 6})
    r = cmd('smallfast-bench', '--data', data, '--shots', '2', '--seeds', '1', '--techniques', 'baseline', '--valid', '2',
            '--out', tmp_path/'out', '--export', tmp_path/export, timeout=120)
    assert r.returncode == 2 and message in r.stderr and 'runs:' not in r.stdout, r.stderr
    assert not (tmp_path/'out').exists()

# 4. a results folder knows the data of its runs
def test_another_dataset_with_the_same_name_reuses_no_run(tmp_path):
    one, two = classes(tmp_path/'one'/'imgs', {'a': 6, 'b': 6}), classes(tmp_path/'two'/'imgs', {'a': 6, 'b': 6}, seed=1)
    args = ['--shots', '2', '--seeds', '1', '--techniques', 'logreg', '--out', tmp_path/'out']
    assert cmd('smallfast-bench', '--data', one, *args, timeout=120).returncode == 0
    r = cmd('smallfast-bench', '--data', two, *args, timeout=120)
    assert r.returncode == 0 and 'already in' not in r.stdout and "1 run(s) in" in r.stdout and "other data also named 'imgs'" in r.stdout, r.stdout
    records = json.loads((tmp_path/'out'/'results.json').read_text())
    assert len(records) == 2 and len({r['data_hash'] for r in records}) == 2
    r = cmd('smallfast-bench', '--data', two, *args, timeout=120)
    assert '1 of 1 runs already in' in r.stdout, r.stdout
    assert sorted(p.name for p in (tmp_path/'out').iterdir() if p.name.startswith('.')) == []  # 10: no lock file left behind

# 5. class folders are read at any depth, as prediction reads folders
def test_images_in_subfolders_of_a_class_folder_are_read(tmp_path):
    root = classes(tmp_path/'imgs', {'a': 4, 'b': 4})
    (root/'a'/'2024'/'june').mkdir(parents=True)
    for i in range(12): Image.new('L', (12, 12), i).save(root/'a'/'2024'/'june'/f'{i}.png')
    d = image_folder(root)
    assert len(d.x_train) + len(d.x_test) == 4 + 12 + 4

# 6. two writers of one new file: one writes it, the other says so
def test_two_trainings_to_one_new_out_do_not_both_write_it(tmp_path):
    data = classes(tmp_path/'imgs', {'a': 6, 'b': 6})
    args = ['--data', data, '--technique', 'baseline', '--device', 'cpu', '--out', tmp_path/'m.safetensors']
    first = subprocess.Popen([BIN/'smallfast-train', *map(str, args), '--epochs', '1'], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    second = subprocess.Popen([BIN/'smallfast-train', *map(str, args), '--epochs', '60'], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    (out1, err1), (out2, err2) = first.communicate(timeout=300), second.communicate(timeout=300)
    assert first.returncode == 0 and 'wrote' in out1, err1
    # the second finds the file either when it checks --out, before training (exit 2), or when it writes its own (exit 1): never over it
    assert 'wrote' not in out2 and ((second.returncode == 1 and 'exists: it is left as it is' in err2) or (second.returncode == 2 and 'exists: give --force' in err2)), (out2, err2)
    from smallfast.run import load_model
    assert load_model(tmp_path/'m.safetensors').run_config.epochs == 1  # the first one's model, whole

# 7. a line break in a file name stays in its CSV field
def test_a_carriage_return_in_a_file_name_keeps_one_row(baseline, tmp_path):
    fn, data = baseline
    (tmp_path/'new').mkdir()
    for name in ('odd\rname.png', 'comma, "quoted".png', 'plain.png'): Image.new('L', (12, 12), 200).save(tmp_path/'new'/name, format='PNG')
    r = cmd('smallfast-predict', fn, tmp_path/'new', '--out', tmp_path/'p.csv', timeout=120)
    assert r.returncode == 0, r.stderr
    with open(tmp_path/'p.csv', newline='') as f: rows = list(csv.DictReader(f))
    assert sorted(Path(row['path']).name for row in rows) == sorted(['odd\rname.png', 'comma, "quoted".png', 'plain.png'])

# 8. a class too small to score is named
def test_a_class_with_one_image_is_named_as_never_scored(tmp_path):
    root = classes(tmp_path/'imgs', {'a': 5, 'b': 5, 'c': 1})
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter('always'); d = image_folder(root)
    assert any("class(es) ['c'] have a single image" in str(x.message) for x in w), [str(x.message) for x in w]
    assert d.counts('test')['c'] == 0

# 9. Ctrl-C is one line and exit status 130 in every command
@pytest.mark.parametrize('command', ['smallfast-predict', 'smallfast-demo'])
def test_ctrl_c_is_one_line(baseline, command):
    fn, data = baseline
    many = data.parent/'many'
    if not many.exists():  # enough images, one a batch, that predicting them takes a while
        many.mkdir(); one = next(data.rglob('*.png'))
        for i in range(2000): shutil.copy(one, many/f'{i}.png')
    args = [fn, many, '--bs', '1'] if command == 'smallfast-predict' else ['--epochs', '1000']
    p = subprocess.Popen([BIN/command, *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _at_work(p, many) if command == 'smallfast-predict' else p.stdout.readline()  # demo prints its data, then trains: the signal comes once the command works, not while Python starts
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 130 and 'Traceback' not in err and len(err.strip().splitlines()) == 1 and 'interrupted' in err, err

def _at_work(p, folder, timeout:float=120):
    "Wait until process `p` holds `folder` or a file in it open: it is reading the images, past starting Python and loading the model"
    end, fds = time.monotonic() + timeout, Path(f'/proc/{p.pid}/fd')
    while time.monotonic() < end and p.poll() is None:
        for fd in fds.glob('*'):
            try:
                if os.readlink(fd).startswith(str(folder.resolve())): return
            except OSError: pass  # closed while listed
        time.sleep(0.005)
    raise AssertionError(f"{p.args[0]} never opened {folder}")

# 10. tiny images, test-time passes that change nothing, extension-less images, warnings, lock files
def test_images_under_8_pixels_are_warned_of(tmp_path):
    root = classes(tmp_path/'imgs', {'a': 4, 'b': 4}, size=1)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter('always'); image_folder(root)
    assert any('read at 1x1 px' in str(x.message) and 'under 8 px' in str(x.message) for x in w)

def test_tta_on_a_model_without_augmentation_is_refused(baseline):
    fn, data = baseline
    r = cmd('smallfast-predict', fn, data, '--tta', '3', timeout=120)
    assert r.returncode == 2 and '--tta 3: the model was trained without augmentation' in r.stderr, r.stderr

def test_an_image_without_an_extension_is_read_by_training_and_prediction(baseline, tmp_path):
    fn, data = baseline
    (tmp_path/'new').mkdir(); Image.new('L', (12, 12), 200).save(tmp_path/'new'/'scan', format='PNG')
    r = cmd('smallfast-predict', fn, tmp_path/'new', timeout=120)
    assert r.returncode == 0 and len(r.stdout.splitlines()) == 2 and 'scan' in r.stdout, r.stderr

def test_warnings_are_one_line_without_pythons_source(tmp_path):
    root = tmp_path/'imgs'
    classes(root/'train', {'a': 6, 'b': 6})
    r = cmd('smallfast-train', '--data', root, '--technique', 'baseline', '--epochs', '1', '--device', 'cpu', '--out', tmp_path/'m.safetensors', timeout=300)
    assert r.returncode == 0, r.stderr
    assert 'smallfast-train: warning: ' in r.stderr and 'has train/ but no test/' in r.stderr and 'UserWarning' not in r.stderr and '.py:' not in r.stderr, r.stderr
