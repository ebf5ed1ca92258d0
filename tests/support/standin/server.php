<?php
/*
 * Router for `php -S 127.0.0.1:PORT server.php`: a stand-in for Chamilo's
 * main/webservices/registration.soap.php on real nusoap 0.9.5.
 *
 * STANDIN_DIR (environment) holds what tests/support/chamilo_standin.py prepared: nusoap.php (a
 * copy with PHP-5 constructors), registration.wsdl (the full 1.11.6 WSDL, or its 1.9 variant,
 * with soap:address pointing here) and standin.sqlite (state, call log, fault plan).
 *
 * Fault injection (table `faults`, per operation or '*', `remaining` calls):
 *   http500         HTTP 500 with an empty body, nothing done
 *   hang            sleep `seconds`, then answer normally (the write happens)
 *   drop            nothing done; headers promise 4096 bytes, a few are sent, the connection is
 *                   closed (php -S cannot reset a socket: the client sees a broken connection)
 *   fault           a SOAP fault (faultcode Server, "Injected fault"), HTTP 500, nothing done
 *   garbage         HTTP 200 with a non-XML body, nothing done
 *   apply_then_500  the call is performed, then HTTP 500 with an empty body (a lost answer)
 *   apply_then_drop the call is performed, then the connection drops as for `drop`
 */

require __DIR__ . '/store.php';
require __DIR__ . '/users.php';

const STANDIN_PATH = '/main/webservices/registration.soap.php';

function standin_drop_connection()
{
    header_remove();
    header('Content-Type: text/xml; charset=UTF-8');
    header('Content-Length: 4096');
    echo '<?xml version="1.0" encoding="UTF-8"?><SOAP-ENV:Envelope';
    flush();
    exit;
}

function standin_empty_500()
{
    header_remove();
    http_response_code(500);
    exit;
}

function standin_operation_name($raw)
{
    if (preg_match('/<(?:[\w.-]+:)?Body\b[^>]*>\s*<(?:[\w.-]+:)?([\w.-]+)/', $raw, $m)) {
        return $m[1];
    }
    return '?';
}

/** Builds the nusoap server the way registration.soap.php does (debug flag, UTF-8). */
function standin_server()
{
    global $debug;
    $debug = !standin_is_19(); // 1.11.x set $debug = true; 1.9 false
    require_once getenv('STANDIN_DIR') . '/nusoap.php';
    $server = new soap_server(getenv('STANDIN_DIR') . '/registration.wsdl');
    $server->soap_defencoding = 'UTF-8';
    $server->decode_utf8 = false;
    // Keep the trailing debug comment moderate: drop the WSDL-parsing log, keep the rest.
    $server->clearDebug();
    $server->debug('_SERVER is defined:');
    $server->appendDebug($server->varDump($_SERVER));
    return $server;
}

function standin_serve_wsdl()
{
    $server = standin_server();
    ob_start();
    $server->service('');
    $wsdl = ob_get_clean();
    $address = standin_setting('soap_address');
    if ($address !== null) { // e.g. what a server behind a reverse proxy advertises
        $wsdl = preg_replace('/(<soap:address location=")[^"]*(")/', '${1}' . $address . '${2}', $wsdl);
    }
    echo $wsdl;
    if ($server->debug_flag) {
        echo $server->getDebugAsXMLComment();
    }
}

function standin_serve_post($raw)
{
    $server = standin_server();
    ob_start();
    try {
        $server->service($raw);
        return ob_get_clean();
    } catch (StandinHtmlPage $e) {
        ob_end_clean();
        error_log('stand-in: SQL error page: ' . $e->getMessage());
        header('Content-Type: text/html; charset=UTF-8');
        return '<html><head><title>Chamilo</title></head><body><p>Not allowed</p><br></body></html>';
    } catch (Throwable $e) {
        ob_end_clean();
        error_log('stand-in: PHP Fatal error: ' . get_class($e) . ': ' . $e->getMessage());
        standin_empty_500();
    }
}

$path = parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH);
if ($path !== STANDIN_PATH) {
    http_response_code(404);
    echo 'Not found';
    return true;
}
date_default_timezone_set('UTC');
$is_post = ($_SERVER['REQUEST_METHOD'] ?? '') === 'POST';
$raw = $is_post ? file_get_contents('php://input') : '';
$operation = $is_post ? standin_operation_name($raw) : (preg_match('/wsdl/', $_SERVER['QUERY_STRING'] ?? '') ? 'wsdl' : 'page');
if ($is_post) {
    standin_log_call($operation, $raw);
}
$fault = standin_take_fault($operation);
$mode = $fault === null ? null : $fault['mode'];
if ($mode !== null) {
    standin_note_call('injected', $mode);
}

switch ($mode) {
    case 'http500':
        standin_empty_500();
    case 'drop':
        standin_drop_connection();
    case 'garbage':
        header('Content-Type: text/html; charset=UTF-8');
        echo 'Proxy hiccup <<< this & that is not XML';
        exit;
    case 'fault':
        require_once getenv('STANDIN_DIR') . '/nusoap.php';
        $server = new nusoap_server();
        $server->soap_defencoding = 'UTF-8';
        $server->fault('Server', 'Injected fault');
        $server->send_response();
        exit;
    case 'hang':
        usleep((int) round((float) $fault['seconds'] * 1000000));
        break;
}

if (!$is_post) {
    if ($operation === 'wsdl') {
        standin_serve_wsdl();
    } else {
        standin_server()->service('');
    }
    exit;
}
$body = standin_serve_post($raw);
if ($mode === 'apply_then_500') {
    standin_empty_500();
}
if ($mode === 'apply_then_drop') {
    standin_drop_connection();
}
echo $body;
