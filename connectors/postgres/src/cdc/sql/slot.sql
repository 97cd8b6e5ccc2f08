SELECT plugin::text, database::text, wal_status
FROM pg_replication_slots
WHERE slot_name = $1
