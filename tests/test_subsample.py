"subsample and small_dls: balanced, repeatable subsets and loaders that know their split"
import numpy as np
import pytest
import torch
from fastai.data.core import DataLoaders
from fasttransform import Transform
from fastai.torch_core import TensorImage
from smallfast.data import SmallData, digits, small_dls, subsample

@pytest.fixture(scope='module')
def dg(): return digits()

def test_balanced_and_repeatable(dg):
    s = subsample(dg, 10, seed=3)
    assert len(s.x_train) == 100 and set(s.counts().values()) == {10}
    assert np.array_equal(s.x_train, subsample(dg, 10, seed=3).x_train)
    assert not np.array_equal(s.x_train, subsample(dg, 10, seed=4).x_train)
    assert np.array_equal(s.x_test, dg.x_test)

@pytest.mark.parametrize('n', [0, -3, 2.5, True, '10', None])
def test_n_per_class_not_positive_int(dg, n):
    with pytest.raises(ValueError, match=f'n_per_class must be a positive integer, got {n!r}'): subsample(dg, n)

def test_n_per_class_larger_than_a_class(dg):
    counts = dg.counts(); name = min(counts, key=counts.get)
    with pytest.raises(ValueError, match=f"class '{name}' has {counts[name]} images.*: fewer than n_per_class=200"): subsample(dg, 200)

def test_empty_class_named(dg):
    y = dg.y_train.copy(); y[y == 3] = 2
    d = SmallData(dg.x_train, y, dg.x_test, dg.y_test, dg.vocab)
    with pytest.raises(ValueError, match="class '3' has 0 images"): subsample(d, 1)

class Mark(Transform):
    split_idx, order = 0, 50
    def encodes(self, x:TensorImage): return torch.full_like(x, -1.)

def test_training_only_transforms_run_on_training_batches_only(dg):
    dls = small_dls(subsample(dg, 5), bs=8, batch_tfms=[Mark()], device='cpu')
    assert isinstance(dls, DataLoaders)
    assert (dls.train.one_batch()[0] == -1).all()
    xv, _ = dls.valid.one_batch()
    assert xv.min() >= 0 and xv.max() <= 1

def test_grey_to_rgb_resize_and_bs_cap(dg):
    dls = small_dls(subsample(dg, 2), bs=64, size=(16, 20), rgb=True, device='cpu')
    xb, yb = dls.one_batch()
    assert xb.shape == (20, 3, 16, 20) and torch.equal(xb[:, 0], xb[:, 2])
    assert len(dls.valid_ds) == len(dg.x_test)

def test_colour_images(tmp_path):
    x = np.random.default_rng(0).integers(0, 256, (6, 10, 12, 3), dtype=np.uint8)
    d = SmallData(x, np.array([0, 1, 2] * 2), x[:3], np.array([0, 1, 2]), ['a', 'b', 'c'])
    xb, _ = small_dls(d, bs=6, device='cpu').valid.one_batch()
    assert xb.shape == (3, 3, 10, 12) and torch.allclose(xb[0].permute(1, 2, 0) * 255, torch.from_numpy(x[0]).float())

@pytest.mark.parametrize('kw', [dict(bs=0), dict(val_bs=-1)])
def test_bad_batch_sizes(dg, kw):
    with pytest.raises(ValueError, match=f'{next(iter(kw))} must be a positive integer'): small_dls(dg, **kw)
