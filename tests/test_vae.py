"smallfast.vae where a notebook is the wrong place: files written and read, bad files, learners the callback cannot serve"
import math, pickle
from pathlib import Path
import numpy as np, pytest, torch
from fastai.callback.core import CancelFitException, Callback
from fastai.data.core import DataLoaders
from fastai.data.load import DataLoader
from fastai.learner import Learner
from fastai.metrics import accuracy
from fastai.torch_core import set_seed
from smallfast.data import digits, image_folder, small_cnn, small_dls, subsample
from smallfast.vae import ConvCVAE, VAECallback, class_folder_name, export_synthetic, load_vae, save_vae, train_vae
from conftest import tree_digest

@pytest.fixture(scope='module')
def data(): return subsample(digits(), 5)  # 50 images of 8 x 8, 10 classes

@pytest.fixture(scope='module')
def vae(data):
    set_seed(0)
    v = ConvCVAE(10, img_size=8, vocab=['a/b'] + [str(i) for i in range(1, 10)])
    train_vae(v, data, steps=30, progress=False)
    return v

def test_save_load_round_trip(vae, tmp_path):
    loaded = load_vae(save_vae(vae, tmp_path/'sub'/'vae.pth'))
    z, y = torch.randn(4, vae.latent_dim), torch.arange(4)
    assert torch.allclose(loaded.decode(z, y), vae.cpu().decode(z, y), atol=1e-6)
    assert loaded.config == vae.config and not loaded.training

@pytest.mark.parametrize('content, message', [(None, 'VAE file not found'), (b'not a torch file', 'is not a readable VAE file'),
                                              ('state_dict', 'was not written by save_vae'), ('pickle', 'is not a readable VAE file')])
def test_load_vae_refuses_what_it_cannot_trust(tmp_path, vae, content, message):
    fn = tmp_path/'vae.pth'
    if content == 'state_dict': torch.save(vae.state_dict(), fn)
    elif content == 'pickle': fn.write_bytes(pickle.dumps(Path('.')))  # a pickle that would build an object: weights_only refuses it
    elif content is not None: fn.write_bytes(content)
    with pytest.raises((FileNotFoundError, ValueError), match=message): load_vae(fn)

def test_save_vae_into_a_folder_is_an_error(vae, tmp_path):
    with pytest.raises(IsADirectoryError, match='give a file name'): save_vae(vae, tmp_path)

def test_export_synthetic_writes_an_image_folder(vae, tmp_path):
    export_synthetic(vae, tmp_path/'syn', n_per_class=3)
    assert sorted(p.name for p in (tmp_path/'syn').iterdir()) == sorted(map(class_folder_name, vae.vocab))
    assert (tmp_path/'syn'/'a_b').is_dir()  # 'a/b' made safe
    d = image_folder(tmp_path/'syn', valid_pct=0.34)
    assert len(d.x_train) + len(d.x_test) == 30 and d.img_size == (8, 8)

def test_export_synthetic_never_overwrites(vae, tmp_path):
    export_synthetic(vae, tmp_path, n_per_class=2)
    before = tree_digest(tmp_path)
    with pytest.raises(FileExistsError, match='already has PNG files'): export_synthetic(vae, tmp_path, n_per_class=2)
    assert tree_digest(tmp_path) == before

def test_export_synthetic_bad_arguments(vae, tmp_path):
    (tmp_path/'file').write_text('x')
    with pytest.raises(NotADirectoryError, match='is a file'): export_synthetic(vae, tmp_path/'file', 2)
    with pytest.raises(ValueError, match='n_per_class must be a positive integer'): export_synthetic(vae, tmp_path/'new', 0)

def test_callback_refuses_batches_that_are_not_images():
    items = [(torch.randn(5), i % 3) for i in range(12)]
    dls = DataLoaders(DataLoader(items, bs=4), DataLoader(items, bs=4)); dls.c = 3
    learn = Learner(dls, torch.nn.Linear(5, 3), loss_func=torch.nn.CrossEntropyLoss(), cbs=VAECallback())
    with pytest.raises((TypeError, ValueError), match='VAECallback'): learn.fit(1)

def test_callback_refuses_a_vae_with_other_classes(data):
    learn = Learner(small_dls(data, bs=10, device='cpu'), small_cnn(10), cbs=VAECallback(ConvCVAE(4, img_size=8)))
    with pytest.raises(ValueError, match="the VAE generates 4 classes but the learner's data has 10"): learn.fit(1)

@pytest.mark.parametrize('kwargs, message', [(dict(ratio=-1), 'ratio=-1'), (dict(filter_conf=1.5), 'filter_conf=1.5'),
                                             (dict(classes='uniform'), "classes='uniform'"), (dict(warmup_epochs=-2), 'warmup_epochs=-2')])
def test_callback_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message): VAECallback(**kwargs)

def test_training_with_the_callback_stays_finite_and_adds_items(data, vae):
    cb = VAECallback(vae, ratio=1.0)
    learn = Learner(small_dls(data, bs=10, device='cpu'), small_cnn(10), metrics=accuracy, cbs=cb)
    with learn.no_bar(), learn.no_logging(): learn.fit(2)
    assert cb.n_added == 2 * 5 * 10  # 2 epochs x 5 batches x 10 generated items
    assert all(math.isfinite(float(v)) for v in learn.recorder.losses)

def test_warmup_epochs_delay_generated_items(data, vae):
    cb = VAECallback(vae, ratio=1.0, warmup_epochs=1)
    learn = Learner(small_dls(data, bs=10, device='cpu'), small_cnn(10), cbs=cb)
    with learn.no_bar(), learn.no_logging(): learn.fit(2)
    assert cb.n_added == 5 * 10

def test_fine_tune_trains_the_vae_once(data):
    cb = VAECallback(vae_epochs=1)
    learn = Learner(small_dls(data, bs=10, device='cpu'), small_cnn(10), cbs=cb)
    with learn.no_bar(), learn.no_logging():
        learn.fit(1); first = cb.vae
        learn.fit(1)
    assert cb.vae is first

def test_library_corners_get_clear_errors(tmp_path, vae):
    with pytest.raises(IsADirectoryError, match='is a folder: give the file `save_vae` wrote'): load_vae(tmp_path)
    with pytest.raises(ValueError, match='n_per_class must be a positive integer, got 2.5'): export_synthetic(vae, tmp_path/'syn', n_per_class=2.5)
    with pytest.raises(ValueError, match='ratio=nan is out of range'): VAECallback(ratio=float('nan'))
