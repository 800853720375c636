-- A voice note an outbox row carries (a Telegram file_id), sent with sendVoice, so a resident's own words
-- reach the grid worker as a voice message. A row carries at most one attachment: photo, document or voice.
ALTER TABLE outbox ADD COLUMN voice TEXT CHECK (voice IS NULL OR (photo IS NULL AND document IS NULL));
