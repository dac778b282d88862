"smallfast-train, smallfast-bench --export and smallfast-predict as a user meets them: a folder of photos to a model file, the file read back in a fresh process, bad input"
import json, signal, subprocess, sys, time, zipfile
from pathlib import Path
import numpy as np
import pytest
from PIL import Image

BIN = Path(sys.executable).parent

def cmd(name, *args, timeout=600):
    return subprocess.run([BIN/name, *map(str, args)], capture_output=True, text=True, timeout=timeout)

def photos(root, counts:dict, seed=0):
    "One folder per class of colour photos of mixed sizes and modes; each class its own tint, so a few epochs learn something"
    rng = np.random.default_rng(seed)
    for k, (c, n) in enumerate(counts.items()):
        (root/c).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            h, w = rng.integers(20, 60, 2)
            a = rng.integers(0, 100, (h, w, 3)).astype(np.uint8); a[..., k % 3] += 120
            Image.fromarray(a).save(root/c/f'{i}.jpg' if i % 2 else root/c/f'{i}.png')
    return root

def odd_images(root):
    "One image of each mode a camera, a scanner or an editor writes, at odd sizes"
    root.mkdir(parents=True, exist_ok=True)
    rgb = Image.fromarray(np.random.default_rng(1).integers(0, 256, (37, 53, 3), dtype=np.uint8))
    rgb.save(root/'rgb.jpg'); rgb.convert('RGBA').save(root/'rgba.png'); rgb.convert('P').save(root/'palette.png')
    rgb.convert('L').save(root/'grey.png'); rgb.convert('LA').save(root/'grey_alpha.png')
    Image.fromarray(np.arange(30 * 41, dtype=np.uint16).reshape(30, 41) * 50).save(root/'16bit.png')
    return sorted(root.iterdir())

FRESH = '''
import sys, warnings
warnings.simplefilter('ignore')
from smallfast.run import load_model
learn = load_model(sys.argv[1], trust=sys.argv[1].endswith('.pkl'))  # smallfast's file, or fastai's pickle made here
with learn.no_bar():  # fastai's bar, in a script
    for fn in sys.argv[2:]: print(learn.predict(fn)[0])
'''

@pytest.fixture(scope='module')
def model(tmp_path_factory):
    "A small CNN trained by smallfast-train on a folder of colour photos, and that folder"
    root = tmp_path_factory.mktemp('train')
    data = photos(root/'photos', {'red': 12, 'green': 12, 'blue': 12})
    r = cmd('smallfast-train', '--data', data, '--technique', 'augment', '--epochs', '3', '--device', 'cpu', '--out', root/'model.safetensors')
    assert r.returncode == 0, r.stderr
    return root/'model.safetensors', data, r.stdout

@pytest.fixture(scope='module')
def pickled(tmp_path_factory):
    "The same training written as fastai's export, a pickle (--format fastai), and its folder of photos"
    root = tmp_path_factory.mktemp('pickled')
    data = photos(root/'photos', {'red': 12, 'green': 12, 'blue': 12})
    r = cmd('smallfast-train', '--data', data, '--technique', 'augment', '--epochs', '3', '--device', 'cpu', '--format', 'fastai', '--out', root/'model.pkl')
    assert r.returncode == 0 and '--trust' in r.stdout, r.stderr
    return root/'model.pkl', data

def test_train_prints_test_accuracy_and_writes_a_small_model(model):
    fn, data, out = model
    assert 'test accuracy:' in out and f'wrote {fn}' in out, out
    assert fn.stat().st_size < 1_000_000  # the network and how to read images: no training images, no optimizer state
    assert not list(fn.parent.glob('.*.part'))

@pytest.mark.parametrize('which', ['model', 'pickled'])
def test_a_model_file_predicts_any_image_in_a_fresh_process(which, request, tmp_path):
    fn = request.getfixturevalue(which)[0]
    files = odd_images(tmp_path/'new')
    r = subprocess.run([sys.executable, '-c', FRESH, fn, *files], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() and set(r.stdout.split()) <= {'red', 'green', 'blue'} and len(r.stdout.split()) == len(files), r.stdout

def test_fastais_load_learner_reads_the_fastai_format(pickled, tmp_path):
    script = 'import sys, warnings; warnings.simplefilter("ignore"); from fastai.learner import load_learner; print(list(load_learner(sys.argv[1]).dls.vocab))'
    r = subprocess.run([sys.executable, '-c', script, pickled[0]], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and "['blue', 'green', 'red']" in r.stdout, r.stderr

def test_opening_a_planted_pickle_runs_nothing_without_trust(tmp_path):
    "A pickle whose payload writes a file: refused before it is unpickled, by load_model and smallfast-predict; with --trust it runs, which is what trusting means"
    marker = tmp_path/'ran'
    payload = f"import pickle, pathlib; open({str(tmp_path/'evil.pkl')!r}, 'wb').write(pickle.dumps(type('P', (), {{'__reduce__': lambda self: (pathlib.Path.touch, (pathlib.Path({str(marker)!r}),))}})()))"
    subprocess.run([sys.executable, '-c', payload], check=True)
    Image.new('RGB', (9, 9)).save(tmp_path/'x.png')
    r = cmd('smallfast-predict', tmp_path/'evil.pkl', tmp_path/'x.png')
    assert r.returncode == 2 and 'is not a smallfast model file' in r.stderr and '--trust' in r.stderr and 'Traceback' not in r.stderr, r.stderr
    r = subprocess.run([sys.executable, '-c', f"from smallfast.run import load_model\ntry: load_model({str(tmp_path/'evil.pkl')!r})\nexcept PermissionError as e: print('refused')"], capture_output=True, text=True, timeout=300)
    assert r.stdout.strip() == 'refused' and not marker.exists(), r.stderr
    r = cmd('smallfast-predict', tmp_path/'evil.pkl', tmp_path/'x.png', '--trust')
    assert r.returncode == 2 and marker.exists() and 'is not a model file of smallfast or fastai' in r.stderr, r.stderr

def test_a_transfer_model_of_grey_images_reads_colour_photos(tmp_path):
    "The reverse too: a model trained on grey images predicts RGB ones (and 16-bit), converted as training converted"
    rng = np.random.default_rng(2)
    for c in 'ab':
        (tmp_path/'grey'/c).mkdir(parents=True)
        for i in range(6): Image.fromarray(rng.integers(0, 256, (16, 16), dtype=np.uint8)).save(tmp_path/'grey'/c/f'{i}.png')
    r = cmd('smallfast-train', '--data', tmp_path/'grey', '--technique', 'transfer', '--epochs', '2', '--size', '32', '--device', 'cpu', '--out', tmp_path/'t.safetensors')
    assert r.returncode == 0, r.stderr
    assert 3e6 < (tmp_path/'t.safetensors').stat().st_size < 30e6  # EfficientNet-Lite0's weights, nothing else of size
    files = odd_images(tmp_path/'new')
    r = subprocess.run([sys.executable, '-c', FRESH, tmp_path/'t.safetensors', *files], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and set(r.stdout.split()) <= {'a', 'b'} and len(r.stdout.split()) == len(files), r.stderr

def test_train_defaults_to_unlabelled_images_where_the_folder_has_enough(tmp_path):
    "With an unlabelled/ folder that fills a batch's draws, the default technique is transfer+semi; with too few images in it, transfer+augment, and the reason is said"
    data = photos(tmp_path/'photos', {'red': 6, 'green': 6})
    (data/'unlabelled').mkdir()
    rng = np.random.default_rng(3)
    for i in range(90): Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(data/'unlabelled'/f'{i}.png')  # a batch of the 10 labelled training images draws 70
    r = cmd('smallfast-train', '--data', data, '--epochs', '2', '--size', '32', '--device', 'cpu', '--out', tmp_path/'semi.safetensors')
    assert r.returncode == 0 and 'training transfer+semi:' in r.stdout and "'warmup': 0.5" in r.stdout, r.stdout + r.stderr
    for f in sorted((data/'unlabelled').iterdir())[10:]: f.unlink()
    r = cmd('smallfast-train', '--data', data, '--epochs', '2', '--size', '32', '--device', 'cpu', '--out', tmp_path/'plain.safetensors')
    assert r.returncode == 0 and 'training transfer+augment:' in r.stdout, r.stdout + r.stderr
    assert 'transfer+semi left out of the default: pool=10: fewer unlabelled images than one batch draws' in r.stderr, r.stderr

@pytest.mark.parametrize('args, message', [
    (['--technique', 'mixup'], "unknown technique(s) ['mixup']"),
    (['--technique', 'svm'], '--technique svm is a classic method on raw pixels, not a fastai model'),
    (['--technique', 'baseline,augment'], 'give one technique'),
    (['--technique', 'semi'], '--technique semi learns from unlabelled images and'),
    (['--technique', 'semi', '--shots', '1'], 'pool=2: fewer unlabelled images than one batch draws (mu=7 per labelled image x a batch of 2 = 14)'),
    (['--epochs', '0'], '--epochs=0: give a number of epochs'),
    (['--out', '/nonexistent/folder/model.safetensors'], '--out: folder /nonexistent/folder does not exist'),
    (['--out', '/proc/model.safetensors'], '--out: cannot write into /proc'),
    (['--out', '/tmp'], '--out: /tmp is a folder'),
    (['--shots', '100'], "class 'a' has"),
    (['--out', 'model.pkl'], 'model.pkl is named as a pickle, and --format safetensors writes none'),
    (['--format', 'onnx'], "--format='onnx': choose safetensors")])
def test_train_refuses_bad_input_before_training(tmp_path, args, message):
    for c in 'ab': (tmp_path/'imgs'/c).mkdir(parents=True)
    for c in 'ab':
        for i in range(3): Image.new('L', (8, 8), i * 40).save(tmp_path/'imgs'/c/f'{i}.png')
    r = cmd('smallfast-train', '--data', tmp_path/'imgs', '--out', tmp_path/'model.safetensors', *args)
    assert r.returncode == 2 and message in r.stderr and 'Traceback' not in r.stderr, r.stderr
    assert not (tmp_path/'model.safetensors').exists()

def test_train_refuses_to_replace_what_is_not_a_regular_file_before_training(tmp_path):
    "A link or a device where the model would go: refused with --force too, before any training, and left as it was"
    for c in 'ab': (tmp_path/'imgs'/c).mkdir(parents=True)
    for c in 'ab':
        for i in range(3): Image.new('L', (8, 8), i * 40).save(tmp_path/'imgs'/c/f'{i}.png')
    (tmp_path/'target.safetensors').write_text('kept'); (tmp_path/'link.safetensors').symlink_to(tmp_path/'target.safetensors')
    for out in (tmp_path/'link.safetensors', Path('/dev/null')):
        r = cmd('smallfast-train', '--data', tmp_path/'imgs', '--technique', 'baseline', '--epochs', '1', '--out', out, '--force')
        assert r.returncode == 2 and f'--out: {out} is not a regular file' in r.stderr and 'trained' not in r.stdout and 'Traceback' not in r.stderr, r.stderr
    assert (tmp_path/'link.safetensors').is_symlink() and (tmp_path/'target.safetensors').read_text() == 'kept'

def test_train_needs_data_one_class_is_refused_and_a_model_is_replaced_only_with_force(tmp_path):
    r = cmd('smallfast-train', '--out', tmp_path/'m.safetensors')
    assert r.returncode == 2 and '--data is required' in r.stderr
    (tmp_path/'one'/'cats').mkdir(parents=True)
    Image.new('L', (8, 8)).save(tmp_path/'one'/'cats'/'0.png')
    r = cmd('smallfast-train', '--data', tmp_path/'one', '--out', tmp_path/'m.safetensors')
    assert r.returncode == 2 and "single class ('cats')" in r.stderr
    (tmp_path/'m.safetensors').write_text('keep me')
    args = ['--data', 'digits', '--shots', '2', '--technique', 'baseline', '--epochs', '1', '--device', 'cpu', '--out', tmp_path/'m.safetensors']
    r = cmd('smallfast-train', *args)
    assert r.returncode == 2 and 'exists: give --force' in r.stderr and (tmp_path/'m.safetensors').read_text() == 'keep me'
    r = cmd('smallfast-train', *args, '--force')
    assert r.returncode == 0 and 'test accuracy:' in r.stdout and (tmp_path/'m.safetensors').read_bytes()[8:9] == b'{', r.stderr  # a safetensors header

def test_sigterm_while_training_writes_nothing(tmp_path):
    args = ['--data', 'digits', '--technique', 'baseline', '--epochs', '500', '--device', 'cpu', '--out', tmp_path/'m.safetensors']  # minutes: far more than runs before the signal
    p = subprocess.Popen([BIN/'smallfast-train', *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert p.stdout.readline().startswith('digits:') and p.stdout.readline().startswith('training baseline')
    time.sleep(2)
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 130 and 'nothing written' in err, (p.returncode, err)
    assert not list(tmp_path.iterdir())

def test_predict_writes_one_row_per_image_and_names_the_unreadable(model, tmp_path):
    fn, data, _ = model
    files = odd_images(tmp_path/'new'/'deeper')
    (tmp_path/'new'/'broken.jpg').write_bytes(b'not a jpeg')
    (tmp_path/'new'/'notes.txt').write_text('not an image: named as one that could not be read, as training names it')
    (tmp_path/'new'/'loop').symlink_to(tmp_path/'new', target_is_directory=True)  # followed, this would never end
    r = cmd('smallfast-predict', fn, tmp_path/'new', data/'red'/'0.png', '--top', '2', '--out', tmp_path/'p.csv')
    assert r.returncode == 0, r.stderr
    skipped = [l for l in r.stderr.splitlines() if 'skipped' in l]
    assert len(skipped) == 2 and 'broken.jpg' in r.stderr and 'notes.txt' in r.stderr, r.stderr
    import pandas as pd
    df = pd.read_csv(tmp_path/'p.csv')
    assert list(df.columns) == ['path', 'prediction', 'probability', 'top1', 'top1_probability', 'top2', 'top2_probability']
    assert len(df) == len(files) + 1 and set(df.prediction) <= {'red', 'green', 'blue'}
    assert ((df.probability > 0) & (df.probability <= 1) & (df.probability >= df.top2_probability)).all()
    r = cmd('smallfast-predict', fn, tmp_path/'new', '--out', tmp_path/'p.csv')
    assert r.returncode == 2 and 'exists: give --force' in r.stderr

def test_predict_to_stdout_and_with_test_time_passes(model):
    fn, data, _ = model
    r = cmd('smallfast-predict', fn, data/'green', '--tta', '2', '--top', '9')
    assert r.returncode == 0 and r.stdout.startswith('"path","prediction","probability","top1",'), r.stderr
    assert len(r.stdout.splitlines()) == 13 and 'images/s' in r.stderr
    assert r.stdout.splitlines()[0].count('_probability') == 3  # --top beyond the classes: all of them

def test_predict_exits_nonzero_only_when_nothing_is_predicted(model, tmp_path):
    fn, data, _ = model
    (tmp_path/'empty').mkdir()
    r = cmd('smallfast-predict', fn, tmp_path/'empty')
    assert r.returncode == 1 and 'no image files in' in r.stderr
    (tmp_path/'bad.png').write_bytes(b'x')
    r = cmd('smallfast-predict', fn, tmp_path/'bad.png')
    assert r.returncode == 1 and 'bad.png' in r.stderr and '0 of 1 images predicted' in r.stderr
    r = cmd('smallfast-predict', fn, tmp_path/'missing')
    assert r.returncode == 2 and 'missing does not exist' in r.stderr

@pytest.mark.parametrize('make, message', [
    (lambda p: p.write_text('not a model'), 'is not a smallfast model file'),
    (lambda p: __import__('torch').save({'w': 1}, p), 'is not a smallfast model file'),
    (lambda p: __import__('safetensors.torch').torch.save_file({'w': __import__('torch').zeros(2)}, p), "without smallfast's description of a model"),
    (None, 'model file not found')])
def test_predict_refuses_what_is_not_a_model(tmp_path, make, message):
    if make: make(tmp_path/'m.pkl')
    Image.new('RGB', (9, 9)).save(tmp_path/'x.png')
    r = cmd('smallfast-predict', tmp_path/'m.pkl', tmp_path/'x.png')
    assert r.returncode == 2 and message in r.stderr and 'Traceback' not in r.stderr, r.stderr

def test_a_model_from_other_versions_is_named_as_such(pickled, tmp_path):
    "A class the file's pickle names that this version lacks, as an older or newer export can; and a fastai version that differs, recorded in the model"
    fn, data = pickled
    with zipfile.ZipFile(fn) as z, zipfile.ZipFile(tmp_path/'other.pkl', 'w') as out:
        for item in z.infolist(): out.writestr(item, z.read(item).replace(b'IndexBatchDL', b'IndexBatchXY') if item.filename.endswith('data.pkl') else z.read(item))
    r = cmd('smallfast-predict', tmp_path/'other.pkl', data/'red'/'0.png', '--trust')
    assert r.returncode == 2 and 'was exported by other versions than these (smallfast' in r.stderr, r.stderr
    script = f'''
import warnings
from smallfast.run import load_model
learn = load_model({str(fn)!r}, trust=True); learn.versions['fastai'] = '2.7.0'; learn.export({str(tmp_path/'old.pkl')!r})
with warnings.catch_warnings(record=True) as w:
    warnings.simplefilter('always'); load_model({str(tmp_path/'old.pkl')!r}, trust=True)
print([str(x.message) for x in w])'''
    r = subprocess.run([sys.executable, '-c', script], capture_output=True, text=True, timeout=300)
    assert 'was exported with fastai 2.7.0, this is fastai' in r.stdout, r.stdout + r.stderr

def test_bench_exports_the_technique_chosen_on_held_out_images(tmp_path):
    data = photos(tmp_path/'photos', {'red': 8, 'green': 8})
    args = ['--data', data, '--shots', '3', '--seeds', '1', '--techniques', 'baseline,augment,svm', '--epochs', '2', '--device', 'cpu', '--out', tmp_path/'out']
    r = cmd('smallfast-bench', *args, '--export', tmp_path/'m.safetensors')
    assert r.returncode == 2 and '--export chooses the technique by its held-out accuracy: give --valid N too' in r.stderr and not (tmp_path/'out').exists()
    r = cmd('smallfast-bench', *args, '--valid', '2', '--export', tmp_path/'m.safetensors')
    assert r.returncode == 0, r.stderr
    chosen = next(l for l in r.stdout.splitlines() if l.startswith('--export:'))
    assert chosen.startswith('--export: of baseline, augment, at 3/class ') and 'on held-out images' in chosen and 'svm' not in chosen, chosen
    assert 'test accuracy:' in r.stdout and (tmp_path/'m.safetensors').exists()
    r = cmd('smallfast-predict', tmp_path/'m.safetensors', data)
    assert r.returncode == 0 and len(r.stdout.splitlines()) == 17, r.stderr

@pytest.mark.parametrize('command, metavars', [('smallfast-train', ['--data PATH', '--technique NAME', '--out PATH']),
                                               ('smallfast-predict', ['MODEL PATH [PATH ...]', '--out CSV', '--tta N', '--top K'])])
def test_help_of_train_and_predict(command, metavars):
    r = cmd(command, '--help', timeout=120)
    assert r.returncode == 0 and all(m in r.stdout for m in metavars), r.stdout
    assert '(default: False)' not in r.stdout and '(str)' not in r.stdout and r.stdout.rstrip().splitlines()[-1].startswith(f'example: {command} ')
