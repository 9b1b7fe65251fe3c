"""`python -m api_fuzz` (make fuzz-api): start a local stack of its own, run Schemathesis against it (every run of
the profile), check that the registry and Okta agree, and stop it; exit 1 if anything failed."""

from __future__ import annotations

import argparse
import secrets
import sys
import tempfile
from pathlib import Path

from api_fuzz.consistency import registry_drift
from api_fuzz.run import CI_SEED, PROFILES, fuzz_stack, run_schemathesis, target_of
from devstack import StackError


def main(argv: list[str] | None = None) -> int:
    """Run the profile; 0 if every run passed and the registry and Okta agree afterwards."""
    parser = argparse.ArgumentParser(prog="python -m api_fuzz", description=__doc__)
    parser.add_argument("--profile", choices=sorted(PROFILES), default="deep", help="how much to run (default deep)")
    parser.add_argument("--seed", type=int, help=f"Hypothesis seed (default: new for deep, {CI_SEED} for ci)")
    parser.add_argument("--report-dir", type=Path, help="where the JUnit reports go (default: a temporary folder)")
    args = parser.parse_args(argv)
    profile = PROFILES[args.profile]
    seed = args.seed if args.seed is not None else CI_SEED if profile.name == "ci" else secrets.randbelow(2**31)
    print(f"api_fuzz: profile {profile.name}, seed {seed} (replay with --seed {seed})", flush=True)
    with tempfile.TemporaryDirectory(prefix="api-fuzz-") as scratch:
        report_dir = args.report_dir or Path(scratch) / "reports"
        try:
            with fuzz_stack(Path(scratch) / "state") as stack:
                target = target_of(stack)
                runs = run_schemathesis(target, profile, seed, report_dir)
                drift = registry_drift(target)
        except StackError as exc:
            print(f"api_fuzz: {exc}", file=sys.stderr)
            return 1
    for run in runs:
        print(f"\n===== Schemathesis, {run.auth}: {'passed' if run.passed else 'FAILED'} =====\n{run.output}")
    for problem in drift:
        print(f"api_fuzz: registry and Okta disagree: {problem}", file=sys.stderr)
    failed = [f"the {run.auth} run" for run in runs if not run.passed] + (["the registry check"] if drift else [])
    print(f"api_fuzz: seed {seed}: " + (f"FAILED: {', '.join(failed)}" if failed else "every run passed"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
