#!/usr/bin/env python3
"""PyTorch peer for the reference MLP training workload.

Trains an MLP (nn.Linear + nn.ReLU, linear output, nn.CrossEntropyLoss,
torch.optim.Adam(lr=1e-3)) on the Fashion-MNIST training set with shuffled
minibatches, the loop written as PyTorch users write it, and times each run.

Usage:
    python3 bench/peers/torch_mlp.py --sizes=784,256,128,10 --batch=32 --runs=3
        [--threads=N] [--interop-threads=N] [--steps=N] [--data-dir=DIR] [--serve]

Each run builds a fresh model from a fixed seed (untimed) and times one epoch
(every batch, the last partial one included, as DataLoader(drop_last=False)
yields them) or, with --steps=N, N steps. One untimed warmup on a separate
fresh model comes first. Data loading is never timed.

Progress goes to stderr; stdout gets exactly one JSON line:
    {"peer": "pytorch", "version", "threads", "interopThreads", "env", "blas",
     "sizes", "batch", "steps", "rows", "secondsPerRun", "samplesPerSecond",
     "lastLoss"}
where steps and rows are per run.

With --serve (--runs is then ignored) the process stays up so that a caller can
interleave its runs with other work without paying the start-up, the data load
and the warmup again: after the warmup it prints the JSON line above without
the per-run fields, then reads stdin line by line; each "run" line gets one
timed run on a fresh model and one JSON line back,
    {"seconds", "samplesPerSecond", "lastLoss"}
and end of input (or "quit") ends the process with status 0. Any other line
is an error (status 2).

Thread settings taken from the environment (OMP_NUM_THREADS, OPENBLAS_NUM_THREADS,
MKL_NUM_THREADS, OMP_WAIT_POLICY, ...) are read once, when torch and its BLAS
load, so they must be set by the caller; --threads and --interop-threads are
applied right after torch is imported, before any other torch call.

Exit status: 0 success, 1 data or runtime error, 2 bad arguments,
3 PyTorch not installed (the caller may skip this peer).
"""

import argparse
import ctypes
import gzip
import json
import os
import struct
import sys
import time

from torch_peer import EXIT_ERROR, import_torch, log

EXIT_USAGE = 2

DEFAULT_DATA_DIR = "/usr/share/datasets/fashion-mnist"
TRAIN_IMAGES = "train-images-idx3-ubyte.gz"
TRAIN_LABELS = "train-labels-idx1-ubyte.gz"
IDX_IMAGES_MAGIC = 2051
IDX_LABELS_MAGIC = 2049
NUM_CLASSES = 10

SEED = 1
LEARNING_RATE = 1e-3
WARMUP_STEPS = 50

# Environment variables that change this workload's speed, reported as they
# were when the process began: the thread counts of torch's OpenMP pool and of
# the BLAS library, how idle OpenMP threads wait, the BLAS kernel choice, and
# glibc malloc's tunables (with glibc's defaults, freeing the large per-step
# gradient buffers returns their pages to the kernel, so every step page-faults
# them back in).
REPORTED_ENV_VARS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OMP_WAIT_POLICY",
    "GOMP_SPINCOUNT",
    "OPENBLAS_CORETYPE",
    "GLIBC_TUNABLES",
)


def positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text}")
    return value


def layer_sizes(text):
    try:
        sizes = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers such as 784,256,128,10: {text!r}"
        ) from None
    if len(sizes) < 2 or min(sizes) < 1:
        raise argparse.ArgumentTypeError(
            f"need at least an input and an output size, all positive: {text!r}"
        )
    return sizes


def parse_args(argv):
    # argparse prints its message and exits with status 2 on bad arguments.
    parser = argparse.ArgumentParser(
        prog="torch_mlp.py",
        description="Time PyTorch training an MLP on Fashion-MNIST (benchmark peer).",
    )
    parser.add_argument("--sizes", type=layer_sizes, required=True,
                        help="layer widths, input first: 784,256,128,10")
    parser.add_argument("--batch", type=positive_int, required=True,
                        help="minibatch size")
    parser.add_argument("--runs", type=positive_int, default=3,
                        help="timed runs, each on a fresh model (default 3)")
    parser.add_argument("--threads", type=positive_int,
                        help="torch.set_num_threads(N) (default: torch's own)")
    parser.add_argument("--interop-threads", type=positive_int,
                        help="torch.set_num_interop_threads(N) (default: torch's own)")
    parser.add_argument("--steps", type=positive_int,
                        help="steps per timed run instead of one whole epoch")
    parser.add_argument("--data-dir", default=DEFAULT_DATA_DIR,
                        help=f"directory with the gzipped IDX files (default {DEFAULT_DATA_DIR})")
    parser.add_argument("--serve", action="store_true",
                        help='stay up after the warmup and time one run per "run" line on stdin')
    parser.add_argument("--touch", action="store_true",
                        help="read one value of every 4 KB page of the data set before each timed run (untimed)")
    args = parser.parse_args(argv)
    if args.sizes[0] != 28 * 28:
        parser.error(f"--sizes must start with 784 (28x28 Fashion-MNIST pixels), got {args.sizes[0]}")
    if args.sizes[-1] != NUM_CLASSES:
        parser.error(f"--sizes must end with {NUM_CLASSES} (Fashion-MNIST classes), got {args.sizes[-1]}")
    return args


def read_idx(path, magic, ndim):
    """Read a gzipped IDX file of unsigned bytes; returns a numpy array of its dims."""
    import numpy as np

    with gzip.open(path, "rb") as f:
        raw = f.read()
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{path}: truncated IDX header")
    (found,) = struct.unpack(">I", raw[:4])
    if found != magic:
        raise ValueError(f"{path}: IDX magic {found}, expected {magic}")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    count = 1
    for d in dims:
        count *= d
    if len(raw) - header != count:
        raise ValueError(f"{path}: {len(raw) - header} data bytes, dims {dims} need {count}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def load_fashion_mnist(torch, data_dir):
    """The training set as (X float32 [n, 784] in [0, 1], Y int64 [n]) tensors."""
    import numpy as np

    images = read_idx(os.path.join(data_dir, TRAIN_IMAGES), IDX_IMAGES_MAGIC, 3)
    labels = read_idx(os.path.join(data_dir, TRAIN_LABELS), IDX_LABELS_MAGIC, 1)
    n, rows, cols = images.shape
    if (rows, cols) != (28, 28):
        raise ValueError(f"images are {rows}x{cols}, expected 28x28")
    if labels.shape[0] != n:
        raise ValueError(f"{n} images but {labels.shape[0]} labels")
    if int(labels.max()) >= NUM_CLASSES:
        raise ValueError(f"label {int(labels.max())} out of range 0..{NUM_CLASSES - 1}")
    x = images.reshape(n, rows * cols).astype(np.float32) / np.float32(255)
    y = labels.astype(np.int64)
    return torch.from_numpy(x), torch.from_numpy(y)


def build_model(torch, sizes):
    """nn.Sequential of Linear layers with ReLU between them, linear output."""
    nn = torch.nn
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def batch_plan(n, batch, steps):
    """Steps and samples in one run: an epoch (last partial batch included) or `steps` steps."""
    epoch_steps = (n + batch - 1) // batch
    if steps is None:
        return epoch_steps, n
    # Steps past the last whole epoch are full batches of the next one.
    full_epochs, rest = divmod(steps, epoch_steps)
    return steps, full_epochs * n + rest * batch


def new_run(torch, sizes):
    """A fresh model from the fixed seed, with its optimizer and loss."""
    torch.manual_seed(SEED)
    model = build_model(torch, sizes)
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    return model, optimizer, torch.nn.CrossEntropyLoss()


def train(torch, model, optimizer, loss_fn, X, Y, batch, steps):
    """Run `steps` optimizer steps over shuffled minibatches; returns the last loss tensor.

    Each pass over the data draws a fresh permutation, as DataLoader(shuffle=True)
    does; a run longer than an epoch starts another one.
    """
    n = X.shape[0]
    loss = None
    done = 0
    while done < steps:
        perm = torch.randperm(n)
        for start in range(0, n, batch):
            if done == steps:
                break
            idx = perm[start:start + batch]
            # The same row gather as X[idx], without advanced indexing's generic path.
            xb = X.index_select(0, idx)
            yb = Y.index_select(0, idx)
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(xb), yb)
            loss.backward()
            optimizer.step()
            done += 1
    return loss


def touch_pages(X):
    """Reads one float32 of every 4 KB page of X: a run after the process has idled for a while
    then starts, as one right after loading does, with its data set's pages recently read
    (bench/RESULTS.md, run T)."""
    X.view(-1)[::1024].sum().item()


def openblas_info():
    """Config string and thread count of an OpenBLAS mapped into this process, or None.

    torch's CPU float GEMMs go to whatever BLAS it was linked against (Debian's
    build: the libblas.so.3 alternative); its config line does not name it, so
    look at what the process has actually loaded.
    """
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "/" in line}
    except OSError:
        return None
    for path in sorted(paths):
        if "openblas" not in os.path.basename(path).lower():
            continue
        try:
            lib = ctypes.CDLL(path)
            lib.openblas_get_config.restype = ctypes.c_char_p
            config = lib.openblas_get_config().decode().strip()
            # The kernel set that runs (OPENBLAS_CORETYPE or OpenBLAS's own detection).
            lib.openblas_get_corename.restype = ctypes.c_char_p
            core = lib.openblas_get_corename().decode().strip()
            threads = lib.openblas_get_num_threads()
            parallel = {0: "sequential", 1: "pthreads", 2: "OpenMP"}.get(
                lib.openblas_get_parallel(), "unknown threading")
        except (OSError, AttributeError):
            continue
        return f"{config} (core {core}, {parallel}, {threads} threads)"
    return None


def describe_blas(torch):
    """Log torch's build and parallel settings that matter here; return a short BLAS name."""
    config = torch.__config__.show()
    for line in config.splitlines():
        for item in line.split(", "):
            item = item.strip(" -,")
            if item.startswith("CXX_FLAGS"):
                continue
            if any(key in item.upper() for key in ("BLAS", "LAPACK", "MKL", "OPENMP", "CPU CAPABILITY")):
                log(f"  config: {item}")
    for line in torch.__config__.parallel_info().splitlines():
        if line.strip() and ":" in line:
            log(f"  parallel: {line.strip()}")
    blas = openblas_info()
    if blas is None:
        # MKL builds report it directly; otherwise fall back to the build's BLAS_INFO.
        if torch.backends.mkl.is_available():
            blas = "MKL"
        else:
            info = [item.split("=", 1)[1] for item in config.replace(",", " ").split()
                    if item.startswith("BLAS_INFO=")]
            blas = info[0] if info else "unknown"
    log(f"  blas: {blas}")
    return blas


def main(argv):
    args = parse_args(argv)
    env = {name: os.environ.get(name) for name in REPORTED_ENV_VARS}

    torch = import_torch(__file__, "torch_mlp")
    # Thread counts first: the interop pool can only be sized before it starts.
    if args.interop_threads is not None:
        torch.set_num_interop_threads(args.interop_threads)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    threads = torch.get_num_threads()
    interop_threads = torch.get_num_interop_threads()

    log(f"torch {torch.__version__} on Python {sys.version.split()[0]} ({sys.executable}); "
        f"threads {threads}, interop threads {interop_threads}")
    log("  env: " + ", ".join(f"{k}={'unset' if v is None else v}" for k, v in env.items()))
    blas = describe_blas(torch)

    try:
        X, Y = load_fashion_mnist(torch, args.data_dir)
    except (OSError, ValueError) as err:
        log(f"torch_mlp: cannot load Fashion-MNIST from {args.data_dir}: {err}")
        return EXIT_ERROR
    n = X.shape[0]
    steps, rows = batch_plan(n, args.batch, args.steps)
    log(f"data: {n} x {X.shape[1]}; net {'-'.join(map(str, args.sizes))}, batch {args.batch}, "
        f"{steps} steps ({rows} samples) per run")

    # Untimed warmup on its own model: first-call allocations, BLAS thread start-up.
    train(torch, *new_run(torch, args.sizes), X, Y, args.batch, min(WARMUP_STEPS, steps))

    def timed_run():
        if args.touch:
            touch_pages(X)
        model, optimizer, loss_fn = new_run(torch, args.sizes)
        start = time.perf_counter()
        loss = train(torch, model, optimizer, loss_fn, X, Y, args.batch, steps)
        return time.perf_counter() - start, loss

    result = {
        "peer": "pytorch",
        "version": torch.__version__,
        "threads": threads,
        "interopThreads": interop_threads,
        "env": env,
        "blas": blas,
        "sizes": args.sizes,
        "batch": args.batch,
        "steps": steps,
        "rows": rows,
    }
    if args.serve:
        return serve(result, timed_run, rows)

    seconds = []
    loss = None
    for run in range(args.runs):
        elapsed, loss = timed_run()
        seconds.append(elapsed)
        log(f"run {run + 1}/{args.runs}: {elapsed:.3f} s, {rows / elapsed:,.0f} samples/s")
    result["secondsPerRun"] = [round(s, 6) for s in seconds]
    result["samplesPerSecond"] = [round(rows / s, 1) for s in seconds]
    result["lastLoss"] = loss.item()
    print(json.dumps(result), flush=True)
    return 0


def serve(info, timed_run, rows):
    """The --serve loop: `info` once, then one timed run per "run" line on stdin."""
    print(json.dumps(info), flush=True)
    for line in sys.stdin:
        command = line.strip()
        if command == "quit":
            break
        if command != "run":
            log(f"torch_mlp: expected \"run\" or \"quit\" on stdin, got {command!r}")
            return EXIT_USAGE
        elapsed, loss = timed_run()
        log(f"run: {elapsed:.3f} s, {rows / elapsed:,.0f} samples/s")
        print(json.dumps({"seconds": round(elapsed, 6), "samplesPerSecond": round(rows / elapsed, 1),
                          "lastLoss": loss.item()}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
