"""SQLite state: signing keys, apps (OAuth clients) and API tokens. Safe across threads and processes."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS signing_keys (
    kid TEXT PRIMARY KEY, private_pem TEXT NOT NULL, created REAL NOT NULL, retire_at REAL
);
CREATE TABLE IF NOT EXISTS apps (
    id TEXT PRIMARY KEY, label TEXT NOT NULL, status TEXT NOT NULL, secret_hash TEXT NOT NULL,
    auth_method TEXT NOT NULL, scopes TEXT NOT NULL, created REAL NOT NULL, last_updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS api_tokens (name TEXT PRIMARY KEY, token_hash TEXT NOT NULL, created REAL NOT NULL);
"""


@dataclass(frozen=True)
class KeyRow:
    """A stored RSA signing key; retire_at None means it is the current signing key."""

    kid: str
    private_pem: str
    created: float
    retire_at: float | None


@dataclass(frozen=True)
class App:
    """A service app: its id is also its OAuth client_id."""

    id: str
    label: str
    status: str
    secret_hash: str
    auth_method: str
    scopes: tuple[str, ...]
    created: float
    last_updated: float


class Store:
    """One SQLite connection shared by the server's threads behind a lock; WAL lets other processes in."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)  # create it private before SQLite opens it
        os.close(fd)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA busy_timeout=10000")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        # BEGIN IMMEDIATE takes the write lock up front, so read-then-write steps cannot interleave.
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _query(self, sql: str, args: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    # meta

    def get_meta(self, name: str) -> str | None:
        """Return a stored setting, or None."""
        rows = self._query("SELECT value FROM meta WHERE name = ?", (name,))
        return str(rows[0][0]) if rows else None

    def set_meta(self, name: str, value: str) -> None:
        """Store a setting."""
        with self._transaction() as db:
            db.execute("INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)", (name, value))

    # signing keys

    def list_keys(self) -> list[KeyRow]:
        """Return every stored key, newest first."""
        rows = self._query("SELECT kid, private_pem, created, retire_at FROM signing_keys ORDER BY created DESC")
        return [
            KeyRow(str(r[0]), str(r[1]), float(str(r[2])), None if r[3] is None else float(str(r[3]))) for r in rows
        ]

    def add_signing_key(self, kid: str, private_pem: str, now: float, retire_current_at: float) -> None:
        """Make a new key the signing key; the current one stays published until retire_current_at."""
        with self._transaction() as db:
            db.execute("UPDATE signing_keys SET retire_at = ? WHERE retire_at IS NULL", (retire_current_at,))
            db.execute("DELETE FROM signing_keys WHERE retire_at IS NOT NULL AND retire_at <= ?", (now,))
            db.execute(
                "INSERT INTO signing_keys (kid, private_pem, created, retire_at) VALUES (?, ?, ?, NULL)",
                (kid, private_pem, now),
            )

    # apps

    def insert_app(self, app: App) -> None:
        """Store a new app."""
        with self._transaction() as db:
            db.execute(
                "INSERT INTO apps (id, label, status, secret_hash, auth_method, scopes, created, last_updated)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    app.id,
                    app.label,
                    app.status,
                    app.secret_hash,
                    app.auth_method,
                    " ".join(app.scopes),
                    app.created,
                    app.last_updated,
                ),
            )

    def get_app(self, app_id: str) -> App | None:
        """Return the app with this id (client_id), or None."""
        rows = self._query(f"SELECT {_APP_COLUMNS} FROM apps WHERE id = ?", (app_id,))  # noqa: S608 (constant)
        return _app(rows[0]) if rows else None

    def list_apps(self, q: str | None, status: str | None, after: str | None, limit: int) -> list[App]:
        """Return apps in creation order whose label starts with q (case-insensitive), after the cursor id."""
        sql = f"SELECT {_APP_COLUMNS} FROM apps WHERE 1 = 1"  # noqa: S608 (constant; values are bound)
        args: list[object] = []
        if q:
            sql += " AND lower(substr(label, 1, ?)) = lower(?)"
            args += [len(q), q]
        if status:
            sql += " AND status = ?"
            args.append(status)
        if after:
            sql += " AND rowid > coalesce((SELECT rowid FROM apps WHERE id = ?), 0)"
            args.append(after)
        sql += " ORDER BY rowid LIMIT ?"
        args.append(limit)
        return [_app(r) for r in self._query(sql, tuple(args))]

    def set_app_status(self, app_id: str, status: str, now: float) -> None:
        """Change an app's status (ACTIVE or INACTIVE)."""
        with self._transaction() as db:
            db.execute("UPDATE apps SET status = ?, last_updated = ? WHERE id = ?", (status, now, app_id))

    def set_app_secret(self, app_id: str, secret_hash: str, now: float) -> None:
        """Replace an app's client secret hash."""
        with self._transaction() as db:
            db.execute("UPDATE apps SET secret_hash = ?, last_updated = ? WHERE id = ?", (secret_hash, now, app_id))

    def delete_app(self, app_id: str) -> bool:
        """Delete an inactive app; return False if it is missing or still active."""
        with self._transaction() as db:
            cursor = db.execute("DELETE FROM apps WHERE id = ? AND status = 'INACTIVE'", (app_id,))
            return cursor.rowcount == 1

    # API tokens

    def api_token_hashes(self) -> list[str]:
        """Return the hashes of every SSWS API token."""
        return [str(r[0]) for r in self._query("SELECT token_hash FROM api_tokens")]

    def get_api_token_hash(self, name: str) -> str | None:
        """Return the hash of the named API token, or None."""
        rows = self._query("SELECT token_hash FROM api_tokens WHERE name = ?", (name,))
        return str(rows[0][0]) if rows else None

    def put_api_token(self, name: str, token_hash: str, now: float) -> None:
        """Create or replace the named API token."""
        with self._transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO api_tokens (name, token_hash, created) VALUES (?, ?, ?)",
                (name, token_hash, now),
            )


_APP_COLUMNS = "id, label, status, secret_hash, auth_method, scopes, created, last_updated"


def _app(row: tuple[object, ...]) -> App:
    return App(
        id=str(row[0]),
        label=str(row[1]),
        status=str(row[2]),
        secret_hash=str(row[3]),
        auth_method=str(row[4]),
        scopes=tuple(str(row[5]).split()),
        created=float(str(row[6])),
        last_updated=float(str(row[7])),
    )
