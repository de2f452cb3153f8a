#!/usr/bin/python3
"""Exports scikit-learn's bundled tables to CSV (train.csv, test.csv per data set) for the tabular
comparison in bench/RESULTS.md, and runs scikit-learn's MLP on the same files.

Needs Debian's python3-sklearn (offline, bundled data sets only). Not used by the tests.

  python3 bench/tabular/export.py OUTDIR          write OUTDIR/<name>/{train,test}.csv
  python3 bench/tabular/export.py OUTDIR --sklearn
                                                   also fit MLPClassifier/MLPRegressor on
                                                   standardised inputs, print JSON per data set
"""
import json
import os
import sys
import time

import numpy as np
from sklearn import datasets
from sklearn.model_selection import train_test_split

SETS = {
    'iris': (datasets.load_iris, 'classification'),
    'wine': (datasets.load_wine, 'classification'),
    'breast_cancer': (datasets.load_breast_cancer, 'classification'),
    'digits': (datasets.load_digits, 'classification'),
    'diabetes': (datasets.load_diabetes, 'regression'),
}


def export(out):
    for name, (load, task) in SETS.items():
        d = load()
        x, y = d.data, d.target
        if task == 'classification' and hasattr(d, 'target_names'):
            y = np.array([str(d.target_names[i]) for i in y])
        strat = y if task == 'classification' else None
        xtr, xte, ytr, yte = train_test_split(x, y, test_size=0.2, random_state=0, stratify=strat)
        cols = ['x%d' % j for j in range(x.shape[1])]
        os.makedirs(os.path.join(out, name), exist_ok=True)
        for part, xs, ys in (('train', xtr, ytr), ('test', xte, yte)):
            with open(os.path.join(out, name, part + '.csv'), 'w') as f:
                f.write(','.join(cols + ['y']) + '\n')
                for row, label in zip(xs, ys):
                    f.write(','.join(repr(float(v)) for v in row) + ',' + str(label) + '\n')


def read(path):
    """A CSV written by export(): float features, the label last."""
    import csv
    with open(path) as f:
        rows = list(csv.reader(f))
    x = np.array([[float(v) for v in r[:-1]] for r in rows[1:]])
    y = [r[-1] for r in rows[1:]]
    return x, y


def run_sklearn(out):
    from sklearn.metrics import accuracy_score, r2_score
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    import warnings
    warnings.filterwarnings('ignore')
    for name, (_, task) in SETS.items():
        xtr, ytr = read(os.path.join(out, name, 'train.csv'))
        xte, yte = read(os.path.join(out, name, 'test.csv'))
        if task == 'regression':
            ytr, yte = np.array(ytr, float), np.array(yte, float)
        est = (MLPClassifier if task == 'classification' else MLPRegressor)(random_state=0)
        model = make_pipeline(StandardScaler(), est)
        t0 = time.perf_counter()
        model.fit(xtr, ytr)
        p = model.predict(xte)
        seconds = time.perf_counter() - t0
        score = accuracy_score(yte, p) if task == 'classification' else r2_score(yte, p)
        print(json.dumps({'name': name, 'task': task, 'rows': len(ytr) + len(yte), 'score': score, 'seconds': seconds}))


if __name__ == '__main__':
    export(sys.argv[1])
    if '--sklearn' in sys.argv:
        run_sklearn(sys.argv[1])
