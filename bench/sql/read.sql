-- The metadata route's statements (session, account, the image by key). Variables: :h, :a, :k.
SELECT id, token_hash, account_id, created_at, last_seen_at, idle_expires_at, absolute_expires_at, revoked_at, user_agent, ip FROM sessions WHERE token_hash = :h AND revoked_at IS NULL AND idle_expires_at > 0 AND absolute_expires_at > 0 LIMIT 1;
SELECT id, name, email, email_verified, gender, birth_date, locale, phone, roles, profile_image_key, created_at, updated_at, withdrawn_at FROM accounts WHERE id = :a LIMIT 1;
SELECT id, key, channel, status, uploader_id, content_type, declared_length, checksum_sha256, original_filename, size, etag, width, height, metadata, created_at, updated_at, confirmed_at, expires_at FROM images WHERE key = :k LIMIT 1;
