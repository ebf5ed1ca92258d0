import os
from pathlib import Path

import pytest

from sync.config import CONFIG_ENV, locate_config
from sync.config_reader import load_settings
from sync.errors import ConfigError

GOOD = """
[chamilo]
url = "https://lms.example.edu/main/webservices/registration.soap.php"
security_key_env = "TEST_CHAMILO_KEY"
client_ip = "203.0.113.7"

[state]
url = "sqlite:///state.db"

[[source]]
name = "sis"
type = "csv"
path = "exports/people.csv"
mapping = "people.toml"

[[source]]
name = "staff"
type = "ldap"
url = "ldaps://dc1.example.edu"
bind_dn = "cn=sync,ou=services,dc=example,dc=edu"
bind_password_file = "secrets/ldap"
base_dn = "ou=people,dc=example,dc=edu"
mapping = "people.toml"

[safety]
max_disable = "5%"

[schedule]
cron = "0 2 * * *"
timezone = "Europe/Paris"
"""


def write_config(tmp_path: Path, text: str) -> Path:
    (tmp_path / "people.toml").write_text("[key]\ncolumn='id'\n")
    path = tmp_path / "chamilo-sync.toml"
    path.write_text(text)
    return path


def test_reads_every_section_with_defaults(tmp_path):
    s = load_settings(write_config(tmp_path, GOOD))
    assert s.chamilo.batch_size == 100 and s.chamilo.concurrency == 2
    assert s.chamilo.original_user_id_name == "external_user_id"
    assert [src.name for src in s.sources] == ["sis", "staff"]
    assert s.sources[1].filter == "(objectClass=*)" and s.sources[1].page_size == 500
    assert s.safety.on_missing == "disable" and s.safety.max_disable.percent == 5
    assert s.schedule.timezone == "Europe/Paris"


def test_relative_paths_are_resolved_from_the_config_folder(tmp_path):
    s = load_settings(write_config(tmp_path, GOOD))
    assert s.sources[0].path == tmp_path.resolve() / "exports/people.csv"
    assert s.sources[1].bind_password.file == tmp_path.resolve() / "secrets/ldap"
    assert s.state_url == f"sqlite:///{tmp_path.resolve()}/state.db"


def test_settings_are_frozen(tmp_path):
    s = load_settings(write_config(tmp_path, GOOD))
    with pytest.raises(AttributeError):
        s.chamilo.batch_size = 5


def test_reports_every_problem_at_once_with_file_and_key(tmp_path):
    bad = GOOD.replace('client_ip = "203.0.113.7"', 'batch_size = "ten"') \
              .replace('type = "csv"', 'type = "excel"') \
              .replace('max_disable = "5%"', 'max_disable = "lots"\non_missing = "delete"')
    with pytest.raises(ConfigError) as err:
        load_settings(write_config(tmp_path, bad))
    problems = err.value.problems
    text = "\n".join(problems)
    assert "chamilo.client_ip: is required" in text
    assert "chamilo.batch_size" in text
    assert "source[0].type" in text
    assert "safety.max_disable" in text and "safety.on_missing" in text
    assert all(p.startswith((str(tmp_path / "chamilo-sync.toml"), str(tmp_path.resolve() / "people.toml")))
               for p in problems)
    assert err.value.exit_code == 2


def test_a_secret_written_in_the_file_is_refused_without_echoing_it(tmp_path):
    bad = GOOD.replace('security_key_env = "TEST_CHAMILO_KEY"', 'security_key = "s3cr3t-value"')
    with pytest.raises(ConfigError) as err:
        load_settings(write_config(tmp_path, bad))
    assert "security_key_env" in str(err.value)
    assert "s3cr3t-value" not in str(err.value)


def test_secrets_are_read_from_the_environment_or_a_file_only_when_needed(tmp_path, monkeypatch):
    s = load_settings(write_config(tmp_path, GOOD))
    monkeypatch.delenv("TEST_CHAMILO_KEY", raising=False)
    with pytest.raises(ConfigError, match="TEST_CHAMILO_KEY is not set"):
        s.chamilo.security_key.reveal()
    monkeypatch.setenv("TEST_CHAMILO_KEY", "k3y")
    assert s.chamilo.security_key.reveal() == "k3y"
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets/ldap").write_text("pw\n")
    assert s.sources[1].bind_password.reveal() == "pw"
    assert "k3y" not in repr(s)


def test_unknown_keys_are_named_with_a_suggestion(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_settings(write_config(tmp_path, GOOD.replace("batch_size", "x").replace(
            'client_ip = "203.0.113.7"', 'client_ip = "203.0.113.7"\nbatchsize = 5')))
    assert "chamilo.batchsize: unknown key; did you mean 'batch_size'?" in str(err.value)


def test_an_invalid_cron_or_time_zone_is_a_config_error(tmp_path):
    bad = GOOD.replace('"0 2 * * *"', '"99 2 * * *"').replace("Europe/Paris", "Mars/Olympus")
    with pytest.raises(ConfigError) as err:
        load_settings(write_config(tmp_path, bad))
    assert "schedule.cron" in str(err.value) and "schedule.timezone" in str(err.value)


def test_invalid_toml_names_the_file(tmp_path):
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(write_config(tmp_path, "[chamilo\n"))


def test_a_missing_mapping_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match=r"source\[0\]\.mapping: mapping file .*nope.toml does not exist"):
        load_settings(write_config(tmp_path, GOOD.replace('mapping = "people.toml"', 'mapping = "nope.toml"', 1)))


def test_duplicate_source_names_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="used twice"):
        load_settings(write_config(tmp_path, GOOD.replace('name = "staff"', 'name = "sis"')))


def test_config_is_found_by_flag_then_environment_then_current_folder(monkeypatch, tmp_path):
    monkeypatch.setenv(CONFIG_ENV, "/etc/from-env.toml")
    assert locate_config("/x/flag.toml") == Path("/x/flag.toml")
    assert locate_config(None) == Path("/etc/from-env.toml")
    monkeypatch.delenv(CONFIG_ENV)
    assert locate_config(None) == Path("chamilo-sync.toml")


def test_a_missing_config_file_tells_where_it_looked(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_settings(tmp_path / "none.toml")
    assert "not found" in str(err.value) and CONFIG_ENV in err.value.hint


def test_ldap_source_without_bind_dn_binds_anonymously(tmp_path):
    text = GOOD.replace('bind_dn = "cn=sync,ou=services,dc=example,dc=edu"\n', "") \
               .replace('bind_password_file = "secrets/ldap"\n', "")
    s = load_settings(write_config(tmp_path, text))
    assert s.sources[1].bind_dn is None and s.sources[1].bind_password is None


def test_environment_is_untouched(tmp_path):
    before = dict(os.environ)
    load_settings(write_config(tmp_path, GOOD))
    assert dict(os.environ) == before


def test_client_ip_must_be_an_address_or_empty(tmp_path):
    with pytest.raises(ConfigError, match="chamilo.client_ip: must be an IP address"):
        load_settings(write_config(tmp_path, GOOD.replace('"203.0.113.7"', '"lms-host"')))
    ok = load_settings(write_config(tmp_path, GOOD.replace('"203.0.113.7"', '""')))
    assert ok.chamilo.client_ip == ""
    v6 = load_settings(write_config(tmp_path, GOOD.replace('"203.0.113.7"', '"2001:db8::7"')))
    assert v6.chamilo.client_ip == "2001:db8::7"


def test_retry_limits_have_defaults_and_are_checked(tmp_path):
    s = load_settings(write_config(tmp_path, GOOD))
    assert (s.chamilo.retries, s.chamilo.max_retry_seconds) == (3, 60.0)
    tuned = GOOD.replace('client_ip = "203.0.113.7"', 'client_ip = "203.0.113.7"\nretries = 0\nmax_retry_seconds = 5')
    s = load_settings(write_config(tmp_path, tuned))
    assert (s.chamilo.retries, s.chamilo.max_retry_seconds) == (0, 5.0)
    with pytest.raises(ConfigError, match="chamilo.retries: must be 0 or more"):
        load_settings(write_config(tmp_path, tuned.replace("retries = 0", "retries = -1")))


def test_a_broken_config_also_lists_the_problems_of_its_mapping_files(tmp_path):
    path = write_config(tmp_path, GOOD.replace('client_ip = "203.0.113.7"', ""))
    (tmp_path / "people.toml").write_text("[key]\ncolumn='id'\n[fields]\nusername = { column = 'u' }\n")
    with pytest.raises(ConfigError) as err:
        load_settings(path)
    text = "\n".join(err.value.problems)
    assert "chamilo.client_ip" in text
    assert "people.toml: fields.username" in text
