-- The report route's statements as the service sends them with warm caches (session and
-- categories): the reporter's daily count (bounded by the daily limit, REPORTS_PER_DAY=100
-- in the bench), then one transaction with the report, its creation event and its notice
-- job. For pgbench -M prepared (and bench/sqlite_ceiling.py). Variables: :lo to :hi, the
-- reporters' ids, one drawn per transaction as the load takes them in turn; :now, the time
-- in microseconds (so the count sees the reports the route's load filed).
-- A new target each time, as the load does (a second open report of one target is refused).
\set room random(1, 2000000000)
\set a random(:lo, :hi)
SELECT COUNT(*) AS num_items FROM (SELECT "reports"."reporter_id" FROM "reports" WHERE "reports"."reporter_id" = :a AND "reports"."created_at" >= :now - 86400000000 LIMIT 100) AS "sub_query";
BEGIN;
INSERT INTO reports (reporter_id, category_id, target_type, target_id, reason, evidence, status, assignee_id, resolution_note, created_at, updated_at) VALUES (:a, 5, 'chat_room', :room, 'bench', '[]', 'open', NULL, NULL, :now, :now) ON CONFLICT DO NOTHING RETURNING id, reporter_id, category_id, target_type, target_id, reason, evidence, status, assignee_id, resolution_note, created_at, updated_at;
INSERT INTO report_events (report_id, actor_id, action, from_status, to_status, note, created_at) VALUES (currval(pg_get_serial_sequence('reports', 'id')), :a, 'create', NULL, 'open', NULL, :now) RETURNING id, report_id, actor_id, action, from_status, to_status, note, created_at;
INSERT INTO outbox (topic, payload, attempts, next_attempt_at, locked_until, done_at, failed_at, last_error, created_at) VALUES ('notify.report', '{"account_id":2,"kind":"received","report_id":1}', 0, :now, NULL, NULL, NULL, NULL, :now) RETURNING id;
COMMIT;
