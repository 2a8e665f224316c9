-- The report route's statements as the service sends them with warm caches (session and
-- categories): the reporter's daily count, then one transaction with the report, its
-- creation event and its notice job. For pgbench -M prepared. Variables: :a reporter.
-- A new target each time, as the load does (a second open report of one target is refused).
\set now 1800000000000000
\set room random(1, 2000000000)
SELECT count(*) FROM reports WHERE reporter_id = :a AND created_at >= :now - 86400000000;
BEGIN;
INSERT INTO reports (reporter_id, category_id, target_type, target_id, reason, evidence, status, assignee_id, resolution_note, created_at, updated_at) VALUES (:a, 5, 'chat_room', :room, 'bench', '[]', 'open', NULL, NULL, :now, :now) ON CONFLICT DO NOTHING RETURNING id, reporter_id, category_id, target_type, target_id, reason, evidence, status, assignee_id, resolution_note, created_at, updated_at;
INSERT INTO report_events (report_id, actor_id, action, from_status, to_status, note, created_at) VALUES (currval(pg_get_serial_sequence('reports', 'id')), :a, 'create', NULL, 'open', NULL, :now) RETURNING id, report_id, actor_id, action, from_status, to_status, note, created_at;
INSERT INTO outbox (topic, payload, attempts, next_attempt_at, locked_until, done_at, failed_at, last_error, created_at) VALUES ('notify.report', '{"account_id":1,"kind":"received","report_id":1}', 0, :now, NULL, NULL, NULL, NULL, :now) RETURNING id;
COMMIT;
