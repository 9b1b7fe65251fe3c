"""Hypothesis profiles: "ci" (the default: fixed seed, bounded, no example database) and "deep" (make fuzz).

Select one with HYPOTHESIS_PROFILE=deep. Tests call load_profile() at import, before their @given run.
"""

from __future__ import annotations

import os

from hypothesis import settings

CI_EXAMPLES = 300

settings.register_profile(
    "ci",
    derandomize=True,  # the same examples on every run: a red CI is reproducible, a green one stays green
    max_examples=CI_EXAMPLES,
    deadline=None,  # RSA signing and 8 KiB tokens make timings noisy on shared runners
    database=None,  # no .hypothesis/examples: failures are replayed from the printed blob instead
    print_blob=True,
)
settings.register_profile("deep", parent=settings.get_profile("ci"), derandomize=False, max_examples=20 * CI_EXAMPLES)


def load_profile() -> str:
    """Load the profile named by HYPOTHESIS_PROFILE ("ci" if unset) and return its name."""
    name = os.environ.get("HYPOTHESIS_PROFILE") or "ci"
    settings.load_profile(name)
    return name
