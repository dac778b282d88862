"""Accuracy of an ensemble of trainings against its members, from the predictions `tools/gpu_search.py --save-preds` keeps.

    python tools/ensemble_scores.py results/ensemble-preds --members all,all_seed+1000 [--out results/ensemble.txt]

For each subset (shots, size, seed) that every member has, the members' predicted probabilities are averaged, for plain
predictions and for each number of test-time passes saved; printed: per seed, each member's and the ensemble's accuracy
on the test and the validation split, then the mean ± std over seeds and the ensemble's paired gain over each member.
"""
import argparse, re
from pathlib import Path
import numpy as np

NAME = re.compile(r'(?P<config>.+)-(?P<shots>\d+)-(?P<size>\d+)px-seed(?P<seed>\d+)\.npz')


def runs(folder) -> dict:
    "{(config, shots, size, seed): the saved arrays} for every file `gpu_search.save_predictions` wrote in `folder`"
    found = {}
    for fn in sorted(Path(folder).glob('*.npz')):
        m = NAME.fullmatch(fn.name)
        if m is None: raise SystemExit(f"{fn}: not a predictions file of tools/gpu_search.py (config-shots-SIZEpx-seedN.npz)")
        with np.load(fn) as z: found[m['config'], int(m['shots']), int(m['size']), int(m['seed'])] = dict(z)
    return found


def split_accuracy(probs, targets, n_test:int) -> tuple:
    "(test, validation) accuracy of `probs`: the first `n_test` rows are the test split"
    right = probs.astype(np.float32).argmax(-1) == targets
    return float(right[:n_test].mean()), float(right[n_test:].mean())


def ensemble_rows(found:dict, members:list) -> list:
    "One row per subset and kind of prediction: each member's (test, validation) accuracy and the ensemble's"
    subsets = sorted({k[1:] for k in found if all((m, *k[1:]) in found for m in members)})
    rows = []
    for shots, size, seed in subsets:
        arrays = [found[m, shots, size, seed] for m in members]
        targets, n_test = arrays[0]['targets'], int(arrays[0]['n_test'])
        if any(not np.array_equal(a['targets'], targets) for a in arrays): raise SystemExit(f"{shots}/class {size} px seed {seed}: the members were scored on different images")
        for kind in [k for k in arrays[0] if k not in ('targets', 'n_test')]:
            scores = [split_accuracy(a[kind], targets, n_test) for a in arrays]
            mean = np.mean([a[kind].astype(np.float32) for a in arrays], 0)
            rows.append(dict(shots=shots, size=size, seed=seed, kind=kind, members=scores, ensemble=split_accuracy(mean, targets, n_test)))
    return rows


def report(rows:list, members:list) -> str:
    "The rows per seed, then per (shots, size, kind) the mean ± std over seeds and the ensemble's paired gain over each member"
    pct = lambda x: f"{100 * x:.2f}"
    lines = [f"members: {', '.join(members)}; test % / validation %", '']
    for r in rows:
        cells = [f"{m} {pct(t)} / {pct(v)}" for m, (t, v) in zip(members, r['members'])]
        lines.append(f"{r['shots']}/class {r['size']} px seed {r['seed']} {r['kind']}: " + ' | '.join(cells) + f" | ensemble {pct(r['ensemble'][0])} / {pct(r['ensemble'][1])}")
    lines.append('')
    for group in sorted({(r['shots'], r['size'], r['kind']) for r in rows}):
        rs = [r for r in rows if (r['shots'], r['size'], r['kind']) == group]
        stat = lambda xs: f"{100 * np.mean(xs):.2f} ± {100 * np.std(xs, ddof=1) if len(xs) > 1 else 0:.2f}"
        cells = [f"{m} {stat([r['members'][i][0] for r in rs])} / {stat([r['members'][i][1] for r in rs])}" for i, m in enumerate(members)]
        gains = [f"over {m}: {stat([r['ensemble'][0] - r['members'][i][0] for r in rs])} / {stat([r['ensemble'][1] - r['members'][i][1] for r in rs])}" for i, m in enumerate(members)]
        lines.append(f"{group[0]}/class {group[1]} px {group[2]}, {len(rs)} seed(s): " + ' | '.join(cells)
                     + f" | ensemble {stat([r['ensemble'][0] for r in rs])} / {stat([r['ensemble'][1] for r in rs])}; paired gain " + '; '.join(gains))
    return '\n'.join(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('folder'); p.add_argument('--members', default='all,all_seed+1000', help="configs averaged, comma separated, as in the file names")
    p.add_argument('--out', help="also write the report here")
    a = p.parse_args(); members = a.members.split(',')
    rows = ensemble_rows(runs(a.folder), members)
    if not rows: raise SystemExit(f"{a.folder}: no subset has predictions of every member ({', '.join(members)})")
    text = report(rows, members); print(text)
    if a.out: Path(a.out).write_text(text + '\n')


if __name__ == '__main__': main()
