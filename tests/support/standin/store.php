<?php
/*
 * State of the Chamilo stand-in: one SQLite file (created by tests/support/chamilo_standin.py)
 * holding users, extra fields, settings, the call log and the fault plan. Also the pieces of
 * Chamilo 1.11.6 behaviour the user methods share: the secret-key check (WSHelperVerifyKey),
 * the original-id lookup (case-insensitive, like MySQL's *_ci collations), login availability,
 * extra-field writes, password hashing and date parsing.
 */

class StandinCrash extends Exception {}   // a PHP fatal in Chamilo: HTTP 500, no SOAP body
class StandinHtmlPage extends Exception {} // Chamilo's "not allowed" page after an SQL error

$STANDIN = array('db' => null, 'settings' => array(), 'call_id' => null);

function standin_db()
{
    global $STANDIN;
    if ($STANDIN['db'] === null) {
        $db = new SQLite3(getenv('STANDIN_DIR') . '/standin.sqlite');
        $db->enableExceptions(true);
        $db->busyTimeout(10000);
        $STANDIN['db'] = $db;
        $res = $db->query('SELECT name, value FROM settings');
        while ($row = $res->fetchArray(SQLITE3_ASSOC)) {
            $STANDIN['settings'][$row['name']] = $row['value'];
        }
    }
    return $STANDIN['db'];
}

function standin_setting($name, $default = null)
{
    global $STANDIN;
    standin_db();
    $value = $STANDIN['settings'][$name] ?? null;
    return ($value === null || $value === '') ? $default : $value;
}

function standin_is_19()
{
    return standin_setting('variant', '1.11') === '1.9';
}

function standin_exec($sql, $params = array())
{
    $stmt = standin_db()->prepare($sql);
    foreach ($params as $name => $value) {
        $type = is_int($value) ? SQLITE3_INTEGER : ($value === null ? SQLITE3_NULL : SQLITE3_TEXT);
        $stmt->bindValue($name, $value, $type);
    }
    return $stmt->execute();
}

function standin_row($sql, $params = array())
{
    $row = standin_exec($sql, $params)->fetchArray(SQLITE3_ASSOC);
    return $row === false ? null : $row;
}

/* ---- call log and fault plan ------------------------------------------------------------ */

function standin_log_call($operation, $body)
{
    global $STANDIN;
    standin_exec(
        'INSERT INTO calls (operation, at, remote_addr, forwarded_for, accept_encoding, body)
         VALUES (:op, :at, :ra, :ff, :ae, :body)',
        array(':op' => $operation, ':at' => microtime(true), ':ra' => $_SERVER['REMOTE_ADDR'] ?? '',
              ':ff' => $_SERVER['HTTP_X_FORWARDED_FOR'] ?? null,
              ':ae' => $_SERVER['HTTP_ACCEPT_ENCODING'] ?? null, ':body' => $body)
    );
    $STANDIN['call_id'] = standin_db()->lastInsertRowID();
}

function standin_note_call($column, $value)
{
    global $STANDIN;
    if ($STANDIN['call_id'] !== null && in_array($column, array('items', 'key_ok', 'injected'), true)) {
        standin_exec("UPDATE calls SET $column = :v WHERE id = :id", array(':v' => $value, ':id' => $STANDIN['call_id']));
    }
}

/** Takes one planned fault for $operation (or '*'), or null. */
function standin_take_fault($operation)
{
    $db = standin_db();
    $db->exec('BEGIN IMMEDIATE');
    $row = standin_row(
        "SELECT id, mode, seconds FROM faults WHERE operation IN (:op, '*') AND remaining > 0 ORDER BY id LIMIT 1",
        array(':op' => $operation)
    );
    if ($row !== null) {
        standin_exec('UPDATE faults SET remaining = remaining - 1 WHERE id = :id', array(':id' => $row['id']));
    }
    $db->exec('COMMIT');
    return $row;
}

/* ---- Chamilo behaviour ------------------------------------------------------------------ */

/** WSHelperVerifyKey: sha1(ip . security_key), ip = first X-Forwarded-For entry if any. */
function standin_verify_key($params)
{
    $secret = is_array($params) ? ($params['secret_key'] ?? null) : $params;
    $ip = trim($_SERVER['REMOTE_ADDR'] ?? '');
    if (!empty($_SERVER['HTTP_X_FORWARDED_FOR'])) {
        $parts = explode(',', $_SERVER['HTTP_X_FORWARDED_FOR']);
        $ip = trim($parts[0]);
    }
    $ok = $secret == sha1($ip . standin_setting('security_key', ''));
    standin_note_call('key_ok', $ok ? 1 : 0);
    return $ok;
}

function standin_key_fault()
{
    return new soap_fault('Server', '', 'Secret key is not correct or params are not correctly set');
}

/** Chamilo concatenates these values into SQL unescaped: a quote breaks the query. */
function standin_sql_literal($value)
{
    $value = (string) $value;
    if (strpos($value, "'") !== false) {
        throw new StandinHtmlPage("SQL error near: $value");
    }
    return $value;
}

/** UserManager::get_user_id_from_original_id: first matching row, else 0. */
function standin_user_id_from_original($value, $name)
{
    $row = standin_row(
        'SELECT v.user_id FROM extra_field_value v JOIN user u ON u.id = v.user_id
          WHERE v.variable = :n COLLATE NOCASE AND v.value = :v COLLATE NOCASE ORDER BY v.id LIMIT 1',
        array(':n' => standin_sql_literal($name), ':v' => standin_sql_literal($value))
    );
    return $row === null ? 0 : (int) $row['user_id'];
}

function standin_user($id)
{
    return standin_row('SELECT * FROM user WHERE id = :id', array(':id' => (int) $id));
}

/**
 * Login taken by an account other than $except_id (MySQL _ci comparison). Create escapes the
 * login (UserManager::is_username_available); the edit methods concatenate it ($unescaped).
 */
function standin_login_taken($username, $except_id = 0, $unescaped = false)
{
    $row = standin_row(
        'SELECT id FROM user WHERE username = :u COLLATE NOCASE AND id <> :id LIMIT 1',
        array(':u' => $unescaped ? standin_sql_literal($username) : (string) $username, ':id' => (int) $except_id)
    );
    return $row !== null;
}

/** ExtraField::save(): returns the existing field when the variable exists. */
function standin_create_extra_field($variable)
{
    standin_exec('INSERT OR IGNORE INTO extra_field (variable) VALUES (:v)', array(':v' => (string) $variable));
}

function standin_extra_field_exists($variable)
{
    return standin_row('SELECT id FROM extra_field WHERE variable = :v COLLATE NOCASE', array(':v' => (string) $variable)) !== null;
}

/** update_extra_field_value(): silently nothing when the field does not exist. */
function standin_set_extra_value($user_id, $variable, $value)
{
    if (!standin_extra_field_exists($variable)) {
        return;
    }
    standin_exec(
        'INSERT INTO extra_field_value (user_id, variable, value) VALUES (:u, :n, :v)
         ON CONFLICT (user_id, variable) DO UPDATE SET value = excluded.value',
        array(':u' => (int) $user_id, ':n' => (string) $variable, ':v' => $value === null ? null : (string) $value)
    );
}

function standin_hash_password($plain)
{
    return sha1((string) $plain); // $_configuration['password_encryption'] = 'sha1'
}

/** api_get_utc_datetime(): platform timezone in, UTC out; garbage gives "now". */
function standin_create_expiration($value)
{
    $tz = new DateTimeZone(standin_setting('timezone', 'UTC'));
    try {
        $date = new DateTime($value, $tz);
    } catch (Exception $e) {
        $date = new DateTime('now', $tz);
    }
    return $date->setTimezone(new DateTimeZone('UTC'))->format('Y-m-d H:i:s');
}

/** User::setExpirationDate() + Doctrine flush: null clears, '' and garbage are fatal. */
function standin_orm_expiration($value)
{
    if ($value === null) {
        return null;
    }
    if (empty($value)) {
        throw new StandinCrash("Doctrine cannot convert '" . $value . "' to a datetime (expiration_date)");
    }
    try {
        $date = new DateTime($value);
    } catch (Exception $e) {
        throw new StandinCrash('DateTime::__construct() failed to parse expiration_date');
    }
    return $date->format('Y-m-d H:i:s');
}

function standin_language($value)
{
    $available = array('english', 'spanish', 'french', 'german', 'italian', 'dutch', 'portuguese',
                       'brazilian', 'catalan', 'basque', 'galician', 'polish', 'russian', 'arabic');
    $value = strtolower((string) $value);
    return in_array($value, $available, true) ? $value : standin_setting('platform_language', 'english');
}
