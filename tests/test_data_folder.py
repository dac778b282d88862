"image_folder: layouts, modes and sizes, and every bad input, on folders the tests write"
import warnings
import numpy as np
import pytest
from PIL import Image
from smallfast.data import image_folder
from conftest import tree_digest

def make_folder(root, classes=('ants', 'bees'), n=4, size=(16, 12), mode='RGB'):
    for c in classes:
        (root/c).mkdir(parents=True, exist_ok=True)
        for i in range(n): Image.new(mode, size, 'red' if c == classes[0] else 'blue').save(root/c/f'{i}.png')
    return root

def test_split_by_class(tmp_path):
    d = image_folder(make_folder(tmp_path, n=10), valid_pct=0.2)
    assert d.vocab == ['ants', 'bees'] and d.counts() == {'ants': 8, 'bees': 8} and d.counts('test') == {'ants': 2, 'bees': 2}
    assert d.x_train.shape[1:] == (12, 16, 3)
    assert np.array_equal(image_folder(tmp_path, valid_pct=0.2).y_test, d.y_test)

def test_train_test_layout(tmp_path):
    make_folder(tmp_path/'train', n=5); make_folder(tmp_path/'test', n=2)
    d = image_folder(tmp_path)
    assert d.counts() == {'ants': 5, 'bees': 5} and d.counts('test') == {'ants': 2, 'bees': 2}

def test_test_class_unknown_to_train(tmp_path):
    make_folder(tmp_path/'train'); make_folder(tmp_path/'test', classes=('ants', 'wasps'))
    with pytest.raises(ValueError, match=r"has classes missing from .*train: \['wasps'\]"): image_folder(tmp_path)

@pytest.mark.parametrize('mode', ['RGBA', 'LA', 'P', 'CMYK', 'I;16', 'L', '1'])
def test_modes_are_converted(tmp_path, mode):
    make_folder(tmp_path, mode='RGB')
    img = Image.new('RGB', (16, 12), (10, 200, 30)).convert(mode) if mode != 'I;16' else Image.new('I;16', (16, 12), 51400)
    fn = tmp_path/'ants'/f'odd.{"jpg" if mode == "CMYK" else "tiff" if mode == "I;16" else "png"}'
    img.save(fn)
    d = image_folder(tmp_path, valid_pct=0.25)
    assert d.x_train.dtype == np.uint8 and d.x_train.shape[1:] == (12, 16, 3) and len(d.x_train) + len(d.x_test) == 9

def test_sixteen_bit_grey_is_scaled(tmp_path):
    for c in 'ab':
        (tmp_path/c).mkdir()
        for i in range(2): Image.new('I;16', (4, 4), 257 * 100).save(tmp_path/c/f'{i}.png')
    d = image_folder(tmp_path, valid_pct=0.5)
    assert d.n_channels == 1 and d.x_train.max() == 100

def test_mixed_sizes_resized_to_most_common(tmp_path):
    make_folder(tmp_path, size=(16, 12))
    Image.new('RGB', (40, 7)).save(tmp_path/'bees'/'wide.png')
    assert image_folder(tmp_path).img_size == (12, 16)
    assert image_folder(tmp_path, size=8).img_size == (8, 8)
    assert image_folder(tmp_path, size=(6, 10)).img_size == (6, 10)

def test_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match='image folder not found: .*nope'): image_folder(tmp_path/'nope')

def test_a_file_instead_of_a_folder(tmp_path):
    (tmp_path/'f.png').write_bytes(b'x')
    with pytest.raises(NotADirectoryError, match='f.png is a file'): image_folder(tmp_path/'f.png')

def test_empty_folder(tmp_path):
    with pytest.raises(ValueError, match='has no class subfolders'): image_folder(tmp_path)

def test_single_class(tmp_path):
    make_folder(tmp_path, classes=('ants',))
    with pytest.raises(ValueError, match=r"has a single class \('ants'\)"): image_folder(tmp_path)

def test_empty_class_folder(tmp_path):
    make_folder(tmp_path); (tmp_path/'wasps').mkdir()
    with pytest.raises(ValueError, match=r'class folder .*wasps holds no images'): image_folder(tmp_path)

def bad_files(root):
    good = (root/'ants'/'0.png').read_bytes()
    (root/'ants'/'truncated.png').write_bytes(good[:len(good) // 2])
    (root/'bees'/'notes.txt').write_text('not an image')
    (root/'bees'/'.DS_Store').write_bytes(b'\0\1')

def test_unreadable_files_skipped_with_one_warning(tmp_path):
    bad_files(make_folder(tmp_path))
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter('always')
        d = image_folder(tmp_path)
    assert len(d.x_train) + len(d.x_test) == 8
    msgs = [str(x.message) for x in w if 'unreadable' in str(x.message)]
    assert len(msgs) == 1 and 'skipped 2 unreadable' in msgs[0] and 'truncated.png' in msgs[0] and 'notes.txt' in msgs[0]
    assert '.DS_Store' not in msgs[0]

@pytest.mark.parametrize('name', ['truncated.png', 'notes.txt'])
def test_unreadable_file_is_an_error_when_asked(tmp_path, name):
    bad_files(make_folder(tmp_path))
    for other in {'truncated.png', 'notes.txt'} - {name}: next(tmp_path.rglob(other)).unlink()
    with pytest.raises(ValueError, match=f'{name} is not a readable image'): image_folder(tmp_path, skip_bad=False)

def test_class_with_only_unreadable_files(tmp_path):
    make_folder(tmp_path); (tmp_path/'wasps').mkdir(); (tmp_path/'wasps'/'a.jpg').write_bytes(b'garbage')
    with pytest.raises(ValueError, match=r'class folder .*wasps holds no readable image'), warnings.catch_warnings():
        warnings.simplefilter('ignore'); image_folder(tmp_path)

def test_bad_valid_pct(tmp_path):
    with pytest.raises(ValueError, match='valid_pct must be between 0 and 1'): image_folder(make_folder(tmp_path), valid_pct=0)

def test_reading_changes_nothing_on_disk(tmp_path):
    bad_files(make_folder(tmp_path)); (tmp_path/'wasps').mkdir()
    before = tree_digest(tmp_path)
    with pytest.raises(ValueError): image_folder(tmp_path)
    (tmp_path/'wasps').rmdir(); before = tree_digest(tmp_path)
    with warnings.catch_warnings(): warnings.simplefilter('ignore'); image_folder(tmp_path)
    assert tree_digest(tmp_path) == before

def test_train_without_test_holds_out_a_split_and_says_so(tmp_path):
    make_folder(tmp_path/'train', n=10)
    with pytest.warns(UserWarning, match=r"has train/ but no test/: 20% of each class"): d = image_folder(tmp_path)
    assert d.vocab == ['ants', 'bees'] and d.counts('test') == {'ants': 2, 'bees': 2}

def test_a_class_missing_from_test_is_named(tmp_path):
    make_folder(tmp_path/'train', classes=('ants', 'bees', 'wasps')); make_folder(tmp_path/'test')
    with pytest.warns(UserWarning, match=r"no folder for class\(es\) \['wasps'\]: they are trained on but never scored"): d = image_folder(tmp_path)
    assert d.counts('test')['wasps'] == 0

@pytest.mark.parametrize('size', [0, -3, (8, 0), 'big'])
def test_a_bad_size_is_named(tmp_path, size):
    with pytest.raises(ValueError, match=r"size=.* must be a positive integer or a \(height, width\) pair"): image_folder(make_folder(tmp_path), size=size)
