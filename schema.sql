-- haocha database schema.
--
-- Applied by numbered migrations at every open (haocha_cli/db.py): each block below starts with a line
-- `-- migration N: title`, runs once in its own transaction, and sets PRAGMA user_version to N.
-- Never edit a block that has shipped; add a new one.

-- migration 1: foundation (catalogue, indicators, configuration, audit trail)
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE counties (
    code        TEXT PRIMARY KEY,                 -- 行政区划代码, e.g. 370213
    name        TEXT NOT NULL,
    city_code   TEXT NOT NULL,
    risk_level  TEXT NOT NULL DEFAULT 'medium' CHECK (risk_level IN ('low', 'medium', 'high')),
    created_at  TEXT NOT NULL
);

CREATE TABLE windows (
    code            TEXT PRIMARY KEY,             -- 窗口编码
    name            TEXT NOT NULL,
    county_code     TEXT NOT NULL REFERENCES counties(code),
    kind            TEXT NOT NULL CHECK (kind IN ('offline', 'online')),  -- 实体窗口 / 网上渠道
    opening_hours   TEXT,                         -- e.g. "09:00-12:00,13:30-17:00"
    active          INTEGER NOT NULL DEFAULT 1,
    deactivated_at  TEXT,
    created_at      TEXT NOT NULL
);
CREATE INDEX windows_county ON windows(county_code);

CREATE TABLE items (
    code           TEXT PRIMARY KEY,              -- 事项编码
    name           TEXT NOT NULL UNIQUE,
    legal_days     INTEGER NOT NULL CHECK (legal_days > 0),
    promised_days  INTEGER NOT NULL CHECK (promised_days > 0),
    active         INTEGER NOT NULL DEFAULT 1,
    created_at     TEXT NOT NULL
);

-- Staff phones are personal data: kept encrypted, with a keyed hash to match raters and a mask to show.
CREATE TABLE staff (
    code          TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    county_code   TEXT NOT NULL REFERENCES counties(code),
    phone_hash    TEXT,
    phone_enc     TEXT,
    phone_masked  TEXT,
    active        INTEGER NOT NULL DEFAULT 1,
    created_at    TEXT NOT NULL
);
CREATE INDEX staff_phone_hash ON staff(phone_hash);

CREATE TABLE indicators (
    code          TEXT PRIMARY KEY,               -- A1 … E2
    primary_name  TEXT NOT NULL,                  -- 一级指标
    primary_en    TEXT NOT NULL,
    name          TEXT NOT NULL UNIQUE,           -- 二级指标
    name_en       TEXT NOT NULL,
    scope         TEXT NOT NULL CHECK (scope IN ('offline', 'online', 'common')),
    description   TEXT NOT NULL DEFAULT ''
);

CREATE TABLE indicator_versions (
    version      TEXT PRIMARY KEY,                -- V1.0, V1.1 …
    active_from  TEXT NOT NULL,                   -- date from which ratings use it
    created_at   TEXT NOT NULL,
    method       TEXT NOT NULL,                   -- the priority-matrix input, as JSON
    note         TEXT NOT NULL DEFAULT ''
);

CREATE TABLE indicator_weights (
    version         TEXT NOT NULL REFERENCES indicator_versions(version),
    mode            TEXT NOT NULL CHECK (mode IN ('offline', 'online')),
    indicator_code  TEXT NOT NULL REFERENCES indicators(code),
    priority        REAL NOT NULL,
    weight          REAL NOT NULL,
    PRIMARY KEY (version, mode, indicator_code)
) WITHOUT ROWID;

-- Append-only, hash-chained: each row's hash covers its fields and the previous row's hash, and
-- meta('audit_head') holds the last id and hash, so that an edited, removed or reordered row is found.
CREATE TABLE audit_events (
    id         INTEGER PRIMARY KEY,
    at         TEXT NOT NULL,
    operator   TEXT NOT NULL,
    action     TEXT NOT NULL,
    entity     TEXT NOT NULL,
    entity_id  TEXT NOT NULL,
    before     TEXT,
    after      TEXT,
    prev_hash  TEXT NOT NULL,
    hash       TEXT NOT NULL
);
CREATE INDEX audit_entity ON audit_events(entity, entity_id);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;

-- migration 2: ratings, import batches and daily aggregates
-- A rater's phone is personal data: one row per distinct number, encrypted, matched by a keyed hash.
CREATE TABLE contacts (
    id            INTEGER PRIMARY KEY,
    phone_hash    TEXT NOT NULL UNIQUE,
    phone_enc     TEXT NOT NULL,
    phone_masked  TEXT NOT NULL
);

CREATE TABLE batches (
    id               INTEGER PRIMARY KEY,
    file_name        TEXT NOT NULL,
    sha256           TEXT NOT NULL UNIQUE,
    source           TEXT NOT NULL,               -- the profile's source name, or 'serve'
    profile          TEXT NOT NULL,
    format           TEXT NOT NULL,               -- csv, jsonl, json, xlsx, form
    encoding         TEXT,
    level_scale      TEXT,
    operator         TEXT NOT NULL,
    imported_at      TEXT NOT NULL,
    rows_read        INTEGER NOT NULL,
    accepted         INTEGER NOT NULL,
    rejected         INTEGER NOT NULL,
    duplicate        INTEGER NOT NULL,
    ignored_columns  TEXT NOT NULL DEFAULT '[]',  -- JSON list
    header           TEXT NOT NULL DEFAULT '[]'   -- JSON list: the file's header, for `batches rejects`
);

-- A rejected row's phone cell is personal data like any other: raw holds it masked, phone_enc encrypted
-- (for `batches rejects --reveal-phones`).
CREATE TABLE rejects (
    batch_id   INTEGER NOT NULL REFERENCES batches(id),
    line       INTEGER NOT NULL,                  -- physical line (CSV/JSONL/JSON) or sheet row (xlsx)
    raw        TEXT NOT NULL,                     -- the row as it was: JSON list of cells, or the JSON object/line
    code       TEXT NOT NULL,                     -- stable reason code (docs/import.md), e.g. window_unknown
    reason     TEXT NOT NULL,                     -- the reason in words, naming the value
    phone_enc  TEXT,
    PRIMARY KEY (batch_id, line)
) WITHOUT ROWID;

-- level: 5 非常满意, 4 满意, 3 基本满意, 2 不满意, 1 非常不满意 (so t(level) = (level-1)/4*100).
CREATE TABLE ratings (
    id               INTEGER PRIMARY KEY,
    source           TEXT NOT NULL,
    rating_id        TEXT NOT NULL,               -- 评价编号, unique per source
    batch_id         INTEGER NOT NULL REFERENCES batches(id),
    line             INTEGER,                     -- where in the batch's file it came from
    rated_at         TEXT NOT NULL,               -- 'YYYY-MM-DD HH:MM:SS', Asia/Shanghai
    day              TEXT NOT NULL,
    window_code      TEXT NOT NULL REFERENCES windows(code),
    county_code      TEXT NOT NULL REFERENCES counties(code),
    mode             TEXT NOT NULL CHECK (mode IN ('offline', 'online')),
    channel          TEXT NOT NULL,               -- national channel: 二维码, 短信, PC端 …
    item_code        TEXT NOT NULL DEFAULT '',    -- '' when the source gives none
    level            INTEGER NOT NULL CHECK (level BETWEEN 1 AND 5),
    rating_index     REAL NOT NULL,
    weights_version  TEXT NOT NULL,
    scores           TEXT,                        -- JSON {indicator: 1..5} of the scores given
    problems         TEXT,                        -- JSON list of indicator codes (差评问题)
    case_no          TEXT,                        -- 办件编号
    rating_round     INTEGER NOT NULL DEFAULT 1,  -- 评价次数: 1 first, 2 follow-up (追评)
    comment          TEXT,
    contact_id       INTEGER REFERENCES contacts(id),
    anonymous        INTEGER NOT NULL DEFAULT 1,
    staff_code       TEXT,
    qr_token         TEXT,
    token_ok         INTEGER,                     -- NULL no token, 1 verified, 0 did not verify
    excluded         TEXT,                        -- NULL counted; 'appeal_upheld' or 'confirmed_false'
    excluded_at      TEXT,
    UNIQUE (source, rating_id)
);
CREATE INDEX ratings_day_window ON ratings(day, window_code);
CREATE INDEX ratings_contact ON ratings(contact_id);
CREATE INDEX ratings_case_no ON ratings(case_no);

-- Daily aggregates, kept in the same transaction as the ratings: indices and reports read these only.
-- Counted ratings only; excluded ones move from the counts to excluded_n.
CREATE TABLE daily_agg (
    day          TEXT NOT NULL,
    window_code  TEXT NOT NULL,
    item_code    TEXT NOT NULL,
    channel      TEXT NOT NULL,
    county_code  TEXT NOT NULL,
    mode         TEXT NOT NULL,
    n            INTEGER NOT NULL DEFAULT 0,
    l1           INTEGER NOT NULL DEFAULT 0,      -- 非常不满意
    l2           INTEGER NOT NULL DEFAULT 0,      -- 不满意
    l3           INTEGER NOT NULL DEFAULT 0,      -- 基本满意
    l4           INTEGER NOT NULL DEFAULT 0,      -- 满意
    l5           INTEGER NOT NULL DEFAULT 0,      -- 非常满意
    index_sum    REAL NOT NULL DEFAULT 0,
    index_sq     REAL NOT NULL DEFAULT 0,
    excluded_n   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (day, window_code, item_code, channel)
) WITHOUT ROWID;
CREATE INDEX daily_agg_county_day ON daily_agg(county_code, day);

-- Per-indicator sums of the scores actually given, with cross sums against the overall level so that
-- derived importance (correlation) needs no raw scan either.
CREATE TABLE daily_indicator_agg (
    day             TEXT NOT NULL,
    window_code     TEXT NOT NULL,
    item_code       TEXT NOT NULL,
    channel         TEXT NOT NULL,
    indicator_code  TEXT NOT NULL,
    county_code     TEXT NOT NULL,
    mode            TEXT NOT NULL,
    n               INTEGER NOT NULL DEFAULT 0,
    score_sum       REAL NOT NULL DEFAULT 0,
    score_sq        REAL NOT NULL DEFAULT 0,
    level_sum       REAL NOT NULL DEFAULT 0,
    level_sq        REAL NOT NULL DEFAULT 0,
    cross_sum       REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (day, window_code, item_code, channel, indicator_code)
) WITHOUT ROWID;
CREATE INDEX daily_indicator_agg_county_day ON daily_indicator_agg(county_code, day);

-- migration 3: closed loop (rectification cases, working-day calendar overrides, appeals)
-- Local entries of the working-day calendar: they take precedence over the official calendar
-- (chinese-calendar), e.g. a notice the package does not know yet, or a county's own day off.
CREATE TABLE calendar_overrides (
    day         TEXT PRIMARY KEY,                 -- YYYY-MM-DD
    is_workday  INTEGER NOT NULL CHECK (is_workday IN (0, 1)),
    note        TEXT NOT NULL DEFAULT '',
    created_at  TEXT NOT NULL,
    operator    TEXT NOT NULL
);

-- One rectification case (整改事项) per bad review. The snapshot columns (county … contact_id) are the
-- rating's at opening; the history (who, when, before, after) is the audit trail (entity 'cases').
-- Deadlines are dates (the last working day allowed); the rule in force at opening is kept beside them
-- so that a calendar entry added later can move them.
CREATE TABLE cases (
    id                  INTEGER PRIMARY KEY,
    rating_id           INTEGER NOT NULL UNIQUE REFERENCES ratings(id),
    county_code         TEXT NOT NULL REFERENCES counties(code),
    window_code         TEXT NOT NULL,
    item_code           TEXT NOT NULL DEFAULT '',
    level               INTEGER NOT NULL,
    problems            TEXT,                     -- JSON list of indicator codes (差评问题)
    staff_code          TEXT,
    contact_id          INTEGER REFERENCES contacts(id),
    real_name           INTEGER NOT NULL,         -- 1 for a real-name (实名) review: a return visit is due
    rated_at            TEXT NOT NULL,            -- the clock starts here
    state               TEXT NOT NULL CHECK (state IN ('new', 'rectifying', 'awaiting_approval', 'no_action',
                            'unrectifiable', 'closed', 'reopened', 'rerated', 'appealed', 'excluded')),
    classification      TEXT CHECK (classification IN ('rectifiable', 'unrectifiable', 'no_action')),
    classify_reason     TEXT,
    classified_at       TEXT,
    revisit_days        INTEGER NOT NULL,
    revisit_due         TEXT,                     -- NULL for an anonymous review
    revisit_first_at    TEXT,                     -- first return visit (回访) attempt
    revisit_reached     INTEGER NOT NULL DEFAULT 0,
    revisit_outcome     TEXT,                     -- latest: reached / unreachable
    revisit_note        TEXT,
    rectify_days        INTEGER NOT NULL,
    rectify_from        TEXT NOT NULL,            -- date the rectification clock started (re-started on reopening)
    rectify_due         TEXT NOT NULL,
    calendar_note       TEXT,                     -- set when a deadline fell beyond the official calendar
    measures            TEXT,                     -- 整改措施
    responsible         TEXT,                     -- 责任人
    closed_at           TEXT,
    resolved_at         TEXT,                     -- when the case left the open states (closed, no action, …)
    on_time             INTEGER,                  -- resolved by rectify_due (1) or late (0)
    rerate_level        TEXT,                     -- latest 整改复评: 满意 / 基本满意 / 不满意
    rerated_at          TEXT,
    reopen_count        INTEGER NOT NULL DEFAULT 0,
    opened_at           TEXT NOT NULL,
    updated_at          TEXT NOT NULL
);
CREATE INDEX cases_county_state ON cases(county_code, state);
CREATE INDEX cases_rectify_due ON cases(rectify_due);

-- Appeals (申诉) of a county against a mistaken or malicious review; the city decides.
CREATE TABLE appeals (
    id               INTEGER PRIMARY KEY,
    case_id          INTEGER NOT NULL REFERENCES cases(id),
    reason           TEXT NOT NULL,
    evidence         TEXT NOT NULL,
    state_before     TEXT NOT NULL,               -- where a dismissed appeal returns the case
    filed_by         TEXT NOT NULL,
    filed_at         TEXT NOT NULL,
    decision         TEXT CHECK (decision IN ('upheld', 'dismissed')),
    decision_reason  TEXT,
    decided_by       TEXT,
    decided_at       TEXT
);
CREATE INDEX appeals_case ON appeals(case_id);

-- migration 4: oversight (suspicious-rating flags, spot-checks, the FMEA risk register)
-- A flag is a prompt to check a rating (评价信息不实 risk), never an exclusion: one per rating and rule, so
-- that scanning again adds nothing. evidence is JSON naming what matched (phones masked).
CREATE TABLE flags (
    id           INTEGER PRIMARY KEY,
    rating_id    INTEGER NOT NULL REFERENCES ratings(id),
    rule         TEXT NOT NULL,                   -- same_phone, burst, off_hours, staff_phone, repeated_comment, bad_token
    county_code  TEXT NOT NULL,
    window_code  TEXT NOT NULL,
    day          TEXT NOT NULL,                   -- the rating's day
    evidence     TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    UNIQUE (rating_id, rule)
);
CREATE INDEX flags_county_day ON flags(county_code, day);
CREATE INDEX flags_day ON flags(day);

-- A spot-check sample (抽查) of one period: its seed and the rates and risk levels it was drawn with are
-- kept so that it can be drawn again identically. A second sample of a period is a new version.
CREATE TABLE samples (
    id          INTEGER PRIMARY KEY,
    period      TEXT NOT NULL,                    -- label: 2024-05, 2024-Q2, 2024-05-01..2024-05-15
    date_from   TEXT NOT NULL,
    date_to     TEXT NOT NULL,
    version     INTEGER NOT NULL,
    seed        INTEGER NOT NULL,
    settings    TEXT NOT NULL,                    -- JSON: rates, each county's risk level, pool sizes
    operator    TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    UNIQUE (period, version)
);

CREATE TABLE spot_checks (
    id           INTEGER PRIMARY KEY,
    sample_id    INTEGER NOT NULL REFERENCES samples(id),
    reason       TEXT NOT NULL CHECK (reason IN ('no_action', 'flagged', 'closed_case', 'very_satisfied')),
    reasons      TEXT NOT NULL,                   -- JSON list: every reason the item was drawn for
    rating_id    INTEGER NOT NULL REFERENCES ratings(id),
    case_id      INTEGER REFERENCES cases(id),
    county_code  TEXT NOT NULL,
    outcome      TEXT CHECK (outcome IN ('confirmed', 'failed', 'unreachable')),
    note         TEXT,
    consequence  TEXT,                            -- what a failed check did: case reopened, rating excluded …
    checked_by   TEXT,
    checked_at   TEXT,
    UNIQUE (sample_id, rating_id)
);
CREATE INDEX spot_checks_county ON spot_checks(county_code);

-- The FMEA register (潜在失效模式与后果分析): failure modes of the process steps, S/O/D 1–10. measure names
-- the measured rate from which `risk assess` derives Occurrence per county (NULL: the register's O).
CREATE TABLE risks (
    code          TEXT PRIMARY KEY,               -- R01 …
    step          TEXT NOT NULL,                  -- process step: 评价采集, 分类处理, 整改提升, 回访 …
    failure_mode  TEXT NOT NULL UNIQUE,           -- 失效模式, e.g. 评价信息不实
    effect        TEXT NOT NULL,
    cause         TEXT NOT NULL,
    controls      TEXT NOT NULL,
    severity      INTEGER NOT NULL CHECK (severity BETWEEN 1 AND 10),
    occurrence    INTEGER NOT NULL CHECK (occurrence BETWEEN 1 AND 10),
    detection     INTEGER NOT NULL CHECK (detection BETWEEN 1 AND 10),
    measure       TEXT CHECK (measure IN ('overdue', 'failed_checks', 'flags', 'revisit_missed')),
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);

-- One row per county and failure mode of each `risk assess` run (run = the audit event id).
CREATE TABLE risk_assessments (
    run           INTEGER NOT NULL,
    period        TEXT NOT NULL,
    county_code   TEXT NOT NULL REFERENCES counties(code),
    risk_code     TEXT NOT NULL,
    measure       TEXT,
    rate          REAL,
    severity      INTEGER NOT NULL,
    occurrence    INTEGER NOT NULL,
    detection     INTEGER NOT NULL,
    rpn           INTEGER NOT NULL,
    ap            TEXT NOT NULL CHECK (ap IN ('H', 'M', 'L')),
    assessed_at   TEXT NOT NULL,
    PRIMARY KEY (run, county_code, risk_code)
) WITHOUT ROWID;

-- migration 5: an index of the commented ratings, for the repeated-comment rule's look-back
-- The suspicious-rating scan after each import looks back flags.comment_days on the commented ratings only;
-- without this index it read every rating of those days (a million-rating import: 1.2 s of its scan).
CREATE INDEX ratings_commented ON ratings(day) WHERE comment IS NOT NULL;

-- migration 6: drop the indexes of ratings that no query uses
-- No query looks ratings up by contact or by case number (contacts are joined by their own key, a case
-- number is part of a rating id where a source needs it); each index cost every import about 0.5 s per
-- million ratings.
DROP INDEX IF EXISTS ratings_contact;
DROP INDEX IF EXISTS ratings_case_no;

-- migration 7: withdrawn batches (撤回批次)
-- A batch imported by mistake is withdrawn: its ratings, their aggregates, cases and flags go; the batch row
-- stays as the record of what happened, its hash prefixed 'withdrawn:<id>:' so that the right file imports.
ALTER TABLE batches ADD COLUMN withdrawn_at TEXT;
ALTER TABLE batches ADD COLUMN withdrawn_by TEXT;
ALTER TABLE batches ADD COLUMN withdraw_reason TEXT;

-- migration 8: who acts (staff accounts, the person in every audit event, workbench sessions)
-- The person who acted (a workbench account's username, os:<login> on the command line, rater on the rating
-- page), inside the event's hash. Events written before this migration keep an empty person and their hash.
ALTER TABLE audit_events ADD COLUMN person TEXT NOT NULL DEFAULT '';
CREATE INDEX audit_person ON audit_events(person);

-- Staff accounts (工作人员账号) of the workbench. The password is kept only as an argon2id hash. A disabled
-- account keeps its row (and so its history); it can no longer log in, and its sessions end.
CREATE TABLE accounts (
    id                   INTEGER PRIMARY KEY,
    username             TEXT NOT NULL UNIQUE COLLATE NOCASE,
    name                 TEXT NOT NULL,                -- 姓名
    role                 TEXT NOT NULL CHECK (role IN ('admin', 'city', 'county')),
    county_code          TEXT REFERENCES counties(code),
    password_hash        TEXT NOT NULL,
    must_change          INTEGER NOT NULL DEFAULT 0,  -- 1 after a reset: a one-time password, changed at login
    active               INTEGER NOT NULL DEFAULT 1,
    locked_until         TEXT,                         -- too many wrong passwords: refused until then
    password_changed_at  TEXT NOT NULL,
    created_at           TEXT NOT NULL,
    updated_at           TEXT NOT NULL,
    CHECK ((role = 'county') = (county_code IS NOT NULL))
);

-- Wrong passwords of the last minutes, per account: five within login.failure_minutes lock it.
CREATE TABLE login_failures (
    account_id  INTEGER NOT NULL REFERENCES accounts(id),
    at          TEXT NOT NULL
);
CREATE INDEX login_failures_account ON login_failures(account_id, at);

-- Workbench sessions: the cookie carries a random id (signed); only its SHA-256 is kept here.
CREATE TABLE web_sessions (
    id_hash     TEXT PRIMARY KEY,
    account_id  INTEGER NOT NULL REFERENCES accounts(id),
    csrf_token  TEXT NOT NULL,
    created_at  TEXT NOT NULL,                         -- absolute lifetime counts from here
    seen_at     TEXT NOT NULL                          -- idle timeout counts from here
);
CREATE INDEX web_sessions_account ON web_sessions(account_id);

-- Notifications (通知): the outbox of what is told to a county (a new bad review, the working morning's due
-- list) or to the city (the morning summary), sent through apprise by `haocha notify send` and after every
-- import. The target is a county code or 'city': its channels (apprise URLs, which hold robot keys and
-- passwords) are read from haocha.toml at send time and never kept here. A message holds no phone and no
-- comment. docs/notifications.md.
CREATE TABLE notifications (
    id               INTEGER PRIMARY KEY,
    kind             TEXT NOT NULL CHECK (kind IN ('case_opened', 'daily', 'summary')),
    target           TEXT NOT NULL,                 -- a county code, or 'city'
    case_id          INTEGER,                       -- case_opened: the case (no reference: a withdrawn batch takes its cases)
    dedup_key        TEXT UNIQUE,                   -- daily/summary: one per target and morning
    title            TEXT NOT NULL,
    body             TEXT NOT NULL,                 -- first line: the one-line summary a grouped message lists
    status           TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed', 'cancelled')),
    created_at       TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    last_error       TEXT,
    last_attempt_at  TEXT,
    sent_at          TEXT,
    delivered_to     TEXT NOT NULL DEFAULT '[]',    -- JSON list of fingerprints of the channels that have it
    claim            TEXT,                          -- the delivery run sending it now …
    claimed_until    TEXT                           -- … until then (a run that died gives it up)
);
CREATE INDEX notifications_waiting ON notifications(case_id) WHERE status IN ('pending', 'failed');
-- A withdrawn batch takes its cases: their messages still waiting are cancelled, not sent (the case number
-- may soon belong to another case).
CREATE TRIGGER notifications_case_withdrawn AFTER DELETE ON cases BEGIN
    UPDATE notifications SET status = 'cancelled', last_error = '案件已随批次撤回，不再发送'
    WHERE case_id = OLD.id AND kind = 'case_opened' AND status IN ('pending', 'failed');
END;

-- migration 9: data safety (the audit head guarded, indexes a withdrawal deletes by)
-- The rating page's per-phone limit counts a phone's recent ratings from the page inside its write
-- transaction; partial on source 'serve', so a file import (every other source) does not maintain it.
CREATE INDEX ratings_serve_contact ON ratings(contact_id, rated_at) WHERE source = 'serve';
-- The audit head, meta('audit_head') = '<id>:<hash>' of the last event, is guarded like the events: never
-- removed or renamed; written by the first event, then only moved forward to the last event (audit.py writes
-- it right after inserting the events, in their transaction; an upsert or INSERT OR REPLACE is refused).
CREATE TRIGGER audit_head_first BEFORE INSERT ON meta WHEN NEW.key = 'audit_head'
BEGIN
    SELECT RAISE(ABORT, 'the audit head only moves forward, to the last audit event')
    WHERE EXISTS (SELECT 1 FROM meta WHERE key = 'audit_head')
       OR NEW.value IS NOT (SELECT id || ':' || hash FROM audit_events ORDER BY id DESC LIMIT 1);
END;
CREATE TRIGGER audit_head_forward BEFORE UPDATE ON meta WHEN OLD.key = 'audit_head' OR NEW.key = 'audit_head'
BEGIN
    SELECT RAISE(ABORT, 'the audit head only moves forward, to the last audit event')
    WHERE NEW.key IS NOT OLD.key
       OR CAST(substr(NEW.value, 1, instr(NEW.value, ':') - 1) AS INTEGER)
          <= CAST(substr(OLD.value, 1, instr(OLD.value, ':') - 1) AS INTEGER)
       OR NEW.value IS NOT (SELECT id || ':' || hash FROM audit_events ORDER BY id DESC LIMIT 1);
END;
CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON meta WHEN OLD.key = 'audit_head'
BEGIN SELECT RAISE(ABORT, 'the audit head cannot be removed'); END;
-- A withdrawal (撤回批次) deletes a batch's ratings and the cases they opened; for every row it deletes SQLite
-- looks for the spot-checks that refer to it (their foreign keys), which without these indexes was a scan of
-- spot_checks per rating and per case: 100,000 ratings beside 150,000 spot-checks took 526 s holding the
-- write lock (docs/benchmarks.md).
CREATE INDEX spot_checks_rating ON spot_checks(rating_id);
CREATE INDEX spot_checks_case ON spot_checks(case_id);
-- Every statement of a withdrawal finds the batch's ratings by their batch: without this index a scan of all
-- ratings each time (about 0.15 s per million ratings, nine times over), however small the batch. Batch ids
-- only grow, so an import appends to this index at its end.
CREATE INDEX ratings_batch ON ratings(batch_id);

-- migration 10: real bureau files (one rating per service case, the previous QR secret during a grace period, …)
-- 一事一评: one rating per service case (办件编号) and round (评价次数) from a source. Each group of an import
-- looks up the stored ratings of its case numbers by this index, and the rating page its follow-up (追评).
-- Partial: most ratings of some sources carry no case number, and those cost it nothing. (Migration 6 dropped
-- an index of the case number alone, which no query used.) docs/benchmarks.md has what it costs an import.
CREATE INDEX ratings_case ON ratings(source, case_no, rating_round) WHERE case_no IS NOT NULL;
-- The follow-ups of the scanned days, for the flag of one whose first rating is not in the database
-- (followup_orphan): a few rows, so the flag scan does not read every rating of the days again.
CREATE INDEX ratings_followups ON ratings(day) WHERE rating_round = 2 AND case_no IS NOT NULL;
-- The cells of a rejected row that were masked when it was stored (its phone, a phone or ID number in a
-- comment), as they were, encrypted (JSON {cell position or key: text}): the rejects round trip gives them back
-- to a cell that comes back unchanged (docs/import.md). NULL when no cell was masked.
ALTER TABLE rejects ADD COLUMN cells_enc TEXT;

-- migration 11: method and reports (a re-rating's source, views for Datasette, …)
-- 整改复评 has a source (docs/workflow.md): 'followup', the rater's own 追评 of the case's 办件 (same source and
-- 办件编号 as the case's rating, round 2), linked by the import in its transaction, rerate_rating_id being that
-- 追评; or 'phone', the county's call to a real-name rater, rerate_caller naming who called (the account or OS
-- login of the audit event unless given). Cases re-rated before this migration keep NULL: source not recorded.
ALTER TABLE cases ADD COLUMN rerate_source TEXT CHECK (rerate_source IN ('followup', 'phone'));
ALTER TABLE cases ADD COLUMN rerate_caller TEXT;
ALTER TABLE cases ADD COLUMN rerate_rating_id INTEGER REFERENCES ratings(id);
-- A withdrawal's foreign-key check of each deleted rating finds the case its 追评 re-rated by this index.
CREATE INDEX cases_rerate_rating ON cases(rerate_rating_id);

-- Views for Datasette (docs/datasette.md): names beside the codes, level and state names in Chinese, and no
-- personal data — no phone, no contact id, no staff, no 办件编号, no QR token and no free text (comments, notes,
-- reasons), which may hold a phone number that a view cannot mask. The item is joined by its code here: SQLite
-- cannot add a foreign key to ratings without rebuilding the table, and the join is what Datasette needs.
CREATE VIEW v_ratings AS
SELECT r.id, r.source, r.rating_id, r.batch_id, r.rated_at, r.day,
       r.county_code, c.name AS county_name, r.window_code, w.name AS window_name,
       CASE r.mode WHEN 'offline' THEN '线下窗口' WHEN 'online' THEN '网上办理' END AS mode_name, r.channel,
       NULLIF(r.item_code, '') AS item_code, i.name AS item_name,
       r.level, CASE r.level WHEN 5 THEN '非常满意' WHEN 4 THEN '满意' WHEN 3 THEN '基本满意' WHEN 2 THEN '不满意'
                             WHEN 1 THEN '非常不满意' END AS level_name,
       r.rating_index, r.weights_version, r.rating_round,
       CASE WHEN r.anonymous THEN 0 ELSE 1 END AS real_name,
       CASE WHEN json_valid(r.problems) THEN (SELECT group_concat(p.value || ' ' || coalesce(n.name, ''), '、')
                                              FROM json_each(r.problems) p LEFT JOIN indicators n ON n.code = p.value)
       END AS problems,
       CASE WHEN r.excluded IS NULL THEN 1 ELSE 0 END AS counted,
       CASE r.excluded WHEN 'appeal_upheld' THEN '申诉成立' WHEN 'confirmed_false' THEN '评价信息不实' END AS excluded_reason
FROM ratings r
LEFT JOIN counties c ON c.code = r.county_code
LEFT JOIN windows w ON w.code = r.window_code
LEFT JOIN items i ON i.code = r.item_code;

-- overdue: open and past its rectification deadline today in Beijing time (UTC+8), as `cases stats` counts it.
CREATE VIEW v_cases AS
SELECT k.id, k.rating_id, k.county_code, c.name AS county_name, k.window_code, w.name AS window_name,
       NULLIF(k.item_code, '') AS item_code, i.name AS item_name,
       k.level, CASE k.level WHEN 5 THEN '非常满意' WHEN 4 THEN '满意' WHEN 3 THEN '基本满意' WHEN 2 THEN '不满意'
                             WHEN 1 THEN '非常不满意' END AS level_name,
       CASE WHEN json_valid(k.problems) THEN (SELECT group_concat(p.value || ' ' || coalesce(n.name, ''), '、')
                                              FROM json_each(k.problems) p LEFT JOIN indicators n ON n.code = p.value)
       END AS problems,
       k.real_name, k.rated_at, k.state,
       CASE k.state WHEN 'new' THEN '待分类' WHEN 'rectifying' THEN '整改中' WHEN 'awaiting_approval' THEN '无需整改待市局审批'
                    WHEN 'appealed' THEN '申诉中' WHEN 'reopened' THEN '复评不满意重新整改' WHEN 'closed' THEN '已整改待复评'
                    WHEN 'unrectifiable' THEN '无法整改' WHEN 'no_action' THEN '无需整改' WHEN 'rerated' THEN '已复评办结'
                    WHEN 'excluded' THEN '评价已剔除' END AS state_name,
       CASE k.classification WHEN 'rectifiable' THEN '可整改' WHEN 'unrectifiable' THEN '无法整改'
                             WHEN 'no_action' THEN '无需整改' END AS classification_name,
       k.classified_at, k.revisit_due, k.revisit_first_at,
       CASE k.revisit_outcome WHEN 'reached' THEN '已联系上' WHEN 'unreachable' THEN '联系不上' END AS revisit_outcome,
       k.rectify_days, k.rectify_due, k.resolved_at, k.on_time, k.rerate_level, k.rerated_at,
       CASE k.rerate_source WHEN 'followup' THEN '评价人追评' WHEN 'phone' THEN '电话复评' END AS rerate_source,
       k.reopen_count,
       CASE WHEN k.state IN ('new', 'rectifying', 'awaiting_approval', 'appealed', 'reopened')
                 AND k.rectify_due < date('now', '+8 hours') THEN 1 ELSE 0 END AS overdue,
       k.opened_at, k.updated_at
FROM cases k
LEFT JOIN counties c ON c.code = k.county_code
LEFT JOIN windows w ON w.code = k.window_code
LEFT JOIN items i ON i.code = k.item_code;

-- Per county and month from the daily aggregates (counted ratings only), as `haocha index --by county --by month`
-- with the default levels: 好评 = 非常满意 + 满意, 差评 = 不满意 + 非常不满意; the rates in per cent, the index
-- = Σ rating index ÷ N, both to two decimals.
CREATE VIEW v_county_month AS
SELECT a.county_code, c.name AS county_name, substr(a.day, 1, 7) AS month, sum(a.n) AS n,
       sum(a.l5) + sum(a.l4) AS good, sum(a.l2) + sum(a.l1) AS bad, sum(a.l3) AS basic,
       round(100.0 * (sum(a.l5) + sum(a.l4)) / nullif(sum(a.n), 0), 2) AS good_rate,
       round(100.0 * (sum(a.l2) + sum(a.l1)) / nullif(sum(a.n), 0), 2) AS bad_rate,
       round(100.0 * sum(a.l3) / nullif(sum(a.n), 0), 2) AS basic_share,
       round(sum(a.index_sum) / nullif(sum(a.n), 0), 2) AS satisfaction_index,
       sum(a.excluded_n) AS excluded_n
FROM daily_agg a
LEFT JOIN counties c ON c.code = a.county_code
GROUP BY a.county_code, substr(a.day, 1, 7);

-- migration 12: the bureau's own lists and performance (indicator systems as data, the three lists, window
-- staff, service volumes; indexes for the rating page and the backlog)

-- 服务事项清单: the national implementation code (实施编码) beside the local code, the item type, and the
-- windows that offer the item (window codes separated by commas; empty: not said).
ALTER TABLE items ADD COLUMN impl_code TEXT;
ALTER TABLE items ADD COLUMN item_type TEXT;
ALTER TABLE items ADD COLUMN windows TEXT;
CREATE UNIQUE INDEX items_impl_code ON items(impl_code) WHERE impl_code IS NOT NULL;

-- 服务标准清单: what an item's service must meet, per window kind ('all' = both kinds), each standard under
-- the indicator it applies to ('' when none). The imported file is the whole list (haocha_cli/service_lists.py).
CREATE TABLE service_standards (
    item_code       TEXT NOT NULL REFERENCES items(code),
    window_kind     TEXT NOT NULL CHECK (window_kind IN ('offline', 'online', 'all')),
    indicator_code  TEXT NOT NULL DEFAULT '',
    standard        TEXT NOT NULL,
    promised_days   INTEGER,
    materials       INTEGER,
    PRIMARY KEY (item_code, window_kind, indicator_code)
) WITHOUT ROWID;

-- 问题责任清单: the post (岗位) and department that answer for a problem (an indicator) at a kind of window.
CREATE TABLE responsibilities (
    indicator_code  TEXT NOT NULL,
    window_kind     TEXT NOT NULL CHECK (window_kind IN ('offline', 'online', 'all')),
    post            TEXT NOT NULL,
    department      TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (indicator_code, window_kind)
) WITHOUT ROWID;

-- A case's responsible post: the primary one (of the first problem ticked) and all of them (JSON list of
-- {"indicator", "post", "department"}); the county may change the primary post with a reason (audited).
ALTER TABLE cases ADD COLUMN post TEXT;
ALTER TABLE cases ADD COLUMN department TEXT;
ALTER TABLE cases ADD COLUMN posts TEXT;
CREATE INDEX cases_post ON cases(post) WHERE post IS NOT NULL;

-- Service volumes (办件量): services handled per day, window and item, as the licensing system exports them
-- (`haocha volumes import`). One row per day × window × item: a corrected file replaces the figure. The rating
-- rate (主动评价率) = counted ratings ÷ services, per window, county and month (docs/method.md).
CREATE TABLE service_volumes (
    day          TEXT NOT NULL,
    window_code  TEXT NOT NULL REFERENCES windows(code),
    item_code    TEXT NOT NULL REFERENCES items(code),
    county_code  TEXT NOT NULL REFERENCES counties(code),  -- the window's county when imported
    services     INTEGER NOT NULL CHECK (services >= 0),
    imported_at  TEXT NOT NULL,
    PRIMARY KEY (day, window_code, item_code)
) WITHOUT ROWID;
CREATE INDEX service_volumes_county_day ON service_volumes(county_code, day);

-- Window flags: a window's month flagged for the city (a rating rate far below its county's, or fallen sharply
-- against the month before). Like a rating's flag a prompt to check, never a judgement: one per window, month
-- and rule, so that scanning again adds nothing. evidence is JSON with the figures that matched.
CREATE TABLE window_flags (
    id           INTEGER PRIMARY KEY,
    rule         TEXT NOT NULL,                   -- low_rating_rate, rating_rate_drop
    county_code  TEXT NOT NULL,
    window_code  TEXT NOT NULL,
    month        TEXT NOT NULL,                   -- YYYY-MM
    evidence     TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    UNIQUE (window_code, month, rule)
);
CREATE INDEX window_flags_month ON window_flags(month);
-- Indicator systems as data (haocha indicators import): each version's dimensions (一级指标) and indicators
-- (二级指标) as its TOML file defined them. A code keeps one meaning (and a name one code) across versions,
-- so that `indicators` stays the registry of every code ever defined and per-indicator figures never mix two
-- indicators. A version imported but not activated has active_from '9999-12-31'.
CREATE TABLE indicator_dimensions (
    version   TEXT NOT NULL REFERENCES indicator_versions(version),
    code      TEXT NOT NULL,
    name      TEXT NOT NULL,
    name_en   TEXT NOT NULL DEFAULT '',
    position  INTEGER NOT NULL,
    PRIMARY KEY (version, code)
) WITHOUT ROWID;
CREATE TABLE indicator_defs (
    version         TEXT NOT NULL REFERENCES indicator_versions(version),
    code            TEXT NOT NULL REFERENCES indicators(code),
    dimension_code  TEXT NOT NULL,
    name            TEXT NOT NULL,
    name_en         TEXT NOT NULL DEFAULT '',
    scope           TEXT NOT NULL CHECK (scope IN ('offline', 'online', 'common')),
    description     TEXT NOT NULL DEFAULT '',
    scores          TEXT NOT NULL,                -- JSON list, one per criterion of the version's matrix
    position        INTEGER NOT NULL,
    PRIMARY KEY (version, code),
    UNIQUE (version, name),
    FOREIGN KEY (version, dimension_code) REFERENCES indicator_dimensions(version, code)
) WITHOUT ROWID;
-- A database made before: its versions weighed the 12 shipped indicators (codes A1 … E2, dimension = letter).
INSERT INTO indicator_dimensions (version, code, name, name_en, position)
SELECT v.version, substr(i.code, 1, 1), min(i.primary_name), min(i.primary_en), unicode(substr(i.code, 1, 1)) - 64
FROM indicator_versions v JOIN indicators i
WHERE EXISTS (SELECT 1 FROM indicator_weights w WHERE w.version = v.version AND w.indicator_code = i.code)
GROUP BY v.version, substr(i.code, 1, 1);
INSERT INTO indicator_defs (version, code, dimension_code, name, name_en, scope, description, scores, position)
SELECT v.version, i.code, substr(i.code, 1, 1), i.name, i.name_en, i.scope, i.description,
       coalesce(json_extract(v.method, '$.scores.' || i.code), '[]'), i.rowid
FROM indicator_versions v JOIN indicators i
WHERE EXISTS (SELECT 1 FROM indicator_weights w WHERE w.version = v.version AND w.indicator_code = i.code);
-- The rating page checks one submission's flags on the rater's phone's ratings of the day (same_phone) through
-- this index, not by scanning the whole day (issue 22); the window's ratings of the day are ratings_day_window's.
CREATE INDEX ratings_contact_day ON ratings(contact_id, day) WHERE contact_id IS NOT NULL;
-- `haocha status`: the first and last rating time through an index, not by reading every rating.
CREATE INDEX ratings_rated_at ON ratings(rated_at);
-- The open cases (整改中 and the other open states), with what their urgency is computed from: the daily
-- report's counts and its 20 most urgent cases read this index, not the whole cases table (issue 22). The
-- states are cases.OPEN_STATES, written as haocha_cli/worklist.py writes them, so that the planner uses it.
CREATE INDEX cases_open ON cases(county_code, state, real_name, revisit_first_at, revisit_due, rectify_due,
                                 opened_at)
    WHERE state IN ('new','rectifying','awaiting_approval','appealed','reopened');
-- The rating page's burst check reads the window's offline ratings of the day by their time: the index of the
-- day and window now covers what that check reads (mode, excluded, rated_at), so that no row of the table is
-- read for it (issue 22; a database with many ratings rebuilds the index once, at this migration).
DROP INDEX ratings_day_window;
CREATE INDEX ratings_day_window ON ratings(day, window_code, mode, excluded, rated_at);

-- migration 13: an import that holds the write lock only at its end (staged batches, issue 22)
-- A file's batch is written in short transactions while the file is read (importer.py, "staged"), so that the
-- rating page and the workbench write in between: its ratings go into rating_rows with the ids reserved in
-- pending_imports (first_id … last_id; a rating written meanwhile takes an id after them), its daily aggregates into the *_rows tables with part = its batch. The views
-- ratings, daily_agg and daily_indicator_agg, which every reader reads, leave them out until the batch's last
-- short transaction (its cases, flags and audit events) deletes its pending_imports row. One staged batch at a
-- time (a lock file beside the database); one left by a crash is removed at the next open or import (db.py).
-- The aggregates of other batches have part 0; a staged batch's keep their part after it is visible, so a key
-- may have a row per part: every reader sums.
CREATE TABLE pending_imports (
    batch_id    INTEGER PRIMARY KEY REFERENCES batches(id),
    first_id    INTEGER NOT NULL,                 -- the ids reserved for the batch's ratings: first_id …
    last_id     INTEGER NOT NULL,                 -- … last_id (a bound on the file's rows)
    first_contact_id INTEGER NOT NULL,            -- the contacts it adds have ids from here on
    started_at  TEXT NOT NULL,
    pid         INTEGER NOT NULL
);
ALTER TABLE batches ADD COLUMN staged INTEGER NOT NULL DEFAULT 0;  -- 1: its aggregates are part = its id
DROP VIEW v_ratings;
DROP VIEW v_county_month;
ALTER TABLE ratings RENAME TO rating_rows;
-- `+id`: the planner never takes the filter for a rowid range in place of the query's own index.
CREATE VIEW ratings AS SELECT * FROM rating_rows
WHERE +id NOT BETWEEN (SELECT coalesce(min(first_id), 0) FROM pending_imports)
                  AND (SELECT coalesce(max(last_id), -1) FROM pending_imports);

CREATE TABLE daily_agg_rows (
    day          TEXT NOT NULL,
    window_code  TEXT NOT NULL,
    item_code    TEXT NOT NULL,
    channel      TEXT NOT NULL,
    part         INTEGER NOT NULL DEFAULT 0,      -- 0, or the staged batch whose ratings these are
    county_code  TEXT NOT NULL,
    mode         TEXT NOT NULL,
    n            INTEGER NOT NULL DEFAULT 0,
    l1           INTEGER NOT NULL DEFAULT 0,
    l2           INTEGER NOT NULL DEFAULT 0,
    l3           INTEGER NOT NULL DEFAULT 0,
    l4           INTEGER NOT NULL DEFAULT 0,
    l5           INTEGER NOT NULL DEFAULT 0,
    index_sum    REAL NOT NULL DEFAULT 0,
    index_sq     REAL NOT NULL DEFAULT 0,
    excluded_n   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (day, window_code, item_code, channel, part)
) WITHOUT ROWID;
INSERT INTO daily_agg_rows (day, window_code, item_code, channel, part, county_code, mode, n, l1, l2, l3, l4, l5,
                            index_sum, index_sq, excluded_n)
SELECT day, window_code, item_code, channel, 0, county_code, mode, n, l1, l2, l3, l4, l5, index_sum, index_sq,
       excluded_n FROM daily_agg;
DROP TABLE daily_agg;
CREATE INDEX daily_agg_county_day ON daily_agg_rows(county_code, day);
CREATE VIEW daily_agg AS
SELECT day, window_code, item_code, channel, county_code, mode, n, l1, l2, l3, l4, l5, index_sum, index_sq,
       excluded_n, part FROM daily_agg_rows
WHERE part <> coalesce((SELECT max(batch_id) FROM pending_imports), -1);

CREATE TABLE daily_indicator_agg_rows (
    day             TEXT NOT NULL,
    window_code     TEXT NOT NULL,
    item_code       TEXT NOT NULL,
    channel         TEXT NOT NULL,
    indicator_code  TEXT NOT NULL,
    part            INTEGER NOT NULL DEFAULT 0,
    county_code     TEXT NOT NULL,
    mode            TEXT NOT NULL,
    n               INTEGER NOT NULL DEFAULT 0,
    score_sum       REAL NOT NULL DEFAULT 0,
    score_sq        REAL NOT NULL DEFAULT 0,
    level_sum       REAL NOT NULL DEFAULT 0,
    level_sq        REAL NOT NULL DEFAULT 0,
    cross_sum       REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (day, window_code, item_code, channel, indicator_code, part)
) WITHOUT ROWID;
INSERT INTO daily_indicator_agg_rows (day, window_code, item_code, channel, indicator_code, part, county_code, mode,
                                      n, score_sum, score_sq, level_sum, level_sq, cross_sum)
SELECT day, window_code, item_code, channel, indicator_code, 0, county_code, mode, n, score_sum, score_sq,
       level_sum, level_sq, cross_sum FROM daily_indicator_agg;
DROP TABLE daily_indicator_agg;
CREATE INDEX daily_indicator_agg_county_day ON daily_indicator_agg_rows(county_code, day);
CREATE VIEW daily_indicator_agg AS
SELECT day, window_code, item_code, channel, indicator_code, county_code, mode, n, score_sum, score_sq, level_sum,
       level_sq, cross_sum, part FROM daily_indicator_agg_rows
WHERE part <> coalesce((SELECT max(batch_id) FROM pending_imports), -1);

-- The views of migration 11, again over the views above (renaming ratings pointed them at the table).
CREATE VIEW v_ratings AS
SELECT r.id, r.source, r.rating_id, r.batch_id, r.rated_at, r.day,
       r.county_code, c.name AS county_name, r.window_code, w.name AS window_name,
       CASE r.mode WHEN 'offline' THEN '线下窗口' WHEN 'online' THEN '网上办理' END AS mode_name, r.channel,
       NULLIF(r.item_code, '') AS item_code, i.name AS item_name,
       r.level, CASE r.level WHEN 5 THEN '非常满意' WHEN 4 THEN '满意' WHEN 3 THEN '基本满意' WHEN 2 THEN '不满意'
                             WHEN 1 THEN '非常不满意' END AS level_name,
       r.rating_index, r.weights_version, r.rating_round,
       CASE WHEN r.anonymous THEN 0 ELSE 1 END AS real_name,
       CASE WHEN json_valid(r.problems) THEN (SELECT group_concat(p.value || ' ' || coalesce(n.name, ''), '、')
                                              FROM json_each(r.problems) p LEFT JOIN indicators n ON n.code = p.value)
       END AS problems,
       CASE WHEN r.excluded IS NULL THEN 1 ELSE 0 END AS counted,
       CASE r.excluded WHEN 'appeal_upheld' THEN '申诉成立' WHEN 'confirmed_false' THEN '评价信息不实' END AS excluded_reason
FROM ratings r
LEFT JOIN counties c ON c.code = r.county_code
LEFT JOIN windows w ON w.code = r.window_code
LEFT JOIN items i ON i.code = r.item_code;

CREATE VIEW v_county_month AS
SELECT a.county_code, c.name AS county_name, substr(a.day, 1, 7) AS month, sum(a.n) AS n,
       sum(a.l5) + sum(a.l4) AS good, sum(a.l2) + sum(a.l1) AS bad, sum(a.l3) AS basic,
       round(100.0 * (sum(a.l5) + sum(a.l4)) / nullif(sum(a.n), 0), 2) AS good_rate,
       round(100.0 * (sum(a.l2) + sum(a.l1)) / nullif(sum(a.n), 0), 2) AS bad_rate,
       round(100.0 * sum(a.l3) / nullif(sum(a.n), 0), 2) AS basic_share,
       round(sum(a.index_sum) / nullif(sum(a.n), 0), 2) AS satisfaction_index,
       sum(a.excluded_n) AS excluded_n
FROM daily_agg a
LEFT JOIN counties c ON c.code = a.county_code
GROUP BY a.county_code, substr(a.day, 1, 7);

-- migration 14: the cases by their rating time
-- The closed-loop figures of a period (cases stats, the monthly and public reports, the risk assessment, the
-- case list of a period) pick the cases rated in it by this index, not by reading every case ever opened.
CREATE INDEX cases_rated_at ON cases(rated_at);
