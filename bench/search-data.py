#!/usr/bin/python3
"""Writes scikit-learn's bundled breast-cancer table as train.csv and test.csv (stratified 75/25,
seeded) into the directory given, for bench/search.ts. Needs python3-sklearn (apt-get install
python3-sklearn); run with the system python, /usr/bin/python3."""
import csv
import os
import sys

from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split

out = sys.argv[1] if len(sys.argv) > 1 else "bench/out/search"
os.makedirs(out, exist_ok=True)
data = load_breast_cancer()
x_train, x_test, y_train, y_test = train_test_split(data.data, data.target, test_size=0.25, random_state=0, stratify=data.target)
header = [f"f{i}" for i in range(data.data.shape[1])] + ["label"]
for name, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
    with open(os.path.join(out, f"{name}.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        for row, label in zip(x, y):
            w.writerow([repr(float(v)) for v in row] + [int(label)])
print(f"{len(y_train)} training and {len(y_test)} test rows in {out}")
