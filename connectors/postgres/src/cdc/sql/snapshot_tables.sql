SELECT schemaname::text, tablename::text
FROM pg_publication_tables
WHERE pubname = $1
ORDER BY 1, 2
