-- Scan every text-like and bytea column of every table and materialized view
-- of the current database (all schemas but the system ones; leaf partitions,
-- not their parents, so nothing is counted twice) for values shaped like a
-- resident ID (GB 11643: 17 digits and a digit or X, not inside a longer
-- run of letters or digits, so a hex pseudonym never matches by chance).
-- bytea is read as escaped text with the escapes blanked, so a raw Avro
-- string (length byte, then the ASCII digits) is found. Prints one line
-- "schema.table|column|hits" per column with hits; none when clean.
-- Used by tests/integration/test_security_warehouse.sh (docs/security.md).
\set ON_ERROR_STOP 1
CREATE TEMP TABLE hf_id_hits (rel text, col text, hits bigint);
DO $scan$
DECLARE
    c record;
    expr text;
    n bigint;
    pat constant text := '(^|[^0-9A-Za-z])[0-9]{17}[0-9Xx]($|[^0-9A-Za-z])';
BEGIN
    FOR c IN
        SELECT r.oid::regclass AS rel, a.attname, t.typname
        FROM pg_class r
        JOIN pg_namespace s ON s.oid = r.relnamespace
        JOIN pg_attribute a ON a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped
        JOIN pg_type t ON t.oid = a.atttypid
        WHERE r.relkind IN ('r', 'm')
          AND s.nspname NOT IN ('pg_catalog', 'information_schema')
          AND s.nspname NOT LIKE 'pg\_toast%' AND s.nspname NOT LIKE 'pg\_temp%'
          AND t.typname IN ('text', 'varchar', 'bpchar', 'name', 'bytea', '_text', '_varchar',
                            'json', 'jsonb')
        ORDER BY 1, 2
    LOOP
        expr := CASE
            WHEN c.typname = 'bytea' THEN
                format('regexp_replace(encode(%I, ''escape''), ''\\\\|\\[0-7]{3}'', '' '', ''g'')',
                       c.attname)
            WHEN c.typname IN ('_text', '_varchar') THEN format('array_to_string(%I, '' '')', c.attname)
            ELSE format('%I::text', c.attname)
        END;
        EXECUTE format('SELECT count(*) FROM %s WHERE %s ~ $1', c.rel, expr) INTO n USING pat;
        IF n > 0 THEN
            INSERT INTO hf_id_hits VALUES (c.rel::text, c.attname, n);
        END IF;
    END LOOP;
END;
$scan$;
SELECT rel, col, hits FROM hf_id_hits ORDER BY 1, 2;
