"""PostgreSQL guards of the points ledger, beyond what the ORM enforces.

- Ledger rows and rule versions are append-only: UPDATE and DELETE raise, whoever sends them.
- ``points_balance == sum(points)`` is checked at COMMIT by deferred constraint triggers, so a
  transaction that moves a balance without its ledger row (or the reverse) cannot commit.

SQLite has no equivalent of a deferred check; there the model layer and `loyalty verify` guard.
"""

from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION loyalty_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'loyalty: % on % is refused: the ledger is append-only', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER loyalty_tx_append_only
    BEFORE UPDATE OR DELETE ON loyalty_loyaltytransaction
    FOR EACH ROW EXECUTE FUNCTION loyalty_refuse_change();

CREATE TRIGGER loyalty_rule_version_append_only
    BEFORE UPDATE OR DELETE ON loyalty_loyaltyruleversion
    FOR EACH ROW EXECUTE FUNCTION loyalty_refuse_change();

CREATE OR REPLACE FUNCTION loyalty_check_balance_sum() RETURNS trigger AS $$
DECLARE
    bid bigint;
    stored bigint;
    ledger bigint;
BEGIN
    IF TG_TABLE_NAME = 'loyalty_loyaltytransaction' THEN
        bid := NEW.balance_id;
    ELSE
        bid := NEW.id;
    END IF;
    SELECT points_balance INTO stored FROM loyalty_customerloyaltybalance WHERE id = bid;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    SELECT COALESCE(SUM(points), 0) INTO ledger FROM loyalty_loyaltytransaction WHERE balance_id = bid;
    IF stored <> ledger THEN
        RAISE EXCEPTION 'loyalty: balance % holds % points but its ledger sums to %', bid, stored, ledger
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE CONSTRAINT TRIGGER loyalty_tx_balance_sum
    AFTER INSERT ON loyalty_loyaltytransaction
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION loyalty_check_balance_sum();

CREATE CONSTRAINT TRIGGER loyalty_balance_sum
    AFTER INSERT OR UPDATE ON loyalty_customerloyaltybalance
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION loyalty_check_balance_sum();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS loyalty_balance_sum ON loyalty_customerloyaltybalance;
DROP TRIGGER IF EXISTS loyalty_tx_balance_sum ON loyalty_loyaltytransaction;
DROP TRIGGER IF EXISTS loyalty_rule_version_append_only ON loyalty_loyaltyruleversion;
DROP TRIGGER IF EXISTS loyalty_tx_append_only ON loyalty_loyaltytransaction;
DROP FUNCTION IF EXISTS loyalty_check_balance_sum();
DROP FUNCTION IF EXISTS loyalty_refuse_change();
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD, params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD, params=None)


class Migration(migrations.Migration):
    dependencies = [("loyalty", "0001_initial")]

    operations = [migrations.RunPython(forward, backward)]
