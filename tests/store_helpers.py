"""Helpers of the store migration tests: the ae5988b store fixture, row-for-row snapshots of a database."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import sqlalchemy as sa

FIXTURES = Path(__file__).parent / "fixtures"
#: a records store made by commit ae5988b (before schema versions), rows in every table; see make_store_ae5988b.py
AE5988B_SQLITE = FIXTURES / "store_ae5988b.sql"
AE5988B_POSTGRESQL_DDL = FIXTURES / "store_ae5988b_postgresql.sql"
#: the ae5988b tables, as the fixture lists them
AE5988B_TABLES = {"instruments", "partnerships", "respondents", "response_sets", "answers", "answer_audit",
                  "records_investments", "records_goals", "records_goal_owners", "records_checkins",
                  "records_checkin_attendees", "records_checkin_goal_reviews", "records_action_items",
                  "records_audit", "records_drafts"}


def make_ae5988b_sqlite(path: Path) -> Path:
    """Write the ae5988b fixture store to ``path`` (a fresh SQLite file)."""
    con = sqlite3.connect(path)
    try:
        con.executescript(AE5988B_SQLITE.read_text(encoding="utf-8"))
    finally:
        con.close()
    return path


def make_ae5988b_postgresql(url: str, tmp: Path) -> None:
    """Create the ae5988b tables (DDL compiled at that commit) in an empty PostgreSQL database and copy the
    fixture's rows into them."""
    src_engine = sa.create_engine(f"sqlite:///{make_ae5988b_sqlite(tmp / 'ae5988b_src.sqlite')}")
    dst_engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with dst_engine.begin() as dst:
            for statement in AE5988B_POSTGRESQL_DDL.read_text(encoding="utf-8").split(";"):
                body = "\n".join(line for line in statement.splitlines() if not line.startswith("--")).strip()
                if body:
                    dst.exec_driver_sql(body)
            dst_meta = sa.MetaData()
            dst_meta.reflect(dst)
            with src_engine.connect() as src:
                src_meta = sa.MetaData()
                src_meta.reflect(src)
                for table in dst_meta.sorted_tables:
                    rows = [dict(r) for r in src.execute(sa.select(src_meta.tables[table.name])).mappings()]
                    if rows:
                        dst.execute(table.insert(), rows)
            # serial columns continue after the copied ids, as in a store that made those rows itself
            for table in dst_meta.sorted_tables:
                for col in table.primary_key.columns:
                    if isinstance(col.type, sa.Integer) and col.autoincrement in (True, "auto"):
                        dst.exec_driver_sql(
                            f"SELECT setval(pg_get_serial_sequence('{table.name}', '{col.name}'), "
                            f"(SELECT max({col.name}) FROM {table.name}))")
    finally:
        src_engine.dispose()
        dst_engine.dispose()


def url_of(db) -> str:
    text = str(db)
    return text if "://" in text else f"sqlite:///{Path(text).resolve()}"


def snapshot(db, *, skip=("alembic_version",)) -> dict[str, list[dict]]:
    """Every row of every table, ordered by primary key: ``{table: [row dict, ...]}``."""
    engine = sa.create_engine(url_of(db), poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            meta = sa.MetaData()
            meta.reflect(conn)
            out = {}
            for name, table in sorted(meta.tables.items()):
                if name in skip:
                    continue
                order = list(table.primary_key.columns) or list(table.columns)
                out[name] = [dict(r) for r in conn.execute(sa.select(table).order_by(*order)).mappings()]
            return out
    finally:
        engine.dispose()


def revision(db) -> str | None:
    engine = sa.create_engine(url_of(db), poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            if not sa.inspect(conn).has_table("alembic_version"):
                return None
            return conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar_one()
    finally:
        engine.dispose()


def expected_after_0002(before: dict[str, list[dict]]) -> dict[str, list[dict]]:
    """What revision 0002 must make of an 0001 store: owners move into records_goals, nothing else changes."""
    owners = {r["goal_id"]: r["owner"] for r in before["records_goal_owners"]}
    out = {k: v for k, v in before.items() if k != "records_goal_owners"}
    out["records_goals"] = [{**r, "owner": owners.get(r["goal_id"])} for r in before["records_goals"]]
    return out


#: tables revision 0003 adds (empty in an upgraded store)
TABLES_0003 = ("invitations", "invitation_partners")


def expected_at_head(before: dict[str, list[dict]]) -> dict[str, list[dict]]:
    """What upgrading an 0001 store to head must give: revision 0002's change, and 0003's new empty tables."""
    out = expected_after_0002(before)
    out.update({t: [] for t in TABLES_0003})
    return dict(sorted(out.items()))


def row_count(snap: dict[str, list[dict]]) -> int:
    return sum(len(v) for v in snap.values())
