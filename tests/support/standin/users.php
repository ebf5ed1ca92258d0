<?php
/*
 * The user methods of Chamilo's main/webservices/registration.soap.php, re-implemented from the
 * behaviour documented in /work/shared/chamilo/API.md §3-§5 (1.11.6; "1.9" variant where the
 * settings say so). nusoap calls them by operation name with the decoded request struct.
 */

function standin_param($array, $name)
{
    return is_array($array) && array_key_exists($name, $array) ? $array[$name] : null;
}

function standin_list($value)
{
    return is_array($value) ? $value : array();
}

function standin_results($echo, $results)
{
    $output = array();
    foreach ($results as $i => $result) {
        $output[] = array('original_user_id_value' => $echo[$i], 'result' => $result);
    }
    return $output;
}

function WSCreateUsers($params)
{
    if (!standin_verify_key($params)) {
        return standin_key_fault();
    }
    $users = standin_list(standin_param($params, 'users'));
    standin_note_call('items', count($users));
    $echo = array();
    $results = array();
    foreach ($users as $u) {
        $echo[] = standin_param($u, 'original_user_id_value');
        $results[] = standin_create_one($u);
    }
    return standin_results($echo, $results);
}

function standin_create_one($u)
{
    $password = standin_param($u, 'password');
    $login = standin_param($u, 'loginname');
    $given_expiration = standin_param($u, 'expiration_date');
    $language = !empty($u['language']) ? $u['language'] : '';
    $phone = !empty($u['phone']) ? $u['phone'] : '';
    $name = standin_param($u, 'original_user_id_name');
    $value = standin_param($u, 'original_user_id_value');

    $user_id = standin_user_id_from_original($value, $name);
    if ($user_id > 0) {
        $user = standin_user($user_id);
        if ($user && !$user['active']) {
            // Re-activation overwrites; extras and language are not applied on this path.
            if (!empty($given_expiration)) {
                $expiration = standin_orm_expiration($given_expiration);
            } elseif (standin_is_19()) {
                $expiration = null;
            } else {
                throw new StandinCrash("setExpirationDate(''): re-activation without expiration_date");
            }
            standin_exec(
                "UPDATE user SET lastname = :ln, firstname = :fn, username = :un, email = :em, status = :st,
                        official_code = '', phone = :ph, expiration_date = :ex, active = 1,
                        auth_source = 'platform', password = COALESCE(:pw, password)
                  WHERE id = :id",
                array(':ln' => standin_param($u, 'lastname'), ':fn' => standin_param($u, 'firstname'),
                      ':un' => $login, ':em' => standin_param($u, 'email'), ':st' => standin_param($u, 'status'),
                      ':ph' => $phone, ':ex' => $expiration,
                      ':pw' => $password === null ? null : standin_hash_password($password), ':id' => $user_id)
            );
            return $user_id;
        }
        return 0; // create is not an upsert
    }

    if ($language === '') {
        $language = standin_setting('platform_language', 'english');
    }
    if ($login === null || $login === '' || standin_login_taken($login)) {
        return 0;
    }
    if (empty($password)) {
        return 0; // UserManager::create_user() refuses an empty password for platform auth
    }
    $expiration = empty($given_expiration) ? null : standin_create_expiration($given_expiration);
    standin_exec(
        "INSERT INTO user (username, firstname, lastname, email, status, active, phone, expiration_date,
                           language, official_code, password, auth_source)
         VALUES (:un, :fn, :ln, :em, :st, 1, :ph, :ex, :lang, '', :pw, 'platform')",
        array(':un' => $login, ':fn' => standin_param($u, 'firstname'), ':ln' => standin_param($u, 'lastname'),
              ':em' => standin_param($u, 'email'), ':st' => standin_param($u, 'status'), ':ph' => $phone,
              ':ex' => $expiration, ':lang' => standin_language($language),
              ':pw' => standin_hash_password($password))
    );
    $new_id = standin_db()->lastInsertRowID();
    standin_create_extra_field($name);
    standin_set_extra_value($new_id, $name, $value);
    foreach (standin_list(standin_param($u, 'extra')) as $extra) {
        standin_create_extra_field(standin_param($extra, 'field_name'));
        standin_set_extra_value($new_id, standin_param($extra, 'field_name'), standin_param($extra, 'field_value'));
    }
    return $new_id;
}

function WSEditUsers($params)
{
    if (!standin_verify_key($params)) {
        return standin_key_fault();
    }
    $users = standin_list(standin_param($params, 'users'));
    standin_note_call('items', count($users));
    $echo = array();
    $results = array();
    foreach ($users as $u) {
        $echo[] = standin_param($u, 'original_user_id_value');
        $results[] = standin_edit_one($u);
    }
    return standin_results($echo, $results);
}

function standin_edit_one($u)
{
    $user_id = standin_user_id_from_original(
        standin_param($u, 'original_user_id_value'),
        standin_param($u, 'original_user_id_name')
    );
    if ($user_id == 0) {
        return 0;
    }
    $user = standin_user($user_id);
    if (!$user['active']) {
        return 0; // edits never touch disabled users
    }
    $username = standin_param($u, 'username');
    if (standin_login_taken($username, $user_id, true)) {
        return 0;
    }
    $status = standin_param($u, 'status');
    if (!standin_is_19()) {
        if (empty($status)) {
            $status = 5;
        }
        if ($user['is_admin']) {
            $status = 1;
        }
        $expiration = standin_orm_expiration(standin_param($u, 'expiration_date'));
    } else {
        $given = standin_param($u, 'expiration_date');
        $expiration = empty($given) ? null : standin_create_expiration($given);
    }
    $password = standin_param($u, 'password');
    standin_exec(
        "UPDATE user SET
            lastname = CASE WHEN :ln IS NULL OR :ln = '' OR :ln = '0' THEN lastname ELSE :ln END,
            firstname = CASE WHEN :fn IS NULL OR :fn = '' OR :fn = '0' THEN firstname ELSE :fn END,
            username = :un, email = :em, status = :st, official_code = '', phone = :ph,
            expiration_date = :ex, active = 1, password = COALESCE(:pw, password)
          WHERE id = :id",
        array(':ln' => standin_param($u, 'lastname'), ':fn' => standin_param($u, 'firstname'),
              ':un' => $username, ':em' => standin_param($u, 'email'), ':st' => (string) $status,
              ':ph' => standin_param($u, 'phone'), ':ex' => $expiration,
              ':pw' => empty($password) ? null : standin_hash_password($password), ':id' => $user_id)
    );
    foreach (standin_list(standin_param($u, 'extra')) as $extra) {
        standin_set_extra_value($user_id, standin_param($extra, 'field_name'), standin_param($extra, 'field_value'));
    }
    return standin_is_19() ? 1 : $user_id;
}

function standin_action_on_users($params, $active)
{
    if (!standin_verify_key($params)) {
        return standin_key_fault();
    }
    $ids = standin_list(standin_param($params, 'ids'));
    standin_note_call('items', count($ids));
    $echo = array();
    $results = array();
    foreach ($ids as $item) {
        $value = standin_param($item, 'original_user_id_value');
        $echo[] = $value;
        $user_id = standin_user_id_from_original($value, standin_param($item, 'original_user_id_name'));
        if ($user_id == 0) {
            $results[] = 0;
            continue;
        }
        standin_exec('UPDATE user SET active = :a WHERE id = :id', array(':a' => $active, ':id' => $user_id));
        $results[] = 1;
    }
    if (standin_is_19()) {
        return null; // 1.9: the operations have no output part and the functions return nothing
    }
    return standin_results($echo, $results);
}

function WSDisableUsers($params)
{
    return standin_action_on_users($params, 0);
}

function WSEnableUsers($params)
{
    return standin_action_on_users($params, 1);
}

function standin_user_struct($user)
{
    if (!$user) {
        return array('user_id' => '', 'firstname' => '', 'lastname' => '');
    }
    return array('user_id' => $user['id'], 'firstname' => $user['firstname'], 'lastname' => $user['lastname']);
}

function WSGetUser($params)
{
    if (!standin_verify_key($params)) {
        return standin_key_fault();
    }
    standin_note_call('items', 1);
    $user_id = standin_user_id_from_original(
        standin_param($params, 'original_user_id_value'),
        standin_param($params, 'original_user_id_name')
    );
    return standin_user_struct($user_id > 0 ? standin_user($user_id) : null);
}

/** 1.11.6 quirk: the login is passed to api_get_user_info(), which takes an id (intval). */
function WSGetUserFromUsername($params)
{
    if (!standin_verify_key($params)) {
        return standin_key_fault();
    }
    standin_note_call('items', 1);
    $id = intval(standin_param($params, 'username'));
    return standin_user_struct($id > 0 ? standin_user($id) : null);
}
