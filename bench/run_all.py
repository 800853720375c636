"""Run every benchmark in bench/ in its quick mode and print their RESULT lines.

    python bench/run_all.py            # quick modes, one after the other
    python bench/run_all.py --full     # each benchmark's full size (slow)

A benchmark is any other bench/*.py; it runs with --quick when it has that option, else with its
defaults. Each one's full output goes to the terminal as it runs; the RESULT lines are repeated at the
end. The exit status is 1 when a benchmark fails or prints no RESULT line.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def benchmarks() -> list[Path]:
    return sorted(path for path in HERE.glob("*.py") if path.name != Path(__file__).name)


def command(path: Path, full: bool) -> list[str]:
    quick = not full and "--quick" in path.read_text(encoding="utf-8")
    return [sys.executable, str(path), *(["--quick"] if quick else [])]


def run(path: Path, full: bool) -> tuple[str | None, float]:
    """Run one benchmark, echoing its output; returns its last RESULT line (None if it failed)."""
    began = time.monotonic()
    process = subprocess.Popen(
        command(path, full), cwd=HERE.parent, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert process.stdout is not None
    result = None
    for line in process.stdout:
        print(f"  {line}", end="", flush=True)
        if line.startswith("RESULT "):
            result = line.strip()
    code = process.wait()
    return (result if code == 0 else None), time.monotonic() - began


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--full", action="store_true", help="run each benchmark at its full size")
    args = parser.parse_args()
    results: list[str] = []
    failed = []
    for path in benchmarks():
        print(f"== {path.name}", flush=True)
        result, seconds = run(path, args.full)
        outcome = "no RESULT line (failed)" if result is None else "done"
        print(f"== {path.name}: {outcome} in {seconds:.0f} s\n")
        if result is None:
            failed.append(path.name)
        else:
            results.append(result)
    print("\n".join(results))
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
