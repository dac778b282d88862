"""The one short GPU check of a session with a GPU machine: augmentation throughput (`augbench` on CUDA) and a
training smoke test (timings and accuracies), each result appended to a JSON-lines file in OUTDIR.

    SMALLFAST_CACHE=... python tools/gpu_check.py OUTDIR"""
import json, sys, time
from pathlib import Path
import torch
from fastai.learner import Learner
from fastai.metrics import accuracy
from fastai.torch_core import set_seed
import fastai.callback.schedule  # adds `fit_one_cycle`
from smallfast.augment import augbench, small_aug
from smallfast.data import fashion_mnist, small_cnn, small_dls, subsample
from smallfast.transfer import ValidateAtEnd, fit_recipe, recipe_learner

def smoke(out:Path, data, name, make_learner, fit):
    "Train one learner on the GPU; record accuracy, time and where the augmented batches live"
    set_seed(0); torch.cuda.synchronize(); t = time.perf_counter()
    learn = make_learner()
    xb, _ = learn.dls.one_batch()
    with learn.no_bar(), learn.no_logging(): fit(learn)
    torch.cuda.synchronize()
    r = dict(run=name, accuracy=float(learn.recorder.values[-1][-1]), seconds=round(time.perf_counter() - t, 1), batch_device=str(xb.device),
             gpu=torch.cuda.get_device_name(), torch=torch.__version__)
    print(r, flush=True); (out/'train_gpu.jsonl').open('a').write(json.dumps(r) + '\n')

if __name__ == '__main__':
    out = Path(sys.argv[1]); out.mkdir(parents=True, exist_ok=True)
    print(torch.cuda.get_device_name(), torch.__version__, flush=True)
    augbench(sizes='64,224', channels='1,3', n=16384, device='cuda', workers=2, out=str(out/'augbench_gpu.jsonl'))
    augbench(sizes='224', channels='1', n=16384, device='cuda', workers=16, out=str(out/'augbench_gpu.jsonl'))
    data = subsample(fashion_mnist(), 10, seed=0)
    smoke(out, data, 'small_cnn + small_aug, 10/class, 30 epochs',
          lambda: Learner(small_dls(data, bs=16, batch_tfms=small_aug(), device='cuda'), small_cnn(10), metrics=accuracy),
          lambda l: l.fit_one_cycle(30, 3e-3, cbs=ValidateAtEnd()))
    smoke(out, data, 'transfer discriminative + small_aug(64), 10/class, 20 epochs',
          lambda: recipe_learner(small_dls(data, bs=16, batch_tfms=small_aug(64), device='cuda'), 'discriminative'),
          lambda l: fit_recipe(l, 'discriminative', 20, lr=5e-3, lr_mult=3, cbs=ValidateAtEnd()))
