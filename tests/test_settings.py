"""Settings.load: where each value comes from, and what a repr never shows."""

from __future__ import annotations

from pathlib import Path

import pytest

from fediverse_share.errors import ConfigError
from fediverse_share.settings import CONFIG_FILE_NAME, Settings

DB_PASSWORD = "hunter2-db-password"
SECRET = "s3cret-signing-key"


def _write_toml(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_arguments_beat_environment_beat_file_beat_defaults(tmp_path: Path) -> None:
    """Each field takes the first of: explicit argument, environment, TOML file, default."""
    _write_toml(
        tmp_path / CONFIG_FILE_NAME,
        'domain = "file.example"\n'
        "max_body_bytes = 100\n"
        "http_timeout_seconds = 3.5\n"
        "allow_http = true\n"
        'failpoints = "from-file=error"\n',
    )
    environ = {
        "FEDIVERSE_SHARE_DOMAIN": "env.example",
        "FEDIVERSE_SHARE_MAX_BODY_BYTES": "200",
        "FEDIVERSE_SHARE_FAILPOINTS": "from-env=error",
    }
    settings = Settings.load(environ, data_dir=tmp_path, domain="arg.example", failpoints=None)
    assert settings.domain == "arg.example"  # argument over environment and file
    assert settings.max_body_bytes == 200  # environment over file, read as an int
    assert settings.failpoints == "from-env=error"  # an argument of None is no argument
    assert settings.http_timeout_seconds == 3.5  # file over default
    assert settings.allow_http is True
    assert settings.run_worker is True  # default
    assert settings.clearing_hold_seconds == 90.0
    assert settings.data_dir == tmp_path


def test_environment_names_the_data_dir_and_the_config_file(tmp_path: Path) -> None:
    """FEDIVERSE_SHARE_DATA_DIR and FEDIVERSE_SHARE_CONFIG say where to look; values are typed."""
    config = _write_toml(
        tmp_path / "elsewhere" / "share.toml", 'domain = "file.example"\nrun_worker = false\n'
    )
    ignored = _write_toml(tmp_path / "data" / CONFIG_FILE_NAME, 'domain = "ignored.example"\n')
    environ = {
        "FEDIVERSE_SHARE_DATA_DIR": str(ignored.parent),
        "FEDIVERSE_SHARE_CONFIG": str(config),
        "FEDIVERSE_SHARE_ALLOW_PRIVATE_ADDRESSES": "yes",
        "FEDIVERSE_SHARE_CLOCK_OFFSET_SECONDS": "-2.5",
    }
    settings = Settings.load(environ)
    assert settings.domain == "file.example"
    assert settings.data_dir == ignored.parent
    assert settings.run_worker is False
    assert settings.allow_private_addresses is True
    assert settings.clock_offset_seconds == -2.5
    assert settings.database_url == f"sqlite:///{(ignored.parent / 'fediverse-share.db').resolve()}"


@pytest.mark.parametrize(
    ("environ", "toml", "complaint"),
    [
        ({}, "", "no domain configured"),
        ({"FEDIVERSE_SHARE_ALLOW_HTTP": "maybe"}, 'domain = "d.example"\n', "true or false"),
        ({"FEDIVERSE_SHARE_MAX_BODY_BYTES": "lots"}, 'domain = "d.example"\n', "a number"),
        ({}, 'domain = "d.example"\ncolour = "blue"\n', "unknown settings"),
        ({}, "domain = ", "cannot read"),
        ({"FEDIVERSE_SHARE_DOMAIN": "d.example/path"}, "", "bare host name"),
    ],
)
def test_bad_configuration_is_a_config_error(
    tmp_path: Path, environ: dict[str, str], toml: str, complaint: str
) -> None:
    """Missing, malformed or unknown settings raise ConfigError saying what is wrong."""
    if toml:
        _write_toml(tmp_path / CONFIG_FILE_NAME, toml)
    with pytest.raises(ConfigError, match=complaint):
        Settings.load(environ, data_dir=tmp_path)


def test_repr_shows_neither_the_secret_key_nor_the_database_password(tmp_path: Path) -> None:
    """repr() and str() of settings, however built, leave out secret_key and the URL."""
    url = f"postgresql://share:{DB_PASSWORD}@db.internal:5432/share"
    _write_toml(
        tmp_path / CONFIG_FILE_NAME,
        f'domain = "share.example"\nsecret_key = "{SECRET}"\ndatabase_url = "{url}"\n',
    )
    built = [
        Settings.load({}, data_dir=tmp_path),
        Settings.load({"FEDIVERSE_SHARE_SECRET_KEY": SECRET}, data_dir=tmp_path),
        Settings(domain="share.example", database_url=url, secret_key=SECRET),
    ]
    for settings in built:
        assert (settings.secret_key, settings.database_url) == (SECRET, url)
        for text in (repr(settings), str(settings), f"{settings!r}", repr([settings])):
            assert SECRET not in text
            assert DB_PASSWORD not in text
            assert "share.example" in text
