-- A message being delivered is claimed for a while, so that the server's
-- mailer and «jsr-server mail flush» never hand the same message to
-- sendmail at the same time. A claim that outlives a crash simply expires.
ALTER TABLE mail ADD COLUMN claimed_until INTEGER NOT NULL DEFAULT 0;  -- unix ms
