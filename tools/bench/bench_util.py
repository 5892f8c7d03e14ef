"""What the benchmark scripts share: running an onnx-crypt command for its JSON line, and writing
a report atomically (a temporary beside it, then a rename)."""
import json
import os
import subprocess


def run_json(args):
    """Runs a CLI command with --json; returns the JSON object of its last stdout line."""
    p = subprocess.run(args, check=True, capture_output=True, text=True)
    return json.loads(p.stdout.strip().splitlines()[-1])


def write_report(path, text):
    """Writes `text` to `path` through `path`.tmp, so a reader never sees half a report."""
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)
