"""Studies behind the notebooks, on Fashion-MNIST: transfer recipes, augmentation presets and VAE settings, one JSON line per
finished run (`smallfast-bench` compares techniques; this explores settings: schedules, ablations, learning rates).

    python tools/bench_transfer.py --shots 10,100 --seeds 0,1,2 --out results/transfer.jsonl
    python tools/bench_transfer.py --recipes cnn --aug none,small_aug --epochs 30 --lr cnn=3e-3 --out results/augment.jsonl

Recipe `cnn` is `small_cnn` from scratch at the images' own size (28 px); the others are `transfer_learner` recipes at `--size`.

A finished run is appended at once; rerunning with the same arguments skips finished runs."""
import argparse, json, platform, time
from pathlib import Path
import torch, fastai, timm
from fastai.torch_core import set_seed
from smallfast.bench import classic_score, fit_and_score
from smallfast.data import fashion_mnist, subsample
from smallfast.transfer import RECIPES

AUGS = dict(none=None, small_aug={}, no_erase=dict(erase_p=0), flip_vert=dict(flip_vert=True), rotate_45=dict(max_rotate=45),
            noise=dict(noise_std=0.1), no_lighting=dict(max_lighting=0), affine_only=dict(max_lighting=0, erase_p=0),
            no_flip=dict(flip=False), erase_half=dict(erase_p=0.5))  # name: arguments of `small_aug`

VAES = dict(none=None, vae=dict(ratio=0.5), vae_r1=dict(ratio=1.0), vae_filter=dict(ratio=0.5, filter_conf=0.5),
            vae_batch=dict(ratio=0.5, labels='batch'), vae_t07=dict(ratio=0.5, temperature=0.7), vae_beta4=dict(ratio=0.5, beta=4.),
            vae_r1_beta4=dict(ratio=1.0, beta=4.))  # name: arguments of `VAECallback`

def run_key(r): return (r['recipe'], r['shots'], r['seed'], r['size'], r['epochs'], r['lr'], r['bs'], r['label_smoothing'], r['drop_rate'], r['lr_mult'],
                        r.get('aug', 'none'), r.get('vae', 'none'))

def one_run(data, recipe, shots, seed, size, epochs, lr, bs, label_smoothing, drop_rate, lr_mult, aug='none', vae='none'):
    "Accuracy and seconds of one run of `fit_and_score`"
    set_seed(seed)
    t = time.perf_counter()
    acc = fit_and_score(subsample(data, shots, seed), recipe, AUGS[aug], VAES[vae], epochs, size, bs, lr, lr_mult, label_smoothing, drop_rate, device='cpu')
    return acc, time.perf_counter() - t

CLASSIC = ('logreg', 'svm')

def classic_run(data, recipe, shots, seed):
    "Logistic regression or an RBF SVM on raw pixels: the references a user would otherwise pick"
    t = time.perf_counter()
    return classic_score(subsample(data, shots, seed), recipe), time.perf_counter() - t

def main():
    p = argparse.ArgumentParser()
    p.add_argument('--recipes', default=','.join(RECIPES + CLASSIC)); p.add_argument('--aug', default='none', help='presets: ' + ','.join(AUGS)); p.add_argument('--vae', default='none', help='presets: ' + ','.join(VAES)); p.add_argument('--shots', default='10,100')
    p.add_argument('--seeds', default='0,1,2'); p.add_argument('--size', type=int, default=64)
    p.add_argument('--epochs', default='20', help='one value, or one per shot size'); p.add_argument('--lr', default='')
    p.add_argument('--bs', default='16', help='one value, or one per shot size'); p.add_argument('--label_smoothing', type=float, default=0.1)
    p.add_argument('--drop_rate', type=float, default=0.2); p.add_argument('--lr_mult', type=float, default=100)
    p.add_argument('--test_n', type=int, default=10000); p.add_argument('--out', default='results/transfer.jsonl')
    a = p.parse_args()
    out = Path(a.out); out.parent.mkdir(parents=True, exist_ok=True)
    done = {run_key(json.loads(l)) for l in out.read_text().splitlines()} if out.exists() else set()
    data = fashion_mnist()
    if a.test_n < len(data.x_test):
        from dataclasses import replace
        data = replace(data, x_test=data.x_test[:a.test_n], y_test=data.y_test[:a.test_n])
    lrs = dict(l.split('=') for l in a.lr.split(',') if l)  # per recipe, e.g. scratch=3e-3,frozen=1e-2
    default_lr = dict(scratch=3e-3, frozen=1e-2, one_lr=1e-3, discriminative=2e-3, cnn=3e-3)
    shot_sizes = [int(n) for n in a.shots.split(',')]
    per_shot = lambda v: dict(zip(shot_sizes, [int(x) for x in v.split(',')] * (len(shot_sizes) if ',' not in v else 1)))
    epochs, bss = per_shot(a.epochs), per_shot(a.bs)
    for shots in shot_sizes:
        for seed in map(int, a.seeds.split(',')):
            for recipe, aug, vae in [(r, g, v) for r in a.recipes.split(',') for g in a.aug.split(',') for v in a.vae.split(',')]:
                if recipe in CLASSIC: r = dict(recipe=recipe, shots=shots, seed=seed, size=28, epochs=0, lr=0., bs=0, label_smoothing=0., drop_rate=0., lr_mult=0.)
                else: r = dict(recipe=recipe, shots=shots, seed=seed, size=28 if recipe == 'cnn' else a.size, epochs=epochs[shots], lr=float(lrs.get(recipe, default_lr[recipe])),
                               bs=bss[shots], label_smoothing=a.label_smoothing, drop_rate=a.drop_rate, lr_mult=a.lr_mult, aug=aug, vae=vae)
                if run_key(r) in done: continue
                acc, secs = classic_run(data, recipe, shots, seed) if recipe in CLASSIC else one_run(data, **r)
                r.update(accuracy=acc, seconds=round(secs, 1), test_n=len(data.x_test), torch=torch.__version__, fastai=fastai.__version__,
                         timm=timm.__version__, threads=torch.get_num_threads(), machine=platform.machine())
                with out.open('a') as f: f.write(json.dumps(r) + '\n')
                print(f"{recipe:>15} {r.get('aug', ''):>12} {r.get('vae', ''):>10} {shots:>4}/class seed {seed}: {acc:.2%} in {secs:.0f}s", flush=True)

if __name__ == '__main__': main()
