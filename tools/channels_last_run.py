"""One `transfer+augment` run end to end (training, then scoring with 4 test-time passes) with the weights in the default
and in the channels-last memory format: what `transfer_learner(channels_last=True)` saves in a whole run, where
`channels_last_speed.py` times the network alone. First run 2026-11-28 on this machine's CPU, then on a GPU (`--device cuda`).

    python tools/channels_last_run.py [--size 128] [--epochs 10] [--test-n 2000] [--layouts default,last] [--device cpu|cuda]

The layouts run in the order given (`--layouts last,default` to see that the first run's warm-up is not what differs).
"""
import argparse, time
from dataclasses import replace
from fastai.torch_core import set_seed
from smallfast import bench
from gpu_search import levers_applied  # tools/: the channels_last lever, `bench` with the weights in either format
from smallfast.data import fashion_mnist, subsample

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--size', type=int, default=128); p.add_argument('--epochs', type=int, default=10); p.add_argument('--test-n', type=int, default=2000)
    p.add_argument('--layouts', default='default,last', help="'default' (contiguous) and 'last' (channels-last), in the order to run them")
    p.add_argument('--device', default='cpu')
    a = p.parse_args()
    sub = subsample(fashion_mnist(), 10, 0)
    sub = replace(sub, x_test=sub.x_test[:a.test_n], y_test=sub.y_test[:a.test_n])
    for channels_last in [{'default': False, 'last': True}[l] for l in a.layouts.split(',')]:
        with levers_applied({'channels_last': channels_last}):
            set_seed(0); t0 = time.perf_counter()
            learn = bench._trained(sub, 'discriminative', aug={}, epochs=a.epochs, size=a.size, device=a.device)
            trained = time.perf_counter() - t0
            acc = bench._scored(learn, len(sub.y_test), 4)
            scored = time.perf_counter() - t0 - trained
        print(f"channels_last={channels_last}: training {trained:.0f} s, scoring with 4 TTA passes {scored:.0f} s "
              f"({a.test_n} test images, {a.size} px, {a.epochs} epochs, {a.device}), accuracy {acc:.4f}", flush=True)

if __name__ == '__main__': main()
