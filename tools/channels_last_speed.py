"""EfficientNet-Lite0 on grey images: prediction and training-step time (every layer trained) with the weights in the default
(contiguous) and the channels-last memory format (`transfer_learner(channels_last=)`). First run 2026-11-28 on this machine's CPU.

    python tools/channels_last_speed.py [--device cpu|cuda] [--size 128] [--n 256] [--bs 16]
"""
import argparse, time, torch
from smallfast.transfer import transfer_learner
from smallfast.data import digits, small_dls, subsample

def fastest(f, repeats:int, device:str) -> float:
    "The fastest of `repeats` timed calls of `f`, after one untimed call; a GPU's queued work is waited for"
    sync = torch.cuda.synchronize if str(device).startswith('cuda') else (lambda: None)
    f(); sync(); times = []
    for _ in range(repeats): t0 = time.perf_counter(); f(); sync(); times.append(time.perf_counter() - t0)
    return min(times)

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--device', default='cpu'); p.add_argument('--size', type=int, default=128)
    p.add_argument('--n', type=int, default=256, help="images predicted at once"); p.add_argument('--bs', type=int, default=16, help="images in a training step")
    a = p.parse_args()
    dls = small_dls(subsample(digits(), 5), bs=a.bs, size=a.size, device=a.device)
    x = torch.randn(a.n, 1, a.size, a.size, device=a.device)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {a.device}, {a.size} px")
    for channels_last in (False, True):
        learn = transfer_learner(dls, channels_last=channels_last)
        learn.unfreeze(); model = learn.model.to(a.device)  # every layer trains, as in all epochs but the first
        with torch.inference_mode(): predict = fastest(lambda: model.eval()(x), 3, a.device)
        model.train()
        step = fastest(lambda: model(x[:a.bs]).sum().backward(), 5, a.device)
        print(f"channels_last={channels_last}: predict {a.n} images {predict:.3f} s, training step of {a.bs} {step:.3f} s", flush=True)

if __name__ == '__main__': main()
