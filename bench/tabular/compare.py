#!/usr/bin/python3
"""The tabular comparison in bench/RESULTS.md: `blasnet train --csv train.csv --test-csv test.csv
--label y` with no other flag against scikit-learn's MLPClassifier/MLPRegressor (defaults,
random_state 0) on StandardScaler-ed inputs, on scikit-learn's bundled tables split 80/20
(stratified for classes, random_state 0) by export.py.

Both sides are timed as a user runs them, one fresh process per data set: blasnet's whole CLI
command (start-up, reading, preprocessing, training with early stopping, test report, writing the
model, history and learning curves) against a Python process that imports scikit-learn, reads
the CSVs, fits and predicts. The in-process figures (blasnet's training + test seconds; sklearn's
fit + predict) are printed too. For regression, scikit-learn is also run with standardised
targets (TransformedTargetRegressor), which blasnet does by default.

  /usr/bin/python3 bench/tabular/compare.py [REPEATS]     (needs `npm run build` and python3-sklearn)
"""
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CLI = os.path.join(HERE, '..', '..', 'dist', 'lib', 'cli.js')
sys.path.insert(0, HERE)
import export  # noqa: E402

SKLEARN = r'''
import json, sys, time
t0 = time.perf_counter()
import numpy as np
from sklearn.metrics import accuracy_score, r2_score
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.compose import TransformedTargetRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
import warnings; warnings.filterwarnings('ignore')
sys.path.insert(0, sys.argv[1])
from export import read
d, task, scale = sys.argv[2], sys.argv[3], sys.argv[4] == '1'
xtr, ytr = read(d + '/train.csv'); xte, yte = read(d + '/test.csv')
if task == 'regression':
    ytr, yte = np.array(ytr, float), np.array(yte, float)
    est = MLPRegressor(random_state=0)
    if scale: est = TransformedTargetRegressor(regressor=est, transformer=StandardScaler())
else:
    est = MLPClassifier(random_state=0)
model = make_pipeline(StandardScaler(), est)
t1 = time.perf_counter(); model.fit(xtr, ytr); p = model.predict(xte); t2 = time.perf_counter()
score = accuracy_score(yte, p) if task == 'classification' else r2_score(yte, p)
print(json.dumps({'score': score, 'fit': t2 - t1}))
'''


def wall(cmd, cwd):
    t = time.perf_counter()
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=True)
    return time.perf_counter() - t, r.stdout.strip().split('\n')[-1]


def main():
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    out = tempfile.mkdtemp(prefix='blasnet-tabular-')
    export.export(out)
    rows = []
    for name, (load, task) in export.SETS.items():
        d = os.path.join(out, name)
        n = sum(1 for _ in open(d + '/train.csv')) + sum(1 for _ in open(d + '/test.csv')) - 2
        runs = []
        for _ in range(repeats):
            w, line = wall(['node', CLI, 'train', '--csv', 'train.csv', '--test-csv', 'test.csv', '--label', 'y'], d)
            j = json.loads(line)
            runs.append((w, j['testAccuracy'] if task == 'classification' else j['r2'], j['seconds']))
        sk = []
        for scale in (['0', '1'] if task == 'regression' else ['0']):
            for _ in range(repeats):
                w, line = wall(['/usr/bin/python3', '-c', SKLEARN, HERE, d, task, scale], d)
                j = json.loads(line)
                sk.append((scale, w, j['score'], j['fit']))
        best = min(runs)
        row = {'name': name, 'task': task, 'rows': n, 'blasnet': {'score': best[1], 'wall': best[0], 'train': best[2]}}
        for scale in sorted(set(s[0] for s in sk)):
            b = min(s for s in sk if s[0] == scale)
            row['sklearn' + ('_scaled_y' if scale == '1' else '')] = {'score': b[2], 'wall': b[1], 'fit': b[3]}
        rows.append(row)
        print(json.dumps(row), flush=True)
    metric = {'classification': 'accuracy', 'regression': 'R2'}
    print('\n| data set | rows | task (metric) | blasnet score | blasnet wall s (train+test s) | sklearn score | sklearn wall s (fit+predict s) |')
    print('| --- | ---: | --- | ---: | ---: | ---: | ---: |')
    for r in rows:
        for key in [k for k in r if k.startswith('sklearn')]:
            s = r[key]
            label = ' (targets standardised)' if key.endswith('scaled_y') else ''
            print(f"| {r['name']} | {r['rows']} | {r['task']} ({metric[r['task']]}) | {r['blasnet']['score']:.4f} | "
                  f"{r['blasnet']['wall']:.2f} ({r['blasnet']['train']:.2f}) | {s['score']:.4f}{label} | {s['wall']:.2f} ({s['fit']:.2f}) |")


if __name__ == '__main__':
    main()
