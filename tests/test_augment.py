"smallfast.augment where a notebook is the wrong place: the augbench command, bad arguments, pickling, devices"
import pickle, subprocess, sys
from pathlib import Path
import pytest, torch
from fastai.torch_core import TensorCategory, TensorImage, set_seed
from fasttransform import Pipeline
from smallfast.augment import GaussianNoise, RandomErasing, small_aug, STRENGTHS
from smallfast.data import digits, small_dls, subsample

bin_dir = Path(sys.executable).parent

def test_augbench_command_prints_both_ways_and_writes_results(tmp_path):
    out = tmp_path/'bench.jsonl'
    r = subprocess.run([bin_dir/'smallfast-augbench', '--sizes', '32', '--channels', '1', '--n', '256', '--bs', '64', '--runs', '1',
                        '--workers', '0', '--device', 'cpu', '--out', out], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert 'batch img/s' in r.stdout and 'per-item img/s' in r.stdout
    import json
    rec = json.loads(out.read_text().splitlines()[0])
    assert rec['size'] == 32 and rec['channels'] == 1 and rec['batch'] > 0 and rec['per_item'] > 0
    assert rec['ratio'] == pytest.approx(rec['batch'] / rec['per_item'], rel=0.01, abs=0.006)  # the ratio is stored to 2 decimals

@pytest.mark.parametrize('args, message', [(['--channels', '2'], "channels='2': each must be 1 or 3"),
                                           (['--sizes', '0'], 'sizes=0 is out of range'),
                                           (['--sizes', 'big'], "sizes='big' must be comma-separated whole numbers"),
                                           (['--runs', '0'], 'runs=0 is out of range')])
def test_augbench_rejects_bad_arguments(args, message):
    r = subprocess.run([bin_dir/'smallfast-augbench', *args], capture_output=True, text=True, timeout=300)
    assert r.returncode != 0 and message in r.stderr

@pytest.mark.parametrize('kwargs, name', [(dict(max_rotate=-1), 'max_rotate'), (dict(max_zoom=0.9), 'max_zoom'), (dict(max_warp=1.0), 'max_warp'),
                                          (dict(max_lighting=-0.1), 'max_lighting'), (dict(erase_p=1.01), 'erase_p'), (dict(noise_std=-0.5), 'noise_std'),
                                          (dict(size=-64), 'size'), (dict(size='64'), 'size')])
def test_small_aug_names_the_bad_argument(kwargs, name):
    with pytest.raises(ValueError, match=name): small_aug(**kwargs)

@pytest.mark.parametrize('make, message', [(lambda: RandomErasing(p=-0.1), 'p=-0.1'), (lambda: RandomErasing(scale=(0.5, 0.1)), 'scale'),
                                           (lambda: RandomErasing(fill='zeros'), "fill='zeros'"), (lambda: GaussianNoise(std=2), 'std=2')])
def test_transforms_name_the_bad_argument(make, message):
    with pytest.raises(ValueError, match=message.replace('(', r'\(')): make()

@pytest.mark.parametrize('tfm', [RandomErasing(), GaussianNoise()])
@pytest.mark.parametrize('bad, message', [('not an image', 'got str'), (torch.zeros(2, 1, 8, 8), 'wrap it as TensorImage'),
                                          (TensorImage(torch.zeros(8, 8)), 'shape (8, 8)')])
def test_transforms_refuse_what_is_not_an_image_batch(tfm, bad, message):
    with pytest.raises((TypeError, ValueError), match=message.replace('(', r'\(').replace(')', r'\)')): tfm(bad, split_idx=0)

def test_augmented_dataloaders_pickle():
    "`learn.export` pickles the DataLoaders' transforms: small_aug's must survive it"
    tfms = pickle.loads(pickle.dumps(small_aug(48, noise_std=0.1)))
    x = TensorImage(torch.rand(4, 1, 28, 28))
    assert Pipeline(tfms, split_idx=0)(x).shape == (4, 1, 48, 48)
    assert torch.equal(Pipeline(tfms, split_idx=1)(x), Pipeline([t for t in tfms if type(t).__name__ in ('ShrinkBatch', 'GrowBatch')], split_idx=1)(x))

def test_training_loop_sees_augmented_batches_and_validation_does_not():
    data = subsample(digits(), 5)
    plain, aug = small_dls(data, bs=10, device='cpu'), small_dls(data, bs=10, batch_tfms=small_aug(erase_p=1.), device='cpu')
    set_seed(0); xa, ya = next(iter(aug.train.new(shuffle=False)))
    set_seed(0); xp, yp = next(iter(plain.train.new(shuffle=False)))
    assert torch.equal(ya, yp) and not torch.equal(xa, xp)
    assert torch.equal(aug.valid.one_batch()[0], plain.valid.one_batch()[0])

@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a GPU')
def test_batches_are_augmented_on_the_gpu():
    x = TensorImage(torch.rand(8, 3, 28, 28, device='cuda'))
    out = Pipeline(small_aug(64, noise_std=0.1), split_idx=0)(x)
    assert out.device.type == 'cuda' and out.shape == (8, 3, 64, 64) and torch.isfinite(out).all()
