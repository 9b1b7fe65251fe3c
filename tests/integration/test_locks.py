"""Leases in DynamoDB (okta_m2m.clients._locks) against moto's server on 127.0.0.1, the table from template.yaml."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from okta_m2m.clients import _locks as locks
from okta_m2m.errors import LeaseBusyError, LeaseUnavailableError
from tests.register_fixtures import fresh_tables

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def table(monkeypatch: pytest.MonkeyPatch, moto_endpoint: str) -> Iterator[str]:
    for name, value in {
        "AWS_ENDPOINT_URL_DYNAMODB": moto_endpoint,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }.items():
        monkeypatch.setenv(name, value)
    fresh_tables(moto_endpoint)
    yield "LocksTable"
    locks.dynamodb.cache_clear()


def test_the_tables_are_made_from_the_template_definition(table):
    client = boto3.client("dynamodb")
    assert sorted(client.list_tables()["TableNames"]) == ["ClientsTable", "DpopReplayTable", "LocksTable"]
    assert client.describe_table(TableName=table)["Table"]["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    registry = client.describe_table(TableName="ClientsTable")["Table"]
    (index,) = registry["GlobalSecondaryIndexes"]
    assert index["IndexName"] == "by_kind"
    assert index["KeySchema"] == [
        {"AttributeName": "kind", "KeyType": "HASH"},
        {"AttributeName": "created_at", "KeyType": "RANGE"},
    ]


def test_holders_take_turns(table):
    inside, overlaps, order = [0], [], []

    def hold(n: int) -> None:
        with locks.lease(table, "policy", seconds=10, wait_seconds=10):
            inside[0] += 1
            overlaps.append(inside[0])
            time.sleep(0.05)
            order.append(n)
            inside[0] -= 1

    threads = [threading.Thread(target=hold, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(order) == list(range(6))
    assert max(overlaps) == 1  # never two at once


def test_a_waiter_gives_up_busy_after_its_wait(table):
    with locks.lease(table, "policy", seconds=30, wait_seconds=1):
        started = time.monotonic()
        with pytest.raises(LeaseBusyError), locks.lease(table, "policy", seconds=30, wait_seconds=0.5):
            pass
        # It waited its 0.5 s, and gave up rather than wait for the holder's 30 s lease to lapse (it would then have
        # taken the lease, and raised nothing); how much longer than 0.5 s its last try took is the machine's.
        assert 0.5 <= time.monotonic() - started < 30


def test_other_names_do_not_wait(table):
    with (
        locks.lease(table, "policy-a", seconds=30, wait_seconds=0),
        locks.lease(table, "policy-b", seconds=30, wait_seconds=0),
    ):
        pass


def test_a_lapsed_lease_is_taken_over_and_the_late_holder_does_not_release_the_new_one(table):
    client = boto3.client("dynamodb")
    late = locks.lease(table, "policy", seconds=0, wait_seconds=0)
    late.__enter__()  # a holder that died: its lease lapses at once
    time.sleep(1.1)
    with locks.lease(table, "policy", seconds=30, wait_seconds=2):
        late.__exit__(None, None, None)  # the late holder finishes: it may not delete the new holder's lease
        item = client.get_item(TableName=table, Key={"pk": {"S": "policy"}})
        assert "Item" in item
    assert "Item" not in client.get_item(TableName=table, Key={"pk": {"S": "policy"}})


def test_a_missing_table_is_unavailable_not_busy(table):
    with pytest.raises(LeaseUnavailableError), locks.lease("NoSuchTable", "policy", seconds=5, wait_seconds=1):
        pass
