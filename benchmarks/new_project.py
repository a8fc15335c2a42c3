"""How long `cliquet new project` takes, against plain Cookiecutter on the same template.

    python benchmarks/new_project.py [RUNS]

Both are timed as whole processes (start-up included), alternating A B A B so that drift of the
machine's speed affects both alike; prints the medians and the median of the pairwise ratios.
"""

import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

TEMPLATE = pathlib.Path(__file__).resolve().parent.parent / "templates" / "project"


def timed(command: list[str], output: pathlib.Path) -> float:
    shutil.rmtree(output, ignore_errors=True)
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - start


def main(runs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        out_a, out_b = pathlib.Path(tmp, "a"), pathlib.Path(tmp, "b")
        cliquet = ["cliquet", "new", "project", "svc", "--no-input", "-o", str(out_a)]
        cookiecutter = [
            "cookiecutter",
            "--no-input",
            "-o",
            str(out_b),
            str(TEMPLATE),
            "project_name=svc",
        ]
        timed(cliquet, out_a), timed(cookiecutter, out_b)  # warm-up
        pairs = [(timed(cliquet, out_a), timed(cookiecutter, out_b)) for _ in range(runs)]
    a = [p[0] for p in pairs]
    b = [p[1] for p in pairs]
    print(f"runs: {runs}")
    print(f"cliquet new project   median {statistics.median(a):.3f} s (min {min(a):.3f})")
    print(f"cookiecutter (peer)   median {statistics.median(b):.3f} s (min {min(b):.3f})")
    print(f"ratio cliquet/peer    median {statistics.median(x / y for x, y in pairs):.2f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10)
