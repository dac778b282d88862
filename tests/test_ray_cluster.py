"The grid on a Ray cluster of three nodes (a head and two workers, simulated here by `ray.cluster_utils.Cluster`): the records of one run at a time, and a worker node lost mid-grid"
import contextlib, threading, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from dataclasses import replace
import pytest

ray = pytest.importorskip('ray')
psutil = pytest.importorskip('psutil')
from ray.cluster_utils import Cluster
from ray._private.ray_constants import PROCESS_TYPE_RAYLET
from ray._common.utils import get_ray_address_file
from threadpoolctl import threadpool_limits
import torch
from smallfast.data import digits
from smallfast.core import TECHNIQUES
from smallfast.grid import OnRay, read_results, run_grid, run_key

SHOTS, SEEDS, VALID = (3, 5), 2, 3  # 2 shot sizes x 2 seeds x 2 techniques: 8 runs, each its own Ray task
CONFIGS = {'baseline': replace(TECHNIQUES['baseline'], epochs=2), 'logreg': TECHNIQUES['logreg']}

def grid(configs, data, out, address=None, log=None) -> list:
    "The only call of `run_grid` in this file: the grid one run at a time here (`address` None), or as Ray tasks on the cluster at `address`"
    return run_grid(configs, data, shots=SHOTS, seeds=SEEDS, out=out, valid=VALID, data_name='digits', device='cpu', executor=OnRay(address) if address else None, log=log or (lambda line: None))

def scores(records:list) -> dict:
    "{run_key: (test accuracy, held-out accuracy)}: what must not depend on where a run ran (not its seconds, times or node)"
    return {run_key(r): (r['accuracy'], r.get('valid_accuracy')) for r in records}

@pytest.fixture(scope='module')
def data():
    d = digits()
    return replace(d, x_test=d.x_test[:100], y_test=d.y_test[:100])  # the caller slices the test split: 100 test images

@pytest.fixture(scope='module')
def serial(data, tmp_path_factory):
    "The grid's records one run at a time in this process, with one thread, as each Ray task has (a run's floating-point sums depend on its threads)"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(1): records = grid(CONFIGS, data, tmp_path_factory.mktemp('serial'))
    finally: torch.set_num_threads(threads)
    assert len(records) == 8 and {r['threads'] for r in records} == {1}
    return records

def _restore(fn:Path, text):
    "`fn` as it was: `text`, or no file where `text` is None"
    if text is None: fn.unlink(missing_ok=True)
    else: fn.write_text(text)

@pytest.fixture(scope='module')
def cluster():
    "A head node and two worker nodes of one CPU each, on this machine; not connected: `run_grid` connects to it by its address, and disconnects"
    if ray.is_initialized(): ray.shutdown()
    # Ray notes a new cluster as this machine's current one, which `ray.init()` without an address joins (and so the grid's 'local'): keep the note as it was,
    # so that no grid of another test session run meanwhile lands on this cluster (and loses a node)
    note = Path(get_ray_address_file(None))
    was = note.read_text() if note.exists() else None
    c = Cluster(initialize_head=True, head_node_args=dict(num_cpus=1, include_dashboard=False))
    _restore(note, was)
    try:
        yield c
    finally:
        ray.shutdown()
        c.shutdown()
        _restore(note, was)

@pytest.fixture
def three_nodes(cluster):
    "The cluster with its two worker nodes (a test before may have removed one), and no driver connected"
    while len(cluster.worker_nodes) < 2: cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    assert not ray.is_initialized()
    yield cluster
    ray.shutdown()  # in case the grid failed while connected

def test_three_nodes_give_the_records_of_one_run_at_a_time(tmp_path, data, serial, three_nodes):
    lines, used, since = [], set(), time.time()
    def log(line):
        "Note the nodes whose workers loaded the grid's code, while the grid's Ray job (and so its workers) lives"
        lines.append(line)
        used.update(n.node_id for n in three_nodes.list_all_nodes() if any(map(_has_torch, _workers(n, since))))
    records = grid(CONFIGS, data, tmp_path, three_nodes.address, log)
    assert f'on Ray ({three_nodes.address}): 3 CPUs, 0 GPUs' in lines[0], lines
    assert used == {n.node_id for n in three_nodes.list_all_nodes()}  # runs ran on each of the three nodes
    assert [run_key(r) for r in records] == [run_key(r) for r in serial]  # the same runs, in the grid's order
    assert scores(records) == scores(serial)
    assert scores(read_results(tmp_path/'results.json')) == scores(serial) and {r['threads'] for r in records} == {1}
    assert not ray.is_initialized()  # run_grid disconnected the driver it connected

def _workers(node, since:float) -> list:
    "The processes `node`'s raylet started since time `since`: its Ray workers for the grid's job"
    raylet = psutil.Process(node.all_processes[PROCESS_TYPE_RAYLET][0].process.pid)
    out = []
    for p in raylet.children(recursive=True):
        with contextlib.suppress(psutil.Error):
            if p.create_time() >= since - 1: out.append(p)
    return out

def _has_torch(p:psutil.Process) -> bool:
    "Whether worker `p` loaded torch: it does once it has a run of the grid, when it imports the task's code (smallfast and torch)"
    try: return 'libtorch' in Path(f'/proc/{p.pid}/maps').read_text()
    except OSError: return False

def _freeze_a_run(node, since:float, stop:threading.Event, timeout:float=120) -> psutil.Process:
    "Stop (SIGSTOP) `node`'s worker while it runs one of the grid's runs, so that the run cannot finish before the node is removed"
    before_torch, end = set(), time.monotonic() + timeout
    while not stop.is_set() and time.monotonic() < end:
        for p in _workers(node, since):
            with contextlib.suppress(psutil.Error):
                if not _has_torch(p): before_torch.add(p.pid); continue
                if p.pid in before_torch: p.suspend(); return p  # seen starting its import 20 ms ago: it is still importing the run's code (seconds)
                if p.cmdline()[:1] == ['ray::_ray_task']:  # Ray titles a worker `ray::<function>` while it runs a task
                    p.suspend()
                    if p.cmdline()[:1] == ['ray::_ray_task']: return p  # still in the task: its result was not sent
                    p.resume()
        time.sleep(0.02)
    raise AssertionError(f"no run of the grid was seen on worker node {node.node_id} in {timeout:g} s")

def test_a_worker_node_lost_mid_grid_loses_no_finished_run(tmp_path, data, serial, three_nodes):
    fn, lines, before, removed, stop = tmp_path/'results.json', [], [], [], threading.Event()
    doomed = sorted(three_nodes.worker_nodes, key=lambda n: n.node_id)[0]
    with ThreadPoolExecutor(1) as pool:
        frozen = pool.submit(_freeze_a_run, doomed, time.time(), stop)  # a run on the doomed node stopped, from its start
        def log(line):
            "Once the first run is recorded, remove the doomed node with its stopped run: the grid waits here, so nothing is recorded meanwhile"
            lines.append(line)
            if removed or not (recorded := read_results(fn)): return
            before.extend(recorded)
            worker = frozen.result(timeout=120)
            three_nodes.remove_node(doomed); removed.append(doomed)
            with contextlib.suppress(psutil.Error): worker.kill()  # the stopped worker of the removed node, were it left
        try: records = grid(CONFIGS, data, tmp_path, three_nodes.address, log)
        finally: stop.set()
    assert removed and len(three_nodes.worker_nodes) == 1, lines
    after = read_results(fn)
    assert before and all(r in after for r in before)  # every run recorded before the node went is still there, intact
    lost = set(map(run_key, serial)) - set(map(run_key, after))
    assert len(lost) == 1 and [r for r in records if run_key(r) in lost] == [], lines  # the run stopped on the removed node, and it alone, has no record
    (t, n, s, *_), = lost
    failed = [l for l in lines if 'failed: ' in l]
    assert len(failed) == 1 and f'failed: {t} {n}/class seed {s} (' in failed[0] and '1 failed' in lines[-1], lines
    assert scores(after) == {k: v for k, v in scores(serial).items() if k not in lost}
    lines.clear()
    again = grid(CONFIGS, data, tmp_path, three_nodes.address, lines.append)  # on the head and the worker left
    assert '7 of 8 runs already in' in lines[0] and 'on Ray' in lines[1] and '2 CPUs' in lines[1], lines
    assert [run_key(r) for r in again] == [run_key(r) for r in serial] and scores(again) == scores(serial)
    assert all(r in read_results(fn) for r in before) and not ray.is_initialized()
