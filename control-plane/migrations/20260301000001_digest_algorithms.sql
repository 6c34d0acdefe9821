-- SHA-256 digest (RFC 7616/8760) beside MD5: the SHA-256 HA1 when known
-- (computed from a plaintext password at provisioning, or given), and the
-- algorithms the IMPI may use, comma-separated. Existing rows stay valid:
-- no SHA-256 HA1, MD5 only, exactly as before.
ALTER TABLE private_ids ADD COLUMN digest_ha1_sha256 TEXT;
ALTER TABLE private_ids ADD COLUMN digest_algorithms TEXT NOT NULL DEFAULT 'MD5';
