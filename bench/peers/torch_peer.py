"""What the PyTorch peer scripts share: finding Debian's torch, logging, exit codes.

Debian's python3-torch lives in /usr/lib/python3/dist-packages, which only the system
interpreter searches. When `python3` on PATH is another interpreter (pyenv, a virtualenv) torch
is not importable there, and adding that directory to sys.path is unsafe (its torch is built
against the system numpy's ABI), so a peer script re-runs itself under the system interpreter
instead.
"""
import os
import sys

SYSTEM_PYTHON = "/usr/bin/python3"
REEXEC_GUARD = "BLASNET_TORCH_PEER_REEXEC"

EXIT_ERROR = 1
EXIT_NO_TORCH = 3


def log(message):
    print(message, file=sys.stderr, flush=True)


def import_torch(script, name):
    """Import torch, re-running `script` under the system interpreter if need be."""
    try:
        import torch  # imported late, so that bad arguments are reported without it
        return torch
    except ImportError as err:
        reason = err
    here = os.path.realpath(sys.executable or "")
    if (os.environ.get(REEXEC_GUARD) is None
            and os.access(SYSTEM_PYTHON, os.X_OK)
            and here != os.path.realpath(SYSTEM_PYTHON)):
        os.environ[REEXEC_GUARD] = "1"
        sys.stderr.flush()
        os.execv(SYSTEM_PYTHON, [SYSTEM_PYTHON, os.path.abspath(script)] + sys.argv[1:])
    log(f"{name}: cannot import torch ({reason}); install PyTorch with `apt-get install python3-torch`")
    sys.exit(EXIT_NO_TORCH)
