"smallfast-bench as a user meets it: the command on folders the tests write, bad input, resuming, Ctrl-C"
import json, signal, subprocess, sys, time
from pathlib import Path
import numpy as np
import pytest
from PIL import Image
from conftest import tree_digest

BENCH = Path(sys.executable).parent/'smallfast-bench'

def bench(*args, timeout=600):
    return subprocess.run([BENCH, *map(str, args)], capture_output=True, text=True, timeout=timeout)

def image_classes(root, counts:dict, size=8):
    "One folder per class with `counts[class]` random grey PNGs"
    rng = np.random.default_rng(0)
    for c, n in counts.items():
        (root/c).mkdir(parents=True, exist_ok=True)
        for i in range(n): Image.fromarray(rng.integers(0, 256, (size, size), dtype=np.uint8)).save(root/c/f'{i}.png')
    return root

@pytest.mark.parametrize('args, message', [
    (['--techniques', 'baseline,mixup'], "unknown technique(s) ['mixup']"),
    (['--techniques', 'transfer+tta'], "unknown technique(s) ['transfer+tta']"),  # test-time augmentation needs a technique that augments
    (['--shots', '10,0'], '--shots=0 is out of range: it must be >= 1'),
    (['--shots', 'ten'], "--shots='ten' must be comma-separated whole numbers"),
    (['--seeds', '-1'], '--seeds=-1 is out of range'),
    (['--seeds', '1,2'], "--seeds is the number of seeds"),
    (['--data', '/nonexistent/folder'], '--data: /nonexistent/folder does not exist'),
    (['--valid', '0'], '--valid is a number of images per class, a positive integer, got 0'),
    (['--mixup', '0'], "--mixup=0.0: MixUp's alpha must be a positive number (0.4 is fastai's default)"),
    (['--mixup', '-0.4'], "--mixup=-0.4: MixUp's alpha must be a positive number"),
    (['--arch', 'efficientnet_lite7'], "--arch: unknown arch 'efficientnet_lite7': did you mean efficientnet_lite2"),
    (['--tta-passes', '0'], "--tta-passes=0: give a number of augmented passes, a positive integer"),
    (['--members', '0'], "--members=0: give a number of trainings to average, a positive integer"),
    (['--epochs', '0'], '--epochs=0: give a number of epochs, a positive integer'),
    (['--epochs', '1', '--techniques', 'transfer'], "--epochs=1 leaves no epoch to fine-tune 'discriminative'"),
    (['--size', '0'], '--size=0: give an image size in pixels'),
    (['--size', '100000'], '--size=100000: give an image size in pixels, from 8 to 1024'),
    (['--test-n', '-2'], '--test-n=-2: give a positive number of test images'),
    (['--device', 'cuda:7' if __import__('torch').cuda.is_available() else 'cuda'], 'cuda'),
    (['--arch', 'resnet18'], "--arch: no ImageNet weights for 'resnet18': timm's are not in the local cache"),  # at once, not after the hub's retries
    (['--valid', '100000'], "--valid 100000: class '"),
    (['--threshold', '0', '--techniques', 'semi'], "--threshold=0.0: give a confidence above 0 and at most 1"),
    (['--threshold', '1.5'], "--threshold=1.5: give a confidence above 0 and at most 1"),
    (['--adaptive', '1'], "--adaptive=1.0: give the momentum of FreeMatch's threshold, above 0 and below 1"),
    (['--threshold', '0.9', '--adaptive', '0.99', '--techniques', 'semi'], "--threshold=0.9 contradicts adaptive=0.99: FreeMatch's threshold adapts itself"),
    (['--ema', '1'], "--ema=1.0: give the decay of the weights' moving average, above 0 and below 1"),
    (['--mu', '0'], "--mu=0: give a whole number of unlabelled images per labelled one"),
    (['--pool', '0'], "--pool=0: give a largest number of unlabelled images, a positive integer"),
    (['--cutout', '2'], "--cutout=2.0: give a fraction of the image from 0 (no cutout) to 1"),
    (['--warmup', '1'], "--warmup=1.0: give a fraction of the run's epochs from 0 (no warm start) up to, not including, 1"),
    (['--warmup', '0.99', '--techniques', 'transfer+semi', '--shots', '10'], "--warmup=0.99: 40 of the run's 40 epochs on the labels alone leave none for the unlabelled images")])  # more than any class can spare, named with what it has
def test_bad_arguments_are_refused_before_anything_runs(tmp_path, args, message):
    r = bench(*args, '--out', tmp_path/'out')
    assert r.returncode == 2 and message in r.stderr and 'Traceback' not in r.stderr, r.stderr
    assert not (tmp_path/'out').exists()  # nothing written, not even the folder

def test_data_that_is_a_file_empty_or_one_class(tmp_path):
    (tmp_path/'file.txt').write_text('x')
    assert 'is a file' in bench('--data', tmp_path/'file.txt', '--out', tmp_path/'o').stderr
    (tmp_path/'empty').mkdir()
    r = bench('--data', tmp_path/'empty', '--out', tmp_path/'o')
    assert r.returncode == 2 and 'empty' in r.stderr, r.stderr
    image_classes(tmp_path/'one', {'cats': 5})
    r = bench('--data', tmp_path/'one', '--out', tmp_path/'o')
    assert r.returncode == 2 and "single class ('cats')" in r.stderr, r.stderr

def test_output_folder_that_is_a_file_or_unwritable(tmp_path):
    (tmp_path/'taken').write_text('keep me')
    r = bench('--out', tmp_path/'taken')
    assert r.returncode == 2 and 'is a file' in r.stderr and (tmp_path/'taken').read_text() == 'keep me'
    r = bench('--out', tmp_path/'taken'/'sub')
    assert r.returncode == 2 and 'cannot write into' in r.stderr

def test_small_class_is_named_and_the_shots_that_fit_run(tmp_path):
    data = image_classes(tmp_path/'imgs', {'ants': 12, 'bees': 12, 'wasps': 4})
    before = tree_digest(data)
    r = bench('--data', data, '--shots', '2,5,2', '--seeds', '1', '--techniques', 'logreg,logreg', '--out', tmp_path/'out')
    assert 'each shot size runs once: [2, 5]' in r.stderr and 'each technique runs once: logreg' in r.stderr
    assert r.returncode == 0, r.stderr
    assert "class 'wasps' has 3 training images, fewer than 5 per class: running shots [2] of [2, 5]" in r.stderr
    recs = json.loads((tmp_path/'out'/'results.json').read_text())
    assert [(x['technique'], x['shots']) for x in recs] == [('logreg', 2)]
    assert tree_digest(data) == before  # the data folder is only read

def test_unreadable_files_are_skipped_with_a_warning(tmp_path):
    data = image_classes(tmp_path/'imgs', {'ants': 6, 'bees': 6})
    (data/'ants'/'notes.png').write_text('not an image')
    r = bench('--data', data, '--shots', '2', '--seeds', '1', '--techniques', 'logreg', '--out', tmp_path/'out')
    assert r.returncode == 0 and 'notes.png' in r.stderr, r.stderr

def test_full_command_writes_table_plot_and_resumes(tmp_path):
    data = image_classes(tmp_path/'imgs', {'ants': 10, 'bees': 10, 'wasps': 10})
    args = ['--data', data, '--shots', '2,4', '--seeds', '2', '--techniques', 'baseline,augment,logreg,svm', '--epochs', '1', '--out', tmp_path/'out', '--device', 'cpu']
    r = bench(*args)
    assert r.returncode == 0, r.stderr
    out = tmp_path/'out'
    recs = json.loads((out/'results.json').read_text())
    assert len(recs) == 16 and all({'accuracy', 'seconds', 'torch', 'fastai', 'config'} <= set(r) for r in recs)
    configs = {r['technique']: r['config'] for r in recs}  # records come in the order runs finish: name each by its technique
    assert configs == {'baseline': {'epochs': 1}, 'augment': {'epochs': 1, 'aug': {}}, 'logreg': {'model': 'logreg'}, 'svm': {'model': 'svm'}}, configs
    md = (out/'results.md').read_text()
    accuracies, gains = md.split('Points gained over baseline')
    assert '| 2/class |' in accuracies and accuracies.count('**') == 4  # one bold best per row
    assert '|  | augment | logreg | svm |' in gains and '| 4/class | ' in gains  # every technique but the reference, per shot size
    assert (out/'curves.png').stat().st_size > 10_000 and (out/'gains.png').stat().st_size > 10_000
    answer = r.stdout.strip().splitlines()[-1]  # the answer in one sentence: a best technique or a tie at each shot size
    assert answer.startswith('At 2/class ') and '; at 4/class ' in answer and 'on the test images' in answer, answer
    assert 'Chosen with the test images in view' in r.stdout  # no --valid: it says so
    assert '16 runs: 2 seed(s)' in md
    assert '[####################] 16/16 runs' in r.stdout and 'about' in r.stdout
    r2 = bench(*args)
    assert r2.returncode == 0 and '16 of 16 runs already in' in r2.stdout
    assert json.loads((out/'results.json').read_text()) == recs

@pytest.mark.parametrize('sig', [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_or_sigterm_keeps_finished_runs(tmp_path, sig):
    data = image_classes(tmp_path/'imgs', {'ants': 30, 'bees': 30})
    args = ['--data', data, '--shots', '20', '--seeds', '500', '--techniques', 'baseline', '--epochs', '10', '--device', 'cpu', '--out', tmp_path/'out']  # minutes of runs: far more than finish before the signal
    # a shell without job control starts background jobs with SIGINT ignored, and the child inherits that: restore Ctrl-C's default, as in a terminal
    p = subprocess.Popen([BENCH, *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    results = tmp_path/'out'/'results.json'
    deadline = time.time() + 300
    while time.time() < deadline and not (results.exists() and len(json.loads(results.read_text())) >= 2): time.sleep(0.2)
    p.send_signal(sig)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 130 and 'every finished run is saved' in err, (p.returncode, err, out[-500:])
    recs = json.loads(results.read_text())
    assert 2 <= len(recs) < 500 and not list((tmp_path/'out').glob('*.part'))

def test_no_flip_reruns_only_the_augmenting_techniques(tmp_path):
    data = image_classes(tmp_path/'imgs', {'ants': 6, 'bees': 6})
    args = ['--data', data, '--shots', '2', '--seeds', '1', '--techniques', 'baseline,augment', '--epochs', '1', '--device', 'cpu', '--out', tmp_path/'out']
    assert bench(*args).returncode == 0
    r = bench(*args, '--no-flip')
    assert r.returncode == 0 and '1 of 2 runs already in' in r.stdout, r.stdout + r.stderr
    recs = json.loads((tmp_path/'out'/'results.json').read_text())
    assert [(x['technique'], x['config'].get('aug', {}).get('flip', True)) for x in recs] == [('baseline', True), ('augment', True), ('augment', False)]

def option_field(config:dict, name:str):
    "The value of option `name` in a record's config, at the top or in a sub-config's dict; None when at its default"
    return config.get(name, next((v[name] for v in config.values() if isinstance(v, dict) and name in v), None))

@pytest.mark.parametrize('techniques, option, value, field, recorded, report', [
    ('baseline,augment', '--mixup', '0.4', 'mixup', [('baseline', None), ('augment', None), ('augment', 0.4)], None),  # MixUp: the augmenting techniques
    ('baseline,transfer', '--arch', 'efficientnet_lite2', 'arch',  # the network: the transfer techniques
     [('baseline', None), ('transfer', None), ('transfer', 'efficientnet_lite2')], 'transfer from efficientnet_lite2'),
    ('augment,augment+tta', '--tta-passes', '8', 'tta_passes', [('augment', None), ('augment+tta', 4), ('augment+tta', 8)], '8 test-time passes'),  # the +tta ones
    ('logreg,baseline', '--members', '2', 'members', [('logreg', None), ('baseline', None), ('baseline', 2)], 'ensembles of 2 trainings'),  # the deep ones
    ('logreg,baseline', '--ema', '0.9', 'ema', [('logreg', None), ('baseline', None), ('baseline', 0.9)], 'weights averaged (decay 0.9)')])
def test_an_option_reruns_only_the_techniques_it_changes(tmp_path, techniques, option, value, field, recorded, report):
    data = image_classes(tmp_path/'imgs', {'ants': 6, 'bees': 6}, size=32)
    args = ['--data', data, '--shots', '2', '--seeds', '1', '--techniques', techniques, '--epochs', '2', '--size', '32', '--device', 'cpu', '--out', tmp_path/'out']
    assert bench(*args).returncode == 0
    r = bench(*args, option, value)
    assert r.returncode == 0 and '1 of 2 runs already in' in r.stdout, r.stdout + r.stderr
    recs = json.loads((tmp_path/'out'/'results.json').read_text())
    assert [(x['technique'], option_field(x['config'], field)) for x in recs] == recorded  # a field at its default is not written
    if report: assert report in (tmp_path/'out'/'results.md').read_text()
    assert bench(*args, option, value).stdout.count('2 of 2 runs already in') == 1  # and resumes

def test_transfer_records_name_the_weights_layout_and_older_records_still_count(tmp_path):
    data = image_classes(tmp_path/'imgs', {'ants': 6, 'bees': 6}, size=32)
    args = ['--data', data, '--shots', '2', '--seeds', '1', '--techniques', 'baseline,transfer', '--epochs', '2', '--size', '32', '--device', 'cpu', '--out', tmp_path/'out']
    assert bench(*args).returncode == 0
    results = tmp_path/'out'/'results.json'
    recs = json.loads(results.read_text())
    assert [(x['technique'], x.get('weights_layout')) for x in recs] == [('baseline', None), ('transfer', 'channels_last')]
    results.write_text(json.dumps([{k: v for k, v in x.items() if k != 'weights_layout'} for x in recs]))  # as written before the field
    assert '2 of 2 runs already in' in bench(*args).stdout  # kept, not rerun

def test_records_of_an_older_schema_are_refused_before_any_run(tmp_path):
    "A results file written before the run configuration (the options beside each record, not in `config`): a clear error, the file left as it is"
    data = image_classes(tmp_path/'imgs', {'ants': 6, 'bees': 6})
    args = ['--data', data, '--shots', '2', '--seeds', '1', '--techniques', 'baseline,augment+tta,svm', '--epochs', '1', '--device', 'cpu', '--out', tmp_path/'out']
    assert bench(*args).returncode == 0
    results = tmp_path/'out'/'results.json'
    old = []
    for r in json.loads(results.read_text()):  # as the earlier version wrote them: every option at the top, `tta_passes` not yet recorded
        c = r.pop('config')
        old.append(r | dict(epochs=c.get('epochs', 0), size=64, vae_steps=None, flip=True, mixup=None) | ({} if r['technique'] == 'svm' else {'members': 1}))
    results.write_text(json.dumps(old))
    r = bench(*args)
    assert r.returncode == 2 and 'record 0 has a config this version of smallfast cannot read' in r.stderr and 'give the grid a new --out' in r.stderr, r.stdout + r.stderr
    assert json.loads(results.read_text()) == old

def test_tta_technique_joins_a_finished_grid(tmp_path):
    data = image_classes(tmp_path/'imgs', {'ants': 6, 'bees': 6})
    args = ['--data', data, '--shots', '2', '--seeds', '1', '--epochs', '1', '--device', 'cpu', '--out', tmp_path/'out']
    assert bench(*args, '--techniques', 'baseline,augment').returncode == 0
    r = bench(*args, '--techniques', 'baseline,augment,augment+tta')
    assert r.returncode == 0 and '2 of 3 runs already in' in r.stdout, r.stdout + r.stderr
    recs = json.loads((tmp_path/'out'/'results.json').read_text())
    assert [x['technique'] for x in recs] == ['baseline', 'augment', 'augment+tta'] and recs[2]['config']['epochs'] == recs[1]['config']['epochs']
    assert 0 <= recs[2]['accuracy'] <= 1 and '| augment+tta |' in (tmp_path/'out'/'results.md').read_text()

def test_valid_scores_every_run_on_held_out_images(tmp_path):
    data = image_classes(tmp_path/'imgs', {'ants': 20, 'bees': 20})
    args = ['--data', data, '--shots', '2', '--seeds', '2', '--techniques', 'baseline,logreg', '--epochs', '1', '--device', 'cpu', '--out', tmp_path/'out', '--valid', '3']
    r = bench(*args)
    assert r.returncode == 0, r.stderr
    recs = json.loads((tmp_path/'out'/'results.json').read_text())
    assert len(recs) == 4 and all(x['valid'] == 3 and 0 <= x['valid_accuracy'] <= 1 for x in recs)
    assert 'Validation accuracy %, on 3 training images per class held out' in (tmp_path/'out'/'results.md').read_text()
    assert '4 of 4 runs already in' in bench(*args).stdout  # resumes like any grid

def test_technique_and_its_tta_twin_share_one_training(tmp_path):
    data = image_classes(tmp_path/'imgs', {'ants': 6, 'bees': 6})
    args = ['--data', data, '--shots', '2', '--seeds', '1', '--epochs', '1', '--device', 'cpu']
    apart = tmp_path/'apart'
    assert bench(*args, '--techniques', 'augment', '--out', apart).returncode == 0
    assert bench(*args, '--techniques', 'augment,augment+tta', '--out', apart).returncode == 0  # augment done: augment+tta trains its own
    r = bench(*args, '--techniques', 'augment+tta,augment', '--out', tmp_path/'shared')
    assert r.returncode == 0 and 'now: augment and augment+tta 2/class seed 0' in r.stdout, r.stdout + r.stderr
    shared = json.loads((tmp_path/'shared'/'results.json').read_text())
    assert [x['technique'] for x in shared] == ['augment', 'augment+tta'] and shared[0]['seconds'] <= shared[1]['seconds']
    separate = {x['technique']: x['accuracy'] for x in json.loads((apart/'results.json').read_text())}
    assert {x['technique']: x['accuracy'] for x in shared} == separate  # on a CPU a seed fixes the training: the same network, the same scores

def test_valid_leaves_the_training_and_its_test_score_alone(tmp_path):
    "Held-out images are scored after training, never seen by it: on a CPU the test scores are the same with and without --valid"
    data = image_classes(tmp_path/'imgs', {'ants': 12, 'bees': 12}, size=32)
    args = ['--data', data, '--shots', '3', '--seeds', '1', '--techniques', 'transfer+augment,transfer+augment+tta', '--epochs', '2', '--size', '32', '--device', 'cpu']
    assert bench(*args, '--out', tmp_path/'plain').returncode == 0
    r = bench(*args, '--out', tmp_path/'valid', '--valid', '3')
    assert r.returncode == 0, r.stderr
    plain, valid = (json.loads((tmp_path/d/'results.json').read_text()) for d in ('plain', 'valid'))
    assert [x['accuracy'] for x in plain] == [x['accuracy'] for x in valid] and all('valid_accuracy' in x for x in valid)

@pytest.mark.parametrize('content, message', [
    ('{}', 'a JSON dict, not a list of records'), ('[{"x": 1}]', 'record 0 lacks accuracy'), ('[{"technique": "baseline"', 'is not a results file'),
    (None, 'it is a folder')])
def test_a_damaged_results_file_is_refused_before_any_training(tmp_path, content, message):
    out = tmp_path/'out'; out.mkdir()
    if content is None: (out/'results.json').mkdir()
    else: (out/'results.json').write_text(content)
    r = bench('--techniques', 'baseline', '--shots', '2', '--seeds', '1', '--epochs', '1', '--device', 'cpu', '--out', out)
    assert r.returncode == 2 and message in r.stderr and 'Traceback' not in r.stderr, r.stderr
    if content is not None: assert (out/'results.json').read_text() == content  # never overwritten

def test_two_grids_writing_into_one_folder_keep_every_run(tmp_path):
    data = image_classes(tmp_path/'imgs', {'ants': 8, 'bees': 8})
    common = ['--data', data, '--seeds', '2', '--techniques', 'baseline,logreg', '--epochs', '1', '--device', 'cpu', '--out', tmp_path/'out']
    ps = [subprocess.Popen([BENCH, *map(str, ['--shots', n, *common])], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for n in ('2', '4')]
    for p in ps: assert p.wait(timeout=600) == 0, p.stderr.read()
    recs = json.loads((tmp_path/'out'/'results.json').read_text())
    assert sorted((x['technique'], x['shots'], x['seed']) for x in recs) == sorted((t, n, s) for t in ('baseline', 'logreg') for n in (2, 4) for s in (0, 1))

def test_results_file_keeps_its_permissions(tmp_path):
    data = image_classes(tmp_path/'imgs', {'ants': 6, 'bees': 6})
    args = ['--data', data, '--shots', '2', '--seeds', '1', '--techniques', 'logreg', '--out', tmp_path/'out']
    assert bench(*args).returncode == 0
    results = tmp_path/'out'/'results.json'
    results.chmod(0o644)
    assert bench(*args, '--techniques', 'logreg,svm').returncode == 0
    assert results.stat().st_mode & 0o777 == 0o644 and not list((tmp_path/'out').glob('*.part'))

@pytest.mark.parametrize('command, metavars', [('smallfast-bench', ['--data PATH', '--shots LIST', '--seeds N', '--device {cpu,cuda}']),
                                               ('smallfast-demo', ['--n-per-class N']), ('smallfast-augbench', ['--sizes LIST', '--out PATH'])])
def test_help_reads_as_a_person_would(command, metavars):
    r = subprocess.run([Path(sys.executable).parent/command, '--help'], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and all(m in r.stdout for m in metavars), r.stdout
    assert '(default: False)' not in r.stdout and '(str)' not in r.stdout and '(int)' not in r.stdout
    assert r.stdout.rstrip().splitlines()[-1].startswith(f'example: {command} ')

def test_semi_supervised_runs_learn_from_the_unlabelled_folder(tmp_path):
    data = image_classes(tmp_path/'imgs', {'ants': 4, 'bees': 4})
    (data/'unlabelled'/'deeper').mkdir(parents=True)
    rng = np.random.default_rng(1)
    for i in range(7): Image.fromarray(rng.integers(0, 256, (12, 12, 3), dtype=np.uint8)).save(data/'unlabelled'/'deeper'/f'{i}.png')  # colour, another size: converted
    Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8)).save(data/'unlabelled'/'grey.png')
    args = ('--data', data, '--shots', '3', '--seeds', '1', '--techniques', 'semi', '--epochs', '1', '--out', tmp_path/'out')
    for bad, message in ((('--mu', '1', '--pool', '5'), '--pool=5: fewer unlabelled images than one batch draws (mu=1 per labelled image x a batch of 6 = 6)'),
                         ((), '--pool=8: fewer unlabelled images than one batch draws (mu=7 per labelled image x a batch of 6 = 42)')):  # a batch is the 6 labelled images
        r = bench(*args, *bad)
        assert r.returncode == 2 and message in r.stderr and 'Traceback' not in r.stderr, r.stderr
        assert not (tmp_path/'out').exists()
    r = bench(*args, '--mu', '1', '--pool', '6')
    assert r.returncode == 0, r.stderr
    rec, = json.loads((tmp_path/'out'/'results.json').read_text())
    assert rec['unlabelled'] == 6 and rec['config']['semi'] == {'pool': 6, 'mu': 1}

def test_semi_supervised_without_unlabelled_images_is_refused(tmp_path):
    data = image_classes(tmp_path/'imgs', {'ants': 4, 'bees': 4})
    r = bench('--data', data, '--shots', '3', '--seeds', '1', '--techniques', 'baseline,semi', '--out', tmp_path/'out')
    assert r.returncode == 2 and "--techniques semi learn from unlabelled images" in r.stderr and str(data) in r.stderr, r.stderr
    assert not (tmp_path/'out').exists()
