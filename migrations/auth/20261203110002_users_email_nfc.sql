-- One account per address whatever its case *and* its Unicode form: "é" typed as U+00E9 on one
-- device and as "e" + U+0301 on another is the same address. New rows are stored NFC-normalised
-- already; rows written before that are left exactly as they were entered (nothing is rewritten
-- behind the user's back) and are matched through this index, which sign-in looks up by too.
-- Were two existing rows to collide under NFC, this migration fails and the service refuses to
-- start, naming the index: an operator must merge those accounts, nothing is decided silently.
DROP INDEX auth.users_email_lower_key;
CREATE UNIQUE INDEX users_email_lower_key ON auth.users (lower(normalize(email, NFC)));
