"smallfast-bench with --workers and --ray: the same records as one run at a time, one writer, bad input, a worker killed, Ctrl-C"
import json, os, signal, subprocess, sys, time
from pathlib import Path
import psutil
import pytest
from conftest import tree_digest

BENCH = Path(sys.executable).parent/'smallfast-bench'
GRID = ['--data', 'digits', '--shots', '3,5', '--seeds', '2', '--techniques', 'baseline,augment,logreg', '--epochs', '10', '--no-flip', '--device', 'cpu']
SLOW = [*GRID, '--shots', '3,5', '--seeds', '1', '--techniques', 'baseline,logreg', '--epochs', '2000']  # 4 runs, the two baselines long enough to be stopped in the middle, the 5/class one longest (a later flag wins)
ONE_THREAD = dict(os.environ, OMP_NUM_THREADS='1')  # on the CPU, a run's floating-point sums depend on its threads: one each, as two workers on two cores get

def bench(*args, env=None, timeout=600):
    return subprocess.run([BENCH, *map(str, args)], capture_output=True, text=True, timeout=timeout, env=env)

def runs(out:Path) -> dict:
    "{(technique, shots, seed): accuracy} of the records in `out`"
    return {(r['technique'], r['shots'], r['seed']): r['accuracy'] for r in json.loads((out/'results.json').read_text())}

@pytest.fixture(scope='module')
def serial(tmp_path_factory):
    out = tmp_path_factory.mktemp('serial')/'out'
    r = bench(*GRID, '--out', out, env=ONE_THREAD)
    assert r.returncode == 0, r.stderr
    return runs(out)

def test_workers_give_the_records_of_one_run_at_a_time(tmp_path, serial):
    r = bench(*GRID, '--workers', '2', '--out', tmp_path)
    assert r.returncode == 0, r.stderr
    assert '2 workers at a time on cpu, 1 thread(s) each' in r.stdout and 'finished: logreg 5/class seed 1' in r.stdout
    assert runs(tmp_path) == serial and len(serial) == 12
    records = json.loads((tmp_path/'results.json').read_text())
    assert {r['threads'] for r in records} == {1} and all(r['started'] <= r['finished'] for r in records)
    assert (tmp_path/'results.md').exists() and 'logreg' in (tmp_path/'results.md').read_text()

def test_ray_local_gives_the_records_of_one_run_at_a_time(tmp_path, serial):
    pytest.importorskip('ray')
    r = bench(*GRID, '--ray', 'local', '--out', tmp_path)
    assert r.returncode == 0, r.stderr
    assert 'on Ray (local): ' in r.stdout and 'GPUs; a task a training, 1 CPU each' in r.stdout and runs(tmp_path) == serial

def test_workers_resume(tmp_path, serial):
    assert bench(*GRID, '--shots', '3', '--out', tmp_path, env=ONE_THREAD).returncode == 0
    r = bench(*GRID, '--workers', '2', '--out', tmp_path)
    assert r.returncode == 0 and '6 of 12 runs already in' in r.stdout, r.stdout + r.stderr
    assert runs(tmp_path) == serial

@pytest.mark.parametrize('args, message', [
    (['--workers', '0'], "--workers=0: give 'auto' or a positive whole number of runs at a time"),
    (['--workers', 'two'], "--workers=two: give 'auto' or a positive whole number of runs at a time"),
    (['--workers', '-1'], "--workers=-1: give 'auto' or a positive whole number of runs at a time"),
    (['--workers', '2', '--ray', 'local'], '--workers 2 and --ray local: give one of them')])
def test_bad_workers_are_refused_before_anything_runs(tmp_path, args, message):
    r = bench(*GRID, *args, '--out', tmp_path/'out')
    assert r.returncode == 2 and message in r.stderr and 'Traceback' not in r.stderr, r.stderr
    assert not (tmp_path/'out').exists()

def test_ray_not_installed(tmp_path):
    (tmp_path/'shadow'/'ray').mkdir(parents=True)
    (tmp_path/'shadow'/'ray'/'__init__.py').write_text("raise ImportError(\"No module named 'ray'\")")  # as where Ray is not installed
    r = bench(*GRID, '--ray', 'auto', '--out', tmp_path/'out', env=dict(os.environ, PYTHONPATH=str(tmp_path/'shadow')))
    assert r.returncode == 2 and "pip install 'smallfast[ray]'" in r.stderr and 'Traceback' not in r.stderr, r.stderr

def test_a_ray_address_that_does_not_answer_loses_nothing(tmp_path, serial):
    out = tmp_path/'out'
    assert bench(*GRID, '--shots', '3', '--seeds', '1', '--out', out).returncode == 0
    before, t = tree_digest(out), time.perf_counter()
    r = bench(*GRID, '--ray', '127.0.0.1:9', '--out', out, timeout=120)
    assert r.returncode == 2 and '--ray 127.0.0.1:9: Ray address 127.0.0.1:9: nothing answers there' in r.stderr and 'Traceback' not in r.stderr, r.stderr
    assert time.perf_counter() - t < 60 and tree_digest(out) == before

def workers_of(p:subprocess.Popen) -> list:
    "The worker processes of the bench process `p` (its children but multiprocessing's resource tracker)"
    return [c for c in psutil.Process(p.pid).children() if 'resource_tracker' not in ' '.join(c.cmdline())]

def started(p:subprocess.Popen, lines:list, what:str, timeout=120):
    "Read `p`'s output into `lines` until a line contains `what`"
    end = time.time() + timeout
    while time.time() < end:
        lines.append(p.stdout.readline())
        if what in lines[-1]: return
    raise AssertionError(f"no {what!r} in {lines}")

def test_a_killed_worker_fails_its_run_the_others_finish_and_it_runs_on_resume(tmp_path):
    p = subprocess.Popen([BENCH, *SLOW, '--workers', '2', '--out', tmp_path], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = []
    started(p, lines, 'now: baseline 3/class seed 0')  # both workers have a run: the longest first, the two baselines
    workers_of(p)[0].kill()
    out, err = p.communicate(timeout=600)
    assert p.returncode == 1, err
    assert '(its worker process ended (exit code -9)): it runs again when the grid runs again' in out and '1 failed' in out, out
    assert '1 run(s) failed and have no record; run the same command again to run them' in err
    assert len(runs(tmp_path)) == 3
    r = bench(*SLOW, '--workers', '2', '--out', tmp_path)
    assert r.returncode == 0 and '3 of 4 runs already in' in r.stdout, r.stdout + r.stderr
    assert len(runs(tmp_path)) == 4

@pytest.mark.parametrize('sig, to_group', [(signal.SIGINT, True), (signal.SIGTERM, False)])
def test_ctrl_c_stops_every_worker_and_keeps_finished_runs(tmp_path, sig, to_group):
    # a group of its own, as a terminal gives a command; a shell without job control starts background jobs with SIGINT ignored: restore Ctrl-C's default
    p = subprocess.Popen([BENCH, *SLOW, '--workers', '2', '--out', tmp_path], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    lines = []
    started(p, lines, 'finished: logreg 3/class seed 0', timeout=300)  # the shorter baseline and logreg 3/class recorded, the longest baseline under way
    workers = workers_of(p)
    assert len(workers) == 2
    os.killpg(p.pid, sig) if to_group else p.send_signal(sig)  # a terminal's Ctrl-C reaches every process of the group; kill or a scheduler's SIGTERM only the grid's
    out, err = p.communicate(timeout=60)
    assert p.returncode == 130 and 'every finished run is saved' in err, err
    assert ('logreg', 3, 0) in runs(tmp_path) and len(runs(tmp_path)) < 4
    psutil.wait_procs(workers, timeout=15)
    assert not [w for w in workers if w.is_running() and w.status() != psutil.STATUS_ZOMBIE]  # no orphan left training
    assert not list(tmp_path.glob('.results.json.*.part'))

TWO_CORES = dict(os.environ, OMP_NUM_THREADS='2')  # a thread budget of 2 cores, as on the machine this was measured on, whatever this one has

def test_auto_workers_is_the_default(tmp_path, serial):
    r = bench(*GRID, '--out', tmp_path, env=TWO_CORES)
    assert r.returncode == 0, r.stderr
    assert '2 workers at a time on cpu, 1 thread(s) each' in r.stdout, r.stdout
    assert runs(tmp_path) == serial  # one thread a run, as one at a time with one thread
    few = bench(*GRID, '--shots', '3', '--seeds', '1', '--out', tmp_path/'few', env=TWO_CORES)  # 3 trainings: one at a time here
    assert few.returncode == 0 and 'workers at a time' not in few.stdout, few.stdout
