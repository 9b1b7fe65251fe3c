"""`make soak --short` in-process on a private stack: it passes, every phase really happened, and its oracle can fail.

About 30 s: the short schedule's 20 s of traffic, with the stack's start and stop. After a failed refetch the
authorizer retries an unknown kid after its 5 s back-off, so the new key is in within seconds of the recovery.
"""

from __future__ import annotations

import dataclasses

import pytest

from benchmarks.soak import BAD_KINDS, GOOD, Call, Timeline, parse_settings, run, wrong

pytestmark = pytest.mark.integration

OLD, NEW = "old-kid", "new-kid"
TIMELINE = Timeline(
    setup=0.0,
    start=1.0,
    old_kid=OLD,
    new_kid=NEW,
    outage=10.0,
    rotated=10.1,
    hang=20.0,
    recovered=23.0,
    end=45.0,
    new_key_at=28.0,
)


def call(kind: str = GOOD, kid: str = OLD, sent: float = 5.0, status: int = 200, names_caller: bool = True) -> Call:
    return Call(0, kind, kid, False, sent, 0.01, status, names_caller)


@pytest.mark.parametrize(
    "answer",
    [
        call(kind="expired", status=200),  # an Allow for a bad token
        call(kind="unknown-kid", kid="x", status=403),  # bad tokens get 401, nothing else
        call(status=503),  # a 5xx while the authorizer holds valid keys
        call(kind="garbage", kid="", status=502),
        call(status=0),  # no answer
        call(status=401),  # old kid: cached all along
        call(status=401, sent=30.0),  # old kid, during the outage: still cached
        call(kid=NEW, status=401, sent=29.0),  # new kid sent after the new key was fetched
        call(kid=NEW, status=403, sent=15.0),  # new kid before it: 401 at worst, never 403
        call(status=200, names_caller=False),  # a 200 for someone else
    ],
)
def test_the_oracle_calls_these_answers_wrong(answer):
    assert wrong(answer, TIMELINE) is not None


@pytest.mark.parametrize(
    "answer",
    [
        call(),
        call(kind="tampered", status=401),
        call(kid=NEW, status=401, sent=15.0),  # new kid, keys endpoint failing: the authorizer cannot have the key
        call(kid=NEW, status=401, sent=25.0),  # after the outage, within the back-off of the last failed refetch
        call(kid=NEW, status=200, sent=27.9),  # the call whose refetch brought the new key
        call(kid=NEW, status=200, sent=35.0),
    ],
)
def test_the_oracle_accepts_these_answers(answer):
    assert wrong(answer, TIMELINE) is None


def test_short_soak_passes_and_every_phase_happened(tmp_path):
    # When the short soak runs on its own stack
    report = run(parse_settings(["--short"]), tmp_path / "state")
    text = "\n".join(report.lines())
    t = report.timeline
    # Then it passed with 0 wrong answers, every request answered
    assert report.passed, text
    assert report.wrong() == [], text
    assert len(report.calls) == report.settings.requests
    # The key was rotated: good tokens with the new kid were sent
    assert t.new_kid and t.new_kid != t.old_kid
    assert report.good(kid=t.new_kid), text
    # The fault made a keys fetch fail, during the outage, and the authorizer kept answering without a 5xx
    failed = report.failed_fetches()
    assert failed and (failed[0].status, failed[0].fault) == (500, "fail"), text
    assert all(k.fault in ("fail", "hang") for k in failed), text
    assert all(c.status < 500 for c in report.calls)
    # Old-kid tokens never seen before were allowed during the outage (the old key stayed cached)
    reserve = [c for c in report.good(kid=t.old_kid, since=t.outage, until=t.recovered) if c.first_use]
    assert reserve and all(c.status == 200 for c in reserve), text
    # Bad tokens of every kind were sent, and every one was refused with 401
    assert {c.kind for c in report.bad()} == set(BAD_KINDS)
    assert all(c.status == 401 for c in report.bad())
    # Good tokens with the new kid got 200s after the rotation, once the new key was fetched, and only 200s then
    assert t.new_key_at is not None and t.new_key_at > t.hang, text  # at the earliest as the hang is cleared
    allowed = [c for c in report.good(kid=t.new_kid, since=t.rotated) if c.status == 200]
    assert allowed and all(c.names_caller for c in allowed), text
    assert all(c.status == 200 for c in report.good(kid=t.new_kid, since=t.new_key_at))

    # And the same run fails when a phase is missing or an answer is wrong
    without_failure = dataclasses.replace(report, keys=[k for k in report.keys if not k.failed])
    assert not without_failure.passed
    bad = report.bad()[0]
    allowed_bad = dataclasses.replace(bad, status=200)
    assert not dataclasses.replace(report, calls=[allowed_bad, *report.calls[1:]]).passed
