SELECT a.attname::text,
       (CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE a.atttypid END)::int8,
       (CASE WHEN t.typtype = 'd' THEN t.typtypmod ELSE a.atttypmod END),
       format_type(a.atttypid, a.atttypmod),
       a.attnotnull, a.atthasdef,
       coalesce((SELECT array_position(i.indkey::int2[], a.attnum)
                 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary), 0)::int4
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_type t ON t.oid = a.atttypid
WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum
