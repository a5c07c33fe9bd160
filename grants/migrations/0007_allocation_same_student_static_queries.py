from django.db import migrations

# What an allocation joins to, and the mismatch it looks for: the same in every branch.
MISMATCH = """
                SELECT a.id, a.grant_id, g.student_id AS grant_student,
                       a.relationship_id, r.student_id AS relationship_student
                  INTO mismatch
                  FROM grants_allocation a
                  JOIN grants_grant g ON g.id = a.grant_id
                  JOIN relationships_relationship r ON r.id = a.relationship_id
                 WHERE g.student_id <> r.student_id
                   AND {match}
                 LIMIT 1;"""

RAISE = """
                IF FOUND THEN
                    RAISE EXCEPTION 'allocation_same_student: allocation %% holds grant %% of '
                                    'student %% for relationship %% of student %%',
                        mismatch.id, mismatch.grant_id, mismatch.grant_student,
                        mismatch.relationship_id, mismatch.relationship_student
                        USING ERRCODE = 'check_violation',
                              CONSTRAINT = 'allocation_same_student';
                END IF;
                RETURN NULL;"""


def function(body: str) -> str:
    return f"""
            CREATE OR REPLACE FUNCTION grants_allocation_same_student() RETURNS trigger AS $$
            DECLARE
                mismatch record;
            BEGIN{body}{RAISE}
            END
            $$ LANGUAGE plpgsql;"""


# One static query per table the trigger is on. PL/pgSQL caches each query's plan per
# connection and, from the sixth execution on, may keep a generic plan made without the
# parameters' values: a single query filtering on `CASE TG_TABLE_NAME …` then cannot choose an
# index and scans every allocation at each firing (4,000 firings in one transaction took 31 s).
# Each branch's own query has a plain `column = NEW.id`, so its generic plan is an index scan.
STATIC = function(f"""
                IF TG_TABLE_NAME = 'grants_allocation' THEN{MISMATCH.format(match="a.id = NEW.id")}
                ELSIF TG_TABLE_NAME = 'grants_grant' THEN{MISMATCH.format(match="a.grant_id = NEW.id")}
                ELSE{MISMATCH.format(match="a.relationship_id = NEW.id")}
                END IF;""")

# The function as grants.0005 created it, restored when this migration is reversed.
CASE_FILTER = function(
    MISMATCH.format(
        match="""CASE TG_TABLE_NAME
                           WHEN 'grants_allocation' THEN a.id = NEW.id
                           WHEN 'grants_grant' THEN a.grant_id = NEW.id
                           ELSE a.relationship_id = NEW.id
                       END"""
    )
)


class ReplaceAllocationSameStudent(migrations.operations.base.Operation):
    """The `allocation_same_student` triggers keep their rule; their function's query is one
    static query per branch, so it stays an index lookup however often it fires."""

    reduces_to_sql = True
    reversible = True

    def state_forwards(self, app_label, state):
        pass

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(STATIC)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(CASE_FILTER)

    def describe(self):
        return "The allocation_same_student check runs one static query per table"


class Migration(migrations.Migration):
    """Checking that an allocation's grant and relationship belong to one student costs an
    index lookup per row written, from the first firing on a connection to the thousandth."""

    dependencies = [
        ("grants", "0006_entry_allocation_same_relationship"),
    ]

    operations = [ReplaceAllocationSameStudent()]
