-- Cheaper accounting writes. Every flush of the private tracker rewrites
-- peers.at_ms and user_torrents.last_ms of each row it touches, and an
-- index on a changed column costs about as much as the row itself (delete
-- and insert of its entry). No frequent query needs these indexes:
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
