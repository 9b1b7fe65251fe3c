"""`python -m api_fuzz` (make fuzz-api): start a local stack of its own, run Schemathesis against it (every run of
the profile), check that the registry and Okta agree, and stop it; exit 1 if anything failed. The stack's logs and
the JUnit reports stay in .local/api-fuzz/ until the next run."""

from __future__ import annotations

import argparse
import secrets
import shutil
import sys
from pathlib import Path

from api_fuzz.consistency import registry_drift
from api_fuzz.run import CI_SEED, PROFILES, REPO_ROOT, fuzz_stack, run_schemathesis, target_of
from devstack import StackError

WORK_DIR = REPO_ROOT / ".local" / "api-fuzz"
MARKER = ".api-fuzz"  # what makes a folder one this command may empty


def main(argv: list[str] | None = None) -> int:
    """Run the profile; 0 if every run passed and the registry and Okta agree afterwards."""
    parser = argparse.ArgumentParser(prog="python -m api_fuzz", description=__doc__)
    parser.add_argument("--profile", choices=sorted(PROFILES), default="deep", help="how much to run (default deep)")
    parser.add_argument("--seed", type=int, help=f"Hypothesis seed (default: new for deep, {CI_SEED} for ci)")
    parser.add_argument(
        "--work-dir",
        type=Path,
        default=WORK_DIR,
        help=f"(re)made for the stack's state, logs and reports (default {WORK_DIR.relative_to(REPO_ROOT)})",
    )
    args = parser.parse_args(argv)
    profile = PROFILES[args.profile]
    seed = args.seed if args.seed is not None else CI_SEED if profile.name == "ci" else secrets.randbelow(2**31)
    replay = (
        f"make fuzz-api SEED={seed}"
        if profile.name == "deep"
        else f"python -m api_fuzz --profile {profile.name} --seed {seed}"
    )
    print(f"api_fuzz: profile {profile.name}, seed {seed} (replay: {replay})", flush=True)
    marker = args.work_dir / MARKER
    if args.work_dir.exists() and any(args.work_dir.iterdir()) and not marker.exists():
        print(
            f"api_fuzz: {args.work_dir} is not empty and not a folder of an earlier run; choose another",
            file=sys.stderr,
        )
        return 2
    shutil.rmtree(args.work_dir, ignore_errors=True)
    args.work_dir.mkdir(parents=True)
    marker.touch()
    try:
        with fuzz_stack(args.work_dir / "state") as stack:
            target = target_of(stack)
            runs = run_schemathesis(target, profile, seed, args.work_dir / "reports", echo=sys.stdout)
            drift = registry_drift(target)
    except StackError as exc:
        print(f"api_fuzz: {exc} (logs in {args.work_dir})", file=sys.stderr)
        return 1
    for run in runs:
        print(f"api_fuzz: the {run.auth} run {'passed' if run.passed else 'FAILED'}")
    for problem in drift:
        print(f"api_fuzz: registry and Okta disagree: {problem}", file=sys.stderr)
    failed = [f"the {run.auth} run" for run in runs if not run.passed] + (["the registry check"] if drift else [])
    outcome = f"FAILED: {', '.join(failed)}" if failed else "every run passed"
    print(f"api_fuzz: seed {seed}: {outcome} (the stack's logs and the reports: {args.work_dir})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
