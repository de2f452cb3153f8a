#!/usr/bin/env python3
"""PyTorch peer for the inference suite.

Loads an MLP's weights from a safetensors file (blasnet's saveSafetensors: the
state_dict of the equivalent nn.Sequential of Linear and ReLU modules) and
times model(x) under torch.inference_mode() at several batch sizes.

Usage:
    python3 bench/peers/torch_infer.py --weights=FILE --sizes=784,256,128,10
        --input=FILE --batches=1,16,1000 [--output=softmax|none] [--threads=N]
        [--warmup=S] [--min-time=S] [--runs=N] [--outputs=FILE] [--serve]

--input is raw little-endian float32 rows of sizes[0] values, at least as
many rows as the largest batch; batch b uses its first b rows. --output is the
last layer's activation (softmax by default). --outputs, when given, receives
each batch's outputs as raw float32, the batches one after another.

Timing follows bench/harness.ts measure: growing untimed batches of calls
until --warmup seconds have passed, then --runs samples of enough calls to
last --min-time each.

--serve: warm up and size each batch's sample as above, write --outputs,
print one JSON line {"peer": "pytorch", "version", "threads", "reps": {...}},
then time one sample for each line "run B" read from stdin (B one of
--batches) and answer it with one JSON line {"batch": B, "secondsPerCall": s};
exit when stdin ends. The caller interleaves these samples with others.

Progress goes to stderr; stdout gets exactly one JSON line:
    {"peer": "pytorch", "version", "threads",
     "results": [{"batch", "reps", "secondsPerCall": [...]}, ...]}

Exit status: 0 success, 1 data or runtime error, 2 bad arguments,
3 PyTorch not installed (the caller may skip this peer).
"""

import argparse
import json
import struct
import sys
import time

from torch_peer import EXIT_ERROR, import_torch, log


def int_list(text):
    try:
        values = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers: {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers: {text!r}")
    return values


def positive(kind):
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be positive: {text}")
        return value
    return parse


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="torch_infer.py",
                                     description="Time PyTorch MLP inference (benchmark peer).")
    parser.add_argument("--weights", required=True, help="safetensors file of the state_dict")
    parser.add_argument("--sizes", type=int_list, required=True, help="layer widths, input first")
    parser.add_argument("--input", required=True, help="raw float32 input rows")
    parser.add_argument("--batches", type=int_list, required=True, help="batch sizes to time")
    parser.add_argument("--output", choices=("softmax", "none"), default="softmax",
                        help="the last layer's activation (default softmax)")
    parser.add_argument("--threads", type=positive(int), help="torch.set_num_threads(N)")
    parser.add_argument("--warmup", type=positive(float), default=0.2)
    parser.add_argument("--min-time", type=positive(float), default=0.2)
    parser.add_argument("--runs", type=positive(int), default=5)
    parser.add_argument("--outputs", help="file for the outputs of each batch (raw float32)")
    parser.add_argument("--serve", action="store_true", help="time one sample per 'run B' line of stdin")
    return parser.parse_args(argv)


def read_safetensors(torch, path):
    """The F32 tensors of a safetensors file, by name (the format: u64 header length, JSON header, data)."""
    with open(path, "rb") as f:
        raw = f.read()
    (length,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + length])
    data = bytearray(raw[8 + length:])
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        if entry["dtype"] != "F32":
            raise ValueError(f"{path}: tensor {name} is {entry['dtype']}, expected F32")
        start, end = entry["data_offsets"]
        flat = torch.frombuffer(data[start:end], dtype=torch.float32) if end > start else torch.zeros(0)
        tensors[name] = flat.reshape(entry["shape"]).clone()
    return tensors


def build_model(torch, sizes, output, state):
    """nn.Sequential(Linear, ReLU, ..., Linear[, Softmax]) with the given state_dict."""
    nn = torch.nn
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i + 2 < len(sizes):
            layers.append(nn.ReLU())
    if output == "softmax":
        layers.append(nn.Softmax(dim=1))
    model = nn.Sequential(*layers)
    model.load_state_dict(state)
    return model.eval()


def reps_for(call, warmup, min_time):
    """bench/harness.ts repsFor: warms up and sizes a sample."""
    batch = 1
    t0 = time.perf_counter()
    while True:
        s = time.perf_counter()
        for _ in range(batch):
            call()
        e = time.perf_counter()
        per_op = (e - s) / batch
        if e - t0 >= warmup:
            break
        batch *= 2
    return max(1, int(-(-min_time // max(per_op, 1e-10))))


def sample(call, reps):
    """Seconds per call over one sample of reps calls."""
    s = time.perf_counter()
    for _ in range(reps):
        call()
    return (time.perf_counter() - s) / reps


def measure(call, warmup, min_time, runs):
    """bench/harness.ts measure."""
    reps = reps_for(call, warmup, min_time)
    return reps, [sample(call, reps) for _ in range(runs)]


def serve(torch, calls, reps):
    """--serve: one sample per 'run B' line of stdin, answered on stdout."""
    print(json.dumps({"peer": "pytorch", "version": torch.__version__, "threads": torch.get_num_threads(),
                      "reps": {str(b): n for b, n in reps.items()}}), flush=True)
    with torch.inference_mode():
        for line in sys.stdin:
            parts = line.split()
            batch = int(parts[1]) if len(parts) == 2 and parts[0] == "run" and parts[1].isdigit() else None
            if batch not in calls:
                log(f"torch_infer: expected 'run B' with B one of the batches, got {line.strip()!r}")
                return 2
            print(json.dumps({"batch": batch, "secondsPerCall": sample(calls[batch], reps[batch])}), flush=True)
    return 0


def main(argv):
    args = parse_args(argv)
    torch = import_torch(__file__, "torch_infer")
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    try:
        state = read_safetensors(torch, args.weights)
        model = build_model(torch, args.sizes, args.output, state)
        with open(args.input, "rb") as f:
            raw = bytearray(f.read())
        x_all = torch.frombuffer(raw, dtype=torch.float32)
        features = args.sizes[0]
        most = max(args.batches)
        if x_all.numel() < most * features:
            raise ValueError(f"--input holds {x_all.numel()} values, fewer than {most} rows of {features}")
        results = []
        outputs = []
        calls = {}
        reps_by_batch = {}
        with torch.inference_mode():
            for batch in args.batches:
                log(f"torch_infer: batch {batch}")
                x = x_all[:batch * features].reshape(batch, features).clone()
                call = (lambda x: lambda: model(x))(x)
                if args.serve:
                    calls[batch] = call
                    reps_by_batch[batch] = reps_for(call, args.warmup, args.min_time)
                else:
                    reps, samples = measure(call, args.warmup, args.min_time, args.runs)
                    results.append({"batch": batch, "reps": reps, "secondsPerCall": samples})
                outputs.append(model(x).contiguous().numpy().tobytes())
        if args.outputs:
            with open(args.outputs, "wb") as f:
                f.write(b"".join(outputs))
        if args.serve:
            return serve(torch, calls, reps_by_batch)
    except (OSError, ValueError, KeyError, RuntimeError) as err:
        log(f"torch_infer: {err}")
        return EXIT_ERROR
    print(json.dumps({"peer": "pytorch", "version": torch.__version__, "threads": torch.get_num_threads(),
                      "results": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
