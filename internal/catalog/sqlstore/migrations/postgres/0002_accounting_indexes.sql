-- Cheaper accounting writes. Every flush of the private tracker rewrites
-- peers.at_ms and user_torrents.last_ms of each row it touches. An index
-- on a changed column makes each update write a new entry in every index
-- of the table and rules out heap-only (HOT) updates. No frequent query
-- needs these indexes:
--   peers_at (at_ms): PrunePeers (hourly) and SiteStats' count of active
--     peers now scan the table;
--   peers_torrent (torrent_id, at_ms): the peers of one torrent are found
--     by torrent_id alone (also what ON DELETE CASCADE from torrents
--     needs) and sorted;
--   user_torrents_last (user_id, last_ms): a user's torrents are found by
--     the primary key (user_id, torrent_id) and sorted.
DROP INDEX peers_at;
DROP INDEX peers_torrent;
CREATE INDEX peers_by_torrent ON peers (torrent_id);
DROP INDEX user_torrents_last;
-- Room in each page for the new version of a row, so that updates stay
-- heap-only (no index writes) and old versions are pruned without VACUUM.
-- Applies to pages written from now on.
ALTER TABLE peers SET (fillfactor = 80);
ALTER TABLE user_torrents SET (fillfactor = 80);
ALTER TABLE user_stats SET (fillfactor = 50);
ALTER TABLE torrent_stats SET (fillfactor = 50);
