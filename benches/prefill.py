"""Age a request database: copy its one stored request (and that request's mail) `rows` times as
closed requests of the last 300 days spread over the scheme's mentors, with their mail sent.
Copying a row the service itself wrote keeps this in step with the schema.

    python3 benches/prefill.py DB ROWS [TARGET [SLUG,SLUG,...]]

TARGET (a mentor slug) gets no accepted requests, so its capacity stays open for the load;
the copies are spread over the SLUGs (default: the mentors the database already names)."""

import random
import sqlite3
import sys
import time

db, rows = sys.argv[1], int(sys.argv[2])
target = sys.argv[3] if len(sys.argv) > 3 else ""
rng = random.Random(7)
con = sqlite3.connect(db)
con.execute("PRAGMA journal_mode=WAL")
(seed,) = con.execute("SELECT id FROM requests LIMIT 1").fetchone()
mentors = [m for (m,) in con.execute("SELECT DISTINCT mentor FROM requests")]
cols = [r[1] for r in con.execute("PRAGMA table_info(requests)")]
mail_cols = [r[1] for r in con.execute("PRAGMA table_info(outbox)") if r[1] != "id"]
now = int(time.time())
slugs = sys.argv[4].split(",") if len(sys.argv) > 4 else mentors
closed = ["accepted", "declined", "lapsed", "withdrawn"]


def copy_sql(table, cols, key, overrides):
    """INSERT a copy of `table`'s rows whose `key` is the seed, with `overrides` per column."""
    return "INSERT INTO {t} ({c}) SELECT {v} FROM {t} WHERE {k} = :seed".format(
        t=table, c=", ".join(cols), v=", ".join(overrides.get(c, c) for c in cols), k=key
    )


req_sql = copy_sql(
    "requests",
    cols,
    "id",
    {
        "id": ":id",
        "created_at": ":created",
        "mentor": ":mentor",
        "email": ":email",
        "email_key": ":email",
        "status": ":status",
        "closed_at": ":closed",
        "answered_at": ":closed",
    },
)
mail_sql = copy_sql(
    "outbox",
    mail_cols,
    "request_id",
    {
        "request_id": ":id",
        "message_id": "'<' || :id || '.' || kind || '@prefill>'",
        "status": "'sent'",
        "attempts": "1",
        "next_attempt_at": ":created",
        "sent_at": ":created",
        "claim": "NULL",
        "last_error": "NULL",
    },
)
started = time.time()
with con:
    for i in range(rows):
        created = now - rng.randrange(300 * 86400)
        mentor = rng.choice(slugs)
        status = rng.choice(closed[1:] if mentor == target else closed)
        p = {
            "seed": seed,
            "id": "prefill-%07d" % i,
            "created": created,
            "mentor": mentor,
            "email": "old%d@example.net" % i,
            "status": status,
            "closed": created + rng.randrange(5 * 86400),
        }
        con.execute(req_sql, p)
        con.execute(mail_sql, p)
con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
n = con.execute("SELECT count(*) FROM requests").fetchone()[0]
m = con.execute("SELECT count(*) FROM outbox").fetchone()[0]
print(f"prefilled: {n} requests, {m} mails in {time.time() - started:.0f} s", file=sys.stderr)
