from pathlib import Path

import pytest

from sync.errors import ConfigError
from sync.mapping_file import load_mapping
from sync.mapping_spec import ActiveSpec, PasswordSpec, check_columns

SPEC_EXAMPLE = """
[key]
column = "person_id"
transform = ["strip"]

[fields]
firstname  = { column = "first_name" }
lastname   = { column = "last_name" }
email      = { column = "email", transform = ["strip", "lower"] }
loginname  = { template = "{first_name[0]}{last_name}", transform = ["ascii", "lower"] }
status     = { column = "role", map = { student = 5, teacher = 1 }, default = 5 }
language   = { value = "english" }
phone      = { column = "phone", required = false }
expiration_date = { column = "end_date", format = "%d/%m/%Y", required = false }
password   = { generate = true }

[active]
column = "state"
values = ["active", "enrolled"]

[extra]
department = { column = "dept" }
"""

REQUIRED = """
firstname = { column = "first" }
lastname = { column = "last" }
email = { column = "mail" }
loginname = { column = "login" }
"""


@pytest.fixture
def write(tmp_path, monkeypatch):
    """Write a mapping under tmp_path/mappings and return its relative path (as configured)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mappings").mkdir()

    def write(text: str, name: str = "people.toml") -> Path:
        path = Path("mappings") / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


def problems_of(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_mapping(path)
    return caught.value.problems


def mapping(fields: str = "", more: str = "", key: str = '{ column = "id" }') -> str:
    return f"key = {key}\n[fields]\n{REQUIRED}{fields}\n{more}"


def test_the_spec_example_loads_with_every_option(write):
    spec = load_mapping(write(SPEC_EXAMPLE))
    assert spec.key.column == "person_id" and spec.key.transform == ("strip",)
    assert spec.key.required
    assert list(spec.fields) == [
        "firstname", "lastname", "email", "loginname", "status", "language", "phone",
        "expiration_date",
    ]  # fmt: skip
    assert spec.fields["loginname"].template_columns == ("first_name", "last_name")
    assert dict(spec.fields["status"].map) == {"student": "5", "teacher": "1"}
    assert spec.fields["status"].default == "5"
    assert spec.fields["language"].value == "english"
    assert spec.fields["firstname"].required and not spec.fields["phone"].required
    assert not spec.fields["status"].required
    assert spec.fields["expiration_date"].format == "%d/%m/%Y"
    assert spec.password == PasswordSpec(generate=True)
    assert spec.active == ActiveSpec("state", ("active", "enrolled"))
    assert not spec.extras["department"].required
    assert spec.path == Path("mappings/people.toml")


def test_columns_lists_every_source_column_the_spec_reads(write):
    spec = load_mapping(write(SPEC_EXAMPLE))
    assert spec.columns() == {
        "person_id", "first_name", "last_name", "email", "role", "phone", "end_date", "state",
        "dept",
    }  # fmt: skip


def test_columns_include_the_password_column(write):
    spec = load_mapping(write(mapping('password = { column = "initial_password" }')))
    assert "initial_password" in spec.columns()
    assert spec.password == PasswordSpec(column="initial_password")


def test_every_problem_is_reported_at_once_with_file_and_dotted_key(write):
    path = write(
        """
[key]
column = "id"
[fields]
firstname = { column = "first", transform = ["lowercase"] }
lastname = { column = "last", colum = "x" }
email = { column = "mail", template = "{mail}" }
username = { column = "login" }
phone = { column = "phone", format = "%d" }
[active]
column = "state"
"""
    )
    problems = problems_of(path)
    assert problems == [
        "mappings/people.toml: fields.firstname.transform: unknown transform 'lowercase'; "
        "did you mean 'lower'? valid: strip, lower, upper, title, ascii",
        "mappings/people.toml: fields.lastname: unknown option 'colum'; did you mean 'column'? "
        "valid: column, template, value, transform, map, default, format, required, join, index",
        "mappings/people.toml: fields.email: needs exactly one of column, template, value "
        "(found: column, template)",
        "mappings/people.toml: fields.username: unknown field 'username'; did you mean "
        "'loginname'? valid: firstname, lastname, email, loginname, status, language, phone, "
        "expiration_date, password",
        "mappings/people.toml: fields.phone.format: format is only for expiration_date and "
        "extra fields",
        "mappings/people.toml: fields.loginname: missing; every mapping maps firstname, "
        "lastname, email and loginname (required = false allows empty values)",
        "mappings/people.toml: active: needs exactly one of values = [...], disabled_flag = 2",
    ]


def test_a_mapping_without_key_is_refused(write):
    problems = problems_of(write(f"[fields]\n{REQUIRED}"))
    assert problems == [
        "mappings/people.toml: key: missing; add a [key] table, e.g. column = \"person_id\""
    ]


def test_a_constant_key_is_refused(write):
    [problem] = problems_of(write(mapping(key='{ value = "x" }')))
    assert problem.startswith("mappings/people.toml: key: a constant key makes no sense")


@pytest.mark.parametrize(
    ("key", "where", "what"),
    [
        ('{ column = "id", default = "x" }', "key.default", "a default key makes no sense"),
        ('{ column = "id", required = false }', "key.required", "always required"),
        ('{ column = "id", format = "%Y" }', "key.format", "only for expiration_date"),
    ],
)
def test_key_options_that_make_no_sense_are_refused(write, key, where, what):
    [problem] = problems_of(write(mapping(key=key)))
    assert problem.startswith(f"mappings/people.toml: {where}: ")
    assert what in problem


def test_a_field_spec_needs_one_source(write):
    [problem] = problems_of(write(mapping('phone = { required = false }')))
    assert problem == "mappings/people.toml: fields.phone: needs exactly one of column, " \
        "template, value"


@pytest.mark.parametrize(
    ("spec", "where", "what"),
    [
        ('phone = "tel"', "fields.phone", "must be a table"),
        ('phone = { column = "" }', "fields.phone.column", "non-empty string"),
        ('phone = { column = "tel", transform = "strip" }', "fields.phone.transform", "list"),
        ('phone = { column = "tel", required = "no" }', "fields.phone.required", "true or false"),
        ('phone = { column = "tel", map = 3 }', "fields.phone.map", "non-empty table"),
        ('phone = { column = "tel", map = {} }', "fields.phone.map", "non-empty table"),
        ('phone = { column = "tel", map = { a = 1.5 } }', "fields.phone.map.a", "or an int"),
        ('phone = { column = "tel", map = { a = true } }', "fields.phone.map.a", "or an int"),
        ('phone = { column = "tel", default = [1] }', "fields.phone.default", "string or an int"),
        ('phone = { value = 1.5 }', "fields.phone.value", "string or an integer"),
        ('phone = { column = "tel", join = 1 }', "fields.phone.join", "must be a string"),
        ('phone = { column = "tel", index = -1 }', "fields.phone.index", ">= 0"),
        ('phone = { column = "tel", index = true }', "fields.phone.index", ">= 0"),
        ('phone = { column = "tel", join = ",", index = 1 }', "fields.phone", "mutually exclusive"),
        ('phone = { value = "x", index = 1 }', "fields.phone", "only apply to column or template"),
        ('expiration_date = { column = "end", format = "%d/%m/%Q" }',
         "fields.expiration_date.format", "not a valid date pattern"),
        ('expiration_date = { column = "end", format = "dd/mm/yyyy" }',
         "fields.expiration_date.format", "no % directive"),
        ('expiration_date = { column = "end", format = 3 }',
         "fields.expiration_date.format", "strftime pattern"),
        ('status = { column = "role", map = { teacher = "prof" } }',
         "fields.status.map.teacher", "must be an integer"),
        ('status = { column = "role", map = { teacher = 1 }, default = "x" }',
         "fields.status.default", "must be an integer"),
        ('status = { value = "admin" }', "fields.status.value", "must be an integer"),
        ('password = { generate = true, column = "pw" }', "fields.password", "exactly one of"),
        ('password = { generate = false }', "fields.password", "exactly one of"),
        ('password = { generate = "yes" }', "fields.password.generate", "true or false"),
        ('password = { column = "pw", hash = "md5" }', "fields.password", "unknown option 'hash'"),
    ],
)  # fmt: skip
def test_each_wrong_field_option_is_reported_with_its_key(write, spec, where, what):
    [problem] = problems_of(write(mapping(spec)))
    assert problem.startswith(f"mappings/people.toml: {where}: "), problem
    assert what in problem


@pytest.mark.parametrize(
    ("template", "what"),
    [
        ("{first", "invalid template"),
        ("{first}}", "invalid template"),
        ("{}{last}", "must name a column"),
        ("{0}", "must name a column"),
        ("{first.upper}", "only column names and [N] indexes"),
        ("{first:{width}}", "only column names and [N] indexes"),
        ("static", "names no column; use value"),
        ("{first:d}", "invalid template"),
    ],
)
def test_template_syntax_is_checked_at_load(write, template, what):
    [problem] = problems_of(write(mapping(more=f"[extra]\nx = {{ template = '{template}' }}")))
    assert problem.startswith("mappings/people.toml: extra.x.template: ")
    assert what in problem


def test_template_columns_are_collected_once_in_order(write):
    spec = load_mapping(write(mapping(more="[extra]\nx = { template = '{b[0]}{a}.{b}' }")))
    assert spec.extras["x"].template_columns == ("b", "a")


def test_default_is_allowed_without_map_as_a_fallback_for_empty_values(write):
    spec = load_mapping(write(mapping('language = { column = "lang", default = "english" }')))
    assert spec.fields["language"].default == "english"


def test_format_is_allowed_on_extra_fields(write):
    extra = '[extra]\nborn = { column = "b", format = "%d.%m.%Y" }'
    spec = load_mapping(write(mapping(more=extra)))
    assert spec.extras["born"].format == "%d.%m.%Y"


def test_disabled_flag_is_an_alternative_to_values(write):
    spec = load_mapping(write(mapping(more='[active]\ncolumn = "userAccountControl"\n'
                                           'disabled_flag = 2')))  # fmt: skip
    assert spec.active == ActiveSpec("userAccountControl", None, 2)


@pytest.mark.parametrize(
    ("active", "where", "what"),
    [
        ('values = ["a"]', "active.column", "must name the column"),
        ('column = "s"\nvalues = ["a"]\ndisabled_flag = 2', "active", "exactly one of"),
        ('column = "s"\nvalues = []', "active.values", "non-empty list"),
        ('column = "s"\nvalues = "active"', "active.values", "non-empty list"),
        ('column = "s"\ndisabled_flag = 0', "active.disabled_flag", "positive integer"),
        ('column = "s"\nvalues = ["a"]\nvalue = "b"', "active", "unknown option 'value'"),
    ],
)
def test_active_problems_are_reported(write, active, where, what):
    [problem] = problems_of(write(mapping(more=f"[active]\n{active}")))
    assert problem.startswith(f"mappings/people.toml: {where}: ")
    assert what in problem


def test_extra_field_names_must_be_variable_names(write):
    [problem] = problems_of(write(mapping(more='[extra]\n"my dept" = { column = "d" }')))
    assert problem.startswith("mappings/people.toml: extra.my dept: ")


def test_unknown_sections_are_reported(write):
    [problem] = problems_of(write(mapping(more='[extras]\ndept = { column = "d" }')))
    assert problem == "mappings/people.toml: extras: unknown section; did you mean 'extra'? " \
        "valid: key, fields, active, extra"


def test_invalid_toml_is_one_problem_naming_the_file(write):
    [problem] = problems_of(write("[key\ncolumn = 1"))
    assert problem.startswith("mappings/people.toml: not valid TOML: ")


def test_a_mapping_not_in_utf8_names_the_line_and_column(write):
    path = write("")
    path.write_bytes('# ok\n# élèves\n'.encode("cp1252") + SPEC_EXAMPLE.encode())
    assert problems_of(path) == [
        "mappings/people.toml: line 2 column 3: byte 0xE9 is not UTF-8; save the mapping file "
        "as UTF-8"
    ]


def test_a_utf8_mapping_with_a_byte_order_mark_loads(write):
    path = write("")
    path.write_bytes(b"\xef\xbb\xbf" + SPEC_EXAMPLE.encode())
    assert load_mapping(path).key.column == "person_id"


def test_a_missing_file_is_a_config_error(write):
    [problem] = problems_of(Path("mappings/nope.toml"))
    assert problem.startswith("mappings/nope.toml: cannot read the mapping file")


def test_check_columns_accepts_a_header_holding_every_column(write):
    spec = load_mapping(write(SPEC_EXAMPLE))
    check_columns(spec, [*spec.columns(), "other", "_locator"], "exports/people.csv")


def test_check_columns_names_each_missing_column_with_the_file_header(write):
    spec = load_mapping(write(SPEC_EXAMPLE))
    header = ["person_id", "last_name", "mail", "role", "phone", "end_date", "state", "dept",
              "_locator", "_row_error"]  # fmt: skip
    with pytest.raises(ConfigError) as caught:
        check_columns(spec, header, "exports/people.csv")
    shown = "person_id, last_name, mail, role, phone, end_date, state, dept"
    assert caught.value.problems == [
        "mappings/people.toml: fields.firstname: column 'first_name' is not in "
        f"exports/people.csv (columns: {shown})",
        "mappings/people.toml: fields.email: column 'email' is not in "
        f"exports/people.csv (columns: {shown})",
        "mappings/people.toml: fields.loginname: column 'first_name' is not in "
        f"exports/people.csv (columns: {shown})",
    ]
