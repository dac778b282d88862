"""Where a whole run's channels-last gain comes from: `torch.profiler` over `bench._trained` (`transfer+augment`, 10 images per
class, 3 epochs at 128 px, then the one validation at the end over the 10,000 test images) with the weights in the default and in
the channels-last memory format; the operators that took the most time in each. First run 2026-11-28 on this machine's 2 CPU cores.

    python tools/channels_last_profile.py [--epochs 3] [--size 128] [--rows 6]
"""
import argparse, time
from torch.profiler import profile, ProfilerActivity
from fastai.torch_core import set_seed
from smallfast import bench
from gpu_search import levers_applied  # tools/: the channels_last lever, `bench` with the weights in either format
from smallfast.data import fashion_mnist, subsample

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--epochs', type=int, default=3); p.add_argument('--size', type=int, default=128); p.add_argument('--rows', type=int, default=6)
    a = p.parse_args()
    sub = subsample(fashion_mnist(), 10, 0)
    for channels_last in (False, True):
        with levers_applied({'channels_last': channels_last}):
            set_seed(0); t0 = time.perf_counter()
            with profile(activities=[ProfilerActivity.CPU]) as prof: bench._trained(sub, 'discriminative', aug={}, epochs=a.epochs, size=a.size, device='cpu')
        print(f"channels_last={channels_last}: {time.perf_counter() - t0:.0f} s under the profiler", flush=True)
        print(prof.key_averages().table(sort_by='self_cpu_time_total', row_limit=a.rows), flush=True)

if __name__ == '__main__': main()
