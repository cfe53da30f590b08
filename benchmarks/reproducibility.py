"""Reproducible across time (issue 39): the figures of going back in time, against what a user would do without
DVC's cache and remote (run the whole pipeline again).

In a copy of this work tree (its own git repository, its own DVC remote): run; commit; change train.seed; run;
commit. Then: revert to the first commit (`git checkout HEAD~1 -- params.yaml dvc.lock && dvc checkout`) and
`churnops run`; a fresh clone with `dvc pull` and `churnops run`; a second fresh clone that trains the model again
and compares its bytes. Prints stages re-run and seconds for each.

    python benchmarks/reproducibility.py [--customers 1000] [--days 180]
"""
import argparse
import hashlib
import os
import subprocess
import tempfile
import time
from pathlib import Path

from churnops.catalog import stage_order
from churnops.pipeline import DVC_REMOTE_ENV, commit_work_tree, copy_work_tree, override_params

ROOT = Path(__file__).resolve().parents[1]
STAGES = [s for s in stage_order(ROOT / "dvc.yaml") if s != "sources"]  # the notebook stages


def timed(root: Path, *command: str) -> tuple[float, str]:
    started = time.perf_counter()
    result = subprocess.run(command, cwd=root, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed in {root}:\n{(result.stdout + result.stderr)[-3000:]}")
    return time.perf_counter() - started, result.stdout + result.stderr


def stages_run(output: str) -> int:
    return sum(f"▶ {stage}\n" in output for stage in STAGES)


def folder_hash(folder: Path) -> str:
    sha = hashlib.sha256()
    for file in sorted(p for p in folder.rglob("*") if p.is_file()):
        sha.update(str(file.relative_to(folder)).encode() + b"\0" + file.read_bytes())
    return sha.hexdigest()[:16]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--days", type=int, default=180)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="churnops-repro-"))
    os.environ[DVC_REMOTE_ENV] = str(work / "remote")
    root = copy_work_tree(ROOT, work / "project")
    override_params(root / "params.yaml", {"ingest.synthetic.n_customers": args.customers,
                                           "ingest.synthetic.n_days": args.days})
    commit_work_tree(root)
    full, _ = timed(root, "churnops", "run")
    timed(root, "git", "add", "-A")
    timed(root, "git", "commit", "-qm", "first")
    override_params(root / "params.yaml", {"train.seed": 7})
    changed, _ = timed(root, "churnops", "run")
    timed(root, "git", "add", "-A")
    timed(root, "git", "commit", "-qm", "second")

    restore, _ = timed(root, "bash", "-c", "git checkout -q HEAD~1 -- params.yaml dvc.lock && dvc checkout -q")
    rerun, output = timed(root, "churnops", "run")
    reverted = stages_run(output)

    rows = []
    for n in (1, 2):
        clone = work / f"clone{n}"
        timed(work, "git", "clone", "-q", str(root), str(clone))
        subprocess.run(["cp", "-r", str(root / "report-assets" / "dist"), str(clone / "report-assets")], check=True)
        timed(clone, "churnops", "remote")
        pull, _ = timed(clone, "dvc", "pull", "-q")
        after, output = timed(clone, "churnops", "run")
        retrain, _ = timed(clone, "dvc", "repro", "--force", "--single-item", "train")
        rows.append((pull, after, stages_run(output), folder_hash(clone / "models" / "model")))

    print(f"data: {args.customers:,} customers x {args.days} days; work folder {work}")
    print(f"{'':44} {'stages run':>10} {'seconds':>8}")
    print(f"{'first run (everything)':44} {len(STAGES):>10} {full:>8.1f}")
    print(f"{'train.seed changed':44} {'':>10} {changed:>8.1f}")
    print(f"{'revert: git checkout + dvc checkout':44} {'':>10} {restore:>8.1f}")
    print(f"{'revert: churnops run after it':44} {reverted:>10} {rerun:>8.1f}")
    for n, (pull, after, ran, _) in enumerate(rows, 1):
        print(f"{f'fresh clone {n}: dvc pull':44} {'':>10} {pull:>8.1f}")
        print(f"{f'fresh clone {n}: churnops run after it':44} {ran:>10} {after:>8.1f}")
    print(f"revert + run vs running everything again: {(restore + rerun) / full:.2f}x the time (goal: 0 stages, < 10 s)")
    hashes = {h for *_, h in rows}
    print(f"model artefact retrained in two fresh clones: {'equal' if len(hashes) == 1 else 'DIFFERENT'} "
          f"({', '.join(sorted(hashes))})")


if __name__ == "__main__":
    main()
