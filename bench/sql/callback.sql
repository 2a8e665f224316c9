-- The callback's statements on a confirmation (sessions cached): the image by key, then the
-- pending → ready update returning the row (the answer). pgbench cannot draw random
-- text keys, so rows are drawn by id from the images the callback confirmed (:lo to :hi);
-- the same one-row unique-index lookups. The update matches the row whether the load left
-- it pending or ready, so it always rewrites one row, as a confirmation does.
\set id random(:lo, :hi)
\set now 1800000000000000
SELECT id, key, channel, status, uploader_id, content_type, declared_length, checksum_sha256, original_filename, size, etag, width, height, metadata, created_at, updated_at, confirmed_at, expires_at FROM images WHERE id = :id LIMIT 1;
UPDATE images SET status = 'ready', size = 2048, etag = 'd4c15ed12b504ee4e1ab566d1907a7ab', width = 8, height = 8, confirmed_at = :now, updated_at = :now, expires_at = :now WHERE id = :id AND status IN ('pending', 'ready') RETURNING id, key, channel, status, uploader_id, content_type, declared_length, checksum_sha256, original_filename, size, etag, width, height, metadata, created_at, updated_at, confirmed_at, expires_at;
