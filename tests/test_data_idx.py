"IDX files and Fashion-MNIST: the good path and every bad input, on small files the tests write"
import gzip, os, shutil
from pathlib import Path
import numpy as np
import pytest
import smallfast.data as sd
from smallfast.data import IDX_FILES, fashion_mnist, idx_folder, read_idx
from conftest import tree_digest, write_idx, write_idx_set

def test_idx_folder_reads_plain_and_gzip(idx_set):
    fn = idx_set/IDX_FILES['x_test']
    (idx_set/(fn.name + '.gz')).write_bytes(gzip.compress(fn.read_bytes())); fn.unlink()
    d = idx_folder(idx_set)
    assert d.x_train.shape == (20, 28, 28) and d.x_test.shape == (10, 28, 28)
    assert d.y_train.dtype == np.int64 and d.vocab == [str(i) for i in range(10)]

def test_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match='IDX folder not found: .*nowhere'): idx_folder(tmp_path/'nowhere')

def test_missing_idx_file_is_named(idx_set):
    (idx_set/IDX_FILES['y_test']).unlink()
    with pytest.raises(FileNotFoundError, match='lacks IDX files: t10k-labels-idx1-ubyte'): idx_folder(idx_set)

def test_wrong_magic_names_the_file(tmp_path):
    write_idx(tmp_path/'bad-idx3-ubyte', np.zeros((2, 2, 2), np.uint8), magic=b'\x89PNG')
    with pytest.raises(ValueError, match=r'bad-idx3-ubyte is not an IDX file: wrong magic number 0x89504e47'):
        read_idx(tmp_path/'bad-idx3-ubyte')

@pytest.mark.parametrize('cut', [1, 100, 790])
def test_truncated_file_names_sizes(idx_set, cut):
    fn = idx_set/IDX_FILES['x_train']
    fn.write_bytes(fn.read_bytes()[:-cut])
    with pytest.raises(ValueError, match=r'train-images-idx3-ubyte is truncated or corrupt: its header says shape \(20, 28, 28\)'):
        idx_folder(idx_set)

def test_header_cut_short(tmp_path):
    (tmp_path/'h').write_bytes(b'\0\0\x08\x03\0\0')
    with pytest.raises(ValueError, match='is truncated: its header promises 3 sizes'): read_idx(tmp_path/'h')

def test_truncated_gzip(idx_set):
    fn = idx_set/IDX_FILES['y_train']
    (idx_set/(fn.name + '.gz')).write_bytes(gzip.compress(fn.read_bytes())[:-12]); fn.unlink()
    with pytest.raises(ValueError, match='train-labels-idx1-ubyte.gz is a corrupt or truncated gzip file'): idx_folder(idx_set)

def test_image_and_label_counts_differ(idx_set):
    write_idx(idx_set/IDX_FILES['y_train'], np.zeros(19, np.uint8))
    with pytest.raises(ValueError, match='train-images-idx3-ubyte holds 20 images but .*train-labels-idx1-ubyte holds 19 labels'):
        idx_folder(idx_set)

def test_bad_input_changes_nothing_on_disk(idx_set):
    write_idx(idx_set/IDX_FILES['y_test'], np.zeros(3, np.uint8))
    before = tree_digest(idx_set)
    with pytest.raises(ValueError): idx_folder(idx_set)
    assert tree_digest(idx_set) == before

@pytest.fixture
def no_local_fashion(tmp_path, monkeypatch):
    "No Debian copy and an empty cache"
    monkeypatch.setattr(sd, 'FASHION_DEBIAN', tmp_path/'debian-none')
    monkeypatch.setenv('SMALLFAST_CACHE', str(tmp_path/'cache'))
    return tmp_path/'cache'

def test_not_found_says_how_to_get_it(no_local_fashion):
    with pytest.raises(FileNotFoundError, match=r'apt-get install dataset-fashion-mnist.*download=True'): fashion_mnist()
    assert not no_local_fashion.exists()

def test_download_only_when_asked(no_local_fashion, tmp_path):
    server = tmp_path/'server'; server.mkdir()
    for name in IDX_FILES.values():
        src = write_idx_set(tmp_path/'src')/name
        (server/(name + '.gz')).write_bytes(gzip.compress(src.read_bytes()))
    d = fashion_mnist(download=True, url=server.as_uri())
    assert len(d.x_train) == 20 and d.vocab[0] == 'T-shirt/top'
    assert sorted(p.name for p in (no_local_fashion/'fashion-mnist').iterdir()) == sorted(n + '.gz' for n in IDX_FILES.values())
    assert len(fashion_mnist().x_test) == 10  # the cache is found without asking again

def test_downloaded_files_follow_the_umask(no_local_fashion, tmp_path):
    "A shared cache (SMALLFAST_CACHE) is readable by others as any file the user writes, not owner-only"
    server = tmp_path/'server'; server.mkdir()
    for name in IDX_FILES.values(): (server/(name + '.gz')).write_bytes(gzip.compress((write_idx_set(tmp_path/'src')/name).read_bytes()))
    old = os.umask(0o022)
    try: fashion_mnist(download=True, url=server.as_uri())
    finally: os.umask(old)
    assert {oct(p.stat().st_mode & 0o777) for p in (no_local_fashion/'fashion-mnist').iterdir()} == {oct(0o644)}

def test_failed_download_leaves_no_partial_file(no_local_fashion, tmp_path):
    with pytest.raises(Exception): fashion_mnist(download=True, url=(tmp_path/'empty').as_uri())
    assert list((no_local_fashion/'fashion-mnist').iterdir()) == []

def test_explicit_path_is_used(idx_set):
    assert len(fashion_mnist(idx_set).x_train) == 20

@pytest.mark.skipif(not sd.FASHION_DEBIAN.is_dir(), reason="Debian's dataset-fashion-mnist is not installed")
def test_real_fashion_mnist():
    d = fashion_mnist()
    assert d.x_train.shape == (60000, 28, 28) and d.x_test.shape == (10000, 28, 28)
    assert len(d.vocab) == 10 and set(d.counts().values()) == {6000} and set(d.counts('test').values()) == {1000}
