"""The whole apply cycle with the state store on a real PostgreSQL (as large sites run it)."""

import sqlalchemy as sa

from tests.support.cli import HEADER, person_row, run_cli, write_project


def test_apply_records_in_postgresql_and_a_second_run_sends_nothing(tmp_path, chamilo, postgres_url):
    cfg = write_project(tmp_path, HEADER + person_row("00017") + person_row("00018"),
                        chamilo={"url": chamilo.url, "client_ip": chamilo.client_ip})
    cfg.write_text(cfg.read_text().replace('url = "sqlite:///state.db"', f'url = "{postgres_url}"'))
    env = {"TEST_CHAMILO_KEY": chamilo.security_key}
    first = run_cli("--config", str(cfg), "apply", env=env)
    assert first.code == 0, first.err
    writes = len(chamilo.write_calls())
    second = run_cli("--config", str(cfg), "apply", env=env)
    assert second.code == 0 and len(chamilo.write_calls()) == writes
    engine = sa.create_engine(postgres_url)
    with engine.connect() as conn:
        rows = dict(conn.execute(sa.text("select key, chamilo_user_id from users")).all())
        runs = conn.execute(sa.text("select count(*) from runs")).scalar()
    engine.dispose()
    assert rows == {u["original_id"]: u["id"] for u in chamilo.users()}
    assert runs == 2
    assert not (tmp_path / "state.db").exists()
