-- Outbox entries leave only through an acknowledgement, thousands at a
-- time: sc_apply_ack() recounts participant.pending once per participant
-- instead of this trigger updating the participant row once per entry.
-- (outbox_added still counts each autosave.)
DROP TRIGGER outbox_removed;
