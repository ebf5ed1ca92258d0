"""A Chamilo 1.9 server: its WSDisableUsers/WSEnableUsers answer nothing, WSEditUsers "1"."""

import pytest

from tests.support.cli import HEADER, person_row, run_cli, write_project


@pytest.fixture
def project(tmp_path, chamilo_19):
    def cli(csv_text, *args):
        cfg = write_project(tmp_path, csv_text, extra='[safety]\nmax_disable = "100%"\n',
                            chamilo={"url": chamilo_19.url, "client_ip": chamilo_19.client_ip})
        return run_cli("--config", str(cfg), *args,
                       env={"TEST_CHAMILO_KEY": chamilo_19.security_key})
    return cli


def test_a_chamilo_19_server_is_driven_through_create_edit_disable_and_enable(project, chamilo_19):
    people = HEADER + person_row("A1", "Ann", "One") + person_row("B2", "Bob", "Two")
    assert project(people, "apply").code == 0
    ids = {u["original_id"]: u["id"] for u in chamilo_19.users()}
    edited = HEADER + person_row("A1", "Ann", "One", email="ann.new@school.example")
    result = project(edited, "apply")
    assert result.code == 0, result.out + result.err
    assert chamilo_19.user_by_key("A1")["email"] == "ann.new@school.example"
    assert not chamilo_19.user_by_key("B2")["active"]
    back = project(edited + person_row("B2", "Bob", "Two"), "apply")
    assert back.code == 0, back.out + back.err
    assert chamilo_19.user_by_key("B2")["active"]
    assert {u["original_id"]: u["id"] for u in chamilo_19.users()} == ids
    assert project(edited + person_row("B2", "Bob", "Two"), "apply").out.count("0 update") == 1
