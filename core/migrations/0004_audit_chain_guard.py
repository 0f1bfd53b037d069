"""The database refuses an audit row that is not the next link of the chain (PostgreSQL).

Migration 0002 refuses UPDATE, DELETE and TRUNCATE; INSERT stays allowed, since appending is the
application's job. Without this guard the application role could still append a row with a wrong
sequence number or chain hash: verification names it, but the trail stays broken for good, because
nothing can remove it. A BEFORE INSERT trigger now requires, for every role (the owner included):

* ``seq = previous seq + 1`` (1 for the first event), and
* ``chain_hash = sha256(previous chain_hash || event_digest)`` over the raw 32 bytes of each, as
  lowercase hex, with 64 zeros before the first event — exactly ``core.verify_bundle.link``
  (docs/audit.md, "The chain and its canonical form").

It cannot check that ``event_digest`` is the digest of the row's contents (the canonical JSON is
not something SQL can rebuild from jsonb): a row whose digest lies is still only detected, as a
``digest_mismatch``, by ``verify_audit``. For the same reason the digest's form is left to
``decode()``: text that is not hex is refused by it, and hex that is not a SHA-256 digest (wrong
length, capitals) is one more lying digest. An explicit pattern check cost as much as the rest of
the guard together (measured: some 25 microseconds per row on the project's machine).

The trigger takes the chain lock that ``core.audit.record`` takes (the advisory lock below, the
same key), so an INSERT that bypasses ``record`` queues like any append and reads the true head;
for ``record``, which already holds it, taking it again costs nothing. Its ``search_path`` is
fixed to the schema it was created in, with ``pg_temp`` last: otherwise a session could create a
temporary table named ``core_auditevent`` holding a head of its choosing and have the check read
that one.

SQLite (embedded mode) gets no trigger: there the chain is only verified (docs/audit.md).
"""

from django.db import migrations

# core.audit.record.CHAIN_LOCK_KEY, written out: a migration must not change when the code does.
CHAIN_LOCK_KEY = 0x41535341590001

FUNCTION = """
CREATE OR REPLACE FUNCTION assay_audit_require_next_link() RETURNS trigger
LANGUAGE plpgsql
SET search_path = {schema}, pg_temp
AS $$
DECLARE
    previous_seq bigint := 0;
    previous_hash text := repeat('0', 64);
    expected text;
BEGIN
    PERFORM pg_advisory_xact_lock({lock_key});
    SELECT e.seq, e.chain_hash INTO previous_seq, previous_hash
      FROM core_auditevent e ORDER BY e.seq DESC LIMIT 1;
    IF NOT FOUND THEN
        previous_seq := 0;
        previous_hash := repeat('0', 64);
    END IF;
    IF NEW.seq IS DISTINCT FROM previous_seq + 1 THEN
        RAISE EXCEPTION 'The audit trail accepts only the next link of its chain: seq % was given, '
                        'the next is %.', NEW.seq, previous_seq + 1
            USING ERRCODE = 'check_violation',
                  HINT = 'Append events through core.audit.record (docs/audit.md).';
    END IF;
    expected := encode(sha256(decode(previous_hash, 'hex') || decode(NEW.event_digest, 'hex')),
                       'hex');
    IF NEW.chain_hash IS DISTINCT FROM expected THEN
        RAISE EXCEPTION 'The audit trail accepts only the next link of its chain: the chain_hash '
                        'of seq % must be sha256(chain hash of seq % || event_digest) = %.',
                        NEW.seq, previous_seq, expected
            USING ERRCODE = 'check_violation',
                  HINT = 'Append events through core.audit.record (docs/audit.md).';
    END IF;
    RETURN NEW;
END
$$;
"""

TRIGGER = ("CREATE TRIGGER audit_require_next_link BEFORE INSERT ON core_auditevent "
           "FOR EACH ROW EXECUTE FUNCTION assay_audit_require_next_link();")

BACKWARD = [
    "DROP TRIGGER IF EXISTS audit_require_next_link ON core_auditevent;",
    "DROP FUNCTION IF EXISTS assay_audit_require_next_link();",
]


def forward(apps, schema_editor) -> None:
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return  # embedded SQLite: detection only (see docs/audit.md)
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_schema()")
        schema = connection.ops.quote_name(cursor.fetchone()[0])
    schema_editor.execute(FUNCTION.format(schema=schema, lock_key=CHAIN_LOCK_KEY), params=None)
    schema_editor.execute(TRIGGER, params=None)


def backward(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for statement in BACKWARD:
        schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):

    dependencies = [
        ("core", "0003_signing"),
    ]

    operations = [
        migrations.RunPython(forward, backward, elidable=False),
    ]
