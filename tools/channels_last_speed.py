"""EfficientNet-Lite0 on grey 128-pixel images, on this machine's CPU: prediction and training-step time (every layer trained) with the weights
in the default (contiguous) and the channels-last memory format (`transfer_learner(channels_last=)`). First run 2026-11-28.

    python tools/channels_last_speed.py
"""
import time, torch
from smallfast.transfer import transfer_learner
from smallfast.data import digits, small_dls, subsample

def fastest(f, repeats:int) -> float:
    "The fastest of `repeats` timed calls of `f`, after one untimed call"
    f(); times = []
    for _ in range(repeats): t0 = time.perf_counter(); f(); times.append(time.perf_counter() - t0)
    return min(times)

def main():
    dls = small_dls(subsample(digits(), 5), bs=16, size=128, device='cpu')
    x = torch.randn(256, 1, 128, 128)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    for channels_last in (False, True):
        learn = transfer_learner(dls, channels_last=channels_last)
        learn.unfreeze(); model = learn.model  # every layer trains, as in all epochs but the first
        with torch.inference_mode(): predict = fastest(lambda: model.eval()(x), 3)
        model.train()
        step = fastest(lambda: model(x[:16]).sum().backward(), 5)
        print(f"channels_last={channels_last}: predict 256 images {predict:.2f} s, training step of 16 {step:.2f} s")

if __name__ == '__main__': main()
