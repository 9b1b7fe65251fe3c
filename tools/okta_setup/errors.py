"""The one error the tool stops with: a single line naming the step, safe to print (never a secret)."""

from __future__ import annotations


class SetupError(Exception):
    """Set-up cannot go on; the message is one line naming the step and, for an Okta refusal, its errorCode and
    errorSummary."""
