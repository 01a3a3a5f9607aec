-- gale catalog schema, SQLite. Times: *_at in unix seconds, *_ms in unix
-- milliseconds; 0 means unset. Byte counters are signed 64-bit.

CREATE TABLE change_counter (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	seq INTEGER NOT NULL
);
INSERT INTO change_counter (id, seq) VALUES (1, 0);

CREATE TABLE change_log (
	seq INTEGER PRIMARY KEY,
	entity TEXT NOT NULL,
	entity_id INTEGER NOT NULL,
	at INTEGER NOT NULL
);
CREATE INDEX change_log_at ON change_log (at);

CREATE TABLE settings (
	name TEXT PRIMARY KEY,
	value TEXT NOT NULL
);

CREATE TABLE user_groups (
	id INTEGER PRIMARY KEY,
	name TEXT NOT NULL,
	name_key TEXT NOT NULL UNIQUE,
	created_at INTEGER NOT NULL
);
INSERT INTO user_groups (name, name_key, created_at) VALUES ('Users', 'users', 0);

CREATE TABLE categories (
	id INTEGER PRIMARY KEY,
	name TEXT NOT NULL,
	name_key TEXT NOT NULL UNIQUE,
	position INTEGER NOT NULL DEFAULT 0,
	created_at INTEGER NOT NULL
);
INSERT INTO categories (name, name_key, position, created_at) VALUES ('General', 'general', 0, 0);

CREATE TABLE group_rights (
	group_id INTEGER NOT NULL REFERENCES user_groups (id) ON DELETE CASCADE,
	category_id INTEGER NOT NULL REFERENCES categories (id) ON DELETE CASCADE,
	rights INTEGER NOT NULL,
	PRIMARY KEY (group_id, category_id)
);
INSERT INTO group_rights (group_id, category_id, rights) VALUES (1, 1, 7);

CREATE TABLE users (
	id INTEGER PRIMARY KEY,
	name TEXT NOT NULL,
	name_key TEXT NOT NULL UNIQUE,
	password_hash TEXT NOT NULL DEFAULT '',
	admin BOOLEAN NOT NULL DEFAULT FALSE,
	disabled BOOLEAN NOT NULL DEFAULT FALSE,
	disabled_reason TEXT NOT NULL DEFAULT '',
	group_id INTEGER NOT NULL REFERENCES user_groups (id),
	key_version INTEGER NOT NULL DEFAULT 0,
	feed_version INTEGER NOT NULL DEFAULT 0,
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL
);
CREATE INDEX users_group ON users (group_id);

CREATE TABLE user_stats (
	user_id INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
	uploaded INTEGER NOT NULL DEFAULT 0,
	downloaded INTEGER NOT NULL DEFAULT 0,
	raw_uploaded INTEGER NOT NULL DEFAULT 0,
	raw_downloaded INTEGER NOT NULL DEFAULT 0,
	seed_ms INTEGER NOT NULL DEFAULT 0,
	leech_ms INTEGER NOT NULL DEFAULT 0,
	snatches INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE sessions (
	token_hash TEXT PRIMARY KEY,
	user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

CREATE TABLE invites (
	id INTEGER PRIMARY KEY,
	code_hash TEXT NOT NULL UNIQUE,
	created_by INTEGER REFERENCES users (id) ON DELETE SET NULL,
	group_id INTEGER NOT NULL REFERENCES user_groups (id) ON DELETE CASCADE,
	admin BOOLEAN NOT NULL DEFAULT FALSE,
	note TEXT NOT NULL DEFAULT '',
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL,
	used_by INTEGER REFERENCES users (id) ON DELETE SET NULL,
	used_at INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE api_tokens (
	id INTEGER PRIMARY KEY,
	token_hash TEXT NOT NULL UNIQUE,
	user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	name TEXT NOT NULL,
	scopes TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL DEFAULT 0,
	last_used_at INTEGER NOT NULL DEFAULT 0,
	revoked BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

CREATE TABLE torrents (
	id INTEGER PRIMARY KEY,
	swarm_hash BLOB NOT NULL UNIQUE,
	alias_hash BLOB UNIQUE,
	info_hash_v1 BLOB UNIQUE,
	info_hash_v2 BLOB UNIQUE,
	name TEXT NOT NULL,
	size INTEGER NOT NULL,
	file_count INTEGER NOT NULL,
	files TEXT NOT NULL,
	category_id INTEGER NOT NULL REFERENCES categories (id),
	owner_id INTEGER NOT NULL REFERENCES users (id),
	description TEXT NOT NULL DEFAULT '',
	freeleech BOOLEAN NOT NULL DEFAULT FALSE,
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL,
	deleted BOOLEAN NOT NULL DEFAULT FALSE,
	deleted_at INTEGER NOT NULL DEFAULT 0,
	delete_reason TEXT NOT NULL DEFAULT '',
	deleted_by INTEGER REFERENCES users (id) ON DELETE SET NULL
);
CREATE INDEX torrents_category ON torrents (category_id, created_at);
CREATE INDEX torrents_owner ON torrents (owner_id);
CREATE INDEX torrents_created ON torrents (created_at);

CREATE TABLE torrent_metainfo (
	torrent_id INTEGER PRIMARY KEY REFERENCES torrents (id) ON DELETE CASCADE,
	data BLOB NOT NULL
);

CREATE TABLE torrent_stats (
	torrent_id INTEGER PRIMARY KEY REFERENCES torrents (id) ON DELETE CASCADE,
	snatches INTEGER NOT NULL DEFAULT 0,
	uploaded INTEGER NOT NULL DEFAULT 0,
	downloaded INTEGER NOT NULL DEFAULT 0
);

-- Full-text index: rowid is the torrent ID, body is catalog.SearchText.
CREATE VIRTUAL TABLE torrents_fts USING fts5 (body, tokenize = 'unicode61');

CREATE TABLE client_rules (
	id INTEGER PRIMARY KEY,
	prefix BLOB NOT NULL UNIQUE,
	allow BOOLEAN NOT NULL,
	note TEXT NOT NULL DEFAULT '',
	created_at INTEGER NOT NULL
);

-- The last accounted announce of each peer (catalog.PeerLast).
CREATE TABLE peers (
	user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	torrent_id INTEGER NOT NULL REFERENCES torrents (id) ON DELETE CASCADE,
	peer_id BLOB NOT NULL,
	addr TEXT NOT NULL DEFAULT '',
	uploaded INTEGER NOT NULL,
	downloaded INTEGER NOT NULL,
	left_bytes INTEGER NOT NULL,
	at_ms INTEGER NOT NULL,
	stopped BOOLEAN NOT NULL,
	PRIMARY KEY (user_id, torrent_id, peer_id)
);
CREATE INDEX peers_torrent ON peers (torrent_id, at_ms);
CREATE INDEX peers_at ON peers (at_ms);

-- Per user and torrent totals.
CREATE TABLE user_torrents (
	user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	torrent_id INTEGER NOT NULL REFERENCES torrents (id) ON DELETE CASCADE,
	uploaded INTEGER NOT NULL DEFAULT 0,
	downloaded INTEGER NOT NULL DEFAULT 0,
	raw_uploaded INTEGER NOT NULL DEFAULT 0,
	raw_downloaded INTEGER NOT NULL DEFAULT 0,
	left_bytes INTEGER NOT NULL DEFAULT 0,
	seed_ms INTEGER NOT NULL DEFAULT 0,
	leech_ms INTEGER NOT NULL DEFAULT 0,
	snatched BOOLEAN NOT NULL DEFAULT FALSE,
	completed_at INTEGER NOT NULL DEFAULT 0,
	first_ms INTEGER NOT NULL,
	last_ms INTEGER NOT NULL,
	PRIMARY KEY (user_id, torrent_id)
);
CREATE INDEX user_torrents_last ON user_torrents (user_id, last_ms);
CREATE INDEX user_torrents_torrent ON user_torrents (torrent_id);

CREATE TABLE flags (
	id INTEGER PRIMARY KEY,
	user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	torrent_id INTEGER NOT NULL REFERENCES torrents (id) ON DELETE CASCADE,
	peer_id BLOB NOT NULL,
	uploaded INTEGER NOT NULL,
	downloaded INTEGER NOT NULL,
	elapsed_ms INTEGER NOT NULL,
	rate INTEGER NOT NULL,
	created_at INTEGER NOT NULL,
	resolved BOOLEAN NOT NULL DEFAULT FALSE,
	resolved_by INTEGER REFERENCES users (id) ON DELETE SET NULL,
	note TEXT NOT NULL DEFAULT ''
);
CREATE INDEX flags_open ON flags (resolved, created_at);
CREATE INDEX flags_user ON flags (user_id);
