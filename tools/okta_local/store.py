"""SQLite state: signing keys, apps, their client secrets and grants, access policies and rules, API tokens,
used JWT ids, and the other management API objects (scopes, custom roles, resource sets, role assignments) as
JSON documents of a kind.

Safe across threads (one connection behind a lock, every change in its own transaction) and across
processes (WAL, busy timeout). Policies and rules are stored as the JSON documents the API shows.
Client secrets are stored only as hashes; an app of an older state directory, which had one secret in
apps.secret_hash, gets that hash as its one ACTIVE secret when the store is opened.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from okta_local.credentials import new_id

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
CREATE TABLE IF NOT EXISTS grants (
    id TEXT PRIMARY KEY, app_id TEXT NOT NULL, scope_id TEXT NOT NULL, issuer TEXT NOT NULL,
    created REAL NOT NULL, UNIQUE (app_id, scope_id)
);
CREATE TABLE IF NOT EXISTS policies (
    id TEXT PRIMARY KEY, doc TEXT NOT NULL, created REAL NOT NULL, last_updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS rules (
    id TEXT PRIMARY KEY, policy_id TEXT NOT NULL, doc TEXT NOT NULL, created REAL NOT NULL, last_updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS client_secrets (
    id TEXT PRIMARY KEY, app_id TEXT NOT NULL, secret_hash TEXT NOT NULL, status TEXT NOT NULL,
    created REAL NOT NULL, last_updated REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS client_secrets_app ON client_secrets (app_id);
CREATE TABLE IF NOT EXISTS objects (
    kind TEXT NOT NULL, id TEXT NOT NULL, parent TEXT NOT NULL DEFAULT '', doc TEXT NOT NULL,
    created REAL NOT NULL, last_updated REAL NOT NULL, PRIMARY KEY (kind, id)
);
CREATE TABLE IF NOT EXISTS used_jtis (
    kind TEXT NOT NULL, jti TEXT NOT NULL, expires REAL NOT NULL, PRIMARY KEY (kind, jti)
);
"""
# Columns added after the first release; older state directories get them on open.
_APP_COLUMNS_ADDED = {
    "jwks": "TEXT NOT NULL DEFAULT '[]'",
    "dpop": "INTEGER NOT NULL DEFAULT 0",
    "profile": "TEXT NOT NULL DEFAULT '{}'",
}
SECRET_ID_PREFIX = "ocs"  # noqa: S105 (an id prefix: Okta's client secret ids are ocs + 17 characters)


@dataclass(frozen=True)
class KeyRow:
    """A stored RSA signing key; retire_at None means it is the current signing key."""

    kid: str
    private_pem: str
    created: float
    retire_at: float | None


@dataclass(frozen=True)
class App:
    """A service app: its id is also its OAuth client_id.

    secret_hash is the hash of the app's newest ACTIVE client secret ("" for private_key_jwt apps), kept
    for older versions; the client_secrets table holds every secret. legacy_scopes is what okta_local
    granted per app before access policies existed; only the migration of an old state directory reads it.
    """

    id: str
    label: str
    status: str
    secret_hash: str
    auth_method: str
    created: float
    last_updated: float
    jwks: list[dict[str, Any]] = field(default_factory=list)
    dpop_bound: bool = False
    legacy_scopes: tuple[str, ...] = ()
    profile: dict[str, Any] = field(default_factory=dict)  # the app's custom properties, as Okta keeps them


@dataclass(frozen=True)
class Grant:
    """An Okta-scope grant of an app (POST /api/v1/apps/{id}/grants)."""

    id: str
    app_id: str
    scope_id: str
    issuer: str
    created: float


@dataclass(frozen=True)
class ClientSecret:
    """One of an app's client secrets (/api/v1/apps/{id}/credentials/secrets): its hash, never the secret."""

    id: str
    app_id: str
    secret_hash: str
    status: str  # ACTIVE or INACTIVE
    created: float
    last_updated: float


@dataclass(frozen=True)
class Document:
    """A policy or rule: its id, the JSON fields the API shows, and its timestamps."""

    id: str
    doc: dict[str, Any]
    created: float
    last_updated: float
    parent: str | None = None  # the policy id of a rule


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
        with self._transaction() as db:
            present = {str(row[1]) for row in db.execute("PRAGMA table_info(apps)")}
            for name, definition in _APP_COLUMNS_ADDED.items():
                if name not in present:
                    db.execute(f"ALTER TABLE apps ADD COLUMN {name} {definition}")
            _adopt_legacy_secrets(db)

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
                f"INSERT INTO apps ({_APP_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",  # noqa: S608 (constant)
                (
                    app.id,
                    app.label,
                    app.status,
                    app.secret_hash,
                    app.auth_method,
                    " ".join(app.legacy_scopes),
                    app.created,
                    app.last_updated,
                    json.dumps(app.jwks),
                    int(app.dpop_bound),
                    json.dumps(app.profile),
                ),
            )
            if app.secret_hash:
                _insert_secret(db, _first_secret(app.id, app.secret_hash, app.created))

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
        """Replace all of an app's client secrets with one ACTIVE secret of this hash."""
        with self._transaction() as db:
            db.execute("DELETE FROM client_secrets WHERE app_id = ?", (app_id,))
            _insert_secret(db, _first_secret(app_id, secret_hash, now))
            db.execute("UPDATE apps SET last_updated = ? WHERE id = ?", (now, app_id))
            _sync_app_hash(db, app_id)

    def set_app_jwks(self, app_id: str, jwks: list[dict[str, Any]], now: float) -> None:
        """Replace an app's registered public keys."""
        with self._transaction() as db:
            db.execute("UPDATE apps SET jwks = ?, last_updated = ? WHERE id = ?", (json.dumps(jwks), now, app_id))

    def update_app(
        self, app_id: str, label: str, dpop_bound: bool, profile: dict[str, Any], jwks: list[dict[str, Any]], now: float
    ) -> None:
        """Replace an app's label, DPoP setting, profile and public keys (PUT /api/v1/apps/{id})."""
        with self._transaction() as db:
            db.execute(
                "UPDATE apps SET label = ?, dpop = ?, profile = ?, jwks = ?, last_updated = ? WHERE id = ?",
                (label, int(dpop_bound), json.dumps(profile), json.dumps(jwks), now, app_id),
            )

    def delete_app(self, app_id: str) -> bool:
        """Delete an inactive app with its grants and client secrets; False if it is missing or still active."""
        with self._transaction() as db:
            cursor = db.execute("DELETE FROM apps WHERE id = ? AND status = 'INACTIVE'", (app_id,))
            if cursor.rowcount != 1:
                return False
            db.execute("DELETE FROM grants WHERE app_id = ?", (app_id,))
            db.execute("DELETE FROM client_secrets WHERE app_id = ?", (app_id,))
            return True

    # client secrets

    def list_client_secrets(self, app_id: str) -> list[ClientSecret]:
        """Return an app's client secrets in the order they were made."""
        sql = f"SELECT {_SECRET_COLUMNS} FROM client_secrets WHERE app_id = ? ORDER BY rowid"  # noqa: S608 (constant)
        rows = self._query(sql, (app_id,))
        return [_secret(r) for r in rows]

    def add_client_secret(self, item: ClientSecret, most: int) -> bool:
        """Store a new secret of an existing app; False if the app already has `most` secrets (or is gone)."""
        with self._transaction() as db:
            if not db.execute("SELECT 1 FROM apps WHERE id = ?", (item.app_id,)).fetchall():
                return False
            (count,) = db.execute("SELECT count(*) FROM client_secrets WHERE app_id = ?", (item.app_id,)).fetchone()
            if int(count) >= most:
                return False
            _insert_secret(db, item)
            _sync_app_hash(db, item.app_id)
            return True

    def set_client_secret_status(
        self, app_id: str, secret_id: str, status: str, now: float
    ) -> tuple[ClientSecret | None, bool]:
        """Set a secret's status, unless that would leave the app no ACTIVE secret.

        Return the secret as it now is (None if the app has no such secret) and whether it has the status.
        """
        with self._transaction() as db:
            item = _get_secret(db, app_id, secret_id)
            if item is None or item.status == status:
                return item, item is not None
            if status != "ACTIVE" and _active_count(db, app_id) <= 1:
                return item, False
            db.execute(
                "UPDATE client_secrets SET status = ?, last_updated = ? WHERE id = ? AND app_id = ?",
                (status, now, secret_id, app_id),
            )
            _sync_app_hash(db, app_id)
            return _get_secret(db, app_id, secret_id), True

    def delete_client_secret(self, app_id: str, secret_id: str) -> tuple[ClientSecret | None, bool]:
        """Delete an INACTIVE secret; return it (None if the app has no such secret) and whether it was deleted."""
        with self._transaction() as db:
            item = _get_secret(db, app_id, secret_id)
            if item is None or item.status == "ACTIVE":
                return item, False
            db.execute("DELETE FROM client_secrets WHERE id = ? AND app_id = ?", (secret_id, app_id))
            return item, True

    # grants

    def add_grant(self, grant: Grant) -> Grant | None:
        """Store a grant; return None if the app already has a grant for that scope (or no longer exists)."""
        with self._transaction() as db:
            if not db.execute("SELECT 1 FROM apps WHERE id = ?", (grant.app_id,)).fetchall():
                return None
            cursor = db.execute(
                "INSERT OR IGNORE INTO grants (id, app_id, scope_id, issuer, created) VALUES (?, ?, ?, ?, ?)",
                (grant.id, grant.app_id, grant.scope_id, grant.issuer, grant.created),
            )
            return grant if cursor.rowcount == 1 else None

    def list_grants(self, app_id: str) -> list[Grant]:
        """Return an app's grants in the order they were made."""
        rows = self._query(
            "SELECT id, app_id, scope_id, issuer, created FROM grants WHERE app_id = ? ORDER BY rowid", (app_id,)
        )
        return [Grant(str(r[0]), str(r[1]), str(r[2]), str(r[3]), float(str(r[4]))) for r in rows]

    def delete_grant(self, app_id: str, grant_id: str) -> bool:
        """Delete one of an app's grants; return False if there is no such grant."""
        with self._transaction() as db:
            cursor = db.execute("DELETE FROM grants WHERE id = ? AND app_id = ?", (grant_id, app_id))
            return cursor.rowcount == 1

    # policies and rules

    def insert_document(self, table: str, item: Document) -> bool:
        """Store a new policy (table "policies") or rule ("rules"); False if a rule's policy is gone."""
        with self._transaction() as db:
            if table == "rules":
                if not db.execute("SELECT 1 FROM policies WHERE id = ?", (item.parent,)).fetchall():
                    return False
                db.execute(
                    "INSERT INTO rules (id, policy_id, doc, created, last_updated) VALUES (?, ?, ?, ?, ?)",
                    (item.id, item.parent, json.dumps(item.doc), item.created, item.last_updated),
                )
            else:
                db.execute(
                    "INSERT INTO policies (id, doc, created, last_updated) VALUES (?, ?, ?, ?)",
                    (item.id, json.dumps(item.doc), item.created, item.last_updated),
                )
            return True

    def list_documents(self, table: str, parent: str | None = None) -> list[Document]:
        """Return every policy, or every rule of one policy, in creation order."""
        if table == "rules":
            rows = self._query(
                "SELECT id, doc, created, last_updated, policy_id FROM rules WHERE policy_id = ? ORDER BY rowid",
                (parent,),
            )
        else:
            rows = self._query("SELECT id, doc, created, last_updated, NULL FROM policies ORDER BY rowid")
        return [_document(r) for r in rows]

    def get_document(self, table: str, item_id: str, parent: str | None = None) -> Document | None:
        """Return one policy, or one rule of the given policy, or None."""
        if table == "rules":
            rows = self._query(
                "SELECT id, doc, created, last_updated, policy_id FROM rules WHERE id = ? AND policy_id = ?",
                (item_id, parent),
            )
        else:
            rows = self._query("SELECT id, doc, created, last_updated, NULL FROM policies WHERE id = ?", (item_id,))
        return _document(rows[0]) if rows else None

    def replace_document(
        self, table: str, item_id: str, doc: dict[str, Any], now: float, parent: str | None = None
    ) -> Document | None:
        """Replace a policy's or rule's whole document (last write wins); None if it does not exist."""
        where = "id = ? AND policy_id = ?" if table == "rules" else "id = ? AND ? IS NULL"
        with self._transaction() as db:
            cursor = db.execute(
                f"UPDATE {_table(table)} SET doc = ?, last_updated = ? WHERE {where}",  # noqa: S608 (constants)
                (json.dumps(doc), now, item_id, parent),
            )
            if cursor.rowcount != 1:
                return None
            row = db.execute(
                f"SELECT id, doc, created, last_updated, {'policy_id' if table == 'rules' else 'NULL'}"  # noqa: S608
                f" FROM {_table(table)} WHERE id = ?",
                (item_id,),
            ).fetchone()
            return _document(row)

    def set_document_status(self, table: str, item_id: str, status: str, now: float, parent: str | None = None) -> bool:
        """Set a policy's or rule's status in place (the lifecycle operations); False if it does not exist."""
        where = "id = ? AND policy_id = ?" if table == "rules" else "id = ? AND ? IS NULL"
        with self._transaction() as db:
            cursor = db.execute(
                f"UPDATE {_table(table)} SET doc = json_set(doc, '$.status', ?), last_updated = ?"  # noqa: S608
                f" WHERE {where}",
                (status, now, item_id, parent),
            )
            return cursor.rowcount == 1

    def delete_document(self, table: str, item_id: str, parent: str | None = None) -> bool:
        """Delete a policy with its rules, or one rule; False if it does not exist."""
        with self._transaction() as db:
            if table == "rules":
                cursor = db.execute("DELETE FROM rules WHERE id = ? AND policy_id = ?", (item_id, parent))
            else:
                cursor = db.execute("DELETE FROM policies WHERE id = ?", (item_id,))
                db.execute("DELETE FROM rules WHERE policy_id = ?", (item_id,))
            return cursor.rowcount == 1

    # other management API objects: a JSON document of a kind (scope, role, resource set...), optionally under a parent

    def insert_object(self, kind: str, item: Document) -> None:
        """Store a new object of a kind."""
        with self._transaction() as db:
            db.execute(
                "INSERT INTO objects (kind, id, parent, doc, created, last_updated) VALUES (?, ?, ?, ?, ?, ?)",
                (kind, item.id, item.parent or "", json.dumps(item.doc), item.created, item.last_updated),
            )

    def list_objects(self, kind: str, parent: str | None = None) -> list[Document]:
        """Return every object of a kind (of one parent, if given), in creation order."""
        sql = "SELECT id, doc, created, last_updated, parent FROM objects WHERE kind = ?"
        args: tuple[object, ...] = (kind,)
        if parent is not None:
            sql, args = sql + " AND parent = ?", (kind, parent)
        return [_document(r) for r in self._query(sql + " ORDER BY rowid", args)]

    def get_object(self, kind: str, item_id: str) -> Document | None:
        """Return one object of a kind, or None."""
        rows = self._query(
            "SELECT id, doc, created, last_updated, parent FROM objects WHERE kind = ? AND id = ?", (kind, item_id)
        )
        return _document(rows[0]) if rows else None

    def replace_object(self, kind: str, item_id: str, doc: dict[str, Any], now: float) -> Document | None:
        """Replace an object's document; None if it does not exist."""
        with self._transaction() as db:
            cursor = db.execute(
                "UPDATE objects SET doc = ?, last_updated = ? WHERE kind = ? AND id = ?",
                (json.dumps(doc), now, kind, item_id),
            )
            if cursor.rowcount != 1:
                return None
        return self.get_object(kind, item_id)

    def delete_object(self, kind: str, item_id: str) -> bool:
        """Delete one object of a kind; False if it does not exist."""
        with self._transaction() as db:
            return db.execute("DELETE FROM objects WHERE kind = ? AND id = ?", (kind, item_id)).rowcount == 1

    # JWT ids seen (client assertions, DPoP proofs): each may be used once

    def use_jti(self, kind: str, jti: str, expires: float, now: float) -> bool:
        """Record a JWT id until it expires; return False if it was already used."""
        with self._transaction() as db:
            db.execute("DELETE FROM used_jtis WHERE expires < ?", (now,))
            cursor = db.execute(
                "INSERT OR IGNORE INTO used_jtis (kind, jti, expires) VALUES (?, ?, ?)", (kind, jti, expires)
            )
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


_APP_COLUMNS = "id, label, status, secret_hash, auth_method, scopes, created, last_updated, jwks, dpop, profile"
_SECRET_COLUMNS = "id, app_id, secret_hash, status, created, last_updated"  # noqa: S105 (column names)


def _first_secret(app_id: str, secret_hash: str, now: float) -> ClientSecret:
    return ClientSecret(new_id(SECRET_ID_PREFIX), app_id, secret_hash, "ACTIVE", now, now)


def _insert_secret(db: sqlite3.Connection, item: ClientSecret) -> None:
    db.execute(
        f"INSERT INTO client_secrets ({_SECRET_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",  # noqa: S608 (constant)
        (item.id, item.app_id, item.secret_hash, item.status, item.created, item.last_updated),
    )


def _get_secret(db: sqlite3.Connection, app_id: str, secret_id: str) -> ClientSecret | None:
    row = db.execute(
        f"SELECT {_SECRET_COLUMNS} FROM client_secrets WHERE id = ? AND app_id = ?",  # noqa: S608 (constant)
        (secret_id, app_id),
    ).fetchone()
    return None if row is None else _secret(row)


def _active_count(db: sqlite3.Connection, app_id: str) -> int:
    row = db.execute("SELECT count(*) FROM client_secrets WHERE app_id = ? AND status = 'ACTIVE'", (app_id,))
    return int(row.fetchone()[0])


def _sync_app_hash(db: sqlite3.Connection, app_id: str) -> None:
    """Keep apps.secret_hash, all that older versions read, the hash of the app's newest ACTIVE secret."""
    db.execute(
        "UPDATE apps SET secret_hash = coalesce((SELECT secret_hash FROM client_secrets"
        " WHERE app_id = ? AND status = 'ACTIVE' ORDER BY rowid DESC LIMIT 1), '') WHERE id = ?",
        (app_id, app_id),
    )


def _adopt_legacy_secrets(db: sqlite3.Connection) -> None:
    """Give each app of an older state directory (a secret_hash, no secret records) that hash as its ACTIVE secret."""
    rows = db.execute(
        "SELECT id, secret_hash, last_updated FROM apps"
        " WHERE secret_hash != '' AND id NOT IN (SELECT app_id FROM client_secrets)"
    ).fetchall()
    for app_id, secret_hash, last_updated in rows:
        _insert_secret(db, _first_secret(str(app_id), str(secret_hash), float(last_updated)))


def _table(name: str) -> str:
    if name not in ("policies", "rules"):
        raise ValueError(f"not a document table: {name}")
    return name


def _app(row: tuple[object, ...]) -> App:
    jwks = json.loads(str(row[8]))
    return App(
        id=str(row[0]),
        label=str(row[1]),
        status=str(row[2]),
        secret_hash=str(row[3]),
        auth_method=str(row[4]),
        legacy_scopes=tuple(str(row[5]).split()),
        created=float(str(row[6])),
        last_updated=float(str(row[7])),
        jwks=jwks if isinstance(jwks, list) else [],
        dpop_bound=bool(row[9]),
        profile=profile if isinstance(profile := json.loads(str(row[10])), dict) else {},
    )


def _secret(row: tuple[object, ...]) -> ClientSecret:
    return ClientSecret(
        id=str(row[0]),
        app_id=str(row[1]),
        secret_hash=str(row[2]),
        status=str(row[3]),
        created=float(str(row[4])),
        last_updated=float(str(row[5])),
    )


def _document(row: tuple[object, ...]) -> Document:
    doc = json.loads(str(row[1]))
    return Document(
        id=str(row[0]),
        doc=doc if isinstance(doc, dict) else {},
        created=float(str(row[2])),
        last_updated=float(str(row[3])),
        parent=None if row[4] is None or row[4] == "" else str(row[4]),
    )
