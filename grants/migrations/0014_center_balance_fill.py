"""The center balances filled from the ledger already there, in batches of grants, each batch
its own short transaction (the migration is not atomic): the ledger is never held for the whole
fill, and the version still serving keeps posting meanwhile.

`0010_center_balance` created the balances and the trigger that adds each later posting to
them. The fill first starts the balances again from zero and notes the last entry, in one short
transaction that holds off postings (`SHARE ROW EXCLUSIVE`: readers go on) only for that
instant: every entry after the mark is added by the trigger, every entry up to it by the
batches, which add their grants' sums of those entries to the balances. The ledger is
append-only, so the sums of the entries up to the mark never change and the batches need no
lock; their additions and the trigger's are the same kind of upsert, so they queue on the
balance rows rather than overwrite each other. Until the fill is over the balances are
incomplete. Safe to run again (it starts from zero again); a database that ran the single
migration this replaces is filled again, the same way, and ends where it was."""

from django.db import migrations, transaction

BATCH = 5_000  # grants

CENTER_COLUMNS = (
    "organization_id, service_type_id, unit, purchased, total, used, held, active_available"
)
# `grants.balances.CENTER` over the entries up to the mark of a range of grants, added to the
# balances in the order of their key (as the trigger does: concurrent postings queue).
ADD = f"""
INSERT INTO grants_centerbalance ({CENTER_COLUMNS})
SELECT gst.organization_id, gst.service_type_id, g.unit, SUM(e.purchased), SUM(e.total),
       SUM(e.used), SUM(e.held), SUM(e.usable)
FROM (
    SELECT grant_id,
           SUM(CASE WHEN kind = 'credit' THEN total_delta ELSE 0 END) AS purchased,
           SUM(total_delta) AS total, SUM(used_delta) AS used,
           SUM(held_delta) AS held, SUM(usable_delta) AS usable
    FROM grants_grantentry
    WHERE id <= %(mark)s AND grant_id >= %(start)s AND grant_id < %(end)s
    GROUP BY grant_id
) e
JOIN grants_grant g ON g.id = e.grant_id
JOIN grants_grantservicetype gst ON gst.grant_id = e.grant_id
GROUP BY gst.organization_id, gst.service_type_id, g.unit
ORDER BY gst.organization_id, gst.service_type_id, g.unit
ON CONFLICT (organization_id, service_type_id, unit) DO UPDATE SET
    purchased = grants_centerbalance.purchased + excluded.purchased,
    total = grants_centerbalance.total + excluded.total,
    used = grants_centerbalance.used + excluded.used,
    held = grants_centerbalance.held + excluded.held,
    active_available = grants_centerbalance.active_available + excluded.active_available
"""


def fill(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return  # the balances are kept on PostgreSQL only (no trigger elsewhere)
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        # Postings in flight finish first; later ones get ids above the mark and the trigger.
        cursor.execute("LOCK TABLE grants_grantentry IN SHARE ROW EXCLUSIVE MODE")
        cursor.execute("DELETE FROM grants_centerbalance")
        cursor.execute("SELECT max(id) FROM grants_grantentry")
        (mark,) = cursor.fetchone()
        cursor.execute("SELECT min(id), max(id) FROM grants_grant")
        low, high = cursor.fetchone()
    if mark is None or low is None:
        return
    for start in range(low, high + 1, BATCH):
        with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
            cursor.execute(ADD, {"mark": mark, "start": start, "end": start + BATCH})


class Migration(migrations.Migration):

    atomic = False

    dependencies = [
        ('grants', '0013_merge_ledger_guards_and_price_at_sale'),
    ]

    operations = [
        migrations.RunPython(fill, migrations.RunPython.noop, elidable=False),
    ]
