BEGIN TRANSACTION;
CREATE TABLE auth_api_tokens (
	token_id VARCHAR(24) NOT NULL, 
	token_sha256 VARCHAR(64) NOT NULL, 
	operator_id INTEGER NOT NULL, 
	label VARCHAR(128) NOT NULL, 
	scope VARCHAR(1024) NOT NULL, 
	created_at VARCHAR(32) NOT NULL, 
	expires_at VARCHAR(32) NOT NULL, 
	revoked_at VARCHAR(32), 
	revoked_by VARCHAR(128), 
	last_used_at VARCHAR(32), 
	PRIMARY KEY (token_id), 
	UNIQUE (token_sha256), 
	FOREIGN KEY(operator_id) REFERENCES auth_operators (id) ON DELETE CASCADE
);
CREATE TABLE auth_clock (
	id INTEGER NOT NULL, 
	high_water VARCHAR(32) NOT NULL, 
	offset_us INTEGER NOT NULL, 
	PRIMARY KEY (id)
);
INSERT INTO "auth_clock" VALUES(1,'2026-11-30T01:52:03.992507+00:00',0);
CREATE TABLE auth_entitlements (
	id INTEGER NOT NULL, 
	operator_id INTEGER NOT NULL, 
	kind VARCHAR(16) NOT NULL, 
	name VARCHAR(128) NOT NULL, 
	granted_at VARCHAR(32) NOT NULL, 
	granted_by VARCHAR(128) NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (operator_id, kind, name), 
	FOREIGN KEY(operator_id) REFERENCES auth_operators (id) ON DELETE CASCADE
);
INSERT INTO "auth_entitlements" VALUES(1,1,'gallery','field','2026-11-30T01:52:03.992507+00:00','console:fixture');
CREATE TABLE auth_operators (
	id INTEGER NOT NULL, 
	username VARCHAR(64) NOT NULL, 
	display_name VARCHAR(256) NOT NULL, 
	role VARCHAR(16) NOT NULL, 
	unit VARCHAR(128), 
	password_hash VARCHAR(512) NOT NULL, 
	totp_sealed BLOB NOT NULL, 
	totp_key_id VARCHAR(16) NOT NULL, 
	last_totp_step INTEGER, 
	failed_logons INTEGER NOT NULL, 
	locked_until VARCHAR(32), 
	created_at VARCHAR(32) NOT NULL, 
	last_logon_at VARCHAR(32), 
	disabled_at VARCHAR(32), 
	PRIMARY KEY (id), 
	UNIQUE (username)
);
INSERT INTO "auth_operators" VALUES(1,'alice','alice','officer',NULL,'$argon2id$v=19$m=8,t=1,p=1$XgGPWZuwcwPqIKdrlFwBfw$hsx5RXEFm6FYd6+X2ey3Wh2LRcdpwkvzXEfesCyLy7M',X'6F078873E0DBBF2FD245A53E35AF501F88A0436068FB38536C0CE16B77A745A7A8631310CE72E3E8CF96B4694E6FB41BDD1CF7EDFFB640AD5CE04C82','f98293f84175cab4',NULL,0,NULL,'2026-11-30T01:52:03.831499+00:00',NULL,NULL);
CREATE TABLE auth_sessions (
	id INTEGER NOT NULL, 
	token_sha256 VARCHAR(64) NOT NULL, 
	operator_id INTEGER NOT NULL, 
	created_at VARCHAR(32) NOT NULL, 
	last_used_at VARCHAR(32) NOT NULL, 
	ended_at VARCHAR(32), 
	end_reason VARCHAR(32), 
	PRIMARY KEY (id), 
	UNIQUE (token_sha256), 
	FOREIGN KEY(operator_id) REFERENCES auth_operators (id) ON DELETE CASCADE
);
CREATE INDEX ix_auth_entitlements_operator_id ON auth_entitlements (operator_id);
CREATE INDEX ix_auth_sessions_operator_id ON auth_sessions (operator_id);
CREATE INDEX ix_auth_api_tokens_operator_id ON auth_api_tokens (operator_id);
COMMIT;
