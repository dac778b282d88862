"""results/ holds one folder per page that states a measured result, each indexed in results/README.md."""
import re
from pathlib import Path

root = Path(__file__).resolve().parent.parent
RESULTS = root/'results'

def test_one_folder_per_page():
    "Each folder of results/ is named after a study page (image-size for nbs/studies/image_size.ipynb), or is the playbook's"
    pages = {p.stem.replace('_', '-') for p in (root/'nbs'/'studies').glob('*.ipynb')} | {'playbook'}
    folders = {p.name for p in RESULTS.iterdir() if p.is_dir()}
    assert folders and folders <= pages, sorted(folders - pages)

def test_every_grid_is_indexed():
    "Every results file, by its folder under results/, is named in results/README.md"
    index = (RESULTS/'README.md').read_text()
    files = sorted(RESULTS.rglob('*.json'))
    assert len(files) >= 25
    for f in files:
        where = f.parent.relative_to(RESULTS).as_posix() if f.name == 'results.json' else f.relative_to(RESULTS).as_posix()
        assert f'`{where}`' in index or re.search(rf'results/{re.escape(where)}(?![\w/-])', index), where  # the whole path, not the start of a longer one

def test_a_run_in_two_folders_has_one_answer_where_its_records_say_it_ran_alike():
    "The same run (`run_key`) on the same device, threads, processor (where records name it) and named smallfast version scores the same in every folder that holds it"
    from collections import defaultdict
    from smallfast.grid import read_results, run_key
    answers, folders = defaultdict(set), defaultdict(set)
    for f in RESULTS.rglob('results.json'):
        for r in read_results(f):
            if r.get('smallfast'):  # a record without the version that wrote it: its runs cannot be told apart
                k = (run_key(r), r['device'], r['threads'], r.get('cpu'), r['smallfast'])
                answers[k].add(r['accuracy']); folders[k].add(f.parent)
    twice = [k for k, a in answers.items() if len(a) > 1]
    assert not twice, twice[:3]
    assert sum(len(f) > 1 for f in folders.values()) >= 20  # runs held by more than one folder were compared
