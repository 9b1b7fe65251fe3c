"""`python -m api_contract` (make openapi): write openapi.yaml from its sources; --check: only say what differs."""

from __future__ import annotations

import argparse
import sys

from api_contract.build import DOCUMENT, build, dump, load_yaml
from api_contract.drift import document_drift


def main(argv: list[str] | None = None) -> int:
    """Write (or check) the document; 1 if its sources have problems, or with --check if it differs."""
    parser = argparse.ArgumentParser(prog="python -m api_contract", description=__doc__)
    parser.add_argument("--check", action="store_true", help="write nothing; list what differs from openapi.yaml")
    args = parser.parse_args(argv)
    built = build()
    for problem in built.problems:
        print(f"openapi: {problem}", file=sys.stderr)
    if args.check:
        committed = load_yaml(DOCUMENT) if DOCUMENT.exists() else {}
        drift = document_drift(committed, built.document)
        for problem in drift:
            print(f"openapi.yaml: {problem}", file=sys.stderr)
        return 1 if built.problems or drift else 0
    if built.problems:
        print("openapi.yaml not written: fix the problems above", file=sys.stderr)
        return 1
    text = dump(built.document)
    if not DOCUMENT.exists() or DOCUMENT.read_text(encoding="utf-8") != text:
        DOCUMENT.write_text(text, encoding="utf-8")
        print(f"wrote {DOCUMENT.name}")
    else:
        print(f"{DOCUMENT.name} is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
