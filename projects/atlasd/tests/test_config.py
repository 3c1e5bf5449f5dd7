import pytest
from atlasd.config import CONFIG_DIR, Config, get_config

from symlab.runs import ConfigError


@pytest.mark.parametrize("name", ["smoke", "cpu", "paper"])
def test_every_shipped_config_loads(name):
    cfg = get_config(name)
    assert isinstance(cfg, Config) and (CONFIG_DIR / f"{name}.yaml").is_file()


def test_unknown_key_and_task_are_rejected(tmp_path):
    with pytest.raises(ConfigError, match="bogus"):
        get_config("smoke", ["pde.bogus=1"])
    bad = tmp_path / "bad.yaml"
    bad.write_text("tasks: [pde, climate]\n")
    with pytest.raises((ConfigError, ValueError), match="climate"):
        get_config(str(bad))
    with pytest.raises(ConfigError, match="missing.yaml.*neither a scale"):
        get_config(str(tmp_path / "missing.yaml"))
